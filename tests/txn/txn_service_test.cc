#include "txn/txn_service.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "tests/store/test_util.h"
#include "tests/txn/txn_test_util.h"

namespace tidemq::txn {
namespace {

using store::testing::TempDir;
using testing::FakeLog;
using testing::Half;
using testing::WithTimeout;

constexpr int64_t kT0 = 1'700'000'000'000;

class TxnServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }

  void Reopen(TxnServiceOptions o = {}) {
    svc_.reset();
    o.index_path = dir_.path() + "/txn";
    o.max_checks = 4;
    auto s = TxnService::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    svc_ = std::move(*s);
  }

  LogOffset Put(store::Record r, int64_t store_ms) {
    return log_.Append(svc_.get(), std::move(r), store_ms);
  }

  TxnEntry Entry(LogOffset half) {
    auto e = svc_->Get(half);
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    EXPECT_TRUE(e.ok() && e->has_value()) << "no entry at " << half.value();
    return e.ok() && e->has_value() ? **e : TxnEntry{};
  }

  // The broker's end: BeginEnd, append, FinishEnd. Returns what BeginEnd said.
  Result<EndDecision> End(LogOffset half, TxnAction action, int64_t at_ms,
                          EndReason why = EndReason::kProducer) {
    ASSIGN_OR_RETURN(EndDecision d, svc_->BeginEnd(half, "", action));
    if (d == EndDecision::kProceed) {
      const store::Record& h = log_.At(half);
      Put(action == TxnAction::kCommit ? TxnService::MakeCommit(h, half, why)
                                       : TxnService::MakeRollback(h, half, why),
          at_ms);
      svc_->FinishEnd(half, /*appended=*/true);
    }
    return d;
  }

  std::vector<int64_t> Take(const std::string& group, int64_t now, size_t limit = 100) {
    auto due = svc_->TakeDueChecks(group, now, limit);
    EXPECT_TRUE(due.ok()) << due.status().ToString();
    std::vector<int64_t> out;
    if (due.ok()) {
      for (const TxnEntry& e : *due) out.push_back(e.half_offset.value());
    }
    return out;
  }

  // The broker's check: take it, append the CHECK record at now.
  void SendCheck(LogOffset half, int64_t now) { Put(TxnService::MakeCheck(Entry(half)), now); }

  TempDir dir_;
  FakeLog log_;
  std::unique_ptr<TxnService> svc_;
};

TEST_F(TxnServiceTest, OpenValidatesOptions) {
  EXPECT_EQ(TxnService::Open({}).status().code(), Code::kInvalidArgument);
  TxnServiceOptions o;
  o.index_path = dir_.path() + "/other";
  o.check_backoff_max_ms = o.check_backoff_ms - 1;
  EXPECT_EQ(TxnService::Open(o).status().code(), Code::kInvalidArgument);
  o = {};
  o.index_path = dir_.path() + "/other";
  o.max_checks = 0;
  EXPECT_EQ(TxnService::Open(o).status().code(), Code::kInvalidArgument);
}

