// The producer's side of transaction check-backs (client/src/txn_check_dispatcher.h): checks
// of different transactions are answered concurrently, a duplicate joins the check of its
// transaction instead of running the checker again, definitive answers are cached, and what
// waits is bounded. First the dispatcher on its own, then through a Producer against the
// scripted broker. Checkers block on conditions the test controls; waits are bounded.
#include "client/src/txn_check_dispatcher.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "tests/client/fake_broker.h"
#include "tidemq/producer.h"

namespace tidemq {
namespace {

using client::TxnCheckDispatcher;
using client::TxnCheckOptions;
using client::testing::FakeBroker;
using R = TransactionResolution;

constexpr auto kPatience = std::chrono::seconds(10);

// A checker the test steers: it records calls, answers from `answers` (default kCommit), and
// blocks while its transaction is held.
class SteeredChecker {
 public:
  TransactionChecker AsChecker() {
    return [this](const ReceivedMessage& half) { return Check(half.message_id()); };
  }
  void Hold(const std::string& id) {
    std::lock_guard lock(mu_);
    held_.insert(id);
  }
  void Release(const std::string& id) {
    {
      std::lock_guard lock(mu_);
      held_.erase(id);
    }
    cv_.notify_all();
  }
  void Answer(const std::string& id, R r) {
    std::lock_guard lock(mu_);
    answers_[id] = r;
  }
  // Makes every call wait until `n` calls run at once (or the patience runs out).
  void RequireOverlap(int n) {
    std::lock_guard lock(mu_);
    overlap_ = n;
  }
  // Waits until the checker runs for `id`.
  bool WaitRunning(const std::string& id) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kPatience, [&] { return running_.count(id) > 0; });
  }
  int Calls(const std::string& id) const {
    std::lock_guard lock(mu_);
    auto it = calls_.find(id);
    return it == calls_.end() ? 0 : it->second;
  }
  int max_running() const {
    std::lock_guard lock(mu_);
    return max_running_;
  }

 private:
  R Check(const std::string& id) {
    std::unique_lock lock(mu_);
    ++calls_[id];
    running_.insert(id);
    max_running_ = std::max(max_running_, static_cast<int>(running_.size()));
    cv_.notify_all();
    // Once `overlap_` calls ran at once, none waits for the others any more.
    cv_.wait_for(lock, kPatience, [&] { return held_.count(id) == 0 && max_running_ >= overlap_; });
    running_.erase(id);
    if (max_running_ < overlap_) return R::kUnknown;  // gave up waiting for the others
    auto it = answers_.find(id);
    return it == answers_.end() ? R::kCommit : it->second;
  }

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> held_, running_;
  std::map<std::string, R> answers_;
  std::map<std::string, int> calls_;
  int overlap_ = 1;
  int max_running_ = 0;
};

struct Answer {
  uint64_t request_id = 0;
  wire::TxnResolution resolution = wire::TXN_UNKNOWN;
  int64_t half_offset = -1;
  std::string message_id;
};

// Collects the answers the dispatcher gives, as a connection would send them.
class Answers {
 public:
  client::Connection::Responder For(uint64_t request_id) {
    return [this, request_id](wire::Header h, std::string) {
      Answer a;
      a.request_id = request_id;
      a.resolution = h.check_txn_response().resolution();
      a.half_offset =
          h.check_txn_response().has_half_offset() ? h.check_txn_response().half_offset() : -1;
      a.message_id = h.check_txn_response().message_id();
      {
        std::lock_guard lock(mu_);
        got_.push_back(a);
      }
      cv_.notify_all();
    };
  }
  // Waits until `n` answers came; returns them.
  std::vector<Answer> WaitFor(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, kPatience, [&] { return got_.size() >= n; });
    return got_;
  }
  std::vector<Answer> got() const {
    std::lock_guard lock(mu_);
    return got_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Answer> got_;
};

// The CHECK_TXN request the broker sends for the half `id` stored at log offset `half`.
wire::Frame CheckRequest(uint64_t request_id, const std::string& id, int64_t half) {
  wire::Frame f;
  f.header.set_kind(wire::CHECK_TXN);
  f.header.set_request_id(request_id);
  auto* m = f.header.mutable_check_txn_request()->mutable_message();
  m->set_topic("orders");
  m->set_message_id(id);
  m->set_log_offset(half);
  m->set_body_size(4);
  f.header.mutable_check_txn_request()->set_producer_group("pg");
  f.body = "body";
  return f;
}

TEST(TxnCheckDispatcherTest, ChecksOfDifferentTransactionsRunAtOnce) {
  SteeredChecker checker;
  checker.RequireOverlap(3);
  TxnCheckDispatcher d(checker.AsChecker(), TxnCheckOptions{});  // 4 threads
  Answers answers;
  for (int i = 0; i < 3; ++i) {
    d.Submit(CheckRequest(i + 1, "tx" + std::to_string(i), 100 * i), answers.For(i + 1));
  }
  auto got = answers.WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(checker.max_running(), 3);
  for (const Answer& a : got) EXPECT_EQ(a.resolution, wire::TXN_COMMIT);
}

