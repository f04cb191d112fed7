#include "timer/timer_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <climits>
#include <utility>

#include "common/assert.h"

namespace tidemq::timer {

Result<std::unique_ptr<TimerService>> TimerService::Open(const TimerServiceOptions& options) {
  if (options.index_path.empty()) return InvalidArgument("timer: index_path is required");
  if (options.window_ms < 1 || options.window_ms > TimingWheel::kMaxWindowMs) {
    return InvalidArgument("timer: window_ms must be in [1, " +
                           std::to_string(TimingWheel::kMaxWindowMs) + "]");
  }
  if (options.start_ms < 0 || options.max_loaded == 0 || options.refill_chunk == 0) {
    return InvalidArgument("timer: start_ms, max_loaded and refill_chunk must be positive");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<TimerIndex> index, TimerIndex::Open(options.index_path));
  return std::unique_ptr<TimerService>(new TimerService(options, std::move(index)));
}

TimerService::TimerService(const TimerServiceOptions& options, std::unique_ptr<TimerIndex> index)
    : options_(options),
      index_(std::move(index)),
      wheel_(std::make_unique<TimingWheel>(options.start_ms, options.window_ms)),
      applied_(index_->applied()) {}

TimerService::~TimerService() {
  MutexLock lock(mu_);
  if (status_.ok() && applied_ != index_->applied()) {
    Status st = index_->SetApplied(applied_, /*sync=*/true);
    if (!st.ok()) spdlog::warn("timer: persisting the applied offset: {}", st.ToString());
  }
}

LogOffset TimerService::Checkpoint() const {
  // A new index has applied nothing: replay the whole log (the store clamps to its start).
  const LogOffset applied = index_->applied();
  return applied == kNoLogOffset ? LogOffset(0) : applied;
}

void TimerService::OnRecord(const store::Record& record, LogOffset offset, bool /*replay*/) {
  MutexLock lock(mu_);
  if (!status_.ok()) return;  // the index is behind; a restart replays from its checkpoint
  const LogOffset end = offset + static_cast<int64_t>(record.EncodedSize());
  TimerOp op;
  op.entry.offset = record.origin_offset;
  if (record.type == store::RecordType::kScheduled) {
    op.kind = TimerOp::Kind::kSchedule;
    op.entry.due_ms = std::max<int64_t>(0, record.deliver_at_ms);
    op.entry.offset = offset;
    op.entry.topic = record.topic;
    op.entry.queue_id = record.queue_id;
    op.entry.message_id = record.message_id;
  } else if (record.type == store::RecordType::kTimerCancel &&
             record.origin_offset != kNoLogOffset) {
    op.kind = TimerOp::Kind::kCancel;
  } else if (record.type == store::RecordType::kMessage && record.origin_offset != kNoLogOffset &&
             !(record.flags & store::kFlagTxnCommit)) {
    // A re-put: of a scheduled message (it fired) or of something else (a no-op here). It
    // carries its origin's message id; with the due time kept in firing_, OnBatchEnd can
    // delete the index keys unread.
    op.kind = TimerOp::Kind::kFired;
    op.entry.message_id = record.message_id;
  } else {
    staged_.Skip(end);
    return;
  }
  staged_.Add(end, std::move(op));
}

void TimerService::OnBatchEnd(bool replay) {
  MutexLock lock(mu_);
  if (!status_.ok()) return;  // the index is behind; a restart replays from its checkpoint
  std::optional<store::StagedBatch<TimerOp>::Batch> batch = staged_.Take(options_.checkpoint_every);
  if (!batch) return;
  const LogOffset end = batch->end;
  if (batch->ops.empty()) {
    applied_ = end;
    // Only bounds the replay after a restart; losing it is harmless.
    if (batch->persist_checkpoint) SetStatusLocked(index_->SetApplied(end, /*sync=*/false));
    return;
  }
  std::vector<TimerOp> ops = std::move(batch->ops);
  if (!replay) {
    // A live re-put of an entry this service handed out: that entry is pending (a cancel is
    // refused while firing), so its keys are known.
    for (TimerOp& op : ops) {
      if (op.kind != TimerOp::Kind::kFired) continue;
      auto it = firing_.find(op.entry.offset.value());
      if (it == firing_.end()) continue;
      op.entry.due_ms = it->second;
      op.known_pending = true;
    }
  }
  // Live kSchedule records are new by construction: no need to look them up.
  Status st = index_->Apply(ops, end, /*sync=*/false, /*schedules_are_new=*/!replay);
  if (!st.ok()) {
    spdlog::error(
        "timer: index write failed, timer stopped until the store catches it up (room on the "
        "disk again) or a restart: {}",
        st.ToString());
    SetStatusLocked(std::move(st));
    return;
  }
  applied_ = end;
  for (const TimerOp& op : ops) {
    const int64_t at = op.entry.offset.value();
    if (op.kind == TimerOp::Kind::kSchedule) {
      if (!firing_.count(at) && !cancelling_.count(at)) {
        MaybeLoadLocked(op.entry.due_ms, op.entry.offset);
      }
      continue;
    }
    if (wheel_->Cancel(static_cast<uint64_t>(at))) --loaded_;
    firing_.erase(at);
    retrying_.erase(at);
    cancelling_.erase(at);
  }
}

void TimerService::MaybeLoadLocked(int64_t due_ms, LogOffset offset) {
  // Beyond loaded_to_ a refill picks it up, in order, before it is due.
  if (!(DueKey{due_ms, offset.value()} < loaded_to_)) return;
  const auto id = static_cast<uint64_t>(offset.value());
  if (wheel_->Contains(id)) return;
  TIDEMQ_CHECK(wheel_->Add(due_ms, id));  // loaded_to_ never passes the wheel's horizon
  ++loaded_;
}

bool TimerService::NeedsRefillLocked() const {
  const int64_t horizon = wheel_->horizon_ms();
  if (!volatile_overflow_.empty() && volatile_overflow_.begin()->due_ms < horizon) return true;
  // Refill once half the window is used up, so the index is read in chunks, not every tick.
  return loaded_ < options_.max_loaded && loaded_to_ < DueKey{horizon, 0} &&
         loaded_to_.due_ms <= wheel_->now_ms() + options_.window_ms / 2;
}

Result<bool> TimerService::RefillChunkLocked() {
  const int64_t horizon = wheel_->horizon_ms();
  while (!volatile_overflow_.empty() && volatile_overflow_.begin()->due_ms < horizon) {
    const WheelEntry e = *volatile_overflow_.begin();
    volatile_overflow_.erase(volatile_overflow_.begin());
    TIDEMQ_CHECK(wheel_->Add(e.due_ms, e.id));
  }
  if (loaded_ >= options_.max_loaded || !(loaded_to_ < DueKey{horizon, 0})) return false;
  const size_t limit = std::min(options_.refill_chunk, options_.max_loaded - loaded_);
  ASSIGN_OR_RETURN(std::vector<IndexEntry> entries, index_->ScanDue(loaded_to_, horizon, limit));
  for (const IndexEntry& e : entries) {
    const int64_t at = e.offset.value();
    const auto id = static_cast<uint64_t>(at);
    // Already handed out, held by a cancel, or loaded by OnRecord: not again.
    if (firing_.count(at) || cancelling_.count(at) || wheel_->Contains(id)) continue;
    TIDEMQ_CHECK(wheel_->Add(e.due_ms, id));
    ++loaded_;
  }
  if (entries.size() < limit) {
    loaded_to_ = DueKey{horizon, 0};
    return false;
  }
  loaded_to_ = DueKey{entries.back().due_ms, entries.back().offset.value() + 1};
  return true;
}

void TimerService::FireLocked(int64_t now_ms, std::vector<DueTimer>* out) {
  std::vector<WheelEntry> fired;
  wheel_->Advance(now_ms, &fired);
  for (const WheelEntry& e : fired) {
    DueTimer t;
    t.due_ms = e.due_ms;
    if (e.id & kVolatileBit) {
      auto it = volatile_.find(e.id);
      TIDEMQ_CHECK(it != volatile_.end());
      t.kind = TimerKind::kVolatile;
      t.id = e.id;
      t.tag = it->second.tag;
      t.cookie = it->second.cookie;
      volatile_.erase(it);
    } else {
      t.kind = TimerKind::kScheduledMessage;
      t.log_offset = LogOffset(static_cast<int64_t>(e.id));
      --loaded_;
      int64_t key_due = e.due_ms;
      if (auto r = retrying_.find(t.log_offset.value()); r != retrying_.end()) {
        key_due = r->second;
        retrying_.erase(r);
      }
      firing_[t.log_offset.value()] = key_due;
    }
    out->push_back(t);
  }
}

void TimerService::ResetWheelLocked(int64_t now_ms) {
  std::vector<WheelEntry> all = wheel_->TakeAll();
  wheel_ = std::make_unique<TimingWheel>(now_ms, options_.window_ms);
  // Scheduled entries come back from the index by the next refill; volatile ones from here.
  loaded_ = 0;
  loaded_to_ = DueKey{0, 0};
  for (const WheelEntry& e : all) {
    if (e.id & kVolatileBit) AddVolatileLocked(e.id, e.due_ms);
  }
  std::set<WheelEntry> overflow = std::move(volatile_overflow_);
  volatile_overflow_.clear();
  for (const WheelEntry& e : overflow) AddVolatileLocked(e.id, e.due_ms);
}

Result<std::vector<DueTimer>> TimerService::Advance(int64_t now_ms) {
  std::vector<DueTimer> out;
  MutexLock lock(mu_);
  if (!status_.ok()) return status_;
  if (now_ms < wheel_->now_ms() - options_.backward_reset_ms) {
    spdlog::warn("timer: wall clock stepped back {} ms; reloading the wheel",
                 wheel_->now_ms() - now_ms);
    ResetWheelLocked(std::max<int64_t>(0, now_ms));
  }
  while (true) {
    FireLocked(now_ms, &out);
    if (!NeedsRefillLocked()) break;
    const DueKey before = loaded_to_;
    Result<bool> more = RefillChunkLocked();
    if (!more.ok()) {
      SetStatusLocked(more.status());
      spdlog::error("timer: index read failed, timer stopped: {}", status_.ToString());
      return status_;
    }
    FireLocked(now_ms, &out);  // loaded entries already due
    if (!*more || loaded_to_ == before) break;
    // Let the writer thread in between chunks.
    lock.unlock();
    lock.lock();
  }
  // Each wheel pass is ordered; passes over later-loaded entries interleave with earlier ones.
  auto order = [](const DueTimer& t) {
    return std::make_pair(t.due_ms, t.kind == TimerKind::kVolatile
                                        ? t.id
                                        : static_cast<uint64_t>(t.log_offset.value()));
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const DueTimer& a, const DueTimer& b) { return order(a) < order(b); });
  return out;
}

