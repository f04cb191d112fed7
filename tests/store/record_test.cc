#include "store/record.h"

#include <gtest/gtest.h>

#include <cstring>

#include "common/coding.h"
#include "common/crc32c.h"

namespace tidemq::store {
namespace {

Record FullRecord() {
  Record r;
  r.type = RecordType::kTxnEnd;
  r.flags = 0xdeadbeef;
  r.topic = "%RETRY%group-1";
  r.queue_id = 7;
  r.queue_offset = 123456789012;
  r.message_id = "msg-0001";
  r.tag = "created";
  r.message_group = "order-42";
  r.keys = {"order-1", "", "customer-9"};
  r.properties = {{"a", "1"}, {"", ""}, {"big", std::string(70000, 'v')}};
  r.born_ms = 1'700'000'000'001;
  r.store_ms = 1'700'000'000'002;
  r.deliver_at_ms = -5;
  r.origin_offset = LogOffset(987654321);
  r.body = std::string("bin\0ary", 7);
  return r;
}

void ExpectSame(const Record& a, const Record& b) {
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.topic, b.topic);
  EXPECT_EQ(a.queue_id, b.queue_id);
  EXPECT_EQ(a.queue_offset, b.queue_offset);
  EXPECT_EQ(a.message_id, b.message_id);
  EXPECT_EQ(a.tag, b.tag);
  EXPECT_EQ(a.message_group, b.message_group);
  EXPECT_EQ(a.keys, b.keys);
  EXPECT_EQ(a.properties, b.properties);
  EXPECT_EQ(a.born_ms, b.born_ms);
  EXPECT_EQ(a.store_ms, b.store_ms);
  EXPECT_EQ(a.deliver_at_ms, b.deliver_at_ms);
  EXPECT_EQ(a.origin_offset, b.origin_offset);
  EXPECT_EQ(a.body, b.body);
}

std::string Encode(const Record& r) {
  std::string s;
  EncodeRecord(r, &s);
  return s;
}

// Rewrites the CRC so that a deliberately altered record passes the checksum.
void Reseal(std::string* s) {
  EncodeFixed32(s->data() + 8,
                crc32c::Value(s->data() + kRecordPrefixSize, s->size() - kRecordPrefixSize));
}

TEST(RecordTest, RoundTripsEveryField) {
  Record in = FullRecord();
  ASSERT_TRUE(CheckEncodable(in).ok());
  std::string bytes = Encode(in);
  EXPECT_EQ(bytes.size(), in.EncodedSize());
  Record out;
  size_t consumed = 0;
  ASSERT_TRUE(DecodeRecord(bytes, &out, &consumed).ok());
  EXPECT_EQ(consumed, bytes.size());
  ExpectSame(in, out);
}

TEST(RecordTest, RoundTripsEmptyRecord) {
  Record in;
  std::string bytes = Encode(in);
  EXPECT_EQ(bytes.size(), kMinRecordSize);
  Record out = FullRecord();  // decoding must overwrite every field
  size_t consumed = 0;
  ASSERT_TRUE(DecodeRecord(bytes, &out, &consumed).ok());
  ExpectSame(in, out);
}

TEST(RecordTest, RoundTripsMaximumShortFields) {
  Record in;
  in.topic = std::string(kMaxShortFieldBytes, 't');
  in.message_id = std::string(kMaxShortFieldBytes, 'm');
  in.tag = std::string(kMaxShortFieldBytes, 'g');
  in.message_group = std::string(kMaxShortFieldBytes, 'f');
  in.keys = {std::string(kMaxShortFieldBytes, 'k')};
  in.properties = {{std::string(kMaxShortFieldBytes, 'p'), std::string(1 << 20, 'v')}};
  in.body = std::string(2 << 20, 'b');
  ASSERT_TRUE(CheckEncodable(in).ok());
  std::string bytes = Encode(in);
  Record out;
  size_t consumed = 0;
  ASSERT_TRUE(DecodeRecord(bytes, &out, &consumed).ok());
  ExpectSame(in, out);
}

TEST(RecordTest, ManyKeysAndProperties) {
  Record in;
  for (int i = 0; i < 1000; ++i) {
    in.keys.push_back("key" + std::to_string(i));
    in.properties.emplace_back("p" + std::to_string(i), std::to_string(i));
  }
  std::string bytes = Encode(in);
  Record out;
  size_t consumed = 0;
  ASSERT_TRUE(DecodeRecord(bytes, &out, &consumed).ok());
  ExpectSame(in, out);
}

TEST(RecordTest, CheckEncodableRejectsOversizedFields) {
  Record r;
  r.topic = std::string(kMaxShortFieldBytes + 1, 't');
  EXPECT_EQ(CheckEncodable(r).code(), Code::kTooLarge);
  r = Record();
  r.keys = {std::string(kMaxShortFieldBytes + 1, 'k')};
  EXPECT_EQ(CheckEncodable(r).code(), Code::kTooLarge);
  r = Record();
  r.keys.assign(kMaxFieldCount + 1, "");
  EXPECT_EQ(CheckEncodable(r).code(), Code::kTooLarge);
  r = Record();
  r.body = std::string(kMaxRecordBytes - kMinRecordSize + 1, 'b');
  EXPECT_EQ(CheckEncodable(r).code(), Code::kTooLarge);
  r.body.resize(kMaxRecordBytes - kMinRecordSize);
  EXPECT_TRUE(CheckEncodable(r).ok());
}

TEST(RecordTest, EveryFlippedByteIsDetected) {
  const std::string good = Encode(FullRecord());
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0xff);
    Record out;
    size_t consumed = 0;
    Status st = DecodeRecord(bad, &out, &consumed);
    EXPECT_EQ(st.code(), Code::kCorruption) << "byte " << i;
  }
}

