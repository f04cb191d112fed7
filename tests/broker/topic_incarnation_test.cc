// A deleted and re-created topic starts empty (issue 10, item 7): through a real in-process
// broker in virtual time, the old topic's pending retry copies (scheduled and already due),
// its scheduled messages and its open transactions are fenced by the topic's incarnation and
// never reach the new topic's consumers — also after a restart.
#include "tests/broker/consumer_test_util.h"

namespace tidemq::testing {
namespace {

class TopicIncarnationTest : public ConsumerTest {
 protected:
  void SetUp() override {
    ConsumerTest::SetUp();
    c_ = Connect();
  }
  void TearDown() override {
    c_.reset();
    ConsumerTest::TearDown();
  }

  wire::Frame SendDelayed(const std::string& id, int64_t delay_ms) {
    wire::Header h;
    h.set_kind(wire::SEND);
    auto* m = h.mutable_send_request()->add_messages();
    m->set_topic("t");
    m->set_queue_id(-1);
    m->set_message_id(id);
    m->set_delay_ms(delay_ms);
    m->set_body_size(1);
    return c_->Call(std::move(h), {"s"});
  }

  wire::Frame SendHalf(const std::string& id) {
    wire::Header h;
    h.set_kind(wire::SEND_HALF);
    h.mutable_send_request()->set_producer_group("pg");
    auto* m = h.mutable_send_request()->add_messages();
    m->set_topic("t");
    m->set_queue_id(-1);
    m->set_message_id(id);
    m->set_body_size(1);
    return c_->Call(std::move(h), {"h"});
  }

  wire::Frame Commit(int64_t half_offset, const std::string& id) {
    wire::Header h;
    h.set_kind(wire::END_TXN);
    auto* e = h.mutable_end_txn_request();
    e->set_producer_group("pg");
    e->set_half_offset(half_offset);
    e->set_message_id(id);
    e->set_resolution(wire::TXN_COMMIT);
    return c_->Call(std::move(h));
  }