int64_t TimerService::NextWakeMs() const {
  MutexLock lock(mu_);
  int64_t wake = wheel_->NextWakeMs().value_or(INT64_MAX);
  if (loaded_to_ < DueKey{wheel_->horizon_ms(), 0}) {
    wake = std::min(wake, loaded_to_.due_ms - options_.window_ms / 2);
  }
  if (!volatile_overflow_.empty()) {
    wake = std::min(wake, volatile_overflow_.begin()->due_ms - options_.window_ms + 1);
  }
  return wake;
}

void TimerService::AddVolatileLocked(uint64_t id, int64_t due_ms) {
  if (!wheel_->Add(due_ms, id)) volatile_overflow_.insert(WheelEntry{due_ms, id});
}

uint64_t TimerService::ScheduleVolatile(int64_t due_ms, uint32_t tag, uint64_t cookie) {
  MutexLock lock(mu_);
  const uint64_t id = kVolatileBit | next_volatile_++;
  volatile_[id] = Volatile{due_ms, tag, cookie};
  AddVolatileLocked(id, due_ms);
  return id;
}

bool TimerService::CancelVolatile(uint64_t id) {
  MutexLock lock(mu_);
  auto it = volatile_.find(id);
  if (it == volatile_.end()) return false;
  if (!wheel_->Cancel(id)) volatile_overflow_.erase(WheelEntry{it->second.due_ms, id});
  volatile_.erase(it);
  return true;
}