TEST(RecordTest, EveryTruncationIsDetected) {
  const std::string good = Encode(FullRecord());
  for (size_t n = 0; n < good.size(); n += (n < 200 ? 1 : 997)) {
    Record out;
    size_t consumed = 0;
    EXPECT_EQ(DecodeRecord(std::string_view(good).substr(0, n), &out, &consumed).code(),
              Code::kCorruption)
        << "length " << n;
  }
}

TEST(RecordTest, ConsumesOnlyTheFirstOfTwoRecords) {
  std::string a = Encode(FullRecord());
  Record small;
  small.body = "second";
  std::string both = a + Encode(small);
  Record out;
  size_t consumed = 0;
  ASSERT_TRUE(DecodeRecord(both, &out, &consumed).ok());
  EXPECT_EQ(consumed, a.size());
  ASSERT_TRUE(DecodeRecord(std::string_view(both).substr(consumed), &out, &consumed).ok());
  EXPECT_EQ(out.body, "second");
}

TEST(RecordTest, RejectsBadLengths) {
  std::string s = Encode(Record());
  uint32_t length;
  ASSERT_TRUE(PeekRecordLength(s, &length).ok());
  EXPECT_EQ(length, s.size());
  for (uint32_t bad : {0u, 8u, static_cast<uint32_t>(kMinRecordSize - 1),
                       static_cast<uint32_t>(kMaxRecordBytes + 1), 0xffffffffu}) {
    std::string t = s;
    EncodeFixed32(t.data() + 4, bad);
    EXPECT_EQ(PeekRecordLength(t, &length).code(), Code::kCorruption) << bad;
    Record out;
    size_t consumed;
    EXPECT_EQ(DecodeRecord(t, &out, &consumed).code(), Code::kCorruption) << bad;
  }
  EXPECT_EQ(PeekRecordLength(std::string_view(s).substr(0, 7), &length).code(), Code::kCorruption);
}

TEST(RecordTest, RejectsTrailingBytesInsideLength) {
  std::string s = Encode(FullRecord());
  s.append("xyz");
  EncodeFixed32(s.data() + 4, static_cast<uint32_t>(s.size()));
  Reseal(&s);
  Record out;
  size_t consumed;
  Status st = DecodeRecord(s, &out, &consumed);
  EXPECT_EQ(st.code(), Code::kCorruption);
  EXPECT_NE(st.message().find("trailing"), std::string::npos) << st.ToString();
}

TEST(RecordTest, RejectsUnknownVersionAndType) {
  std::string s = Encode(FullRecord());
  std::string v = s;
  v[kRecordPrefixSize] = static_cast<char>(kRecordFormatVersion + 1);
  Reseal(&v);
  Record out;
  size_t consumed;
  EXPECT_EQ(DecodeRecord(v, &out, &consumed).code(), Code::kCorruption);
  std::string t = s;
  t[kRecordPrefixSize + 1] = 99;
  Reseal(&t);
  EXPECT_EQ(DecodeRecord(t, &out, &consumed).code(), Code::kCorruption);
}

TEST(RecordTest, RejectsFieldLengthPastTheRecord) {
  Record r;
  r.topic = "abc";
  std::string s = Encode(r);
  // The topic length prefix sits right after the fixed fields.
  uint16_t too_long = 0xfff0;
  std::memcpy(s.data() + kRecordPrefixSize + kRecordFixedFieldsSize, &too_long, 2);
  Reseal(&s);
  Record out;
  size_t consumed;
  EXPECT_EQ(DecodeRecord(s, &out, &consumed).code(), Code::kCorruption);
}

TEST(RecordTest, TagHash) {
  EXPECT_EQ(TagHash(""), 0u);
  EXPECT_NE(TagHash("a"), 0u);
  EXPECT_EQ(TagHash("created"), TagHash("created"));
  EXPECT_NE(TagHash("created"), TagHash("paid"));
}

}  // namespace
}  // namespace tidemq::store
