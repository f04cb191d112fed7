// ConsumerManager (broker/core/consumer_manager.h) as the facade over its parts, on a real
// store in a temporary directory with a ManualClock: no socket, no timer engine, no sleeps.
// Lease expiry runs when the test calls OnTimer() after moving the clock past the deadline
// the manager asked to be woken at.
#include "broker/core/consumer_manager.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "store/store.h"

namespace tidemq::broker {
namespace {

class ConsumerManagerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tidemq-consumers-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    Open();
    ASSERT_TRUE(topics_->Create("orders", 1, clock_.NowMs()).ok());
  }
  // Opens the store, the topics and the consumer manager over dir_ (again: a restart).
  void Open() {
    store::StoreOptions so;
    so.data_dir = dir_;
    so.segment_bytes = 1 << 20;
    auto store = store::Store::Open(so);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    topics_ = std::make_unique<TopicManager>(store_.get());
    ASSERT_TRUE(topics_->Load().ok());
    consumers_ = std::make_unique<ConsumerManager>(store_.get(), topics_.get(), &clock_, config_);
    consumers_->SetWakeup([this](int64_t at) { armed_.push_back(at); });
    consumers_->SetReadyNotifier([this](const std::string& topic) { ready_.push_back(topic); });
    ASSERT_TRUE(consumers_->Load().ok());
  }
  // A clean stop (offsets flushed, store closed) and a start over the same directory.
  void Restart() {
    ASSERT_TRUE(consumers_->FlushOffsets(/*wait=*/true).ok());
    consumers_.reset();
    topics_.reset();
    store_.reset();
    Open();
  }
  void TearDown() override {
    consumers_.reset();
    topics_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Send(int n) {
    std::vector<store::Record> records;
    for (int i = 0; i < n; ++i) {
      store::Record r;
      r.topic = "orders";
      r.message_id = "m" + std::to_string(sent_++);
      r.body = "body";
      records.push_back(std::move(r));
    }
    ASSERT_TRUE(store_->AppendAndWait(std::move(records)).ok());
  }
  void Group(bool fifo = false, uint32_t max_attempts = 3) {
    GroupConfig c;
    c.name = "g";
    c.fifo = fifo;
    c.max_attempts = max_attempts;
    c.retry = *RetryPolicy::Parse("1s,5s");
    ASSERT_TRUE(consumers_->CreateGroup(c).ok());
  }
  std::vector<Delivery> Receive(uint32_t max = 32, int64_t lease_ms = 10'000) {
    ReceiveArgs a;
    a.group = "g";
    a.topic = "orders";
    a.max_messages = max;
    a.lease_ms = lease_ms;
    auto r = consumers_->TryReceive(a);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : std::vector<Delivery>{};
  }
  int64_t Committed() {
    auto info = consumers_->DescribeGroup("g");
    EXPECT_TRUE(info.ok());
    for (const auto& q : info->queues) {
      if (q.topic == "orders") return q.committed;
    }
    return -1;
  }

  std::string dir_;
  ManualClock clock_;
  BrokerConfig config_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<ConsumerManager> consumers_;
  std::vector<int64_t> armed_;
  std::vector<std::string> ready_;
  int sent_ = 0;
};

TEST_F(ConsumerManagerTest, OutOfOrderAcksCommitTheAckedPrefix) {
  Group();
  Send(3);
  auto d = Receive();
  ASSERT_EQ(d.size(), 3u);
  ASSERT_TRUE(consumers_->Ack("g", d[2].receipt).ok());
  ASSERT_TRUE(consumers_->Ack("g", d[0].receipt).ok());
  EXPECT_EQ(Committed(), 1);
  ASSERT_TRUE(consumers_->Ack("g", d[1].receipt).ok());
  EXPECT_EQ(Committed(), 3);
  auto again = consumers_->Ack("g", d[1].receipt);
  EXPECT_EQ(again.code(), Code::kReceiptInvalid);
  EXPECT_EQ(consumers_->acked(), 3);
}

TEST_F(ConsumerManagerTest, LapsedLeaseArmsTheWakeupAndBecomesARetryCopy) {
  Group();
  Send(1);
  auto d = Receive(1, /*lease_ms=*/2000);
  ASSERT_EQ(d.size(), 1u);
  ASSERT_FALSE(armed_.empty());
  EXPECT_EQ(armed_.back(), clock_.MonotonicMs() + 2000);
  clock_.AdvanceMs(1999);
  consumers_->OnTimer();
  EXPECT_EQ(consumers_->lapsed(), 0);
  clock_.AdvanceMs(1);
  consumers_->OnTimer();
  EXPECT_EQ(consumers_->lapsed(), 1);
  // The copy is durable before the original is settled: FlushOffsets(wait) waits for the
  // store, whose writer completed the copy's append before it.
  ASSERT_TRUE(consumers_->FlushOffsets(/*wait=*/true).ok());
  for (int i = 0; i < 1000 && consumers_->retried() == 0; ++i) usleep(1000);
  EXPECT_EQ(consumers_->retried(), 1);
  for (int i = 0; i < 1000 && Committed() != 1; ++i) usleep(1000);
  EXPECT_EQ(Committed(), 1);
  EXPECT_EQ(consumers_->Ack("g", d[0].receipt).code(), Code::kReceiptInvalid);
}

TEST_F(ConsumerManagerTest, FifoNackRetriesInPlaceAndHoldsTheQueue) {
  Group(/*fifo=*/true);
  Send(2);
  auto d = Receive();
  ASSERT_EQ(d.size(), 1u);  // FIFO: one message of a queue in flight
  EXPECT_EQ(d[0].queue_offset, 0);
  EXPECT_TRUE(Receive().empty());
  Status nacked;
  consumers_->Nack("g", {d[0].receipt}, 0, /*dead_letter=*/false, [&](size_t, const Status& st) { nacked = st; });
  EXPECT_TRUE(nacked.ok());
  EXPECT_EQ(armed_.back(), clock_.MonotonicMs() + 1000);  // the group's first back-off
  EXPECT_TRUE(Receive().empty());  // not due yet, and offset 1 may not overtake it
  clock_.AdvanceMs(1000);
  auto again = Receive();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].queue_offset, 0);
  EXPECT_EQ(again[0].attempt, 2u);
  EXPECT_EQ(consumers_->retried(), 0);  // in place, no copy
  ASSERT_TRUE(consumers_->Ack("g", again[0].receipt).ok());
  EXPECT_EQ(ready_, (std::vector<std::string>{"orders"}));  // the queue can go on
  auto next = Receive();
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].queue_offset, 1);
}

