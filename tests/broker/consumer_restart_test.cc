// Consumer state across broker restarts, through a real in-process broker in virtual time:
//  - committed offsets that are above their queue's end at start-up (the log lost its tail)
//    do not stall the group, and queue offsets are never reused (issue 10, item 2);
//  - receipt handles carry the broker's start epoch: one from before a restart is refused
//    clearly, and a delivery's attempt count survives the restart, FIFO in-place attempts
//    included (issue 10, item 10).
#include <set>

#include "store/store.h"
#include "tests/broker/consumer_test_util.h"

namespace tidemq::testing {
namespace {

class ConsumerRestartTest : public ConsumerTest {
 protected:
  // Writes a group's committed offset straight into the stopped broker's metadata, as a
  // broker that consumed further than its log now reaches would have left it.
  void WriteCommittedOffset(const std::string& key, const std::string& value) {
    broker_.reset();
    store::StoreOptions o = config_.ToStoreOptions();
    auto store = store::Store::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store::MetaChange change;
    change.Put(key, value);
    ASSERT_TRUE((*store)->AppendMetaAndWait(std::move(change)).ok());
  }
};

TEST_F(ConsumerRestartTest, CommittedOffsetAboveTheQueueEndDoesNotStallTheGroup) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  std::vector<Msg> old(29, Msg{"old"});
  ASSERT_EQ(Send(*c, "t", old).header.code(), wire::OK);
  ASSERT_EQ(Drain(*c, "g", "t").size(), 29u);
  c.reset();
  // The group had consumed 200 messages of a log that lost everything past the 29th.
  WriteCommittedOffset("offset/g/t/0/", "200");
  StartBroker();
  c = Connect();

  std::vector<Msg> fresh;
  for (int i = 0; i < 100; ++i) fresh.push_back(Msg{"new-" + std::to_string(i)});
  wire::Frame sent = Send(*c, "t", fresh);
  ASSERT_EQ(sent.header.code(), wire::OK) << sent.header.error_message();
  // Offsets the group already passed are not given to different messages.
  EXPECT_GE(sent.header.send_response().results(0).queue_offset(), 200);
  // Honest lag: 100 messages wait for the group.
  wire::GroupInfo info = DescribeGroupOf(*c, "g");
  EXPECT_EQ(info.total_lag(), 100);

  std::set<std::string> bodies;
  for (const Received& r : Drain(*c, "g", "t")) bodies.insert(r.body);
  EXPECT_EQ(bodies.size(), 100u);
  EXPECT_EQ(DescribeGroupOf(*c, "g").total_lag(), 0);

  // And again after a restart: the raised offsets hold, nothing is delivered twice.
  c.reset();
  RestartBroker();
  c = Connect();
  ASSERT_EQ(Send(*c, "t", {Msg{"after-restart"}}).header.code(), wire::OK);
  auto again = Drain(*c, "g", "t");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].body, "after-restart");
}

TEST_F(ConsumerRestartTest, ReceiptFromBeforeARestartIsRefusedAndTheAttemptCarriesOver) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {Msg{"m"}}).header.code(), wire::OK);
  auto first = Receive(*c, "g", "t", 1, 0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].meta.delivery_attempt(), 1u);

  c.reset();
  RestartBroker();
  c = Connect();
  // The unacked message comes again, as its second delivery.
  auto second = Receive(*c, "g", "t", 1, 0);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].meta.message_id(), first[0].meta.message_id());
  EXPECT_EQ(second[0].meta.delivery_attempt(), 2u);
  EXPECT_NE(second[0].meta.receipt_handle(), first[0].meta.receipt_handle());

  // The handle of the first run acknowledges nothing in this one.
  wire::HandleResult stale = SettleOne(*c, wire::ACK, "g", "t", first[0].meta.receipt_handle());
  EXPECT_EQ(stale.code(), wire::RECEIPT_INVALID);
  EXPECT_NE(stale.error_message().find("earlier broker run"), std::string::npos)
      << stale.error_message();
  EXPECT_EQ(SettleOne(*c, wire::NACK, "g", "t", first[0].meta.receipt_handle()).code(),
            wire::RECEIPT_INVALID);
  // ... and the current one does.
  EXPECT_EQ(SettleOne(*c, wire::ACK, "g", "t", second[0].meta.receipt_handle()).code(), wire::OK);
  EXPECT_TRUE(Receive(*c, "g", "t", 1, 0).empty());
}