Result<CancelState> TimerService::BeginCancel(LogOffset scheduled) {
  MutexLock lock(mu_);
  if (!status_.ok()) return status_;
  if (firing_.count(scheduled.value())) return CancelState::kFiring;
  if (cancelling_.count(scheduled.value())) return CancelState::kNotFound;  // being cancelled
  ASSIGN_OR_RETURN(std::optional<IndexEntry> entry, index_->Get(scheduled));
  if (!entry.has_value()) return CancelState::kNotFound;
  if (wheel_->Cancel(static_cast<uint64_t>(scheduled.value()))) --loaded_;
  cancelling_.insert(scheduled.value());
  return CancelState::kPending;
}

void TimerService::EndCancel(LogOffset scheduled, bool appended) {
  MutexLock lock(mu_);
  // Appended: the kTimerCancel record clears the hold when OnRecord sees it (maybe already).
  if (appended || !cancelling_.erase(scheduled.value())) return;
  Result<std::optional<IndexEntry>> entry = index_->Get(scheduled);
  if (!entry.ok()) {
    SetStatusLocked(entry.status());
    return;
  }
  if (entry->has_value()) MaybeLoadLocked((*entry)->due_ms, scheduled);
}

void TimerService::RetryFire(LogOffset scheduled, int64_t retry_at_ms) {
  MutexLock lock(mu_);
  auto it = firing_.find(scheduled.value());
  if (it == firing_.end()) return;
  retrying_[scheduled.value()] = it->second;
  firing_.erase(it);
  // The index keeps its key; the wheel entry carries the retry time (within the window).
  const int64_t at = std::min(retry_at_ms, wheel_->horizon_ms() - 1);
  TIDEMQ_CHECK(wheel_->Add(at, static_cast<uint64_t>(scheduled.value())));
  ++loaded_;
}

