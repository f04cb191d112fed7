// The txn service as a real store::Store observer: state derived from the log survives
// restarts, is rebuilt when the index is deleted, and a replay is harmless.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "common/file_system.h"
#include "store/store.h"
#include "tests/store/test_util.h"
#include "tests/txn/txn_test_util.h"
#include "txn/txn_index.h"
#include "txn/txn_service.h"

namespace tidemq::txn {
namespace {

using store::testing::AppendOne;
using store::testing::SmallOptions;
using store::testing::TempDir;
using testing::Half;

// A broker-shaped pair: the store with the txn service as its observer.
struct Node {
  std::unique_ptr<TxnService> txn;
  std::unique_ptr<store::Store> store;

  static Node Open(const std::string& dir) {
    Node n;
    TxnServiceOptions o;
    o.index_path = dir + "/txn";
    o.checkpoint_every = 5;
    auto txn = TxnService::Open(o);
    EXPECT_TRUE(txn.ok()) << txn.status().ToString();
    n.txn = std::move(*txn);
    auto store = store::Store::Open(SmallOptions(dir + "/store"), {n.txn.get()});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    n.store = std::move(*store);
    return n;
  }
  // The store first: the observer must outlive it.
  void Close() {
    store.reset();
    txn.reset();
  }
  store::Record Read(LogOffset at) const {
    auto r = store->Read(at);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : store::Record{};
  }
  // The broker's end protocol against the real log.
  void End(LogOffset half, TxnAction action, EndReason why = EndReason::kProducer) {
    auto d = txn->BeginEnd(half, "", action);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    ASSERT_EQ(*d, EndDecision::kProceed);
    const store::Record h = Read(half);
    AppendOne(store.get(), action == TxnAction::kCommit ? TxnService::MakeCommit(h, half, why)
                                                        : TxnService::MakeRollback(h, half, why));
    txn->FinishEnd(half, /*appended=*/true);
  }
};

std::vector<TxnEntry> All(const TxnService& txn) {
  auto all = txn.List(std::nullopt, false, kNoLogOffset, 1000);
  EXPECT_TRUE(all.ok()) << all.status().ToString();
  return all.ok() ? *all : std::vector<TxnEntry>{};
}

void ExpectSameStats(const TxnStats& a, const TxnStats& b) {
  EXPECT_EQ(a.pending, b.pending);
  EXPECT_EQ(a.committed, b.committed);
  EXPECT_EQ(a.rolled_back, b.rolled_back);
  EXPECT_EQ(a.parked, b.parked);
  EXPECT_EQ(a.checks_sent, b.checks_sent);
}

// 40 halves in two groups over several segments, with every kind of end and some checks.
std::vector<LogOffset> Populate(Node& n) {
  std::vector<LogOffset> halves;
  for (int i = 0; i < 40; ++i) {
    AppendOne(n.store.get(), store::testing::MakeMessage("t", 0, "plain"));
    halves.push_back(
        AppendOne(n.store.get(), Half("m" + std::to_string(i), i % 2 ? "odd" : "even")).log_offset);
  }
  for (int i = 0; i < 40; i += 4) n.End(halves[i], TxnAction::kCommit);
  for (int i = 1; i < 40; i += 4) n.End(halves[i], TxnAction::kRollback, EndReason::kCheck);
  for (int i = 2; i < 40; i += 8) {
    const store::Record h = n.Read(halves[i]);
    auto appended =
        n.store->AppendAndWait({TxnService::MakeRollback(h, halves[i], EndReason::kMaxChecks),
                                TxnService::MakePark(h, halves[i], "max checks")});
    EXPECT_TRUE(appended.ok());
  }
  for (int i = 3; i < 40; i += 4) {
    for (int c = 0; c < 1 + i % 3; ++c) {
      auto e = n.txn->Get(halves[i]);
      AppendOne(n.store.get(), TxnService::MakeCheck(**e));
    }
  }
  return halves;
}

TEST(TxnStoreTest, IndexIsRebuiltFromTheLog) {
  TempDir dir;
  std::vector<LogOffset> halves;
  std::vector<TxnEntry> before;
  TxnStats stats;
  {
    Node n = Node::Open(dir.path());
    halves = Populate(n);
    stats = n.txn->Stats();
    EXPECT_EQ(stats.pending, 15);
    EXPECT_EQ(stats.committed, 10);
    EXPECT_EQ(stats.rolled_back, 15);
    EXPECT_EQ(stats.parked, 5);
    EXPECT_EQ(stats.checks_sent, 19);  // 1 + i % 3 checks for i = 3, 7, ..., 39
    before = All(*n.txn);
    ASSERT_EQ(before.size(), 40u);
    EXPECT_EQ(n.txn->OldestPendingOffset(), halves[3]);
    n.Close();
  }
  {
    // A plain restart: nothing to replay beyond the checkpoint, same state.
    Node n = Node::Open(dir.path());
    EXPECT_EQ(All(*n.txn), before);
    ExpectSameStats(n.txn->Stats(), stats);
    n.Close();
  }
  ASSERT_TRUE(FileSystem::Default()->RemoveAll(dir.path() + "/txn").ok());
  Node n = Node::Open(dir.path());
  EXPECT_EQ(All(*n.txn), before);
  ExpectSameStats(n.txn->Stats(), stats);
  EXPECT_EQ((*n.txn->FindByMessageId("m7"))->half_offset, halves[7]);
  EXPECT_EQ(n.txn->PendingGroups(), (std::vector<std::string>{"even", "odd"}));
  EXPECT_EQ(n.txn->OldestPendingOffset(), halves[3]);
  // The rebuilt index still drives the protocols.
  EXPECT_EQ(*n.txn->BeginEnd(halves[0], "m0", TxnAction::kCommit), EndDecision::kAlreadyDone);
  EXPECT_EQ(n.txn->BeginEnd(halves[1], "m1", TxnAction::kCommit).status().code(),
            Code::kTxnConflict);
  n.End(halves[3], TxnAction::kCommit);
  EXPECT_EQ(n.txn->Stats().committed, stats.committed + 1);
  n.Close();
}

TEST(TxnStoreTest, ReplayAfterACheckpointIsIdempotent) {
  TempDir dir;
  std::vector<TxnEntry> before;
  TxnStats stats;
  LogOffset first_half;
  {
    Node n = Node::Open(dir.path());
    first_half = Populate(n).front();
    before = All(*n.txn);
    stats = n.txn->Stats();
    n.Close();
  }
  // Move the txn checkpoint back to the first half: the store replays everything after it,
  // records the index has applied already (as after a crash that lost the checkpoint write).
  {
    auto index = TxnIndex::Open(dir.path() + "/txn", CheckBackoff{});
    ASSERT_TRUE(index.ok()) << index.status().ToString();
    ASSERT_TRUE((*index)->SetApplied(first_half, /*sync=*/true).ok());
  }
  Node n = Node::Open(dir.path());
  EXPECT_EQ(All(*n.txn), before);
  ExpectSameStats(n.txn->Stats(), stats);
  n.Close();
}

TEST(TxnStoreTest, PendingTransactionsSurviveARestartAndCanBeEnded) {
  TempDir dir;
  LogOffset a, b;
  int64_t a_stored = 0;
  {
    Node n = Node::Open(dir.path());
    a = AppendOne(n.store.get(), testing::WithTimeout(Half("a"), "250")).log_offset;
    auto e = n.txn->Get(a);
    ASSERT_TRUE(e.ok() && e->has_value());
    a_stored = (*e)->half_store_ms;
    EXPECT_EQ(a_stored, n.Read(a).store_ms);
    EXPECT_EQ((*e)->next_check_ms, a_stored + 250);
    n.Close();
  }
  {
    Node n = Node::Open(dir.path());
    EXPECT_EQ(*n.txn->NextCheckMs("pg"), a_stored + 250);
    auto due = n.txn->TakeDueChecks("pg", a_stored + 250, 10);
    ASSERT_TRUE(due.ok());
    ASSERT_EQ(due->size(), 1u);
    AppendOne(n.store.get(), TxnService::MakeCheck(due->front()));
    b = AppendOne(n.store.get(), Half("b")).log_offset;
    n.Close();
  }
  Node n = Node::Open(dir.path());
  auto e = n.txn->Get(a);
  ASSERT_TRUE(e.ok() && e->has_value());
  EXPECT_EQ((*e)->checks, 1u);
  EXPECT_EQ(n.txn->Stats().pending, 2);
  n.End(a, TxnAction::kRollback);
  n.End(b, TxnAction::kCommit);
  EXPECT_EQ(n.txn->Stats().pending, 0);
  EXPECT_EQ(n.txn->OldestPendingOffset(), kNoLogOffset);
  // The commit re-put is a real message in its queue.
  auto q = n.store->ReadQueue("orders", 2, 0, 10);
  ASSERT_TRUE(q.ok());
  ASSERT_EQ(q->size(), 1u);
  const store::Record delivered = n.Read(q->front().log_offset);
  EXPECT_EQ(delivered.message_id, "b");
  EXPECT_EQ(delivered.origin_offset, b);
  n.Close();
}

// A full disk made the transaction index's own write fail (issue 10, item 5): the service
// stops, and the store catches it up by itself — reopens the index and replays what it
// missed — once there is room, without a restart.
TEST(TxnStoreTest, AfterAFullDiskTheIndexCatchesUpWithoutARestart) {
  TempDir dir;
  Node n = Node::Open(dir.path());
  const LogOffset a = AppendOne(n.store.get(), Half("a")).log_offset;
  n.txn->FailForTesting(Status(Code::kResourceExhausted, "txn index write: No space left"));
  EXPECT_TRUE(n.txn->NeedsReplay());
  // While stopped: another half arrives, and the first one commits.
  const LogOffset b = AppendOne(n.store.get(), Half("b")).log_offset;
  AppendOne(n.store.get(), TxnService::MakeCommit(n.Read(a), a, EndReason::kProducer));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (n.txn->NeedsReplay() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_FALSE(n.txn->NeedsReplay());
  ASSERT_TRUE(n.txn->status().ok()) << n.txn->status().ToString();
  EXPECT_EQ(n.txn->Stats().pending, 1);
  EXPECT_EQ(n.txn->Stats().committed, 1);
  auto got = n.txn->Get(b);
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->state, TxnState::kPending);
  n.Close();
}

}  // namespace
}  // namespace tidemq::txn
