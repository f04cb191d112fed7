// The timer index: every pending scheduled message, in its own LevelDB (<data_dir>/timer),
// ordered by (due time, log offset). It is derived from the CommitLog (kScheduled,
// kTimerCancel and fired re-put records) and carries the log offset it has applied, so it can
// always be rebuilt by replaying the log. Key grammar: docs/timer.md. LevelDB statuses become
// tidemq Status here and nowhere else.
//
// Thread safety: reads (Get, ScanDue, FindByMessageId, NextDue, counters, ...) may run on any
// thread. Apply() must be called by one thread at a time (TimerService calls it under its
// mutex): it reads the current state to keep the counters exact and replays idempotent.
// Reopen() may run on any thread (store::ReopenableDb keeps other calls off the database
// while it swaps it).
#pragma once

#include <atomic>
#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace leveldb {
class DB;
}  // namespace leveldb

namespace tidemq::store {
class ReopenableDb;
}  // namespace tidemq::store

namespace tidemq::timer {

// Position in the index order: by due time, then by the scheduled record's log offset.
struct DueKey {
  int64_t due_ms = 0;
  int64_t offset = 0;
  friend auto operator<=>(const DueKey&, const DueKey&) = default;
};

// One pending scheduled message: enough to fire it (the offset of its kScheduled record, whose
// body stays in the CommitLog) and to show it.
struct IndexEntry {
  int64_t due_ms = 0;
  LogOffset offset;
  std::string topic;
  uint32_t queue_id = 0;
  std::string message_id;
  DueKey key() const { return {due_ms, offset.value()}; }
  bool operator==(const IndexEntry&) const = default;
};

struct TimerOp {
  enum class Kind : uint8_t {
    kSchedule,  // entry: a kScheduled record
    kCancel,    // entry.offset: a kTimerCancel record named it
    kFired,     // entry.offset: its re-put (a kMessage with origin_offset) is in the log
  };
  Kind kind = Kind::kSchedule;
  IndexEntry entry;
  // kFired/kCancel: entry's due_ms, offset and message_id are those of a pending entry (the
  // caller knows), so Apply deletes its keys without reading them first.
  bool known_pending = false;
};

class TimerIndex {
 public:
  // Opens (creating when missing) the LevelDB at `path`.
  static Result<std::unique_ptr<TimerIndex>> Open(const std::string& path);
  ~TimerIndex();

  // Applies `ops` in order and records `applied` (the log offset just past the last record
  // they came from), all in one atomic LevelDB write. Scheduling an offset already pending
  // and removing one not pending are no-ops, so replaying a record is harmless. sync=false
  // still survives a process crash (the write reached the OS); the log is the backstop.
  // schedules_are_new: the caller knows no kSchedule op is a replay (live records), so their
  // existence checks are skipped.
  Status Apply(const std::vector<TimerOp>& ops, LogOffset applied, bool sync = false,
               bool schedules_are_new = false);
  // Records `applied` alone (records with nothing for the timer).
  Status SetApplied(LogOffset applied, bool sync);
  // Closes the database and opens it again (after a failed write on a full disk: LevelDB
  // refuses every later write until then), and reloads the counters.
  Status Reopen();

  // Entries with key >= from and due_ms < to_due_ms, in (due, offset) order, at most limit.
  Result<std::vector<IndexEntry>> ScanDue(DueKey from, int64_t to_due_ms, size_t limit) const;
  Result<std::optional<IndexEntry>> Get(LogOffset offset) const;
  // The pending scheduled record last indexed under this message id.
  Result<std::optional<LogOffset>> FindByMessageId(const std::string& message_id) const;
  // The earliest due time pending, or nullopt.
  Result<std::optional<int64_t>> NextDue() const;
  // The smallest log offset pending (what retention must keep), or nullopt.
  Result<std::optional<LogOffset>> OldestPendingOffset() const;

  // Log offset just past the last applied record; kNoLogOffset when nothing was ever applied.
  LogOffset applied() const { return LogOffset(applied_.load()); }
  int64_t PendingCount() const { return pending_.load(); }
  int64_t FiredCount() const { return fired_.load(); }
  int64_t CancelledCount() const { return cancelled_.load(); }

 private:
  explicit TimerIndex(std::unique_ptr<store::ReopenableDb> db);
  Status LoadCounters();
  // The same as the public calls, on a database the caller holds (no second hold).
  Result<std::optional<IndexEntry>> GetIn(leveldb::DB* db, LogOffset offset) const;
  Result<std::vector<IndexEntry>> ScanDueIn(leveldb::DB* db, DueKey from, int64_t to_due_ms,
                                            size_t limit) const;

  std::unique_ptr<store::ReopenableDb> db_;
  std::atomic<int64_t> applied_{kNoLogOffset.value()};
  std::atomic<int64_t> pending_{0};
  std::atomic<int64_t> fired_{0};
  std::atomic<int64_t> cancelled_{0};
};

// Key builders and the value codec, shared by the writer and the readers (exposed for tests).
std::string DueIndexKey(DueKey key);
std::string OffsetIndexKey(LogOffset offset);
std::string MessageIdIndexKey(const std::string& message_id, LogOffset offset);
std::string EncodeIndexValue(const IndexEntry& entry);
// Fills every field but due_ms and offset (they are in the key).
Status DecodeIndexValue(std::string_view value, IndexEntry* entry);

}  // namespace tidemq::timer