TEST(TxnCheckDispatcherTest, DuplicatesJoinTheRunningCheckAndLaterOnesAreAnsweredFromTheCache) {
  SteeredChecker checker;
  checker.Hold("a");
  TxnCheckDispatcher d(checker.AsChecker(), TxnCheckOptions{});
  Answers answers;
  d.Submit(CheckRequest(1, "a", 42), answers.For(1));
  ASSERT_TRUE(checker.WaitRunning("a"));
  // The broker asks again while the checker is still busy with the first request.
  d.Submit(CheckRequest(2, "a", 42), answers.For(2));
  d.Submit(CheckRequest(3, "a", 42), answers.For(3));
  EXPECT_TRUE(answers.got().empty());
  checker.Release("a");
  auto got = answers.WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  std::set<uint64_t> ids;
  for (const Answer& a : got) {
    ids.insert(a.request_id);
    EXPECT_EQ(a.resolution, wire::TXN_COMMIT);
    EXPECT_EQ(a.half_offset, 42);  // every answer names its half
    EXPECT_EQ(a.message_id, "a");
  }
  EXPECT_EQ(ids, (std::set<uint64_t>{1, 2, 3}));
  EXPECT_EQ(checker.Calls("a"), 1);

  // A later check of the decided transaction: answered at once, without the checker.
  d.Submit(CheckRequest(4, "a", 42), answers.For(4));
  got = answers.WaitFor(4);
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3].request_id, 4u);
  EXPECT_EQ(got[3].resolution, wire::TXN_COMMIT);
  EXPECT_EQ(checker.Calls("a"), 1);
  EXPECT_EQ(d.stats().checker_calls, 1);
  EXPECT_EQ(d.stats().joined, 2);
  EXPECT_EQ(d.stats().from_cache, 1);
  // The same message id at another half is another transaction.
  d.Submit(CheckRequest(5, "a", 43), answers.For(5));
  ASSERT_EQ(answers.WaitFor(5).size(), 5u);
  EXPECT_EQ(checker.Calls("a"), 2);
}

TEST(TxnCheckDispatcherTest, UnknownIsNotCached) {
  SteeredChecker checker;
  checker.Answer("b", R::kUnknown);
  TxnCheckDispatcher d(checker.AsChecker(), TxnCheckOptions{});
  Answers answers;
  d.Submit(CheckRequest(1, "b", 7), answers.For(1));
  ASSERT_EQ(answers.WaitFor(1).size(), 1u);
  d.Submit(CheckRequest(2, "b", 7), answers.For(2));
  auto got = answers.WaitFor(2);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].resolution, wire::TXN_UNKNOWN);
  EXPECT_EQ(checker.Calls("b"), 2);
}

TEST(TxnCheckDispatcherTest, QueueIsBoundedAndDropsTheOldestWaitingTransaction) {
  SteeredChecker checker;
  checker.Hold("t0");
  TxnCheckOptions options;
  options.threads = 1;
  options.max_queued = 2;
  TxnCheckDispatcher d(checker.AsChecker(), options);
  Answers answers;
  d.Submit(CheckRequest(1, "t0", 0), answers.For(1));
  ASSERT_TRUE(checker.WaitRunning("t0"));
  d.Submit(CheckRequest(2, "t1", 10), answers.For(2));
  d.Submit(CheckRequest(3, "t2", 20), answers.For(3));
  d.Submit(CheckRequest(4, "t1", 10), answers.For(4));  // a duplicate takes no place
  d.Submit(CheckRequest(5, "t3", 30), answers.For(5));  // one too many: t1 goes
  EXPECT_EQ(d.stats().dropped, 2);                      // t1's two requests
  checker.Release("t0");
  auto got = answers.WaitFor(3);
  ASSERT_EQ(got.size(), 3u);
  std::set<uint64_t> ids;
  for (const Answer& a : got) ids.insert(a.request_id);
  EXPECT_EQ(ids, (std::set<uint64_t>{1, 3, 5}));
  EXPECT_EQ(checker.Calls("t1"), 0);
  EXPECT_EQ(checker.Calls("t2"), 1);
  EXPECT_EQ(checker.Calls("t3"), 1);
}

