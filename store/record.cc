#include "store/record.h"

#include "common/coding.h"
#include "common/crc32c.h"

namespace tidemq::store {
namespace {

constexpr size_t kTotalLengthPos = 4;
constexpr size_t kCrcPos = 8;

bool IsKnownType(uint8_t t) {
  return t >= static_cast<uint8_t>(RecordType::kMessage) &&
         t <= static_cast<uint8_t>(RecordType::kTrace);
}

void PutShortString(std::string* out, std::string_view s) {
  PutFixed16(out, static_cast<uint16_t>(s.size()));
  out->append(s);
}

bool GetShortString(Reader* in, std::string* out) {
  uint16_t n;
  std::string_view bytes;
  if (!in->GetFixed16(&n) || !in->GetBytes(n, &bytes)) return false;
  out->assign(bytes);
  return true;
}

bool GetLongString(Reader* in, std::string* out) {
  uint32_t n;
  std::string_view bytes;
  if (!in->GetFixed32(&n) || !in->GetBytes(n, &bytes)) return false;
  out->assign(bytes);
  return true;
}

Status TooLarge(std::string what, size_t size, size_t limit) {
  return Status(Code::kTooLarge, what + " is " + std::to_string(size) + " bytes; the limit is " +
                                     std::to_string(limit));
}

// Decodes the fields after the prefix; false on any malformed or missing field.
bool DecodeFields(std::string_view fields, Record* r, std::string* why) {
  Reader in(fields);
  uint8_t version, type;
  uint32_t flags, queue_id;
  uint64_t queue_offset, store_ms, born_ms, deliver_at_ms, origin_offset;
  if (!in.GetU8(&version) || !in.GetU8(&type) || !in.GetFixed32(&flags) ||
      !in.GetFixed32(&queue_id) || !in.GetFixed64(&queue_offset) || !in.GetFixed64(&store_ms) ||
      !in.GetFixed64(&born_ms) || !in.GetFixed64(&deliver_at_ms) ||
      !in.GetFixed64(&origin_offset)) {
    *why = "truncated fixed fields";
    return false;
  }
  if (version != kRecordFormatVersion) {
    *why = "unknown record version " + std::to_string(version);
    return false;
  }
  if (!IsKnownType(type)) {
    *why = "unknown record type " + std::to_string(type);
    return false;
  }
  r->type = static_cast<RecordType>(type);
  r->flags = flags;
  r->queue_id = queue_id;
  r->queue_offset = static_cast<int64_t>(queue_offset);
  r->store_ms = static_cast<int64_t>(store_ms);
  r->born_ms = static_cast<int64_t>(born_ms);
  r->deliver_at_ms = static_cast<int64_t>(deliver_at_ms);
  r->origin_offset = LogOffset(static_cast<int64_t>(origin_offset));
  if (!GetShortString(&in, &r->topic) || !GetShortString(&in, &r->message_id) ||
      !GetShortString(&in, &r->tag) || !GetShortString(&in, &r->message_group)) {
    *why = "malformed topic, message id, tag or message group";
    return false;
  }
  uint16_t key_count;
  if (!in.GetFixed16(&key_count)) {
    *why = "truncated key count";
    return false;
  }
  r->keys.clear();
  for (uint16_t i = 0; i < key_count; ++i) {
    std::string key;
    if (!GetShortString(&in, &key)) {
      *why = "malformed key";
      return false;
    }
    r->keys.push_back(std::move(key));
  }
  uint16_t property_count;
  if (!in.GetFixed16(&property_count)) {
    *why = "truncated property count";
    return false;
  }
  r->properties.clear();
  for (uint16_t i = 0; i < property_count; ++i) {
    std::string key, value;
    if (!GetShortString(&in, &key) || !GetLongString(&in, &value)) {
      *why = "malformed property";
      return false;
    }
    r->properties.emplace_back(std::move(key), std::move(value));
  }
  if (!GetLongString(&in, &r->body)) {
    *why = "malformed body";
    return false;
  }
  if (in.remaining() != 0) {
    *why = std::to_string(in.remaining()) + " trailing bytes inside the record";
    return false;
  }
  return true;
}

}  // namespace

size_t Record::EncodedSize() const {
  size_t n = kMinRecordSize + topic.size() + message_id.size() + tag.size() +
             message_group.size() + body.size();
  for (const auto& k : keys) n += 2 + k.size();
  for (const auto& [k, v] : properties) n += 2 + k.size() + 4 + v.size();
  return n;
}

Status CheckEncodable(const Record& r) {
  if (r.topic.size() > kMaxShortFieldBytes)
    return TooLarge("topic", r.topic.size(), kMaxShortFieldBytes);
  if (r.message_id.size() > kMaxShortFieldBytes) {
    return TooLarge("message id", r.message_id.size(), kMaxShortFieldBytes);
  }
  if (r.tag.size() > kMaxShortFieldBytes) return TooLarge("tag", r.tag.size(), kMaxShortFieldBytes);
  if (r.message_group.size() > kMaxShortFieldBytes) {
    return TooLarge("message group", r.message_group.size(), kMaxShortFieldBytes);
  }
  if (r.keys.size() > kMaxFieldCount) {
    return Status(Code::kTooLarge, "record has " + std::to_string(r.keys.size()) + " keys");
  }
  for (const auto& k : r.keys) {
    if (k.size() > kMaxShortFieldBytes) return TooLarge("a key", k.size(), kMaxShortFieldBytes);
  }
  if (r.properties.size() > kMaxFieldCount) {
    return Status(Code::kTooLarge,
                  "record has " + std::to_string(r.properties.size()) + " properties");
  }
  for (const auto& [k, v] : r.properties) {
    if (k.size() > kMaxShortFieldBytes) {
      return TooLarge("a property key", k.size(), kMaxShortFieldBytes);
    }
    if (v.size() > kMaxRecordBytes) return TooLarge("a property value", v.size(), kMaxRecordBytes);
  }
  if (r.body.size() > kMaxRecordBytes) return TooLarge("the body", r.body.size(), kMaxRecordBytes);
  size_t size = r.EncodedSize();
  if (size > kMaxRecordBytes) return TooLarge("the encoded record", size, kMaxRecordBytes);
  return Status::Ok();
}

void EncodeRecord(const Record& r, std::string* out) {
  const size_t start = out->size();
  const size_t total = r.EncodedSize();
  out->reserve(start + total);
  PutFixed32(out, kRecordMagic);
  PutFixed32(out, static_cast<uint32_t>(total));
  PutFixed32(out, 0);  // CRC, filled in below once the fields are in place
  out->push_back(static_cast<char>(kRecordFormatVersion));
  out->push_back(static_cast<char>(r.type));
  PutFixed32(out, r.flags);
  PutFixed32(out, r.queue_id);
  PutFixed64(out, static_cast<uint64_t>(r.queue_offset));
  PutFixed64(out, static_cast<uint64_t>(r.store_ms));
  PutFixed64(out, static_cast<uint64_t>(r.born_ms));
  PutFixed64(out, static_cast<uint64_t>(r.deliver_at_ms));
  PutFixed64(out, static_cast<uint64_t>(r.origin_offset.value()));
  PutShortString(out, r.topic);
  PutShortString(out, r.message_id);
  PutShortString(out, r.tag);
  PutShortString(out, r.message_group);
  PutFixed16(out, static_cast<uint16_t>(r.keys.size()));
  for (const auto& k : r.keys) PutShortString(out, k);
  PutFixed16(out, static_cast<uint16_t>(r.properties.size()));
  for (const auto& [k, v] : r.properties) {
    PutShortString(out, k);
    PutFixed32(out, static_cast<uint32_t>(v.size()));
    out->append(v);
  }
  PutFixed32(out, static_cast<uint32_t>(r.body.size()));
  out->append(r.body);
  char* base = out->data() + start;
  uint32_t crc = crc32c::Value(base + kRecordPrefixSize, total - kRecordPrefixSize);
  EncodeFixed32(base + kCrcPos, crc);
}

Status PeekRecordLength(std::string_view prefix, uint32_t* total_length) {
  if (prefix.size() < kCrcPos) {
    return Corruption("record prefix is " + std::to_string(prefix.size()) + " bytes; need 8");
  }
  uint32_t magic = DecodeFixed32(prefix.data());
  if (magic != kRecordMagic) return Corruption("bad record magic");
  uint32_t length = DecodeFixed32(prefix.data() + kTotalLengthPos);
  if (length < kMinRecordSize || length > kMaxRecordBytes) {
    return Corruption("record length " + std::to_string(length) + " out of range");
  }
  *total_length = length;
  return Status::Ok();
}

Status DecodeRecord(std::string_view bytes, Record* out, size_t* consumed) {
  uint32_t total;
  RETURN_IF_ERROR(PeekRecordLength(bytes, &total));
  if (total > bytes.size()) {
    return Corruption("record length " + std::to_string(total) + " exceeds the " +
                      std::to_string(bytes.size()) + " bytes available");
  }
  uint32_t stored_crc = DecodeFixed32(bytes.data() + kCrcPos);
  std::string_view fields = bytes.substr(kRecordPrefixSize, total - kRecordPrefixSize);
  if (crc32c::Value(fields) != stored_crc) return Corruption("record CRC mismatch");
  std::string why;
  if (!DecodeFields(fields, out, &why)) return Corruption("malformed record: " + why);
  *consumed = total;
  return Status::Ok();
}

uint32_t TagHash(std::string_view tag) {
  if (tag.empty()) return 0;
  uint32_t h = crc32c::Value(tag);
  return h == 0 ? 1 : h;  // 0 is reserved for "no tag"
}

}  // namespace tidemq::store