bool TimerService::IsFiring(LogOffset scheduled) const {
  MutexLock lock(mu_);
  return firing_.count(scheduled.value()) > 0;
}

Result<std::optional<IndexEntry>> TimerService::Find(LogOffset scheduled) const {
  return index_->Get(scheduled);
}

Result<std::optional<IndexEntry>> TimerService::FindByMessageId(
    const std::string& message_id) const {
  ASSIGN_OR_RETURN(std::optional<LogOffset> offset, index_->FindByMessageId(message_id));
  if (!offset.has_value()) return std::optional<IndexEntry>();
  return index_->Get(*offset);
}

Result<std::vector<IndexEntry>> TimerService::ListPending(DueKey from, size_t limit) const {
  return index_->ScanDue(from, INT64_MAX, limit);
}

LogOffset TimerService::OldestPendingOffset() const {
  Result<std::optional<LogOffset>> oldest = index_->OldestPendingOffset();
  // On a read error keep everything: retention must never guess.
  if (!oldest.ok()) return LogOffset(0);
  return oldest->value_or(kNoLogOffset);
}

TimerStats TimerService::Stats() const {
  TimerStats s;
  s.pending = index_->PendingCount();
  s.fired = index_->FiredCount();
  s.cancelled = index_->CancelledCount();
  Result<std::optional<int64_t>> next = index_->NextDue();
  if (next.ok()) s.next_due_ms = *next;
  MutexLock lock(mu_);
  s.loaded = loaded_;
  s.volatile_timers = volatile_.size();
  s.firing = firing_.size();
  s.wheel_now_ms = wheel_->now_ms();
  return s;
}

Status TimerService::status() const {
  MutexLock lock(mu_);
  return status_;
}

bool TimerService::NeedsReplay() const {
  // Lock-free: the store asks before every group commit.
  return needs_replay_.load(std::memory_order_acquire);
}

void TimerService::SetStatusLocked(Status st) {
  status_ = std::move(st);
  needs_replay_.store(status_.code() == Code::kResourceExhausted, std::memory_order_release);
}

Status TimerService::Resume() {
  MutexLock lock(mu_);
  if (status_.ok()) return Status::Ok();
  RETURN_IF_ERROR(index_->Reopen());
  spdlog::info("timer: index reopened after \"{}\"; catching up from log offset {}",
               status_.ToString(), index_->applied().value());
  SetStatusLocked(Status::Ok());
  // Records after the index's applied offset are replayed: forget what was staged of them.
  staged_ = decltype(staged_)();
  applied_ = index_->applied();
  ResetWheelLocked(wheel_->now_ms());  // scheduled entries come back from the index
  return Status::Ok();
}

void TimerService::FailForTesting(Status st) {
  MutexLock lock(mu_);
  SetStatusLocked(std::move(st));
}

}  // namespace tidemq::timer
