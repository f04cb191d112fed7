// Crash test for scheduled messages: a real `tidemq-broker` (sync flush, real clock) holds a few
// hundred messages due 0.5-3 s ahead; it is SIGKILLed while they are firing (after a watching
// consumer has seen a random number of them), restarted on the same data directory, and once
// the timer has nothing pending the whole topic is read back by a fresh consumer group: every
// acknowledged scheduled message must be stored in its topic exactly once.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "tests/crash/broker_process.h"
#include "tidemq/tidemq.h"

namespace tidemq::testing {
namespace {

constexpr int kMessages = 300;
constexpr int kBatch = 30;
constexpr int64_t kMinDelayMs = 500;
constexpr int64_t kMaxDelayMs = 3000;

// Receives from `consumer`, acking, until `stop` says so or three receives in a row are empty.
// Returns the message ids seen, each as often as it was delivered.
template <typename Stop>
Result<std::vector<std::string>> ReceiveUntil(SimpleConsumer& consumer, Stop stop) {
  std::vector<std::string> ids;
  int empty_in_a_row = 0;
  while (!stop(ids) && empty_in_a_row < 3) {
    auto batch = consumer.Receive(256);
    if (!batch.ok()) return batch.status();
    empty_in_a_row = batch->empty() ? empty_in_a_row + 1 : 0;
    for (const auto& m : *batch) {
      ids.push_back(m.message_id());
      if (m.properties().count("DELIVER_AT_MS") != 1) {
        return Status(Code::kInternal, "message " + m.message_id() + " lacks DELIVER_AT_MS");
      }
    }
    if (!batch->empty()) RETURN_IF_ERROR(consumer.Ack(*batch));
  }
  return ids;
}

Result<SimpleConsumer> NewConsumer(const BrokerProcess& broker, const std::string& group) {
  return SimpleConsumer::NewBuilder()
      .Endpoint(broker.address())
      .Group(group)
      .Topic("sched")
      .AwaitDuration(300)
      .LeaseDuration(120'000)
      .Build();
}

TEST(ScheduledCrashTest, KillWhileFiringDeliversEveryScheduledMessageExactlyOnce) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.usable()) << "no temp dir or free port";
  Status st = broker.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();
  {
    auto admin = Admin::NewBuilder().Endpoint(broker.address()).Build();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    auto created = admin->CreateTopic("sched", 4);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);

  // Schedule, in batches (one attempt each: a retry could store a message twice).
  std::vector<std::string> acked;
  {
    auto producer = Producer::NewBuilder().Endpoint(broker.address()).MaxSendAttempts(1).Build();
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    std::uniform_int_distribution<int64_t> delay(kMinDelayMs, kMaxDelayMs);
    for (int i = 0; i < kMessages; i += kBatch) {
      std::vector<Message> batch;
      for (int j = i; j < i + kBatch; ++j) {
        auto m = Message::NewBuilder()
                     .Topic("sched")
                     .Key("k" + std::to_string(j))
                     .Body("scheduled " + std::to_string(j))
                     .Delay(delay(rng))
                     .Build();
        ASSERT_TRUE(m.ok()) << m.status().ToString();
        batch.push_back(std::move(m).value());
      }
      auto receipts = producer->SendBatch(std::move(batch));
      ASSERT_TRUE(receipts.ok()) << receipts.status().ToString();
      for (const auto& r : *receipts) acked.push_back(r.message_id);
    }
  }

  // Kill once a watching consumer has seen a random share of them fire.
  const size_t kill_after =
      std::uniform_int_distribution<size_t>(kMessages / 10, kMessages * 9 / 10)(rng);
  {
    auto watcher = NewConsumer(broker, "watch");
    ASSERT_TRUE(watcher.ok()) << watcher.status().ToString();
    auto seen = ReceiveUntil(*watcher, [&](const auto& ids) { return ids.size() >= kill_after; });
    ASSERT_TRUE(seen.ok()) << seen.status().ToString();
    ASSERT_GE(seen->size(), kill_after);
  }
  ASSERT_TRUE(broker.Kill());
  st = broker.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();

  // Wait (bounded) until nothing is pending or being fired.
  auto admin = Admin::NewBuilder().Endpoint(broker.address()).Build();
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    auto stats = admin->TimerStats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    if (stats->pending == 0 && stats->firing == 0) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline)
        << stats->pending << " still pending; next due " << stats->next_due_ms;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }

  // A fresh group reads every message stored in the topic, each once.
  auto verifier = NewConsumer(broker, "verify");
  ASSERT_TRUE(verifier.ok()) << verifier.status().ToString();
  auto all = ReceiveUntil(*verifier, [](const auto&) { return false; });
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::map<std::string, int> count;
  for (const auto& id : *all) ++count[id];
  for (const auto& id : acked) {
    EXPECT_EQ(count[id], 1) << "acknowledged scheduled message " << id;
    count.erase(id);
  }
  EXPECT_TRUE(count.empty()) << count.size() << " messages nobody sent";
  auto stats = admin->TimerStats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->fired, kMessages);
}

}  // namespace
}  // namespace tidemq::testing
