// Query by id, key and log offset through a real in-process broker (issue 10, item 11): a
// dead-lettered message looked up by id within its topic reports its own log offset; a
// damaged record is reported as damaged with its log offset, never as "no message matches";
// and a consumer's queue entry pointing at a damaged record is skipped loudly (counted).
#include <fcntl.h>
#include <unistd.h>

#include "tests/broker/consumer_test_util.h"

namespace tidemq::testing {
namespace {

class QueryTest : public ConsumerTest {
 protected:
  void SetUp() override {
    ConsumerTest::SetUp();
    c_ = Connect();
    ASSERT_EQ(c_->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  }
  void TearDown() override {
    c_.reset();
    ConsumerTest::TearDown();
  }

  wire::Frame Query(const std::string& id, const std::string& topic, int64_t log_offset = -1,
                    const std::string& key = "") {
    wire::Header h;
    h.set_kind(wire::QUERY_MESSAGE);
    auto* q = h.mutable_query_message_request();
    q->set_message_id(id);
    q->set_topic(topic);
    q->set_key(key);
    q->set_log_offset(log_offset);
    return c_->Call(std::move(h));
  }

  // Flips one byte of the CommitLog (the first segment) in place, as bit rot would.
  void FlipLogByte(int64_t log_offset) {
    const std::string path = dir_ + "/commitlog/00000000000000000000";
    int fd = ::open(path.c_str(), O_RDWR);
    ASSERT_GE(fd, 0) << path;
    char b = 0;
    ASSERT_EQ(::pread(fd, &b, 1, log_offset), 1);
    b = static_cast<char>(b ^ 0x5a);
    ASSERT_EQ(::pwrite(fd, &b, 1, log_offset), 1);
    ::close(fd);
  }

  std::unique_ptr<WireClient> c_;
};

TEST_F(QueryTest, DeadLetteredMessageByIdWithTopicReportsItsOwnLogOffset) {
  ASSERT_EQ(MakeGroupWithBackoff(*c_, "g", 1000, /*max_attempts=*/1), wire::OK);
  wire::Frame sent = Send(*c_, "t", {Msg{"body", "", "k1"}});
  ASSERT_EQ(sent.header.code(), wire::OK);
  const std::string id = sent.header.send_response().results(0).message_id();
  const int64_t at = sent.header.send_response().results(0).log_offset();
  auto got = Receive(*c_, "g", "t", 1, 0);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(SettleOne(*c_, wire::NACK, "g", "t", got[0].meta.receipt_handle()).code(), wire::OK);

  // Its id now names two records: the DLQ copy (newest) and the original.
  wire::Frame all = Query(id, "");
  ASSERT_EQ(all.header.code(), wire::OK) << all.header.error_message();
  ASSERT_EQ(all.header.query_message_response().messages_size(), 2);
  for (const wire::Message& m : all.header.query_message_response().messages()) {
    wire::Frame by_offset = Query("", "", m.log_offset());
    ASSERT_EQ(by_offset.header.code(), wire::OK);
    EXPECT_EQ(by_offset.header.query_message_response().messages(0).topic(), m.topic());
  }

  wire::Frame in_topic = Query(id, "t");
  ASSERT_EQ(in_topic.header.code(), wire::OK) << in_topic.header.error_message();
  ASSERT_EQ(in_topic.header.query_message_response().messages_size(), 1);
  EXPECT_EQ(in_topic.header.query_message_response().messages(0).topic(), "t");
  EXPECT_EQ(in_topic.header.query_message_response().messages(0).log_offset(), at);

  wire::Frame in_dlq = Query(id, "%DLQ%g");
  ASSERT_EQ(in_dlq.header.code(), wire::OK) << in_dlq.header.error_message();
  ASSERT_EQ(in_dlq.header.query_message_response().messages_size(), 1);
  EXPECT_NE(in_dlq.header.query_message_response().messages(0).log_offset(), at);
  EXPECT_EQ(in_dlq.header.query_message_response().messages(0).dead_letter_reason(),
            "max_attempts");
}

TEST_F(QueryTest, DamagedRecordIsReportedAsDamagedWithItsLogOffset) {
  wire::Frame sent = Send(*c_, "t", {Msg{"damaged", "", "k1"}, Msg{"intact", "", "k1"}});
  ASSERT_EQ(sent.header.code(), wire::OK);
  const auto& results = sent.header.send_response().results();
  const std::string id = results[0].message_id();
  const int64_t at = results[0].log_offset();
  FlipLogByte(results[1].log_offset() - 1);  // the last byte of the first record's body

  for (const wire::Frame& f : {Query(id, ""), Query(id, "t"), Query("", "", at)}) {
    EXPECT_EQ(f.header.code(), wire::CORRUPTION) << f.header.error_message();
    EXPECT_NE(f.header.error_message().find("damaged"), std::string::npos)
        << f.header.error_message();
    EXPECT_NE(f.header.error_message().find(std::to_string(at)), std::string::npos)
        << f.header.error_message();
  }
  // A look-up that also finds intact records returns them and names the damaged one.
  wire::Frame by_key = Query("", "t", -1, "k1");
  ASSERT_EQ(by_key.header.code(), wire::OK) << by_key.header.error_message();
  const auto& resp = by_key.header.query_message_response();
  ASSERT_EQ(resp.messages_size(), 1);
  EXPECT_EQ(resp.messages(0).log_offset(), results[1].log_offset());
  ASSERT_EQ(resp.damaged_log_offsets_size(), 1);
  EXPECT_EQ(resp.damaged_log_offsets(0), at);
}

TEST_F(QueryTest, ConsumerSkipsADamagedRecordLoudly) {
  wire::Frame sent = Send(*c_, "t", {Msg{"one"}, Msg{"two"}, Msg{"three"}});
  ASSERT_EQ(sent.header.code(), wire::OK);
  FlipLogByte(sent.header.send_response().results(2).log_offset() - 1);  // "two"
  auto got = Drain(*c_, "g", "t");
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].body, "one");
  EXPECT_EQ(got[1].body, "three");
  EXPECT_EQ(StatOf(*c_, "messages_damaged_skipped"), 1);
}

}  // namespace
}  // namespace tidemq::testing
