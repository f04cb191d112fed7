// The transaction index: every transaction the log still describes, in its own LevelDB
// (<data_dir>/txn), keyed by the log offset of its half record, with the check schedule of the
// pending ones per producer group. It is derived from the CommitLog (half, commit re-put,
// rollback, check and park records) and carries the log offset it has applied, so it can
// always be rebuilt by replaying the log. Key grammar: docs/txn.md. LevelDB statuses become
// tidemq Status here and nowhere else.
//
// Thread safety: reads (Get, ScanDue, List, counters, ...) may run on any thread. Apply,
// SetApplied and PurgeResolvedBefore must be called by one thread at a time (TxnService calls
// them under its mutex): they read the current state to keep counters exact and replays
// idempotent.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "txn/txn_types.h"

namespace leveldb {
class DB;
}  // namespace leveldb

namespace tidemq::store {
class ReopenableDb;
}  // namespace tidemq::store

namespace tidemq::txn {

// One state change read from one log record.
struct TxnOp {
  enum class Kind : uint8_t {
    kHalf,      // entry: a new pending transaction (a kTxnHalf record)
    kCommit,    // half: its commit re-put is in the log
    kRollback,  // half: its kTxnEnd record is in the log
    kCheck,     // half: a kTxnCheck record (one more check sent at at_ms)
    kPark,      // half: its parked copy is in the log
  };
  Kind kind = Kind::kHalf;
  LogOffset half;     // the transaction (kHalf: entry.half_offset)
  LogOffset record;   // the record this op came from (kCheck: the replay guard)
  int64_t at_ms = 0;  // the record's store_ms: end_ms of an end, time of a check
  EndReason reason = EndReason::kProducer;  // kCommit, kRollback
  TxnEntry entry;                           // kHalf
};

struct TxnCounters {
  int64_t pending = 0;      // entries pending now
  int64_t committed = 0;    // commits applied since the index was created (purge keeps them)
  int64_t rolled_back = 0;  // rollbacks applied, parked ones included
  int64_t parked = 0;       // parks applied
  int64_t checks_sent = 0;  // CHECK records applied to pending entries
  bool operator==(const TxnCounters&) const = default;
};

class TxnIndex {
 public:
  // Opens (creating when missing) the LevelDB at `path`. `backoff` schedules the check after
  // each CHECK record.
  static Result<std::unique_ptr<TxnIndex>> Open(const std::string& path, CheckBackoff backoff);
  ~TxnIndex();

  // Applies `ops` in order and records `applied` (the log offset just past the last record
  // they came from), all in one atomic LevelDB write. Each op reads the state the ops before
  // it left. Replays are no-ops: a half already indexed, an end of a transaction already in
  // that state, a check at or before the entry's last one, a park already parked. An end that
  // contradicts the resolved state (commit after rollback, ...) is ignored with a warning; an
  // op on an unknown half is ignored. sync=false still survives a process crash.
  // halves_are_new: no kHalf op is a replay (live records), so their existence checks are
  // skipped.
  Status Apply(const std::vector<TxnOp>& ops, LogOffset applied, bool sync = false,
               bool halves_are_new = false);
  // Records `applied` alone (records with nothing for txn/).
  Status SetApplied(LogOffset applied, bool sync);
  // Closes the database and opens it again (after a failed write on a full disk: LevelDB
  // refuses every later write until then), and reloads the counters. Any thread.
  Status Reopen();
  // Deletes up to `limit` resolved entries with end_ms < before_ms (oldest end first);
  // returns how many. Counters are lifetime totals and do not change.
  Result<size_t> PurgeResolvedBefore(int64_t before_ms, size_t limit);

  Result<std::optional<TxnEntry>> Get(LogOffset half) const;
  // The half last indexed under this message id (resolved ones too, until purged).
  Result<std::optional<LogOffset>> FindByMessageId(const std::string& message_id) const;
  // Pending entries of `group` with next_check_ms <= now_ms in (next_check_ms, half) order,
  // at most `limit`; halves for which `skip` returns true are passed over (not counted).
  Result<std::vector<TxnEntry>> ScanDue(const std::string& group, int64_t now_ms, size_t limit,
                                        const std::function<bool(LogOffset)>& skip = {}) const;
  // The earliest next_check_ms of the group's pending entries (except skipped ones), or nullopt.
  Result<std::optional<int64_t>> NextDue(const std::string& group,
                                         const std::function<bool(LogOffset)>& skip = {}) const;
  // The producer groups with at least one pending entry, sorted.
  Result<std::vector<std::string>> ListPendingGroups() const;
  // Entries with half offset > after (kNoLogOffset: from the start), in offset order, at most
  // limit, filtered by state (nullopt: any) and, when parked_only, parked ones only.
  Result<std::vector<TxnEntry>> List(std::optional<TxnState> state, bool parked_only,
                                     LogOffset after, size_t limit) const;
  // The smallest half offset pending (what retention must keep), or nullopt.
  Result<std::optional<LogOffset>> OldestPendingOffset() const;

  // Log offset just past the last applied record; kNoLogOffset when nothing was ever applied.
  LogOffset applied() const { return LogOffset(applied_.load()); }
  TxnCounters Counters() const;
  const CheckBackoff& backoff() const { return backoff_; }

 private:
  TxnIndex(std::unique_ptr<store::ReopenableDb> db, CheckBackoff backoff);
  Status LoadCounters();

  std::unique_ptr<store::ReopenableDb> db_;
  const CheckBackoff backoff_;
  std::atomic<int64_t> applied_{kNoLogOffset.value()};
  std::atomic<int64_t> pending_{0};
  std::atomic<int64_t> committed_{0};
  std::atomic<int64_t> rolled_back_{0};
  std::atomic<int64_t> parked_{0};
  std::atomic<int64_t> checks_sent_{0};
};

// Key builders and the value codec, shared by the writer and the readers (exposed for tests).
std::string EntryKey(LogOffset half);
std::string DueKey(std::string_view group, int64_t next_check_ms, LogOffset half);
std::string MessageIdKey(std::string_view message_id);
std::string PendingKey(LogOffset half);
std::string ResolvedKey(int64_t end_ms, LogOffset half);
std::string EncodeEntryValue(const TxnEntry& entry);
// Fills every field but half_offset (it is in the key).
Status DecodeEntryValue(std::string_view value, TxnEntry* entry);

}  // namespace tidemq::txn