TEST(TxnCheckDispatcherTest, OneTransactionHoldsAFewRequestsAtMost) {
  SteeredChecker checker;
  checker.Hold("t0");
  TxnCheckOptions options;
  options.threads = 1;
  TxnCheckDispatcher d(checker.AsChecker(), options);
  Answers answers;
  d.Submit(CheckRequest(1, "t0", 0), answers.For(1));
  ASSERT_TRUE(checker.WaitRunning("t0"));
  const uint64_t n = TxnCheckDispatcher::kMaxWaitersPerTxn + 2;
  for (uint64_t i = 0; i < n; ++i) d.Submit(CheckRequest(10 + i, "t1", 10), answers.For(10 + i));
  checker.Release("t0");
  auto got = answers.WaitFor(1 + TxnCheckDispatcher::kMaxWaitersPerTxn);
  ASSERT_EQ(got.size(), 1 + TxnCheckDispatcher::kMaxWaitersPerTxn);
  std::set<uint64_t> ids;
  for (const Answer& a : got) ids.insert(a.request_id);
  EXPECT_EQ(ids.count(10), 0u);  // the oldest duplicates went first
  EXPECT_EQ(ids.count(11), 0u);
  EXPECT_EQ(ids.count(10 + n - 1), 1u);
  EXPECT_EQ(checker.Calls("t1"), 1);
  EXPECT_EQ(d.stats().dropped, 2);
}

// Through a Producer on the wire.
class ProducerCheckTest : public ::testing::Test {
 protected:
  Producer Build(SteeredChecker* checker) {
    auto p = Producer::NewBuilder()
                 .Endpoint(broker_.endpoint())
                 .Group("pg")
                 .TransactionChecker(checker->AsChecker())
                 .Build();
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    broker_.Accept();
    return std::move(p).value();
  }
  void SendCheck(uint64_t request_id, const std::string& id, int64_t half) {
    wire::Frame f = CheckRequest(request_id, id, half);
    broker_.WriteFrame(f.header, f.body);
  }
  // The next n check answers, by request id.
  std::map<uint64_t, wire::CheckTxnResponse> ReadAnswers(size_t n) {
    std::map<uint64_t, wire::CheckTxnResponse> out;
    while (out.size() < n) {
      wire::Frame f = broker_.ReadFrame();
      EXPECT_TRUE(f.header.is_response());
      EXPECT_EQ(f.header.kind(), wire::CHECK_TXN);
      EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
      out[f.header.request_id()] = f.header.check_txn_response();
    }
    return out;
  }

  FakeBroker broker_;
};

TEST_F(ProducerCheckTest, ASlowCheckDoesNotHoldUpTheOthers) {
  SteeredChecker checker;
  checker.Hold("slow");
  Producer producer = Build(&checker);
  SendCheck(1, "slow", 100);
  ASSERT_TRUE(checker.WaitRunning("slow"));
  SendCheck(2, "fast", 200);
  auto got = ReadAnswers(1);  // answered while the slow one is still being looked up
  ASSERT_EQ(got.count(2), 1u);
  EXPECT_EQ(got[2].resolution(), wire::TXN_COMMIT);
  EXPECT_EQ(got[2].half_offset(), 200);
  EXPECT_EQ(got[2].message_id(), "fast");
  checker.Release("slow");
  got = ReadAnswers(1);
  ASSERT_EQ(got.count(1), 1u);
  EXPECT_EQ(got[1].half_offset(), 100);
}

TEST_F(ProducerCheckTest, StaleDuplicatesDoNotRunTheCheckerAgain) {
  SteeredChecker checker;
  checker.Hold("a");
  checker.Answer("a", R::kRollback);
  Producer producer = Build(&checker);
  SendCheck(1, "a", 100);
  ASSERT_TRUE(checker.WaitRunning("a"));
  SendCheck(2, "a", 100);
  SendCheck(3, "a", 100);
  // The duplicates have reached the client once a later check of another transaction is
  // answered (frames are read in order).
  SendCheck(4, "b", 200);
  ASSERT_EQ(ReadAnswers(1).count(4), 1u);
  checker.Release("a");
  auto got = ReadAnswers(3);
  for (uint64_t id : {1, 2, 3}) {
    ASSERT_EQ(got.count(id), 1u) << id;
    EXPECT_EQ(got[id].resolution(), wire::TXN_ROLLBACK);
  }
  SendCheck(5, "a", 100);
  got = ReadAnswers(1);
  ASSERT_EQ(got.count(5), 1u);
  EXPECT_EQ(got[5].resolution(), wire::TXN_ROLLBACK);
  EXPECT_EQ(checker.Calls("a"), 1);
}

TEST(ProducerBuilderTest, CheckerThreadsAndQueueAreBounded) {
  auto checker = [](const ReceivedMessage&) { return R::kCommit; };
  auto b = Producer::NewBuilder().Endpoint("127.0.0.1:1").Group("pg").TransactionChecker(checker);
  EXPECT_EQ(b.TransactionCheckerThreads(0).Build().status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b.TransactionCheckerThreads(65).Build().status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b.TransactionCheckerThreads(4).MaxQueuedTransactionChecks(0).Build().status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace tidemq