  void RecreateTopic() {
    wire::Header del;
    del.set_kind(wire::DELETE_TOPIC);
    del.mutable_delete_topic_request()->set_topic("t");
    ASSERT_EQ(c_->Call(std::move(del)).header.code(), wire::OK);
    ASSERT_EQ(c_->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  }

  void ExpectNothingFor(const std::string& group) {
    auto got = Receive(*c_, group, "t", 64, 0);
    for (const Received& r : got) {
      ADD_FAILURE() << group << " received " << r.meta.message_id() << " (attempt "
                    << r.meta.delivery_attempt() << ") of the deleted topic";
    }
  }

  std::unique_ptr<WireClient> c_;
};

TEST_F(TopicIncarnationTest, RecreatedTopicStartsEmptyAndGetsNothingOfItsPredecessor) {
  ASSERT_EQ(c_->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(MakeGroupWithBackoff(*c_, "g", 60'000, 16), wire::OK);
  ASSERT_EQ(MakeGroupWithBackoff(*c_, "other", 60'000, 16), wire::OK);
  ASSERT_EQ(Send(*c_, "t", {Msg{"nacked"}, Msg{"lapsed"}}).header.code(), wire::OK);
  // "other" consumes the topic too: a scheduled message would reach every group.
  ASSERT_EQ(Drain(*c_, "other", "t").size(), 2u);

  // Pending work of the old topic: a retry copy due in a minute (scheduled), one due at once
  // (a lapsed lease), a scheduled message and an open transaction.
  auto got = Receive(*c_, "g", "t", 2, 0, "", "", /*lease_ms=*/1000);
  ASSERT_EQ(got.size(), 2u);
  const Received& nacked = got[0].body == "nacked" ? got[0] : got[1];
  ASSERT_EQ(SettleOne(*c_, wire::NACK, "g", "t", nacked.meta.receipt_handle()).code(), wire::OK);
  clock_.AdvanceMs(1000);  // the other lease lapses: its copy goes straight to %RETRY%g
  ASSERT_TRUE(WaitUntil([&] { return StatOf(*c_, "messages_retried") == 2; }));
  ASSERT_EQ(SendDelayed("later", 30'000).header.code(), wire::OK);
  wire::Frame half = SendHalf("txn");
  ASSERT_EQ(half.header.code(), wire::OK) << half.header.error_message();
  const int64_t half_offset = half.header.send_response().results(0).log_offset();

  RecreateTopic();

  // The old transaction's commit cannot land in the new topic.
  wire::Frame commit = Commit(half_offset, "txn");
  EXPECT_EQ(commit.header.code(), wire::TOPIC_NOT_FOUND) << commit.header.error_message();
  // Everything scheduled comes due; the timer drops what belonged to the old topic.
  clock_.AdvanceMs(61'000);
  ASSERT_TRUE(WaitUntil([&] { return StatOf(*c_, "timer_pending") == 0; }));
  ExpectNothingFor("g");
  ExpectNothingFor("other");
  wire::TopicInfo topic = DescribeTopicOf(*c_, "t");
  ASSERT_EQ(topic.queues_size(), 1);
  EXPECT_EQ(topic.queues(0).max_offset(), 0) << "the re-created topic is not empty";
  // Scheduled copy + scheduled message at their due time, the due copy at receive, the commit.
  EXPECT_EQ(StatOf(*c_, "topic_stale_dropped"), 4);

  // The new topic works as a new topic: its first message, attempt 1, for every group.
  ASSERT_EQ(Send(*c_, "t", {Msg{"fresh"}}).header.code(), wire::OK);
  for (const std::string group : {"g", "other"}) {
    auto fresh = Drain(*c_, group, "t");
    ASSERT_EQ(fresh.size(), 1u) << group;
    EXPECT_EQ(fresh[0].body, "fresh");
    EXPECT_EQ(fresh[0].meta.delivery_attempt(), 1u);
  }

  // The incarnation is persisted: after a restart the old work stays fenced.
  c_.reset();
  RestartBroker();
  c_ = Connect();
  clock_.AdvanceMs(3'600'000);
  ExpectNothingFor("g");
  ExpectNothingFor("other");
  ASSERT_EQ(Send(*c_, "t", {Msg{"after-restart"}}).header.code(), wire::OK);
  auto last = Drain(*c_, "g", "t");
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].body, "after-restart");
}

TEST_F(TopicIncarnationTest, RetryCopiesOfALiveTopicStillArrive) {
  // The fence must not touch what belongs to the current topic: a retry copy made before a
  // restart (stamped, then re-put by the timer after it) is delivered as usual.
  ASSERT_EQ(c_->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(MakeGroupWithBackoff(*c_, "g", 5000, 16), wire::OK);
  ASSERT_EQ(Send(*c_, "t", {Msg{"m"}}).header.code(), wire::OK);
  ASSERT_EQ(SendDelayed("later", 5000).header.code(), wire::OK);
  auto got = Receive(*c_, "g", "t", 1, 0);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(SettleOne(*c_, wire::NACK, "g", "t", got[0].meta.receipt_handle()).code(), wire::OK);
  c_.reset();
  RestartBroker();
  c_ = Connect();
  clock_.AdvanceMs(5000);
  ASSERT_TRUE(WaitUntil([&] { return StatOf(*c_, "timer_pending") == 0; }));
  auto back = Drain(*c_, "g", "t");
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(StatOf(*c_, "topic_stale_dropped"), 0);
  for (const Received& r : back) {
    // The broker's bookkeeping property never reaches a client.
    for (const auto& [k, v] : r.meta.properties()) {
      EXPECT_EQ(k.find("INCARNATION"), std::string::npos) << k;
    }
  }
}

}  // namespace
}  // namespace tidemq::testing