TEST_F(TxnServiceTest, HalfThenCommit) {
  const LogOffset h = Put(Half("m1"), kT0);
  TxnEntry e = Entry(h);
  EXPECT_EQ(e.state, TxnState::kPending);
  EXPECT_EQ(e.producer_group, "pg");
  EXPECT_EQ(e.topic, "orders");
  EXPECT_EQ(e.queue_id, 2u);
  EXPECT_EQ(e.message_id, "m1");
  EXPECT_EQ(e.half_store_ms, kT0);
  EXPECT_EQ(e.timeout_ms, 6000);
  EXPECT_EQ(e.next_check_ms, kT0 + 6000);
  EXPECT_EQ(svc_->Stats().pending, 1);
  EXPECT_EQ(svc_->OldestPendingOffset(), h);
  EXPECT_EQ((*svc_->FindByMessageId("m1"))->half_offset, h);

  ASSERT_EQ(*End(h, TxnAction::kCommit, kT0 + 10), EndDecision::kProceed);
  e = Entry(h);
  EXPECT_EQ(e.state, TxnState::kCommitted);
  EXPECT_EQ(e.end_ms, kT0 + 10);
  EXPECT_EQ(e.end_reason, EndReason::kProducer);
  const TxnStats s = svc_->Stats();
  EXPECT_EQ(s.pending, 0);
  EXPECT_EQ(s.committed, 1);
  EXPECT_EQ(s.rolled_back, 0);
  EXPECT_EQ(s.ending, 0u);
  EXPECT_EQ(svc_->OldestPendingOffset(), kNoLogOffset);
  EXPECT_EQ(svc_->Checkpoint(), log_.end());

  // Committing again is idempotent; rolling back is refused.
  EXPECT_EQ(*svc_->BeginEnd(h, "m1", TxnAction::kCommit), EndDecision::kAlreadyDone);
  auto rb = svc_->BeginEnd(h, "m1", TxnAction::kRollback);
  EXPECT_EQ(rb.status().code(), Code::kTxnConflict);
  EXPECT_NE(rb.status().message().find("already committed"), std::string::npos)
      << rb.status().message();
  EXPECT_EQ(svc_->Stats().ending, 0u);
}

TEST_F(TxnServiceTest, HalfThenRollback) {
  const LogOffset h = Put(Half("m1"), kT0);
  ASSERT_EQ(*End(h, TxnAction::kRollback, kT0 + 20, EndReason::kOperator), EndDecision::kProceed);
  TxnEntry e = Entry(h);
  EXPECT_EQ(e.state, TxnState::kRolledBack);
  EXPECT_EQ(e.end_ms, kT0 + 20);
  EXPECT_EQ(e.end_reason, EndReason::kOperator);
  EXPECT_FALSE(e.parked);
  EXPECT_EQ(svc_->Stats().rolled_back, 1);
  EXPECT_EQ(*svc_->BeginEnd(h, "", TxnAction::kRollback), EndDecision::kAlreadyDone);
  auto c = svc_->BeginEnd(h, "", TxnAction::kCommit);
  EXPECT_EQ(c.status().code(), Code::kTxnConflict);
  EXPECT_NE(c.status().message().find("already rolled_back (by operator)"), std::string::npos)
      << c.status().message();
}

TEST_F(TxnServiceTest, OneEndAtATime) {
  const LogOffset h = Put(Half("m1"), kT0);
  ASSERT_EQ(*svc_->BeginEnd(h, "m1", TxnAction::kCommit), EndDecision::kProceed);
  EXPECT_EQ(svc_->Stats().ending, 1u);
  for (TxnAction a : {TxnAction::kCommit, TxnAction::kRollback}) {
    auto again = svc_->BeginEnd(h, "m1", a);
    EXPECT_EQ(again.status().code(), Code::kTxnConflict);
    EXPECT_NE(again.status().message().find("commit of the transaction"), std::string::npos)
        << again.status().message();
  }
  // The append failed: pending again, and now the rollback may go.
  svc_->FinishEnd(h, /*appended=*/false);
  EXPECT_EQ(Entry(h).state, TxnState::kPending);
  ASSERT_EQ(*svc_->BeginEnd(h, "m1", TxnAction::kRollback), EndDecision::kProceed);
  // FinishEnd(true) before its record is applied keeps refusing other ends until it is.
  svc_->FinishEnd(h, /*appended=*/true);
  EXPECT_EQ(svc_->BeginEnd(h, "m1", TxnAction::kCommit).status().code(), Code::kTxnConflict);
  EXPECT_EQ(svc_->Stats().ending, 1u);
  Put(TxnService::MakeRollback(log_.At(h), h, EndReason::kProducer), kT0 + 5);
  EXPECT_EQ(svc_->Stats().ending, 0u);
  EXPECT_EQ(*svc_->BeginEnd(h, "m1", TxnAction::kRollback), EndDecision::kAlreadyDone);
  EXPECT_EQ(svc_->BeginEnd(h, "m1", TxnAction::kCommit).status().code(), Code::kTxnConflict);
  svc_->FinishEnd(h, true);  // unknown holds are ignored
}