TEST_F(ConsumerRestartTest, FifoInPlaceAttemptsSurviveRestarts) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(MakeGroupWithBackoff(*c, "fifo", 1000, 16, /*fifo=*/true), wire::OK);
  ASSERT_EQ(Send(*c, "t", {Msg{"a", "", "", "order-1"}, Msg{"b", "", "", "order-1"}}).header.code(),
            wire::OK);
  for (uint32_t attempt = 1; attempt <= 2; ++attempt) {
    auto got = Receive(*c, "fifo", "t", 8, 0);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body, "a");
    EXPECT_EQ(got[0].meta.delivery_attempt(), attempt);
    ASSERT_EQ(SettleOne(*c, wire::NACK, "fifo", "t", got[0].meta.receipt_handle()).code(),
              wire::OK);
    clock_.AdvanceMs(1000);
  }
  auto third = Receive(*c, "fifo", "t", 8, 0);
  ASSERT_EQ(third.size(), 1u);
  EXPECT_EQ(third[0].meta.delivery_attempt(), 3u);

  c.reset();
  RestartBroker();
  c = Connect();
  // Still the head of its queue, with every earlier delivery counted.
  auto fourth = Receive(*c, "fifo", "t", 8, 0);
  ASSERT_EQ(fourth.size(), 1u);
  EXPECT_EQ(fourth[0].body, "a");
  EXPECT_EQ(fourth[0].meta.delivery_attempt(), 4u);
  EXPECT_EQ(Ack(*c, "fifo", "t", fourth[0].meta.receipt_handle()), wire::OK);
  auto next = Receive(*c, "fifo", "t", 8, 0);
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].body, "b");
  EXPECT_EQ(next[0].meta.delivery_attempt(), 1u);

  // Twice in a row: the count does not fall back after a second restart either.
  c.reset();
  RestartBroker();
  c = Connect();
  auto again = Receive(*c, "fifo", "t", 8, 0);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].body, "b");
  EXPECT_EQ(again[0].meta.delivery_attempt(), 2u);
}

TEST_F(ConsumerRestartTest, ReleasedDeliveryIsNotCountedAcrossARestart) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {Msg{"m"}}).header.code(), wire::OK);
  auto got = Receive(*c, "g", "t", 1, 0);
  ASSERT_EQ(got.size(), 1u);
  wire::Header h;
  h.set_kind(wire::NACK);
  h.mutable_nack_request()->set_group("g");
  h.mutable_nack_request()->set_topic("t");
  h.mutable_nack_request()->set_release(true);
  h.mutable_nack_request()->add_receipt_handles(got[0].meta.receipt_handle());
  ASSERT_EQ(c->Call(std::move(h)).header.code(), wire::OK);
  c.reset();
  RestartBroker();
  c = Connect();
  auto again = Receive(*c, "g", "t", 1, 0);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].meta.delivery_attempt(), 1u);
}

// Metadata that does not parse (written by a bug, a newer version, or by hand) never stops the
// broker nor makes it throw: each bad record is skipped, logged and counted, and the rest
// loads.
TEST_F(ConsumerRestartTest, MalformedMetadataIsSkippedAndCountedAtStartUp) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {Msg{"kept"}}).header.code(), wire::OK);
  c.reset();
  broker_.reset();
  {
    auto store = store::Store::Open(config_.ToStoreOptions());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store::MetaChange change;
    change.Put("topic/wrong-type", R"({"queues": "four"})")
        .Put("topic/not-json", "{{")
        .Put("topic/array", "[1, 2]")
        .Put("topic_incarnation", "-")
        .Put("group/wrong-type", R"({"fifo": 3})")
        .Put("group/too-many", R"({"max_attempts": 99999999999})")
        .Put("offset/g/t/x/", "nope")
        .Put("dlq/floor/g", "abc");
    ASSERT_TRUE((*store)->AppendMetaAndWait(std::move(change)).ok());
  }
  StartBroker();
  c = Connect();
  EXPECT_EQ(StatsOf(*c)["metadata_records_skipped"], 8);
  auto got = Drain(*c, "g", "t");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "kept");
}

// Creating an existing topic again answers once its record is durable, by writing the topic's
// record again — never the incarnation counter, which may have moved on: a counter written
// back would hand a deleted topic's incarnation to its next namesake after a restart.
TEST_F(ConsumerRestartTest, RecreatingAnExistingTopicNeverLowersTheIncarnationCounter) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("a", 1)).header.code(), wire::OK);
  ASSERT_EQ(c->Call(CreateTopic("b", 1)).header.code(), wire::OK);
  wire::Header del;
  del.set_kind(wire::DELETE_TOPIC);
  del.mutable_delete_topic_request()->set_topic("b");
  ASSERT_EQ(c->Call(std::move(del)).header.code(), wire::OK);
  ASSERT_EQ(c->Call(CreateTopic("a", 1)).header.code(), wire::OK);  // exists: idempotent
  c.reset();
  broker_.reset();
  auto store = store::Store::Open(config_.ToStoreOptions());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto a = (*store)->GetMeta("topic/a");
  auto counter = (*store)->GetMeta("topic_incarnation");
  ASSERT_TRUE(a.ok() && a->has_value() && counter.ok() && counter->has_value());
  EXPECT_FALSE((*store)->GetMeta("topic/b")->has_value());
  const size_t at = (*a)->find("\"incarnation\":");
  ASSERT_NE(at, std::string::npos) << **a;
  const uint64_t a_incarnation = std::stoull((*a)->substr(at + 14));
  EXPECT_GT(std::stoull(**counter), a_incarnation) << "b got a later one";
}

}  // namespace
}  // namespace tidemq::testing
