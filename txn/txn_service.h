// Transactional messages (shared/DESIGN.md 3, docs/txn.md): the state of every transaction,
// derived from the CommitLog, and the protocols the broker drives on it.
//
// The service is a store::Observer. A kTxnHalf record makes its transaction pending, with its
// first check due timeout after the half was stored; the commit re-put (a kMessage/kScheduled
// with kFlagTxnCommit and origin_offset = the half) commits it; a kTxnEnd record rolls it
// back; a kTxnCheck record counts one check sent and schedules the next by back-off; a copy of
// a rolled-back half in kParkedTopic marks it parked. A resolved state never changes. All of it
// lives in the LevelDB TxnIndex, which can be deleted and rebuilt by replaying the log.
//
// The broker writes those records; the service only tells it whether it may:
//  - End: BeginEnd(H, ...) says kProceed (the caller appends the commit re-put or rollback
//    record, then calls FinishEnd) or kAlreadyDone (that action already took effect: answer
//    OK, append nothing), or refuses. While an end of H is in progress every other BeginEnd of
//    H is refused, so a commit and a rollback can never both be appended.
//  - Check-back: TakeDueChecks hands out the pending transactions of a producer group whose
//    check is due and holds them (not handed out again) until their kTxnCheck record is applied
//    or the broker calls CheckAborted. The broker appends the kTxnCheck record (MakeCheck) as
//    it sends the check; when ChecksExhausted, it ends the transaction instead.
//
// Threads: OnRecord/OnBatchEnd/Checkpoint run on the store's writer thread; everything else on
// any thread. One mutex guards the in-memory holds and every index write (the writer's batch,
// a purge); it is held for the index reads that decide a hold (BeginEnd, FinishEnd,
// TakeDueChecks, NextCheckMs). Plain reads (Get, List, Stats, ...) do not take it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/types.h"
#include "store/record.h"
#include "store/staged_batch.h"
#include "store/store.h"
#include "txn/txn_index.h"
#include "txn/txn_types.h"

namespace tidemq::txn {

struct TxnServiceOptions {
  std::string index_path;              // the txn LevelDB, e.g. <data_dir>/txn (required)
  int64_t default_timeout_ms = 6'000;  // first check this long after the half is stored
  int64_t check_backoff_ms = 10'000;   // after check n: min(backoff * 2^(n-1), max)
  int64_t check_backoff_max_ms = 300'000;
  uint32_t max_checks = 15;           // then the final action
  int64_t checkpoint_every = 10'000;  // persist the applied offset after this many other records
};

enum class EndDecision : uint8_t {
  kProceed,      // append the end record(s), then FinishEnd(half, appended)
  kAlreadyDone,  // the same action already took effect: answer OK, append nothing
};

struct TxnStats {
  int64_t pending = 0;
  int64_t committed = 0;    // lifetime totals of the index (see TxnCounters)
  int64_t rolled_back = 0;  // parked ones included
  int64_t parked = 0;
  int64_t checks_sent = 0;
  size_t checking = 0;  // handed out by TakeDueChecks, CHECK record not yet applied
  size_t ending = 0;    // BeginEnd said kProceed, end not yet finished
};

class TxnService : public store::Observer {
 public:
  static Result<std::unique_ptr<TxnService>> Open(const TxnServiceOptions& options);
  ~TxnService() override;  // persists the applied offset
  TxnService(const TxnService&) = delete;
  TxnService& operator=(const TxnService&) = delete;

  // store::Observer. Checkpoint is where the store's replay starts: just past the last record
  // the index has applied, or the log's start when the index is new (a full rebuild). OnRecord
  // stages the record's effect; OnBatchEnd applies the batch's effects in one index write.
  LogOffset Checkpoint() const override;
  void OnRecord(const store::Record& record, LogOffset offset, bool replay) override;
  void OnBatchEnd(bool replay) override;
  // After an index failure for want of space or descriptors (a full disk), the service stops
  // applying records; the store then calls Resume — the index is reopened and the service
  // picks up again — and replays the log to it from Checkpoint(). Other failures stay.
  bool NeedsReplay() const override;
  Status Resume() override;
  // Fault-injection probe for tests: the service behaves as after an index failure `st`.
  void FailForTesting(Status st);

