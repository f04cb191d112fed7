// The timer as a real store::Store observer: rebuilding the index from the log, and the
// exactly-once firing protocol across restarts.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/file_system.h"
#include "store/store.h"
#include "tests/store/test_util.h"
#include "tests/timer/timer_test_util.h"
#include "timer/timer_service.h"

namespace tidemq::timer {
namespace {

using store::testing::AppendOne;
using store::testing::SmallOptions;
using store::testing::TempDir;
using testing::Cancel;
using testing::RePut;
using testing::Scheduled;

constexpr int64_t kStart = 1'700'000'000'000;

// A broker-shaped pair: the store with the timer service as its observer.
struct Node {
  std::unique_ptr<TimerService> timer;
  std::unique_ptr<store::Store> store;

  static Node Open(const std::string& dir) {
    Node n;
    TimerServiceOptions o;
    o.index_path = dir + "/timer";
    o.start_ms = kStart;
    auto timer = TimerService::Open(o);
    EXPECT_TRUE(timer.ok()) << timer.status().ToString();
    n.timer = std::move(*timer);
    auto store = store::Store::Open(SmallOptions(dir + "/store"), {n.timer.get()});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    n.store = std::move(*store);
    return n;
  }
  // The store first: the observer must outlive it.
  void Close() {
    store.reset();
    timer.reset();
  }
};

std::vector<IndexEntry> PendingEntries(TimerService* timer, const std::vector<LogOffset>& all) {
  std::vector<IndexEntry> out;
  for (LogOffset at : all) {
    auto e = timer->Find(at);
    EXPECT_TRUE(e.ok());
    if (e.ok() && e->has_value()) out.push_back(**e);
  }
  return out;
}

TEST(TimerStoreTest, IndexIsRebuiltFromTheLog) {
  TempDir dir;
  std::vector<LogOffset> all;
  std::vector<IndexEntry> before;
  {
    Node n = Node::Open(dir.path());
    for (int i = 0; i < 60; ++i) {
      // Interleave normal messages so the scheduled ones are spread over several segments.
      AppendOne(n.store.get(), store::testing::MakeMessage("t", 0, "plain"));
      all.push_back(
          AppendOne(n.store.get(), Scheduled("m" + std::to_string(i), kStart + 1000 * (60 - i)))
              .log_offset);
    }
    for (int i = 0; i < 60; i += 3) AppendOne(n.store.get(), Cancel(all[i]));
    EXPECT_EQ(n.timer->Stats().pending, 40);
    before = PendingEntries(n.timer.get(), all);
    ASSERT_EQ(before.size(), 40u);
    n.Close();
  }
  ASSERT_TRUE(FileSystem::Default()->RemoveAll(dir.path() + "/timer").ok());
  Node n = Node::Open(dir.path());
  EXPECT_EQ(n.timer->Stats().pending, 40);
  EXPECT_EQ(n.timer->Stats().cancelled, 20);
  EXPECT_EQ(PendingEntries(n.timer.get(), all), before);
  EXPECT_EQ((*n.timer->FindByMessageId("m1"))->offset, all[1]);
  EXPECT_FALSE(n.timer->FindByMessageId("m0")->has_value());
  // And they fire in due order.
  auto fired = n.timer->Advance(kStart + 60'000);
  ASSERT_TRUE(fired.ok());
  ASSERT_EQ(fired->size(), 40u);
  for (size_t i = 1; i < fired->size(); ++i) EXPECT_LT((*fired)[i - 1].due_ms, (*fired)[i].due_ms);
  n.Close();
}

TEST(TimerStoreTest, CheckpointLimitsReplayAndSurvivesRestart) {
  TempDir dir;
  LogOffset a, b;
  {
    Node n = Node::Open(dir.path());
    a = AppendOne(n.store.get(), Scheduled("a", kStart + 10)).log_offset;
    n.Close();
  }
  {
    Node n = Node::Open(dir.path());
    EXPECT_GE(n.timer->Checkpoint(), a + 1);  // past a: a is not replayed
    EXPECT_EQ(n.timer->Stats().pending, 1);
    b = AppendOne(n.store.get(), Scheduled("b", kStart + 20)).log_offset;
    n.Close();
  }
  Node n = Node::Open(dir.path());
  EXPECT_EQ(n.timer->Stats().pending, 2);
  auto fired = n.timer->Advance(kStart + 20);
  ASSERT_TRUE(fired.ok());
  ASSERT_EQ(fired->size(), 2u);
  EXPECT_EQ((*fired)[0].log_offset, a);
  EXPECT_EQ((*fired)[1].log_offset, b);
  n.Close();
}

TEST(TimerStoreTest, ARePutInTheLogMeansFiredExactlyOnce) {
  TempDir dir;
  LogOffset x;
  {
    Node n = Node::Open(dir.path());
    x = AppendOne(n.store.get(), Scheduled("x", kStart + 100)).log_offset;
    auto fired = n.timer->Advance(kStart + 100);
    ASSERT_TRUE(fired.ok());
    ASSERT_EQ(fired->size(), 1u);
    EXPECT_EQ((*fired)[0].log_offset, x);
    // The broker re-puts the message into its real topic, naming its origin.
    auto origin = n.store->Read(x);
    ASSERT_TRUE(origin.ok());
    EXPECT_EQ(origin->body, "close order x");
    AppendOne(n.store.get(), RePut(x));
    EXPECT_EQ(n.timer->Stats().pending, 0);
    n.Close();
  }
  for (bool drop_index : {false, true}) {
    SCOPED_TRACE(drop_index);
    // Restart, with the index as it was or rebuilt from the log: the re-put is seen again.
    if (drop_index) {
      ASSERT_TRUE(FileSystem::Default()->RemoveAll(dir.path() + "/timer").ok());
    }
    Node n = Node::Open(dir.path());
    EXPECT_EQ(n.timer->Stats().pending, 0);
    EXPECT_EQ(n.timer->Stats().fired, 1);
    auto fired = n.timer->Advance(kStart + 3600 * 1000);
    ASSERT_TRUE(fired.ok());
    EXPECT_TRUE(fired->empty());
    n.Close();
  }
}

TEST(TimerStoreTest, ACrashBeforeTheRePutFiresAgain) {
  TempDir dir;
  LogOffset x;
  {
    Node n = Node::Open(dir.path());
    x = AppendOne(n.store.get(), Scheduled("x", kStart + 100)).log_offset;
    auto fired = n.timer->Advance(kStart + 100);
    ASSERT_TRUE(fired.ok());
    ASSERT_EQ(fired->size(), 1u);
    n.Close();  // "crash": the re-put never reached the log
  }
  for (bool drop_index : {false, true}) {
    SCOPED_TRACE(drop_index);
    if (drop_index) {
      ASSERT_TRUE(FileSystem::Default()->RemoveAll(dir.path() + "/timer").ok());
    }
    Node n = Node::Open(dir.path());
    EXPECT_EQ(n.timer->Stats().pending, 1);
    auto fired = n.timer->Advance(kStart + 200);
    ASSERT_TRUE(fired.ok());
    ASSERT_EQ(fired->size(), 1u);
    EXPECT_EQ((*fired)[0].log_offset, x);
    EXPECT_EQ((*fired)[0].due_ms, kStart + 100);
    n.Close();
  }
  Node n = Node::Open(dir.path());
  AppendOne(n.store.get(), RePut(x));
  n.Close();
  n = Node::Open(dir.path());
  auto fired = n.timer->Advance(kStart + 300);
  ASSERT_TRUE(fired.ok());
  EXPECT_TRUE(fired->empty());
  n.Close();
}

// A full disk made the timer's own index write fail (issue 10, item 5): the timer stops
// applying records, and the store catches it up by itself — reopens the index and replays
// what it missed — once there is room, without a restart. Before, it stayed stopped (and
// with it every lease expiry and check-back) until the broker restarted.
TEST(TimerStoreTest, AfterAFullDiskTheTimerCatchesUpWithoutARestart) {
  TempDir dir;
  Node n = Node::Open(dir.path());
  const LogOffset before = AppendOne(n.store.get(), Scheduled("before", kStart + 10)).log_offset;
  n.timer->FailForTesting(Status(Code::kResourceExhausted, "timer index write: No space left"));
  EXPECT_TRUE(n.timer->NeedsReplay());
  EXPECT_FALSE(n.timer->Advance(kStart).ok());  // stopped, as after the real failure
  // Records keep coming while it is stopped: a schedule and a cancel of the earlier one.
  const LogOffset during = AppendOne(n.store.get(), Scheduled("during", kStart + 20)).log_offset;
  AppendOne(n.store.get(), Cancel(before));
  // The store's writer retries about every 100 ms and catches the timer up.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (n.timer->NeedsReplay() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(n.timer->NeedsReplay());
  ASSERT_TRUE(n.timer->status().ok()) << n.timer->status().ToString();
  EXPECT_EQ(n.timer->Stats().pending, 1);
  EXPECT_EQ(n.timer->Stats().cancelled, 1);
  auto fired = n.timer->Advance(kStart + 20);
  ASSERT_TRUE(fired.ok()) << fired.status().ToString();
  ASSERT_EQ(fired->size(), 1u);
  EXPECT_EQ((*fired)[0].log_offset, during);
  // And it applies new records live again.
  AppendOne(n.store.get(), Scheduled("after", kStart + 30));
  EXPECT_EQ(n.timer->Stats().pending, 2);
  n.Close();
}

// Other failures are not a full disk: nothing to catch up, the timer stays stopped.
TEST(TimerStoreTest, AnIOErrorIsNotCaughtUp) {
  TempDir dir;
  Node n = Node::Open(dir.path());
  n.timer->FailForTesting(Status(Code::kIOError, "timer index write: Input/output error"));
  EXPECT_FALSE(n.timer->NeedsReplay());
  EXPECT_FALSE(n.timer->Advance(kStart).ok());
  n.Close();
}

}  // namespace
}  // namespace tidemq::timer