TEST_F(TxnServiceTest, UnknownHalfOrWrongMessageIdIsNotFound) {
  const LogOffset h = Put(Half("m1"), kT0);
  auto wrong = svc_->BeginEnd(h, "m2", TxnAction::kCommit);
  EXPECT_EQ(wrong.status().code(), Code::kNotFound);
  EXPECT_NE(wrong.status().message().find("'m1', not 'm2'"), std::string::npos);
  EXPECT_EQ(svc_->BeginEnd(h + 1, "", TxnAction::kCommit).status().code(), Code::kNotFound);
  EXPECT_EQ(svc_->BeginEnd(LogOffset(1 << 30), "m1", TxnAction::kRollback).status().code(),
            Code::kNotFound);
  EXPECT_EQ(svc_->Stats().ending, 0u);
  EXPECT_EQ(Entry(h).state, TxnState::kPending);
}

TEST_F(TxnServiceTest, FirstCheckIsDueTimeoutAfterTheHalf) {
  const LogOffset a = Put(Half("a"), kT0);                         // default: 6000
  const LogOffset b = Put(WithTimeout(Half("b"), "500"), kT0);     // its own
  const LogOffset c = Put(WithTimeout(Half("c"), "soon"), kT0);    // unparsable: default
  const LogOffset d = Put(WithTimeout(Half("d"), "-1"), kT0 + 1);  // negative: default
  const LogOffset e = Put(WithTimeout(Half("e"), "0"), kT0 + 2);   // at once
  EXPECT_EQ(Entry(b).timeout_ms, 500);
  EXPECT_EQ(Entry(c).timeout_ms, 6000);
  EXPECT_EQ(Entry(d).next_check_ms, kT0 + 6001);
  EXPECT_EQ(*svc_->NextCheckMs("pg"), kT0 + 2);
  EXPECT_EQ(Take("pg", kT0 + 1), (std::vector<int64_t>{}));
  EXPECT_EQ(Take("pg", kT0 + 2), (std::vector<int64_t>{e.value()}));
  EXPECT_EQ(*svc_->NextCheckMs("pg"), kT0 + 500);  // e is held
  EXPECT_EQ(Take("pg", kT0 + 5999), (std::vector<int64_t>{b.value()}));
  EXPECT_EQ(Take("pg", kT0 + 6000), (std::vector<int64_t>{a.value(), c.value()}));
  EXPECT_EQ(Take("pg", kT0 + 6001), (std::vector<int64_t>{d.value()}));
  EXPECT_EQ(Take("pg", INT64_MAX), (std::vector<int64_t>{}));  // all held
  EXPECT_FALSE(svc_->NextCheckMs("pg").has_value());
  EXPECT_EQ(svc_->Stats().checking, 5u);
  // An aborted check is handed out again.
  svc_->CheckAborted(b);
  EXPECT_EQ(*svc_->NextCheckMs("pg"), kT0 + 500);
  EXPECT_EQ(Take("pg", kT0 + 6001), (std::vector<int64_t>{b.value()}));
}

