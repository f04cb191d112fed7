// SEND and SEND_HALF refuse what only the broker may write (issue 10, item 9): system topics
// ('%...'), however the client sends (single, batch, half), while the broker's own copies into
// them (retries, dead letters) keep working; and topic / group names made of dots only.
#include "tests/broker/broker_fixture.h"

namespace tidemq::testing {
namespace {

class SendTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    c_ = Connect();
    ASSERT_EQ(c_->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  }
  void TearDown() override {
    c_.reset();
    BrokerTest::TearDown();
  }

  // A message of `group` nacked once: with max_attempts 1 it is dead-lettered, else retried.
  void FailOnce(const std::string& group, uint32_t max_attempts) {
    wire::Header h = CreateGroup(group, false, false);
    h.mutable_create_group_request()->mutable_config()->set_max_attempts(max_attempts);
    ASSERT_EQ(c_->Call(std::move(h)).header.code(), wire::OK);
    ASSERT_EQ(Send(*c_, "t", {{"real"}}).header.code(), wire::OK);
    auto got = Receive(*c_, group, "t", 1, 0);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_EQ(Settle(*c_, wire::NACK, group, "t", {got[0].meta.receipt_handle()}).header.code(),
              wire::OK);
  }

  int64_t DeadLetters(const std::string& group) {
    wire::Header h;
    h.set_kind(wire::DLQ_LIST);
    h.mutable_dlq_list_request()->set_group(group);
    h.mutable_dlq_list_request()->set_after_offset(-1);
    wire::Frame f = c_->Call(std::move(h));
    EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
    return f.header.dlq_list_response().total();
  }

  wire::ErrorCode SendHalf(const std::string& topic) {
    wire::Header h;
    h.set_kind(wire::SEND_HALF);
    h.mutable_send_request()->set_producer_group("pg");
    auto* m = h.mutable_send_request()->add_messages();
    m->set_topic(topic);
    m->set_queue_id(-1);
    m->set_message_id("half-" + topic);
    m->set_body_size(1);
    return c_->Call(std::move(h), {"h"}).header.code();
  }

  std::unique_ptr<WireClient> c_;
};

TEST_F(SendTest, SystemTopicsAreRefusedForEveryClientSendPath) {
  FailOnce("dead", 1);   // the broker creates %DLQ%dead and writes one dead letter
  FailOnce("retry", 5);  // and %RETRY%retry with one retry copy
  ASSERT_EQ(DeadLetters("dead"), 1);
  for (const std::string topic : {"%DLQ%dead", "%RETRY%retry", "%TXN_PARKED%", "%NEW%x"}) {
    wire::Frame f = Send(*c_, topic, {{"forged"}});
    EXPECT_EQ(f.header.code(), wire::INVALID_ARGUMENT) << topic;
    EXPECT_NE(f.header.error_message().find("system topic"), std::string::npos)
        << f.header.error_message();
    EXPECT_EQ(SendHalf(topic), wire::INVALID_ARGUMENT) << topic;
  }
  // In a batch with a good message: nothing of the batch is stored.
  wire::Header h;
  h.set_kind(wire::SEND);
  for (const std::string topic : {"t", "%DLQ%dead"}) {
    auto* m = h.mutable_send_request()->add_messages();
    m->set_topic(topic);
    m->set_queue_id(-1);
    m->set_message_id("batch-" + topic);
    m->set_body_size(1);
  }
  EXPECT_EQ(c_->Call(std::move(h), {"a", "b"}).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_TRUE(Receive(*c_, "fresh", "t", 32, 0).size() == 2u);  // the two FailOnce messages

  // No forged dead letter shows; the broker's own still does.
  EXPECT_EQ(DeadLetters("dead"), 1);
}

TEST_F(SendTest, NamesMadeOfDotsOnlyAreRefused) {
  for (const std::string name : {".", "..", "..."}) {
    EXPECT_EQ(c_->Call(CreateTopic(name, 1)).header.code(), wire::INVALID_ARGUMENT) << name;
    EXPECT_EQ(Send(*c_, name, {{"x"}}).header.code(), wire::INVALID_ARGUMENT) << name;
    wire::ErrorCode code = wire::OK;
    Receive(*c_, name, "t", 1, 0, "", "", 30'000, &code);
    EXPECT_EQ(code, wire::INVALID_ARGUMENT) << name;
    EXPECT_EQ(c_->Call(CreateGroup(name, false, false)).header.code(), wire::INVALID_ARGUMENT)
        << name;
  }
  // Dots among other characters are fine.
  EXPECT_EQ(c_->Call(CreateTopic("a..b", 1)).header.code(), wire::OK);
  EXPECT_EQ(Send(*c_, "a..b", {{"x"}}).header.code(), wire::OK);
  EXPECT_EQ(Receive(*c_, ".g.", "a..b", 1, 0).size(), 1u);
}

}  // namespace
}  // namespace tidemq::testing
