#include "txn/txn_index.h"

#include <gtest/gtest.h>

#include "tests/store/test_util.h"

namespace tidemq::txn {
namespace {

using store::testing::TempDir;

constexpr CheckBackoff kBackoff{1000, 5000};

TxnEntry Pending(int64_t half, const std::string& group, int64_t next_check_ms,
                 const std::string& id = "") {
  TxnEntry e;
  e.half_offset = LogOffset(half);
  e.producer_group = group;
  e.topic = "orders";
  e.queue_id = 1;
  e.message_id = id.empty() ? "id" + std::to_string(half) : id;
  e.half_store_ms = next_check_ms - 100;
  e.timeout_ms = 100;
  e.next_check_ms = next_check_ms;
  return e;
}

TxnOp HalfOp(TxnEntry e) {
  TxnOp op;
  op.kind = TxnOp::Kind::kHalf;
  op.half = e.half_offset;
  op.record = e.half_offset;
  op.entry = std::move(e);
  return op;
}

TxnOp Op(TxnOp::Kind kind, int64_t half, int64_t record, int64_t at_ms,
         EndReason reason = EndReason::kProducer) {
  TxnOp op;
  op.kind = kind;
  op.half = LogOffset(half);
  op.record = LogOffset(record);
  op.at_ms = at_ms;
  op.reason = reason;
  return op;
}

std::unique_ptr<TxnIndex> OpenIndex(const std::string& path) {
  auto index = TxnIndex::Open(path, kBackoff);
  EXPECT_TRUE(index.ok()) << index.status().ToString();
  return index.ok() ? std::move(*index) : nullptr;
}

std::vector<int64_t> Halves(const Result<std::vector<TxnEntry>>& entries) {
  EXPECT_TRUE(entries.ok()) << entries.status().ToString();
  std::vector<int64_t> out;
  if (entries.ok()) {
    for (const TxnEntry& e : *entries) out.push_back(e.half_offset.value());
  }
  return out;
}

TEST(TxnIndexTest, KeysSortAndValuesRoundTrip) {
  // Due keys: one group's keys are contiguous, by next check time, then half offset.
  EXPECT_LT(DueKey("a", 5000, LogOffset(9)), DueKey("a", 5001, LogOffset(1)));
  EXPECT_LT(DueKey("a", 255, LogOffset(0)), DueKey("a", 256, LogOffset(0)));
  EXPECT_LT(DueKey("a", 7, LogOffset(1)), DueKey("a", 7, LogOffset(2)));
  EXPECT_LT(DueKey("a", INT64_MAX, LogOffset(INT64_MAX)), DueKey("b", 0, LogOffset(0)));
  EXPECT_LT(DueKey("b", INT64_MAX, LogOffset(INT64_MAX)), DueKey("aa", 0, LogOffset(0)));
  EXPECT_EQ(DueKey("a", -5, LogOffset(1)), DueKey("a", 0, LogOffset(1)));  // clamped
  EXPECT_LT(ResolvedKey(99, LogOffset(5)), ResolvedKey(100, LogOffset(1)));
  EXPECT_LT(EntryKey(LogOffset(255)), EntryKey(LogOffset(256)));
  EXPECT_LT(PendingKey(LogOffset(255)), PendingKey(LogOffset(256)));

  TxnEntry e = Pending(77, "pg", 1234, std::string("id\0x", 4));
  e.state = TxnState::kRolledBack;
  e.checks = 3;
  e.end_ms = 999;
  e.end_reason = EndReason::kMaxChecks;
  e.parked = true;
  e.last_check_offset = LogOffset(70);
  TxnEntry back;
  back.half_offset = e.half_offset;
  ASSERT_TRUE(DecodeEntryValue(EncodeEntryValue(e), &back).ok());
  EXPECT_EQ(back, e);
  const std::string v = EncodeEntryValue(e);
  EXPECT_EQ(DecodeEntryValue(v.substr(0, v.size() - 1), &back).code(), Code::kCorruption);
  EXPECT_EQ(DecodeEntryValue(v + "x", &back).code(), Code::kCorruption);
  std::string bad = v;
  bad[0] = 9;  // unknown version
  EXPECT_EQ(DecodeEntryValue(bad, &back).code(), Code::kCorruption);
  bad = v;
  bad[1] = 4;  // unknown state
  EXPECT_EQ(DecodeEntryValue(bad, &back).code(), Code::kCorruption);
}

TEST(TxnIndexTest, CheckBackoffDoublesUpToItsCap) {
  const CheckBackoff b{10'000, 300'000};
  std::vector<int64_t> delays;
  for (uint32_t n = 1; n <= 8; ++n) delays.push_back(b.DelayMs(n));
  EXPECT_EQ(delays, (std::vector<int64_t>{10'000, 20'000, 40'000, 80'000, 160'000, 300'000, 300'000,
                                          300'000}));
  EXPECT_EQ(b.DelayMs(4'000'000'000u), 300'000);
  EXPECT_EQ((CheckBackoff{0, 0}).DelayMs(1'000'000), 0);
}

TEST(TxnIndexTest, ApplyStateMachineAndCountersAreExact) {
  TempDir dir;
  auto ix = OpenIndex(dir.path() + "/txn");
  ASSERT_NE(ix, nullptr);
  EXPECT_EQ(ix->applied(), kNoLogOffset);
  EXPECT_EQ(ix->Counters(), TxnCounters{});
  const std::vector<TxnOp> halves = {
      HalfOp(Pending(100, "pg", 5000)), HalfOp(Pending(200, "pg", 6000)),
      HalfOp(Pending(300, "pg", 7000)), HalfOp(Pending(400, "other", 8000))};
  ASSERT_TRUE(ix->Apply(halves, LogOffset(500)).ok());
  EXPECT_EQ(ix->applied(), LogOffset(500));
  EXPECT_EQ(ix->Counters(), (TxnCounters{4, 0, 0, 0, 0}));
  EXPECT_EQ(**ix->Get(LogOffset(200)), Pending(200, "pg", 6000));

  const std::vector<TxnOp> ends = {
      Op(TxnOp::Kind::kCommit, 100, 500, 5100),
      Op(TxnOp::Kind::kRollback, 200, 600, 5200, EndReason::kMaxChecks),
      Op(TxnOp::Kind::kPark, 200, 700, 5200),
      Op(TxnOp::Kind::kCheck, 300, 800, 7000),
      Op(TxnOp::Kind::kCheck, 300, 900, 8000),
      Op(TxnOp::Kind::kCheck, 999, 950, 8000),  // no such half
  };
  ASSERT_TRUE(ix->Apply(ends, LogOffset(1000)).ok());
  EXPECT_EQ(ix->Counters(), (TxnCounters{2, 1, 1, 1, 2}));
  TxnEntry committed = **ix->Get(LogOffset(100));
  EXPECT_EQ(committed.state, TxnState::kCommitted);
  EXPECT_EQ(committed.end_ms, 5100);
  EXPECT_EQ(committed.end_reason, EndReason::kProducer);
  TxnEntry parked = **ix->Get(LogOffset(200));
  EXPECT_EQ(parked.state, TxnState::kRolledBack);
  EXPECT_EQ(parked.end_reason, EndReason::kMaxChecks);
  EXPECT_TRUE(parked.parked);
  TxnEntry checked = **ix->Get(LogOffset(300));
  EXPECT_EQ(checked.checks, 2u);
  EXPECT_EQ(checked.next_check_ms, 8000 + 2000);  // the second check's back-off
  EXPECT_EQ(checked.last_check_offset, LogOffset(900));

  // Replaying both batches (after a crash) changes nothing, checks included.
  const auto all = ix->List(std::nullopt, false, kNoLogOffset, 100);
  ASSERT_TRUE(all.ok());
  ASSERT_TRUE(ix->Apply(halves, LogOffset(500)).ok());
  ASSERT_TRUE(ix->Apply(ends, LogOffset(1000)).ok());
  EXPECT_EQ(ix->Counters(), (TxnCounters{2, 1, 1, 1, 2}));
  EXPECT_EQ(*ix->List(std::nullopt, false, kNoLogOffset, 100), *all);
  EXPECT_EQ(Halves(ix->ScanDue("pg", INT64_MAX, 10)), (std::vector<int64_t>{300}));

  // A contradicting end is ignored: the resolved state never changes.
  ASSERT_TRUE(ix->Apply({Op(TxnOp::Kind::kRollback, 100, 1000, 9000),
                         Op(TxnOp::Kind::kCommit, 200, 1100, 9000),
                         Op(TxnOp::Kind::kPark, 100, 1200, 9000),  // not rolled back
                         Op(TxnOp::Kind::kCheck, 100, 1300, 9000)},
                        LogOffset(1400))
                  .ok());
  EXPECT_EQ(ix->Counters(), (TxnCounters{2, 1, 1, 1, 2}));
  EXPECT_EQ(**ix->Get(LogOffset(100)), committed);
  EXPECT_EQ(**ix->Get(LogOffset(200)), parked);

  // Counters and the checkpoint survive a reopen.
  ix.reset();
  ix = OpenIndex(dir.path() + "/txn");
  EXPECT_EQ(ix->Counters(), (TxnCounters{2, 1, 1, 1, 2}));
  EXPECT_EQ(ix->applied(), LogOffset(1400));
}

TEST(TxnIndexTest, ALaterOpInABatchSeesAnEarlierOne) {
  TempDir dir;
  auto ix = OpenIndex(dir.path() + "/txn");
  ASSERT_NE(ix, nullptr);
  ASSERT_TRUE(ix->Apply({HalfOp(Pending(100, "pg", 5000)), Op(TxnOp::Kind::kCheck, 100, 150, 5000),
                         Op(TxnOp::Kind::kCheck, 100, 160, 6000),
                         Op(TxnOp::Kind::kRollback, 100, 170, 6500, EndReason::kCheck),
                         Op(TxnOp::Kind::kPark, 100, 180, 6500),
                         Op(TxnOp::Kind::kCommit, 100, 190, 6600),  // refused
                         HalfOp(Pending(100, "pg", 5000))},         // replayed
                        LogOffset(200))
                  .ok());
  TxnEntry e = **ix->Get(LogOffset(100));
  EXPECT_EQ(e.state, TxnState::kRolledBack);
  EXPECT_EQ(e.checks, 2u);
  EXPECT_TRUE(e.parked);
  EXPECT_EQ(e.end_ms, 6500);
  EXPECT_EQ(e.end_reason, EndReason::kCheck);
  EXPECT_EQ(ix->Counters(), (TxnCounters{0, 0, 1, 1, 2}));
  EXPECT_TRUE(ix->ScanDue("pg", INT64_MAX, 10)->empty());
  EXPECT_FALSE(ix->OldestPendingOffset()->has_value());
  EXPECT_TRUE(ix->ListPendingGroups()->empty());
}

TEST(TxnIndexTest, DueScansPerGroupAndPendingGroups) {
  TempDir dir;
  auto ix = OpenIndex(dir.path() + "/txn");
  ASSERT_NE(ix, nullptr);
  ASSERT_TRUE(ix->Apply({HalfOp(Pending(100, "b", 3000)), HalfOp(Pending(200, "a", 2000)),
                         HalfOp(Pending(300, "a", 1000)), HalfOp(Pending(400, "a", 2000)),
                         HalfOp(Pending(500, "aa", 10)), HalfOp(Pending(600, "z", 10))},
                        LogOffset(700))
                  .ok());
  EXPECT_EQ(Halves(ix->ScanDue("a", 2000, 10)), (std::vector<int64_t>{300, 200, 400}));
  EXPECT_EQ(Halves(ix->ScanDue("a", 1999, 10)), (std::vector<int64_t>{300}));
  EXPECT_EQ(Halves(ix->ScanDue("a", 999, 10)), (std::vector<int64_t>{}));
  EXPECT_EQ(Halves(ix->ScanDue("a", 2000, 2)), (std::vector<int64_t>{300, 200}));
  EXPECT_EQ(Halves(ix->ScanDue("a", 2000, 2, [](LogOffset h) { return h == LogOffset(200); })),
            (std::vector<int64_t>{300, 400}));
  EXPECT_EQ(Halves(ix->ScanDue("b", INT64_MAX, 10)), (std::vector<int64_t>{100}));
  EXPECT_EQ(Halves(ix->ScanDue("nope", INT64_MAX, 10)), (std::vector<int64_t>{}));
  EXPECT_EQ(**ix->NextDue("a"), 1000);
  EXPECT_EQ(**ix->NextDue("a", [](LogOffset h) { return h == LogOffset(300); }), 2000);
  EXPECT_FALSE(ix->NextDue("nope")->has_value());
  EXPECT_EQ(*ix->ListPendingGroups(), (std::vector<std::string>{"a", "aa", "b", "z"}));
  EXPECT_EQ(**ix->OldestPendingOffset(), LogOffset(100));

  // A group leaves the due index with its last pending entry.
  ASSERT_TRUE(ix->Apply({Op(TxnOp::Kind::kCommit, 100, 700, 4000),
                         Op(TxnOp::Kind::kRollback, 500, 710, 4000)},
                        LogOffset(800))
                  .ok());
  EXPECT_EQ(*ix->ListPendingGroups(), (std::vector<std::string>{"a", "z"}));
  EXPECT_EQ(**ix->OldestPendingOffset(), LogOffset(200));
}

TEST(TxnIndexTest, ListFiltersAndPages) {
  TempDir dir;
  auto ix = OpenIndex(dir.path() + "/txn");
  ASSERT_NE(ix, nullptr);
  std::vector<TxnOp> ops;
  for (int64_t h = 100; h <= 1000; h += 100) ops.push_back(HalfOp(Pending(h, "pg", h)));
  ops.push_back(Op(TxnOp::Kind::kCommit, 200, 1100, 50));
  ops.push_back(Op(TxnOp::Kind::kCommit, 500, 1200, 50));
  ops.push_back(Op(TxnOp::Kind::kRollback, 300, 1300, 50));
  ops.push_back(Op(TxnOp::Kind::kRollback, 700, 1400, 50, EndReason::kMaxChecks));
  ops.push_back(Op(TxnOp::Kind::kPark, 700, 1500, 50));
  ASSERT_TRUE(ix->Apply(ops, LogOffset(1600)).ok());

  EXPECT_EQ(Halves(ix->List(std::nullopt, false, kNoLogOffset, 100)),
            (std::vector<int64_t>{100, 200, 300, 400, 500, 600, 700, 800, 900, 1000}));
  EXPECT_EQ(Halves(ix->List(TxnState::kPending, false, kNoLogOffset, 100)),
            (std::vector<int64_t>{100, 400, 600, 800, 900, 1000}));
  EXPECT_EQ(Halves(ix->List(TxnState::kPending, false, LogOffset(400), 2)),
            (std::vector<int64_t>{600, 800}));
  EXPECT_EQ(Halves(ix->List(TxnState::kCommitted, false, kNoLogOffset, 100)),
            (std::vector<int64_t>{200, 500}));
  EXPECT_EQ(Halves(ix->List(TxnState::kCommitted, false, LogOffset(200), 100)),
            (std::vector<int64_t>{500}));
  EXPECT_EQ(Halves(ix->List(TxnState::kRolledBack, false, kNoLogOffset, 100)),
            (std::vector<int64_t>{300, 700}));
  EXPECT_EQ(Halves(ix->List(std::nullopt, true, kNoLogOffset, 100)), (std::vector<int64_t>{700}));
  EXPECT_EQ(Halves(ix->List(TxnState::kPending, true, kNoLogOffset, 100)),
            (std::vector<int64_t>{}));
  EXPECT_EQ(Halves(ix->List(std::nullopt, false, LogOffset(950), 100)),
            (std::vector<int64_t>{1000}));
  EXPECT_EQ(Halves(ix->List(std::nullopt, false, kNoLogOffset, 0)), (std::vector<int64_t>{}));
}

TEST(TxnIndexTest, PurgeDeletesOldResolvedEntriesOnly) {
  TempDir dir;
  auto ix = OpenIndex(dir.path() + "/txn");
  ASSERT_NE(ix, nullptr);
  // 100 and 400 share a message id: the id maps to the newer half.
  ASSERT_TRUE(ix->Apply({HalfOp(Pending(100, "pg", 10, "dup")), HalfOp(Pending(200, "pg", 10)),
                         HalfOp(Pending(300, "pg", 10)), HalfOp(Pending(400, "pg", 10, "dup")),
                         HalfOp(Pending(500, "pg", 10)), Op(TxnOp::Kind::kCommit, 100, 600, 1000),
                         Op(TxnOp::Kind::kRollback, 200, 610, 2000),
                         Op(TxnOp::Kind::kCommit, 300, 620, 3000),
                         Op(TxnOp::Kind::kCommit, 400, 630, 4000)},
                        LogOffset(700))
                  .ok());
  EXPECT_EQ(**ix->FindByMessageId("dup"), LogOffset(400));
  EXPECT_EQ(**ix->FindByMessageId("id200"), LogOffset(200));
  const TxnCounters before = ix->Counters();
  EXPECT_EQ(before, (TxnCounters{1, 3, 1, 0, 0}));

  EXPECT_EQ(*ix->PurgeResolvedBefore(1000, 10), 0u);  // end_ms < before_ms only
  EXPECT_EQ(*ix->PurgeResolvedBefore(3500, 1), 1u);   // the oldest end first, up to the limit
  EXPECT_FALSE(ix->Get(LogOffset(100))->has_value());
  EXPECT_EQ(**ix->FindByMessageId("dup"), LogOffset(400));  // not 100's mapping: kept
  EXPECT_EQ(*ix->PurgeResolvedBefore(3500, 10), 2u);
  EXPECT_FALSE(ix->Get(LogOffset(200))->has_value());
  EXPECT_FALSE(ix->Get(LogOffset(300))->has_value());
  EXPECT_FALSE(ix->FindByMessageId("id200")->has_value());
  EXPECT_EQ(Halves(ix->List(std::nullopt, false, kNoLogOffset, 10)),
            (std::vector<int64_t>{400, 500}));
  EXPECT_EQ(*ix->PurgeResolvedBefore(INT64_MAX, 10), 1u);
  EXPECT_FALSE(ix->FindByMessageId("dup")->has_value());
  // The pending entry stays; the counters are lifetime totals.
  EXPECT_EQ(Halves(ix->List(std::nullopt, false, kNoLogOffset, 10)), (std::vector<int64_t>{500}));
  EXPECT_EQ(ix->Counters(), before);
  EXPECT_EQ(*ix->PurgeResolvedBefore(INT64_MAX, 10), 0u);
}

}  // namespace
}  // namespace tidemq::txn