TEST_F(TxnServiceTest, ChecksFollowTheBackoffSequence) {
  const LogOffset h = Put(Half("m1"), kT0);
  int64_t due = kT0 + 6000;
  // Checks sent late (now = due + 7) back off from when they were sent.
  const int64_t expected_delay[] = {10'000, 20'000, 40'000, 80'000};
  for (uint32_t n = 1; n <= 4; ++n) {
    SCOPED_TRACE(n);
    EXPECT_EQ(*svc_->NextCheckMs("pg"), due);
    EXPECT_EQ(Take("pg", due - 1), (std::vector<int64_t>{}));
    EXPECT_FALSE(svc_->ChecksExhausted(Entry(h)));
    const int64_t now = due + 7;
    ASSERT_EQ(Take("pg", now), (std::vector<int64_t>{h.value()}));
    EXPECT_EQ(Take("pg", now), (std::vector<int64_t>{}));  // held
    SendCheck(h, now);
    EXPECT_EQ(svc_->Stats().checking, 0u);  // the CHECK record released it
    const TxnEntry e = Entry(h);
    EXPECT_EQ(e.checks, n);
    due = now + expected_delay[n - 1];
    EXPECT_EQ(e.next_check_ms, due);
  }
  EXPECT_TRUE(svc_->ChecksExhausted(Entry(h)));  // max_checks = 4 here
  EXPECT_EQ(svc_->Stats().checks_sent, 4);

  // The cap: with a 300 s maximum, 10 s doubling gives 160 s then 300 s, 300 s...
  TxnServiceOptions o;
  o.check_backoff_ms = 10'000;
  o.check_backoff_max_ms = 300'000;
  Reopen(o);
  std::vector<int64_t> delays;
  for (int n = 5; n <= 7; ++n) {
    const int64_t now = Entry(h).next_check_ms;
    ASSERT_EQ(Take("pg", now).size(), 1u);
    SendCheck(h, now);
    delays.push_back(Entry(h).next_check_ms - now);
  }
  EXPECT_EQ(delays, (std::vector<int64_t>{160'000, 300'000, 300'000}));
}

TEST_F(TxnServiceTest, NoChecksAfterAnEnd) {
  const LogOffset a = Put(Half("a"), kT0);
  const LogOffset b = Put(Half("b"), kT0);
  ASSERT_EQ(Take("pg", kT0 + 6000).size(), 2u);
  // Both are being checked; the producer ends them meanwhile (allowed while checking).
  ASSERT_EQ(*End(a, TxnAction::kCommit, kT0 + 6001), EndDecision::kProceed);
  ASSERT_EQ(*End(b, TxnAction::kRollback, kT0 + 6001), EndDecision::kProceed);
  EXPECT_EQ(svc_->Stats().checking, 0u);
  // A check record that raced the end changes nothing.
  SendCheck(a, kT0 + 6002);
  EXPECT_EQ(Entry(a).checks, 0u);
  EXPECT_EQ(svc_->Stats().checks_sent, 0);
  EXPECT_EQ(Take("pg", INT64_MAX), (std::vector<int64_t>{}));
  EXPECT_FALSE(svc_->NextCheckMs("pg").has_value());
  EXPECT_TRUE(svc_->PendingGroups().empty());
}

TEST_F(TxnServiceTest, AnEndInProgressIsNotCheckedUnlessItFails) {
  const LogOffset h = Put(Half("m1"), kT0);
  ASSERT_EQ(*svc_->BeginEnd(h, "", TxnAction::kCommit), EndDecision::kProceed);
  EXPECT_EQ(Take("pg", INT64_MAX), (std::vector<int64_t>{}));
  EXPECT_FALSE(svc_->NextCheckMs("pg").has_value());
  svc_->FinishEnd(h, /*appended=*/false);
  EXPECT_EQ(Take("pg", INT64_MAX), (std::vector<int64_t>{h.value()}));
}

TEST_F(TxnServiceTest, GroupsAreSeparate) {
  const LogOffset a1 = Put(Half("a1", "ga"), kT0);
  const LogOffset b1 = Put(Half("b1", "gb"), kT0 - 1000);
  const LogOffset a2 = Put(Half("a2", "ga"), kT0 + 1);
  EXPECT_EQ(svc_->PendingGroups(), (std::vector<std::string>{"ga", "gb"}));
  EXPECT_EQ(*svc_->NextCheckMs("ga"), kT0 + 6000);
  EXPECT_EQ(*svc_->NextCheckMs("gb"), kT0 + 5000);
  EXPECT_FALSE(svc_->NextCheckMs("gc").has_value());
  EXPECT_EQ(Take("ga", INT64_MAX), (std::vector<int64_t>{a1.value(), a2.value()}));
  EXPECT_EQ(Take("gb", INT64_MAX, 1), (std::vector<int64_t>{b1.value()}));
  ASSERT_EQ(*End(b1, TxnAction::kCommit, kT0 + 2), EndDecision::kProceed);
  EXPECT_EQ(svc_->PendingGroups(), (std::vector<std::string>{"ga"}));
}

TEST_F(TxnServiceTest, RecordBuildersRoundTrip) {
  store::Record half = WithTimeout(Half("m1"), "1000");
  half.message_group = "fifo";
  const LogOffset h = Put(half, kT0);
  half = log_.At(h);

  const store::Record commit = TxnService::MakeCommit(half, h, EndReason::kCheck);
  EXPECT_EQ(commit.type, store::RecordType::kMessage);
  EXPECT_EQ(commit.flags, store::kFlagTxnCommit | (1u << store::kFlagEndReasonShift));
  EXPECT_EQ(commit.origin_offset, h);
  EXPECT_EQ(commit.topic, "orders");
  EXPECT_EQ(commit.queue_id, 2u);
  EXPECT_EQ(commit.message_id, "m1");
  EXPECT_EQ(commit.message_group, "fifo");
  EXPECT_EQ(commit.body, half.body);
  EXPECT_EQ(commit.keys, half.keys);
  EXPECT_EQ(commit.store_ms, 0);
  EXPECT_EQ(commit.properties, (decltype(commit.properties){{"user", "u1"}}));
  ASSERT_TRUE(store::CheckEncodable(commit).ok());

  // A scheduled half commits into a kScheduled record (the timer delivers it later).
  store::Record scheduled = Half("s1");
  scheduled.deliver_at_ms = kT0 + 60'000;
  const LogOffset s = Put(scheduled, kT0);
  const store::Record scommit = TxnService::MakeCommit(log_.At(s), s, EndReason::kProducer);
  EXPECT_EQ(scommit.type, store::RecordType::kScheduled);
  EXPECT_EQ(scommit.deliver_at_ms, kT0 + 60'000);
  EXPECT_EQ(scommit.flags, store::kFlagTxnCommit);

  Put(commit, kT0 + 1);
  Put(scommit, kT0 + 2);
  EXPECT_EQ(Entry(h).state, TxnState::kCommitted);
  EXPECT_EQ(Entry(h).end_reason, EndReason::kCheck);
  EXPECT_EQ(Entry(s).state, TxnState::kCommitted);

  // Parking: the rollback (max checks) then the parked copy.
  const LogOffset p = Put(Half("p1"), kT0);
  const store::Record rollback = TxnService::MakeRollback(log_.At(p), p, EndReason::kMaxChecks);
  EXPECT_EQ(rollback.type, store::RecordType::kTxnEnd);
  EXPECT_EQ(rollback.origin_offset, p);
  EXPECT_EQ(rollback.message_id, "p1");
  EXPECT_TRUE(rollback.body.empty());
  EXPECT_EQ(EndReasonOf(rollback.flags), EndReason::kMaxChecks);
  const store::Record park = TxnService::MakePark(log_.At(p), p, "15 checks unanswered");
  EXPECT_EQ(park.type, store::RecordType::kMessage);
  EXPECT_EQ(park.topic, kParkedTopic);
  EXPECT_EQ(park.queue_id, 0u);
  EXPECT_EQ(park.flags & store::kFlagTxnCommit, 0u);
  EXPECT_EQ(park.origin_offset, p);
  EXPECT_EQ(park.body, log_.At(p).body);
  auto prop = [&](const char* key) {
    auto it = std::find_if(park.properties.begin(), park.properties.end(),
                           [&](const auto& kv) { return kv.first == key; });
    return it == park.properties.end() ? std::string("<none>") : it->second;
  };
  EXPECT_EQ(prop(kParkReasonProperty), "15 checks unanswered");
  EXPECT_EQ(prop(kRealTopicProperty), "orders");
  EXPECT_EQ(prop(kProducerGroupProperty), "pg");
  log_.AppendBatch(svc_.get(), {rollback, park}, kT0 + 3);
  TxnEntry e = Entry(p);
  EXPECT_EQ(e.state, TxnState::kRolledBack);
  EXPECT_EQ(e.end_reason, EndReason::kMaxChecks);
  EXPECT_TRUE(e.parked);
  EXPECT_EQ(svc_->Stats().parked, 1);
  EXPECT_EQ(*svc_->List(std::nullopt, true, kNoLogOffset, 10), (std::vector<TxnEntry>{e}));

  // MakeCheck names the half.
  const LogOffset c = Put(Half("c1"), kT0);
  const store::Record check = TxnService::MakeCheck(Entry(c));
  EXPECT_EQ(check.type, store::RecordType::kTxnCheck);
  EXPECT_EQ(check.origin_offset, c);
  EXPECT_EQ(check.topic, "orders");
}

TEST_F(TxnServiceTest, RecordsThatAreNotOursAreIgnored) {
  const LogOffset h = Put(Half("m1"), kT0);
  // A timer re-put naming h (no commit flag), a parked-topic copy of a pending half, a plain
  // message: none changes h.
  store::Record reput = store::testing::MakeMessage("orders", 2, "x");
  reput.origin_offset = h;
  Put(reput, kT0 + 1);
  Put(TxnService::MakePark(log_.At(h), h, "early"), kT0 + 2);
  Put(store::testing::MakeMessage("orders", 2, "plain"), kT0 + 3);
  // A half without its producer group is not indexed.
  store::Record orphan = Half("o1");
  orphan.properties.clear();
  EXPECT_EQ(TxnService::ProducerGroupOf(orphan).status().code(), Code::kInvalidArgument);
  const LogOffset o = Put(orphan, kT0 + 4);
  EXPECT_FALSE(svc_->Get(o)->has_value());
  // An end of a half the index never saw.
  Put(TxnService::MakeRollback(log_.At(h), LogOffset(1 << 30), EndReason::kProducer), kT0 + 5);
  EXPECT_EQ(Entry(h).state, TxnState::kPending);
  EXPECT_FALSE(Entry(h).parked);
  const TxnStats s = svc_->Stats();
  EXPECT_EQ(s.pending, 1);
  EXPECT_EQ(s.committed + s.rolled_back + s.parked, 0);
  EXPECT_EQ(svc_->Checkpoint(), log_.end());  // every record advanced it
}

TEST_F(TxnServiceTest, TheFirstEndInTheLogWins) {
  // The broker refuses the second end, but a log may still hold one: ignored.
  const LogOffset h = Put(Half("m1"), kT0);
  Put(TxnService::MakeRollback(log_.At(h), h, EndReason::kProducer), kT0 + 1);
  Put(TxnService::MakeCommit(log_.At(h), h, EndReason::kProducer), kT0 + 2);
  EXPECT_EQ(Entry(h).state, TxnState::kRolledBack);
  EXPECT_EQ(Entry(h).end_ms, kT0 + 1);
  EXPECT_EQ(svc_->Stats().committed, 0);
  EXPECT_EQ(svc_->Stats().rolled_back, 1);
}

TEST_F(TxnServiceTest, ABatchAppliesInOrderAndReplayIsIdempotent) {
  // One group commit: a half, its check and its commit; another half checked twice.
  store::Record a = Half("a"), b = Half("b");
  std::vector<LogOffset> at = log_.AppendBatch(svc_.get(), {a, b}, kT0);
  log_.AppendBatch(svc_.get(),
                   {TxnService::MakeCheck(Entry(at[0])), TxnService::MakeCheck(Entry(at[1])),
                    TxnService::MakeCommit(log_.At(at[0]), at[0], EndReason::kCheck),
                    TxnService::MakeCheck(Entry(at[1]))},
                   kT0 + 6000);
  EXPECT_EQ(Entry(at[0]).state, TxnState::kCommitted);
  EXPECT_EQ(Entry(at[0]).checks, 1u);
  EXPECT_EQ(Entry(at[1]).checks, 2u);
  EXPECT_EQ(Entry(at[1]).next_check_ms, kT0 + 6000 + 20'000);
  EXPECT_EQ(svc_->Checkpoint(), log_.end());
  const TxnStats before = svc_->Stats();
  EXPECT_EQ(before.checks_sent, 3);
  const auto all = *svc_->List(std::nullopt, false, kNoLogOffset, 100);

  // The whole log again (a restart with a checkpoint behind), then again after a reopen.
  log_.Replay(svc_.get());
  Reopen();
  log_.Replay(svc_.get());
  EXPECT_EQ(*svc_->List(std::nullopt, false, kNoLogOffset, 100), all);
  const TxnStats after = svc_->Stats();
  EXPECT_EQ(after.pending, before.pending);
  EXPECT_EQ(after.committed, before.committed);
  EXPECT_EQ(after.checks_sent, before.checks_sent);
  EXPECT_EQ(svc_->Checkpoint(), log_.end());
}

TEST_F(TxnServiceTest, CheckpointOfRecordsWithNothingForTxn) {
  TxnServiceOptions o;
  o.checkpoint_every = 3;
  Reopen(o);
  EXPECT_EQ(svc_->Checkpoint(), LogOffset(0));  // new index: replay everything
  Put(Half("a"), kT0);
  const LogOffset applied = svc_->Checkpoint();
  EXPECT_EQ(applied, log_.end());
  Put(store::testing::MakeMessage("t", 0, "1"), kT0);
  Put(store::testing::MakeMessage("t", 0, "2"), kT0);
  EXPECT_EQ(svc_->Checkpoint(), applied);  // not persisted yet: 2 < 3
  Put(store::testing::MakeMessage("t", 0, "3"), kT0);
  EXPECT_EQ(svc_->Checkpoint(), log_.end());
  Put(store::testing::MakeMessage("t", 0, "4"), kT0);
  Reopen(o);  // the destructor persists the rest
  EXPECT_EQ(svc_->Checkpoint(), log_.end());
}

TEST_F(TxnServiceTest, ListAndPurge) {
  std::vector<LogOffset> h;
  for (int i = 0; i < 6; ++i) h.push_back(Put(Half("m" + std::to_string(i)), kT0 + i));
  ASSERT_EQ(*End(h[0], TxnAction::kCommit, kT0 + 100), EndDecision::kProceed);
  ASSERT_EQ(*End(h[1], TxnAction::kRollback, kT0 + 200), EndDecision::kProceed);
  ASSERT_EQ(*End(h[3], TxnAction::kCommit, kT0 + 300), EndDecision::kProceed);
  auto pending = *svc_->List(TxnState::kPending, false, kNoLogOffset, 10);
  ASSERT_EQ(pending.size(), 3u);
  EXPECT_EQ(pending[0].half_offset, h[2]);
  EXPECT_EQ(svc_->List(TxnState::kCommitted, false, h[0], 10)->size(), 1u);
  EXPECT_EQ(svc_->OldestPendingOffset(), h[2]);
  EXPECT_EQ(*svc_->PurgeResolved(kT0 + 300, 10), 2u);
  EXPECT_FALSE(svc_->Get(h[0])->has_value());
  EXPECT_FALSE(svc_->FindByMessageId("m1")->has_value());
  EXPECT_TRUE(svc_->Get(h[3])->has_value());
  EXPECT_EQ(svc_->BeginEnd(h[0], "", TxnAction::kCommit).status().code(), Code::kNotFound);
  EXPECT_EQ(svc_->Stats().committed, 2);  // lifetime totals
  EXPECT_EQ(svc_->OldestPendingOffset(), h[2]);
}

}  // namespace
}  // namespace tidemq::txn
