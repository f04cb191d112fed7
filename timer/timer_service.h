// The broker's single scheduling engine (shared/DESIGN.md 2.2-2.3, docs/timer.md).
//
// Two kinds of timers share one TimingWheel:
//  - scheduled messages, derived from the CommitLog: the service is a store::Observer; a
//    kScheduled record schedules, a kTimerCancel record cancels, and a kMessage record whose
//    origin_offset names a pending scheduled record (the broker's re-put) marks it fired.
//    Every pending one lives in the LevelDB TimerIndex; only those due within the window
//    (options.window_ms) are loaded in the wheel, so memory stays bounded however many are
//    pending further out.
//  - volatile timers (lease expiry, retry back-off, transaction check deadlines): in memory
//    only, gone after a restart; their owner re-creates them from its own state.
//
// Firing is exactly once for scheduled messages: Advance() hands an entry to the broker, which
// appends the re-put, but the entry leaves the index only when the re-put record comes back
// through OnRecord. A crash before the re-put is durable fires it again after the restart; a
// crash after it replays the re-put, which removes the entry, so it never fires twice.
//
// Clock: due times are wall-clock milliseconds (Clock::NowMs()), and so is the time passed to
// Advance(). A forward step fires, at the next Advance, everything now due, in (due, offset)
// order. A backward step of more than options.backward_reset_ms resets the wheel to the new
// time: entries fire when wall time reaches their due time again (those already handed out
// are not handed out again). A smaller backward step is ignored: the wheel's time stays put,
// nothing fires until wall time catches up, and an entry added meanwhile with a due time in
// that gap fires at once.
//
// Threads: OnRecord/OnBatchEnd/Checkpoint run on the store's writer thread; Advance and the volatile and
// cancel calls on any thread (the broker's timer thread). One mutex guards the wheel and the
// in-memory sets; it is held while the index is written for a timer record and while one
// refill chunk is read, never for a whole refill.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/types.h"
#include "store/record.h"
#include "store/staged_batch.h"
#include "store/store.h"
#include "timer/timer_index.h"
#include "timer/timing_wheel.h"

namespace tidemq::timer {

struct TimerServiceOptions {
  std::string index_path;             // the timer LevelDB, e.g. <data_dir>/timer (required)
  int64_t start_ms = 0;               // wall time the wheel starts at (Clock::NowMs())
  int64_t window_ms = 60'000;         // how far ahead the wheel holds entries
  size_t max_loaded = 1u << 20;       // most index entries in memory at once
  size_t refill_chunk = 4096;         // index entries read per mutex hold
  int64_t backward_reset_ms = 1000;   // backward clock steps beyond this reset the wheel
  int64_t checkpoint_every = 10'000;  // persist the applied offset after this many other records
};

enum class TimerKind : uint8_t {
  kScheduledMessage,  // re-put the kScheduled record at log_offset, with origin_offset set
  kVolatile,          // tag and cookie say what; id is what ScheduleVolatile returned
};

struct DueTimer {
  TimerKind kind = TimerKind::kScheduledMessage;
  int64_t due_ms = 0;
  LogOffset log_offset;  // kScheduledMessage
  uint64_t id = 0;       // kVolatile
  uint32_t tag = 0;      // kVolatile: the owner's kind of timer (lease, retry, txn check...)
  uint64_t cookie = 0;   // kVolatile: the owner's handle
  bool operator==(const DueTimer&) const = default;
};

// What BeginCancel found.
enum class CancelState : uint8_t {
  kPending,   // held back from firing: append the kTimerCancel record, then EndCancel
  kFiring,    // handed out by Advance (re-put on its way): too late to cancel
  kNotFound,  // never scheduled, already fired, or already cancelled
};

struct TimerStats {
  int64_t pending = 0;  // scheduled messages in the index
  int64_t fired = 0;    // re-puts seen
  int64_t cancelled = 0;
  std::optional<int64_t> next_due_ms;
  size_t loaded = 0;  // scheduled messages in the wheel
  size_t volatile_timers = 0;
  size_t firing = 0;  // handed out, re-put not yet seen
  int64_t wheel_now_ms = 0;
};

class TimerService : public store::Observer {
 public:
  static Result<std::unique_ptr<TimerService>> Open(const TimerServiceOptions& options);
  ~TimerService() override;  // persists the applied offset
  TimerService(const TimerService&) = delete;
  TimerService& operator=(const TimerService&) = delete;

  // store::Observer. Checkpoint is where the store's replay starts: just past the last record
  // the index has applied, or the log's start when the index is new (a full rebuild).
  LogOffset Checkpoint() const override;
  // OnRecord stages the record's effect; OnBatchEnd applies the batch's effects in one index
  // write and then updates the wheel.
  void OnRecord(const store::Record& record, LogOffset offset, bool replay) override;
  void OnBatchEnd(bool replay) override;
  // After an index failure for want of space or descriptors (a full disk), the service stops
  // applying records; the store then calls Resume — the index is reopened and the service
  // picks up again — and replays the log to it from Checkpoint(). Other failures stay.
  bool NeedsReplay() const override;
  Status Resume() override;
  // Fault-injection probe for tests: the service behaves as after an index failure `st`.
  void FailForTesting(Status st);