TEST_F(ConsumerManagerTest, ReleaseDoesNotCountTheAttempt) {
  Group();
  Send(1);
  auto d = Receive();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].attempt, 1u);
  ASSERT_TRUE(consumers_->Release("g", d[0].receipt).ok());
  auto again = Receive();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt, 1u);
  EXPECT_EQ(consumers_->Ack("g", d[0].receipt).code(), Code::kReceiptInvalid);
}

TEST_F(ConsumerManagerTest, ChangedLeaseOutlivesTheOldDeadline) {
  Group();
  Send(1);
  auto d = Receive(1, /*lease_ms=*/2000);
  ASSERT_EQ(d.size(), 1u);
  auto renewed = consumers_->ChangeLease("g", d[0].receipt, 10'000);
  ASSERT_TRUE(renewed.ok()) << renewed.status().ToString();
  EXPECT_EQ(consumers_->Ack("g", d[0].receipt).code(), Code::kReceiptInvalid);  // old handle
  clock_.AdvanceMs(5000);
  consumers_->OnTimer();
  EXPECT_EQ(consumers_->lapsed(), 0);
  EXPECT_TRUE(consumers_->Ack("g", *renewed).ok());
  EXPECT_EQ(Committed(), 1);
}

TEST_F(ConsumerManagerTest, TagFilterSettlesWhatItSkips) {
  Group();
  std::vector<store::Record> records;
  for (const char* tag : {"a", "b", "a"}) {
    store::Record r;
    r.topic = "orders";
    r.message_id = std::string("m-") + tag + std::to_string(records.size());
    r.tag = tag;
    records.push_back(std::move(r));
  }
  ASSERT_TRUE(store_->AppendAndWait(std::move(records)).ok());
  ReceiveArgs a;
  a.group = "g";
  a.topic = "orders";
  a.tag_filter = "b";
  auto d = consumers_->TryReceive(a);
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(d->size(), 1u);
  EXPECT_EQ((*d)[0].record.tag, "b");
  // Offsets 0 and 2 (tag a) were settled by the same read; 1 is leased.
  EXPECT_EQ(Committed(), 1);
  ASSERT_TRUE(consumers_->Ack("g", (*d)[0].receipt).ok());
  EXPECT_EQ(Committed(), 3);
}

TEST_F(ConsumerManagerTest, OffsetsAndAttemptsSurviveARestartButHandlesDoNot) {
  Group();
  Send(3);
  auto d = Receive();
  ASSERT_EQ(d.size(), 3u);
  ASSERT_TRUE(consumers_->Ack("g", d[0].receipt).ok());
  ASSERT_TRUE(consumers_->Ack("g", d[2].receipt).ok());
  const uint64_t epoch = consumers_->epoch();
  Restart();
  EXPECT_EQ(consumers_->epoch(), epoch + 1);
  EXPECT_EQ(Committed(), 1);
  // A handle of the earlier run settles nothing.
  EXPECT_FALSE(consumers_->Ack("g", d[1].receipt).ok());
  auto again = Receive();
  // Offset 1 (unacked) and 2 (acked, but above committed: at-least-once) come again, and
  // their attempts go on.
  ASSERT_EQ(again.size(), 2u);
  EXPECT_EQ(again[0].queue_offset, 1);
  EXPECT_EQ(again[0].attempt, 2u);
  EXPECT_EQ(again[1].queue_offset, 2);
  EXPECT_EQ(again[1].attempt, 2u);
  auto groups = consumers_->ListGroups();
  ASSERT_EQ(groups.size(), 1u);
  EXPECT_EQ(groups[0].max_attempts, 3u);
  EXPECT_EQ(groups[0].retry, *RetryPolicy::Parse("1s,5s"));
}

TEST_F(ConsumerManagerTest, DeletedGroupStaysDeletedAndItsOffsetsDoNotComeBack) {
  Group();
  Send(2);
  auto d = Receive();
  ASSERT_EQ(d.size(), 2u);
  ASSERT_TRUE(consumers_->Ack("g", d[0].receipt).ok());
  ASSERT_TRUE(consumers_->Ack("g", d[1].receipt).ok());
  ASSERT_TRUE(consumers_->FlushOffsets(/*wait=*/true).ok());
  ASSERT_TRUE(consumers_->DeleteGroup("g").ok());
  EXPECT_EQ(consumers_->DeleteGroup("g").code(), Code::kGroupNotFound);
  Restart();
  EXPECT_TRUE(consumers_->ListGroups().empty());
  Group();  // created again: it starts at the oldest stored message
  EXPECT_EQ(Receive().size(), 2u);
}

TEST_F(ConsumerManagerTest, ChangingTheModeOfAGroupIsRefused) {
  Group();
  GroupConfig c;
  c.name = "g";
  c.fifo = true;
  EXPECT_EQ(consumers_->CreateGroup(c).status().code(), Code::kFailedPrecondition);
  c.fifo = false;
  c.max_attempts = 9;
  auto updated = consumers_->CreateGroup(c);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->max_attempts, 9u);
}

}  // namespace
}  // namespace tidemq::broker
