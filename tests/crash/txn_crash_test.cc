// Crash test for transactional messages: a real `tidemq-broker` (sync flush) takes
// transactions — half, then commit or rollback — from a producer thread and is SIGKILLed in the
// middle of them (some halves without an end, some ends in flight). After a restart a producer
// of the same group answers the check-backs from the "database" (the rule: even order numbers
// committed, odd ones rolled back). Once nothing is pending, a fresh consumer group must see
// every committed order exactly once and no rolled-back one. A commit is the half's re-put
// carrying the half's offset (docs/txn.md), so "killed between end and re-put" is the same
// moment as "killed while the commit is written": the kill lands there too.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/crash/broker_process.h"
#include "tidemq/tidemq.h"

namespace tidemq::testing {
namespace {

constexpr int kMaxOrders = 2000;
const std::vector<std::string> kBrokerFlags = {"--txn-check-timeout-ms", "300",
                                               "--txn-check-backoff-ms", "200"};

// The local "database": an order commits when its number is even.
TransactionResolution Decide(const std::string& body) {
  const int n = std::stoi(body.substr(body.find(' ') + 1));
  return n % 2 == 0 ? TransactionResolution::kCommit : TransactionResolution::kRollback;
}

TEST(TxnCrashTest, KillBetweenHalfAndEndKeepsCommitsExactlyOnceAndRollbacksInvisible) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.usable()) << "no temp dir or free port";
  Status st = broker.Start(kBrokerFlags);
  ASSERT_TRUE(st.ok()) << st.ToString();
  {
    auto admin = Admin::NewBuilder().Endpoint(broker.address()).Build();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    ASSERT_TRUE(admin->CreateTopic("orders", 4).ok());
  }
  const unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int kill_after = std::uniform_int_distribution<int>(50, 400)(rng);

  // Orders whose half the broker acknowledged.
  std::mutex mu;
  std::set<int> half_acked;
  std::atomic<int> ended{0};
  std::thread producer_thread([&] {
    auto producer = Producer::NewBuilder()
                        .Endpoint(broker.address())
                        .Group("order-service")
                        .MaxSendAttempts(1)
                        .RequestTimeout(2000)
                        .TransactionChecker([](const ReceivedMessage& m) { return Decide(m.body()); })
                        .Build();
    if (!producer.ok()) return;
    for (int n = 0; n < kMaxOrders; ++n) {
      auto txn = producer->BeginTransaction();
      if (!txn.ok()) return;
      auto m = Message::NewBuilder().Topic("orders").Body("order " + std::to_string(n)).Build();
      if (!m.ok() || !txn->Send(*m).ok()) return;  // the broker is gone
      {
        std::lock_guard lock(mu);
        half_acked.insert(n);
      }
      // Every fifth order's end is left to the check-back (as if the producer died here).
      if (n % 5 == 4) continue;
      Status end = Decide(m->body()) == TransactionResolution::kCommit ? txn->Commit()
                                                                       : txn->Rollback();
      if (!end.ok()) return;
      ++ended;
    }
  });
  const auto kill_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (ended.load() < kill_after && std::chrono::steady_clock::now() < kill_deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll interval
  }
  ASSERT_TRUE(broker.Kill());
  producer_thread.join();
  ASSERT_GE(ended.load(), kill_after);

  st = broker.Start(kBrokerFlags);
  ASSERT_TRUE(st.ok()) << st.ToString();
  // The restarted service: the check-backs of every open transaction come here.
  auto producer = Producer::NewBuilder()
                      .Endpoint(broker.address())
                      .Group("order-service")
                      .TransactionChecker([](const ReceivedMessage& m) { return Decide(m.body()); })
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  auto admin = Admin::NewBuilder().Endpoint(broker.address()).Build();
  ASSERT_TRUE(admin.ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    auto stats = admin->TransactionStats();
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    if (stats->pending == 0) break;
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << stats->pending << " still pending";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
  }

  auto consumer = SimpleConsumer::NewBuilder()
                      .Endpoint(broker.address())
                      .Group("verify")
                      .Topic("orders")
                      .AwaitDuration(300)
                      .LeaseDuration(120'000)
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  std::map<int, int> seen;
  for (int empty = 0; empty < 3;) {
    auto batch = consumer->Receive(256);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    empty = batch->empty() ? empty + 1 : 0;
    for (const auto& m : *batch) ++seen[std::stoi(m.body().substr(6))];
    if (!batch->empty()) {
      ASSERT_TRUE(consumer->Ack(*batch).ok());
    }
  }
  int committed = 0;
  for (int n : half_acked) {
    if (n % 2 == 0) {
      EXPECT_EQ(seen[n], 1) << "committed order " << n;
      ++committed;
    } else {
      EXPECT_EQ(seen[n], 0) << "rolled-back order " << n;
    }
  }
  // A half stored but not acknowledged (the kill came first) is resolved by the rule too.
  for (const auto& [n, count] : seen) {
    if (count == 0) continue;  // looked up above
    EXPECT_EQ(n % 2, 0) << "order " << n << " should never be visible";
    EXPECT_LE(count, 1) << "order " << n;
  }
  EXPECT_GE(committed, kill_after / 2);
}

}  // namespace
}  // namespace tidemq::testing