  // The end protocol (see above). Errors: kNotFound (no half at `half`, or message_id is not
  // empty and differs from the half's), kTxnConflict (the opposite action took effect, or an
  // end of `half` is in progress), or the sticky index error.
  Result<EndDecision> BeginEnd(LogOffset half, std::string_view message_id, TxnAction action);
  // appended=false: nothing was appended, the transaction is pending again. appended=true:
  // the hold lasts until the end record is applied (normally already done).
  void FinishEnd(LogOffset half, bool appended);

  // Check-back: pending entries of `group` with next_check_ms <= now_ms, in (next_check_ms,
  // half) order, at most limit, skipping held ones (checking or ending); the returned ones are
  // held until their CHECK record is applied or CheckAborted is called.
  Result<std::vector<TxnEntry>> TakeDueChecks(const std::string& group, int64_t now_ms,
                                              size_t limit);
  void CheckAborted(LogOffset half);
  // The earliest next_check_ms of the group's pending entries that are not held, or nullopt.
  std::optional<int64_t> NextCheckMs(const std::string& group) const;
  std::vector<std::string> PendingGroups() const;  // sorted; empty on a read error
  bool ChecksExhausted(const TxnEntry& e) const { return e.checks >= options_.max_checks; }

  Result<std::optional<TxnEntry>> Get(LogOffset half) const;
  Result<std::optional<TxnEntry>> FindByMessageId(const std::string& message_id) const;
  Result<std::vector<TxnEntry>> List(std::optional<TxnState> state, bool parked_only,
                                     LogOffset after, size_t limit) const;
  // For a store retention guard: the oldest pending half, kNoLogOffset if none, LogOffset(0)
  // on a read error (retention must never guess).
  LogOffset OldestPendingOffset() const;
  TxnStats Stats() const;
  Status status() const;
  // Forgets up to `limit` resolved transactions that ended before before_ms; returns how many.
  Result<size_t> PurgeResolved(int64_t before_ms, size_t limit);
  const TxnServiceOptions& options() const { return options_; }

  // Record builders for the broker. `half` is the kTxnHalf record stored at `at`.
  // The commit re-put: the half's message into its topic (kScheduled when it has a
  // deliver_at_ms), kFlagTxnCommit and the reason in flags, without the TXN_* properties.
  static store::Record MakeCommit(const store::Record& half, LogOffset at, EndReason why);
  // The rollback: kTxnEnd naming the half, no body.
  static store::Record MakeRollback(const store::Record& half, LogOffset at, EndReason why);
  // The check being sent now for e (the broker appends it as it sends the check).
  static store::Record MakeCheck(const TxnEntry& e);
  // The parked copy (append it right after MakeRollback(half, at, kMaxChecks)): the half's
  // message in kParkedTopic queue 0 with the reason and the real topic as properties.
  static store::Record MakePark(const store::Record& half, LogOffset at, std::string reason);
  // The half's TXN_PRODUCER_GROUP; InvalidArgument when missing or empty.
  static Result<std::string> ProducerGroupOf(const store::Record& half);

 private:
  struct Ending {
    TxnAction action;
    bool appended = false;  // waiting for the end record to be applied
  };

  TxnService(const TxnServiceOptions& options, std::unique_ptr<TxnIndex> index);
  // The op a record stands for, if any (false: nothing for txn/).
  bool OpFor(const store::Record& record, LogOffset offset, TxnOp* op) const;
  bool HeldLocked(LogOffset half) const REQUIRES(mu_);

  const TxnServiceOptions options_;
  const std::unique_ptr<TxnIndex> index_;

  mutable Mutex mu_;
  void SetStatusLocked(Status st) REQUIRES(mu_);
  Status status_ GUARDED_BY(mu_);  // set through SetStatusLocked
  std::atomic<bool> needs_replay_{false};  // status_ is a failure Resume can clear
  std::unordered_map<int64_t, Ending> ending_ GUARDED_BY(mu_);
  std::unordered_set<int64_t> checking_ GUARDED_BY(mu_);
  LogOffset applied_ GUARDED_BY(mu_);
  store::StagedBatch<TxnOp> staged_ GUARDED_BY(mu_);  // this batch's ops, applied at its end
};

}  // namespace tidemq::txn
