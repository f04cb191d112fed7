// Consumer state across real broker restarts (a `tidemq-broker` process; issue 10):
//  - the log loses its tail after the group consumed it (the CommitLog file is cut, as a torn
//    or damaged tail would be truncated by recovery) while the group's committed offset
//    survives (since issue 11 the offsets are log records too and go with the tail, so the
//    test writes them back the way metadata of an older broker outlives its log): the
//    offset is now above its queue's end, and the next messages must still reach it (item 2);
//  - receipt handles from before a SIGKILL acknowledge nothing after it, and the delivery's
//    attempt count goes on across the kill (item 10).
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/store.h"
#include "tests/crash/broker_process.h"
#include "tidemq/tidemq.h"

namespace tidemq::testing {
namespace {

class ConsumerOffsetsCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.usable()) << "no temp dir or free port";
    StartBroker();
    ASSERT_TRUE(admin_->CreateTopic("work", 1).ok());
  }

  void StartBroker() {
    Status st = broker_.Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    auto admin = Admin::NewBuilder().Endpoint(broker_.address()).Build();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    admin_ = std::make_unique<Admin>(std::move(admin).value());
    auto producer = Producer::NewBuilder().Endpoint(broker_.address()).Build();
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    producer_ = std::make_unique<Producer>(std::move(producer).value());
    auto consumer = SimpleConsumer::NewBuilder()
                        .Endpoint(broker_.address())
                        .Group("g")
                        .Topic("work")
                        .AwaitDuration(1000)
                        .LeaseDuration(60'000)
                        .Build();
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    consumer_ = std::make_unique<SimpleConsumer>(std::move(consumer).value());
  }
  void DropClients() {
    consumer_.reset();
    producer_.reset();
    admin_.reset();
  }

  SendReceipt SendOne(const std::string& body) {
    auto m = Message::NewBuilder().Topic("work").Body(body).Build();
    EXPECT_TRUE(m.ok());
    auto r = producer_->Send(*m);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : SendReceipt{};
  }

  // Receives and acks until `want` messages came or a long-poll returned nothing.
  std::vector<ReceivedMessage> ReceiveAndAck(size_t want) {
    std::vector<ReceivedMessage> out;
    while (out.size() < want) {
      auto got = consumer_->Receive(64);
      if (!got.ok() || got->empty()) break;
      EXPECT_TRUE(consumer_->Ack(*got).ok());
      out.insert(out.end(), got->begin(), got->end());
    }
    return out;
  }

  int64_t Counter(const std::string& name) {
    auto stats = admin_->Stats();
    if (!stats.ok() || !stats->counters.count(name)) return -1;
    return stats->counters.at(name);
  }

  // Waits (bounded) until the broker has persisted the consumer offsets at least once after
  // this call: two completed flushes, the second begun after everything before the call.
  bool WaitForOffsetFlush() {
    const int64_t before = Counter("offset_flushes");
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      if (before >= 0 && Counter("offset_flushes") >= before + 2) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
    }
    return false;
  }

  BrokerProcess broker_;
  std::unique_ptr<Admin> admin_;
  std::unique_ptr<Producer> producer_;
  std::unique_ptr<SimpleConsumer> consumer_;
};

TEST_F(ConsumerOffsetsCrashTest, GroupAboveItsQueueEndAfterTheLogLostItsTailKeepsConsuming) {
  std::vector<SendReceipt> sent;
  for (int i = 0; i < 200; ++i) sent.push_back(SendOne("old-" + std::to_string(i)));
  ASSERT_EQ(ReceiveAndAck(200).size(), 200u);
  // A clean stop persists the committed offset (200); then the log loses everything after
  // its 29th message, as recovery truncating a damaged tail would leave it.
  DropClients();
  ASSERT_TRUE(broker_.Stop());
  ASSERT_EQ(::truncate((broker_.data_dir() + "/commitlog/00000000000000000000").c_str(),
                       sent[29].log_offset),
            0);
  {
    // The group and its offset were recorded after the 29th message: put them back.
    store::StoreOptions options;
    options.data_dir = broker_.data_dir();
    options.segment_bytes = 1u << 20;  // as the broker runs (--segment-mb 1)
    auto store = store::Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store::MetaChange change;
    change.Put("group/g", "{}").Put("offset/g/work/0/", "200");
    ASSERT_TRUE((*store)->AppendMetaAndWait(std::move(change)).ok());
  }
  StartBroker();
  auto info = admin_->DescribeGroup("g");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_EQ(info->queues.size(), 1u);
  EXPECT_EQ(info->queues[0].committed_offset, 200);

  int64_t lowest = INT64_MAX;
  for (int i = 0; i < 100; ++i)
    lowest = std::min(lowest, SendOne("new-" + std::to_string(i)).queue_offset);
  EXPECT_GE(lowest, 200) << "queue offsets the group already passed were reused";
  std::set<std::string> fresh;
  info = admin_->DescribeGroup("g");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->total_lag, 100);
  for (const ReceivedMessage& m : ReceiveAndAck(100)) fresh.insert(std::string(m.body()));
  EXPECT_EQ(fresh.size(), 100u) << "the group stalled above its queue's end";
  info = admin_->DescribeGroup("g");
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->total_lag, 0);
}

TEST_F(ConsumerOffsetsCrashTest, HandlesFromBeforeAKillSettleNothingAndAttemptsGoOn) {
  SendOne("m");
  auto first = consumer_->Receive(1);
  ASSERT_TRUE(first.ok() && first->size() == 1u);
  EXPECT_EQ(first->at(0).delivery_attempt(), 1u);

  DropClients();
  ASSERT_TRUE(broker_.Kill());
  StartBroker();
  auto second = consumer_->Receive(1);
  ASSERT_TRUE(second.ok() && second->size() == 1u);
  EXPECT_EQ(second->at(0).message_id(), first->at(0).message_id());
  Status stale = consumer_->Ack(first->at(0));
  EXPECT_EQ(stale.code(), Code::kReceiptInvalid) << stale.ToString();
  EXPECT_NE(stale.message().find("earlier broker run"), std::string::npos) << stale.ToString();

  // Once the offsets were persisted, the count survives a SIGKILL exactly.
  ASSERT_TRUE(WaitForOffsetFlush());
  DropClients();
  ASSERT_TRUE(broker_.Kill());
  StartBroker();
  auto third = consumer_->Receive(1);
  ASSERT_TRUE(third.ok() && third->size() == 1u);
  EXPECT_EQ(third->at(0).message_id(), first->at(0).message_id());
  EXPECT_EQ(third->at(0).delivery_attempt(), second->at(0).delivery_attempt() + 1);
  EXPECT_EQ(consumer_->Ack(second->at(0)).code(), Code::kReceiptInvalid);
  EXPECT_TRUE(consumer_->Ack(third->at(0)).ok());
  auto none = consumer_->Receive(1, 200);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace tidemq::testing