  // Everything due at now_ms (see the clock rules above), in (due, id) order; scheduled
  // messages come first among equal due times. Fails after an index error (sticky).
  Result<std::vector<DueTimer>> Advance(int64_t now_ms);
  // A lower bound for when Advance next has work: min(next wheel slot, next refill).
  int64_t NextWakeMs() const;

  // Volatile timers: returns an id for CancelVolatile. Fires at the first Advance at or
  // after due_ms.
  uint64_t ScheduleVolatile(int64_t due_ms, uint32_t tag, uint64_t cookie);
  bool CancelVolatile(uint64_t id);

  // Cancel protocol for scheduled messages, race-free against firing: BeginCancel holds a
  // pending entry back; the broker appends the kTimerCancel record and calls EndCancel with
  // the outcome (on failure the entry is scheduled again).
  Result<CancelState> BeginCancel(LogOffset scheduled);
  void EndCancel(LogOffset scheduled, bool appended);
  // If a handed-out entry could not be re-put (append failed), fire it again at retry_at_ms.
  void RetryFire(LogOffset scheduled, int64_t retry_at_ms);

  // True while the entry is handed out (its re-put not yet seen): too late to cancel.
  bool IsFiring(LogOffset scheduled) const;
  Result<std::optional<IndexEntry>> Find(LogOffset scheduled) const;
  Result<std::optional<IndexEntry>> FindByMessageId(const std::string& message_id) const;
  // Pending scheduled messages due at or after `from` (by due time, then log offset), at
  // most `limit`: for listing (paging: the next call starts after the last key seen).
  Result<std::vector<IndexEntry>> ListPending(DueKey from, size_t limit) const;
  // For a store retention guard: the oldest kScheduled record still needed, or kNoLogOffset.
  LogOffset OldestPendingOffset() const;
  TimerStats Stats() const;
  Status status() const;

 private:
  struct Volatile {
    int64_t due_ms;
    uint32_t tag;
    uint64_t cookie;
  };
  // Volatile ids have the top bit set; scheduled ones are log offsets (top bit clear).
  static constexpr uint64_t kVolatileBit = uint64_t{1} << 63;

  TimerService(const TimerServiceOptions& options, std::unique_ptr<TimerIndex> index);
  // Loads the next chunk of index entries below now + window into the wheel and moves
  // volatile entries the window reached out of the overflow. True when more remain.
  Result<bool> RefillChunkLocked() REQUIRES(mu_);
  bool NeedsRefillLocked() const REQUIRES(mu_);
  // Fires the wheel up to now_ms into *out.
  void FireLocked(int64_t now_ms, std::vector<DueTimer>* out) REQUIRES(mu_);
  void ResetWheelLocked(int64_t now_ms) REQUIRES(mu_);
  // Adds a scheduled entry to the wheel when it is below the loaded horizon.
  void MaybeLoadLocked(int64_t due_ms, LogOffset offset) REQUIRES(mu_);
  void AddVolatileLocked(uint64_t id, int64_t due_ms) REQUIRES(mu_);

  const TimerServiceOptions options_;
  const std::unique_ptr<TimerIndex> index_;

  mutable Mutex mu_;
  void SetStatusLocked(Status st) REQUIRES(mu_);
  Status status_ GUARDED_BY(mu_);  // set through SetStatusLocked
  std::atomic<bool> needs_replay_{false};  // status_ is a failure Resume can clear
  std::unique_ptr<TimingWheel> wheel_ GUARDED_BY(mu_);  // replaced on a reset
  // Every index entry with key < loaded_to_ is in the wheel, firing, or being cancelled.
  DueKey loaded_to_ GUARDED_BY(mu_);
  size_t loaded_ GUARDED_BY(mu_) = 0;  // scheduled entries in the wheel
  // Handed out, re-put not yet seen: offset -> its index due time (the key; a retry fires the
  // wheel entry at another time).
  std::unordered_map<int64_t, int64_t> firing_ GUARDED_BY(mu_);
  std::unordered_map<int64_t, int64_t> retrying_ GUARDED_BY(mu_);  // RetryFire'd: offset -> key due
  std::unordered_set<int64_t> cancelling_ GUARDED_BY(mu_);
  std::unordered_map<uint64_t, Volatile> volatile_ GUARDED_BY(mu_);
  std::set<WheelEntry> volatile_overflow_ GUARDED_BY(mu_);  // volatile timers past the window
  uint64_t next_volatile_ GUARDED_BY(mu_) = 0;
  LogOffset applied_ GUARDED_BY(mu_);
  store::StagedBatch<TimerOp> staged_ GUARDED_BY(mu_);  // this batch's ops, applied at its end
};

}  // namespace tidemq::timer
