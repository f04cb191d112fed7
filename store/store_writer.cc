// The writer thread: LevelDB-style group commit. Appenders only enqueue; the writer takes
// everything pending (up to max_batch_bytes), writes it with one pwrite, syncs once for the
// whole group under kSync, dispatches in log order, then runs the callbacks.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "common/logging.h"
#include "store/store_impl.h"

namespace tidemq::store {
namespace {

int64_t MicrosSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() -
                                                               start)
      .count();
}

// How often the dispatch checkpoint is persisted. Background housekeeping periods use the
// steady clock: they bound replay work after a crash and carry no meaning a test observes.
constexpr std::chrono::milliseconds kCheckpointInterval(1000);
// How often the writer tries again to write derived state that a transient error held back,
// and measures the free disk space (also after every disk_reserve/4 bytes written).
constexpr std::chrono::milliseconds kRetryInterval(100);
constexpr int64_t kSpaceCheckIntervalMs = 100;
// Least time between two attempts to reopen the index or catch up an observer after their
// writes failed for want of space.
constexpr int64_t kRecoveryIntervalMs = 1000;
// How often a lasting failure to write derived state is logged again.
constexpr std::chrono::seconds kLaggingLogInterval(10);
// Most bytes of derived state (staged consume-queue entries, index entries) allowed to wait
// for a retry; past it appends are refused until the writes succeed.
constexpr size_t kMaxLaggingBytes = 64u << 20;

bool Transient(const Status& st) { return st.code() == Code::kResourceExhausted; }

std::string Mib(int64_t bytes) { return std::to_string(bytes >> 20) + " MiB"; }

}  // namespace

void StoreImpl::WriterLoop() {
  SetThreadName("tidemq-writer");
  while (true) {
    MaybeWriteSnapshot();
    std::vector<Request> batch;
    const bool lagging = Lagging();  // before the lock: appenders wait for mu_
    {
      MutexLock lock(mu_);
      auto ready = [this]() REQUIRES(mu_) { return !pending_.empty() || stopping_; };
      if (lagging) {
        // Something waits for a retry: wake up for it even when no append comes.
        if (!cv_.wait_for(lock, kRetryInterval, ready)) {
          lock.unlock();
          RetryLagging();
          continue;
        }
      } else {
        cv_.wait(lock, ready);
      }
      if (pending_.empty() && stopping_) break;
      size_t bytes = 0;
      while (!pending_.empty()) {
        Request& front = pending_.front();
        const bool alone = front.task || front.alone;
        if (!batch.empty() && (alone || bytes + front.bytes > options_.max_batch_bytes)) break;
        bytes += front.bytes;
        batch.push_back(std::move(front));
        pending_.pop_front();
        if (alone) break;  // a task or a queue drop runs alone, between groups
      }
    }
    if (batch.front().task) {
      batch.front().task();
    } else {
      ProcessBatch(&batch);
    }
  }
  RetryLagging();  // a last try; what is still behind is replayed at the next start
}

void StoreImpl::FlusherLoop() {
  SetThreadName("tidemq-flush");
  using SteadyClock = std::chrono::steady_clock;
  const bool async = options_.flush_policy == FlushPolicy::kAsync;
  const auto flush_interval =
      std::chrono::milliseconds(std::max<int64_t>(1, options_.flush_interval_ms));
  auto next_flush = SteadyClock::now() + flush_interval;
  auto next_checkpoint = SteadyClock::now() + kCheckpointInterval;
  while (true) {
    {
      MutexLock lock(mu_);
      auto deadline = async ? std::min(next_flush, next_checkpoint) : next_checkpoint;
      if (flusher_cv_.wait_until(lock, deadline, [this]() REQUIRES(mu_) { return stopping_; })) break;
    }
    auto now = SteadyClock::now();
    if (async && now >= next_flush) {
      FlushLog();
      next_flush = now + flush_interval;
    }
    if (now >= next_checkpoint) {
      WriteCheckpoint(/*sync=*/false);
      next_checkpoint = now + kCheckpointInterval;
    }
  }
}

int64_t& StoreImpl::NextQueueOffset(const std::string& topic, uint32_t queue_id) {
  // Looked up without copying the topic: this runs for every message.
  auto it = next_queue_offset_.find(std::pair<std::string_view, uint32_t>(topic, queue_id));
  if (it == next_queue_offset_.end()) {
    auto cq = queues_->Find(topic, queue_id);
    it = next_queue_offset_.emplace(std::make_pair(topic, queue_id),
                                    cq == nullptr ? 0 : cq->next_offset())
             .first;
  }
  return it->second;
}

void StoreImpl::ProcessBatch(std::vector<Request>* batch) {
  auto fail_all = [batch](const Status& st) {
    for (Request& r : *batch) r.callback(st, {});
  };
  if (read_only()) {
    fail_all(ReadOnlyStatus());
    return;
  }
  if (replica()) {  // Enqueue refuses these already; the writer holds the line too
    fail_all(NotWritableOnReplica());
    return;
  }
  if (options_.write_gate) {
    if (Status gate = options_.write_gate(); !gate.ok()) {
      fail_all(gate);
      return;
    }
  }
  size_t batch_bytes = 0;
  for (const Request& r : *batch) batch_bytes += r.bytes;
  if (Status room = CheckRoom(batch_bytes); !room.ok()) {
    fail_all(room);
    return;
  }
  // store_ms never decreases along the log, even when the wall clock steps back: retention
  // relies on it to date a whole segment by the first record of the next one.
  const int64_t now = std::max(clock_->NowMs(), last_store_ms_);
  last_store_ms_ = now;

  const LogOffset batch_start = log_->end_offset();
  // Queue offsets taken (the counter and its value before), to give back if the batch is
  // refused. The counters are map entries: their addresses stay put.
  std::vector<std::pair<int64_t*, int64_t>> taken;
  std::vector<std::vector<AppendResult>> results(batch->size());
  // Where each segment of this batch starts (a batch may roll): the index bucket of a record.
  std::vector<LogOffset> segment_starts{log_->active_base()};
  const bool is_snapshot = batch->size() == 1 && (*batch)[0].snapshot;
  std::string buf;
  uint64_t room = log_->RoomInActiveSegment();
  Status st;
  const auto append_start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < batch->size() && st.ok(); ++i) {
    for (Record& r : (*batch)[i].records) {
      r.store_ms = now;
      const bool queued = IsDispatchedToQueue(r.type);
      if (queued) {
        int64_t& next = NextQueueOffset(r.topic, r.queue_id);
        taken.emplace_back(&next, next);
        r.queue_offset = next++;
      }
      const size_t size = r.EncodedSize();
      if (buf.size() + size > room) {  // a record never spans segments
        if (!buf.empty()) st = log_->Write(buf);
        buf.clear();
        if (st.ok()) {
          log_->NoteStoreMs(now);
          st = log_->Roll();
          syncs_.fetch_add(1);
        }
        if (!st.ok()) break;
        segment_starts.push_back(log_->active_base());
        // The new segment gets a metadata snapshot near its start, so that retention can
        // delete the older ones without losing a fact (a snapshot that rolls asks no other).
        if (!is_snapshot) snapshot_due_ = true;
        room = log_->RoomInActiveSegment();
      }
      LogOffset offset = log_->end_offset() + static_cast<int64_t>(buf.size());
      EncodeRecord(r, &buf);
      results[i].push_back(
          AppendResult{offset, queued ? r.queue_offset : -1, now, static_cast<uint32_t>(size)});
    }
  }
  if (st.ok() && !buf.empty()) st = log_->Write(buf);
  append_latency_us_.Observe(MicrosSince(append_start));
  if (!st.ok() && Transient(st) && log_->end_offset() == batch_start) {
    // Out of space or descriptors, and nothing of this batch is in the log: refuse it and go
    // on; the next batch measures the free space again.
    Status discarded = log_->DiscardUnwritten();
    if (discarded.ok()) {
      for (auto it = taken.rbegin(); it != taken.rend(); ++it) *it->first = it->second;
      next_space_check_ms_ = 0;
      const Status refused(Code::kResourceExhausted,
                           "the append was not stored: " + st.message() +
                               " (appends are accepted again by themselves once there is room)");
      SetRefusing(refused.message());
      fail_all(refused);
      return;
    }
    st = discarded;
  }
  if (st.ok()) {
    log_->NoteStoreMs(now);
    const LogOffset written = log_->end_offset();
    written_end_.store(written.value(), std::memory_order_release);
    bool sync = options_.flush_policy == FlushPolicy::kSync;
    for (const Request& r : *batch) sync = sync || r.sync;
    if (sync) {
      const auto sync_start = std::chrono::steady_clock::now();
      st = log_->Sync();
      sync_latency_us_.Observe(MicrosSince(sync_start));
      syncs_.fetch_add(1);
      if (st.ok()) synced_end_.store(written.value(), std::memory_order_release);
    }
  }
  if (!st.ok()) {
    EnterReadOnly(st);
    fail_all(ReadOnlyStatus());
    return;
  }
  const LogOffset end = log_->end_offset();
  confirmed_.store(end.value(), std::memory_order_release);
  batches_.fetch_add(1);
  written_since_space_check_ += static_cast<uint64_t>(end.value() - batch_start.value());
  if (disk_free_ >= 0) disk_free_ -= end.value() - batch_start.value();

  IndexBatch index_batch;
  size_t segment = 0;
  for (size_t i = 0; i < batch->size() && st.ok(); ++i) {
    const auto& records = (*batch)[i].records;
    for (size_t j = 0; j < records.size() && st.ok(); ++j) {
      const LogOffset at = results[i][j].log_offset;
      while (segment + 1 < segment_starts.size() && segment_starts[segment + 1] <= at) ++segment;
      st = Dispatch(records[j], segment_starts[segment], at, results[i][j].size, &index_batch);
    }
  }
  if (!st.ok()) {
    // The records are in the log but cannot be dispatched: the producer must retry.
    EnterReadOnly(st);
    fail_all(ReadOnlyStatus());
    return;
  }
  // The records are durable in the log: from here on they are acknowledged even when their
  // consume-queue or index entries must wait for a retry (they become visible then).
  const Status queues_st = FlushStagedQueues();
  index_batch.SetCheckpoint(kIndexEndCheckpoint, end);
  const Status index_st = WriteIndex(&index_batch);
  if (!index_st.ok() && !Transient(index_st)) {
    EnterReadOnly(index_st);
    fail_all(ReadOnlyStatus());
    return;
  }
  NoteLagging(queues_st.ok() ? index_st : queues_st);
  dispatched_.store(end.value(), std::memory_order_release);

  int64_t records = 0, bytes = 0;
  for (size_t i = 0; i < batch->size(); ++i) {
    const auto& reqs = (*batch)[i].records;
    for (size_t j = 0; j < reqs.size(); ++j) {
      for (Observer* o : observers_) o->OnRecord(reqs[j], results[i][j].log_offset, false);
      ++records;
      bytes += results[i][j].size;
    }
  }
  for (Observer* o : observers_) o->OnBatchEnd(false);
  appended_records_.fetch_add(records);
  appended_bytes_.fetch_add(bytes);
  for (size_t i = 0; i < batch->size(); ++i) {
    (*batch)[i].callback(Status::Ok(), std::move(results[i]));
  }
}

Status StoreImpl::CheckRoom(size_t batch_bytes) {
  size_t lagging_bytes = lagging_index_ ? lagging_index_->ApproximateBytes() : 0;
  for (const auto& cq : lagging_queues_) lagging_bytes += cq->staged_bytes();
  if (lagging_bytes > kMaxLaggingBytes) {
    Status refused(Code::kResourceExhausted,
                   "appends are refused: " + Mib(static_cast<int64_t>(lagging_bytes)) +
                       " of consume-queue and index entries wait to be written (" +
                       lagging_error_.ToString() + "); they are retried every " +
                       std::to_string(kRetryInterval.count()) + " ms");
    SetRefusing(refused.message());
    return refused;
  }
  // Measured every kSpaceCheckInterval and every disk_reserve/4 bytes written — and at every
  // batch while refusing, so that appends resume as soon as space is freed.
  const int64_t now = clock_->MonotonicMs();
  if (disk_free_ < 0 || refusing_for_space_ || now >= next_space_check_ms_ ||
      written_since_space_check_ >= disk_reserve_ / 4) {
    uint64_t free_bytes = 0, total = 0;
    if (fs_->DiskUsage(options_.data_dir, &free_bytes, &total).ok() && total > 0) {
      disk_free_ = static_cast<int64_t>(free_bytes);
      disk_used_ = static_cast<double>(total - free_bytes) / static_cast<double>(total);
      disk_free_seen_.store(disk_free_, std::memory_order_relaxed);
    }
    next_space_check_ms_ = now + kSpaceCheckIntervalMs;
    written_since_space_check_ = 0;
  }
  refusing_for_space_ = true;  // until the checks below pass
  if (disk_free_ >= 0 &&
      static_cast<uint64_t>(disk_free_) < disk_reserve_ + static_cast<uint64_t>(batch_bytes)) {
    Status refused(Code::kResourceExhausted,
                   "disk full: " + Mib(disk_free_) + " free in " + options_.data_dir +
                       ", below the reserve of " + Mib(static_cast<int64_t>(disk_reserve_)) +
                       "; appends are accepted again by themselves once space is freed");
    SetRefusing(refused.message());
    return refused;
  }
  if (options_.refuse_writes_above_watermark && disk_used_ > options_.disk_high_watermark) {
    Status refused(Code::kResourceExhausted,
                   "disk above the high watermark (" + std::to_string(int(disk_used_ * 100)) +
                       "% used of " + options_.data_dir + ", watermark " +
                       std::to_string(int(options_.disk_high_watermark * 100)) +
                       "%) and retention may not delete unconsumed messages; appends are "
                       "accepted again once retention or an operator frees space");
    SetRefusing(refused.message());
    return refused;
  }
  refusing_for_space_ = false;
  SetRefusing("");
  return Status::Ok();
}

void StoreImpl::SetRefusing(const std::string& reason) {
  MutexLock lock(refusing_mu_);
  if (reason == refusing_) return;
  if (reason.empty()) {
    spdlog::info("store {}: appends are accepted again", options_.data_dir);
  } else if (refusing_.empty()) {
    spdlog::warn("store {}: {}", options_.data_dir, reason);
  }
  refusing_ = reason;
}

Status StoreImpl::Dispatch(const Record& record, LogOffset segment, LogOffset offset, uint32_t size,
                           IndexBatch* batch) {
  if (record.type == RecordType::kControl) return DispatchControl(record, offset, batch);
  if (IsDispatchedToQueue(record.type)) {
    if (record.queue_offset < 0) {
      return Corruption("record at log offset " + std::to_string(offset.value()) +
                        " has no queue offset");
    }
    ASSIGN_OR_RETURN(auto cq, queues_->FindOrCreate(record.topic, record.queue_id));
    QueueEntry entry;
    entry.queue_offset = record.queue_offset;
    entry.log_offset = offset;
    entry.size = size;
    entry.tag_hash = TagHash(record.tag);
    entry.store_ms = record.store_ms;
    bool first_staged = false;
    RETURN_IF_ERROR(cq->Append(entry, &first_staged));
    if (first_staged) staged_queues_.push_back(std::move(cq));
  }
  for (const auto& key : record.keys) batch->AddKey(segment, record.topic, key, offset);
  if (!record.message_id.empty()) batch->AddMessageId(segment, record.message_id, offset);
  return Status::Ok();
}

Status StoreImpl::DispatchControl(const Record& record, LogOffset offset, IndexBatch* batch) {
  const bool snapshot = record.tag == kControlTagMetaSnapshot;
  ControlPayload payload;
  Status st = record.tag == kControlTagMeta || snapshot
                  ? DecodeControlPayload(record.body, &payload)
                  : Corruption("unknown control record kind '" + record.tag.substr(0, 64) + "'");
  if (!st.ok()) {
    // The record's CRC held, so this is a writer's bug or a newer format: skip it, say so.
    malformed_control_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("store {}: skipping the control record at log offset {}: {}", options_.data_dir,
                  offset.value(), st.message());
    if (snapshot) snapshot_next_part_ = 0;
    return Status::Ok();
  }
  for (const MetaOp& op : payload.ops) {
    switch (op.kind) {
      case MetaOpKind::kPut:
        batch->PutMeta(op.key, op.value, offset);
        break;
      case MetaOpKind::kDelete:
        if (snapshot) break;  // a snapshot only upserts
        batch->DeleteMeta(op.key, offset);
        break;
      case MetaOpKind::kDropTopicQueues:
        if (snapshot) break;
        if (!IsSafeTopicDirName(op.key)) {  // AppendMeta refuses these: never a real queue
          malformed_control_.fetch_add(1, std::memory_order_relaxed);
          spdlog::error(
              "store {}: control record at log offset {} drops the queues of a "
              "topic that cannot have any; ignored",
              options_.data_dir, offset.value());
          break;
        }
        RETURN_IF_ERROR(DropTopicQueues(op.key));
        break;
    }
  }
  if (snapshot) {
    // Complete once parts 0..parts-1 came in a row.
    if (payload.part == 0) {
      snapshot_first_ = offset;
      snapshot_next_part_ = 0;
    }
    if (payload.part != snapshot_next_part_ || snapshot_first_ == kNoLogOffset) {
      snapshot_next_part_ = 0;
      snapshot_first_ = kNoLogOffset;
      return Status::Ok();
    }
    if (++snapshot_next_part_ == payload.parts) {
      batch->SetCheckpoint(kMetaSnapshotCheckpoint, snapshot_first_);
      meta_snapshot_.store(snapshot_first_.value(), std::memory_order_release);
      snapshot_next_part_ = 0;
      snapshot_first_ = kNoLogOffset;
    }
  }
  return Status::Ok();
}

Status StoreImpl::DropTopicQueues(const std::string& topic) {
  // Entries of its queues still staged or waiting for a retry are not written anywhere now.
  for (const auto& cq : queues_->TopicQueues(topic)) {
    std::erase(lagging_queues_, cq);
    std::erase(staged_queues_, cq);
  }
  UpdateDerivedFloor();
  RETURN_IF_ERROR(queues_->DeleteTopic(topic));
  auto it = next_queue_offset_.lower_bound({topic, 0});
  while (it != next_queue_offset_.end() && it->first.first == topic) {
    it = next_queue_offset_.erase(it);
  }
  return Status::Ok();
}

void StoreImpl::MaybeWriteSnapshot() {
  // The metadata space must be up to date with the log end: nothing of it may wait for a
  // retry, or the snapshot would miss a change that sits before it in the log.
  // A replica writes none: the master's snapshots come with the log.
  if (!snapshot_due_ || read_only() || replica() || lagging_index_ != nullptr ||
      index_->write_failing()) {
    return;
  }
  snapshot_due_ = false;
  auto meta = index_->ScanMeta("");
  if (!meta.ok()) {
    spdlog::warn("store {}: cannot read the metadata for a snapshot ({}); trying again later",
                 options_.data_dir, meta.status().ToString());
    snapshot_due_ = true;
    return;
  }
  if (meta->empty()) {
    // Nothing to snapshot: replay from here on rebuilds the (empty) space exactly, so the log
    // before here may go. Marked without a record.
    const LogOffset end = log_->end_offset();
    Status st = index_->PutCheckpoint(kMetaSnapshotCheckpoint, end, /*sync=*/false);
    if (!st.ok()) {
      snapshot_due_ = true;
      return;
    }
    meta_snapshot_.store(end.value(), std::memory_order_release);
    return;
  }
  std::vector<MetaOp> ops;
  ops.reserve(meta->size());
  for (auto& [key, value] : *meta) {
    ops.push_back(MetaOp{MetaOpKind::kPut, std::move(key), std::move(value)});
  }
  auto records = EncodeControlRecords(ops, kControlTagMetaSnapshot, MaxControlPayload());
  if (!records.ok()) {
    spdlog::error("store {}: cannot encode a metadata snapshot: {}", options_.data_dir,
                  records.status().ToString());
    return;
  }
  std::vector<Request> batch(1);
  for (const Record& r : *records) batch[0].bytes += r.EncodedSize();
  batch[0].records = std::move(records).value();
  batch[0].snapshot = true;
  batch[0].callback = [this](const Status& st, std::vector<AppendResult>) {
    if (!st.ok()) snapshot_due_ = true;  // refused (disk full): after the next group
  };
  ProcessBatch(&batch);
}

Status StoreImpl::FlushStagedQueues() {
  Status first;
  std::vector<std::shared_ptr<ConsumeQueue>> queues;
  queues.swap(lagging_queues_);
  for (auto& cq : staged_queues_) {
    if (std::find(queues.begin(), queues.end(), cq) == queues.end()) queues.push_back(cq);
  }
  staged_queues_.clear();
  for (const auto& cq : queues) {
    Status st = cq->Flush();
    if (st.ok()) continue;
    // Its entries stay staged: it is written again with the next batch or retry.
    lagging_queues_.push_back(cq);
    if (first.ok()) first = Status(st.code(), "consume queue " + cq->dir() + ": " + st.message());
  }
  UpdateDerivedFloor();
  return first;
}

Status StoreImpl::WriteIndex(IndexBatch* batch) {
  IndexBatch* target = batch;
  if (lagging_index_) {
    lagging_index_->Append(*batch);
    target = lagging_index_.get();
  }
  Status st = index_->Write(target, /*sync=*/false);
  if (st.ok()) {
    lagging_index_.reset();
  } else if (!lagging_index_) {
    lagging_index_ = std::make_unique<IndexBatch>();
    lagging_index_->Append(*batch);
  }
  UpdateDerivedFloor();
  return st;
}

void StoreImpl::UpdateDerivedFloor() {
  int64_t floor = INT64_MAX;
  for (const auto& cq : lagging_queues_) {
    LogOffset first = cq->first_unflushed();
    if (first != kNoLogOffset) floor = std::min(floor, first.value());
  }
  if (lagging_index_ && lagging_index_->first_offset() != kNoLogOffset) {
    floor = std::min(floor, lagging_index_->first_offset().value());
  }
  derived_floor_.store(floor, std::memory_order_release);
}

void StoreImpl::NoteLagging(const Status& st) {
  const auto now = std::chrono::steady_clock::now();
  if (st.ok() && !Lagging()) {
    if (!lagging_error_.ok()) {
      spdlog::info("store {}: consume queues and index are written again (after: {})",
                   options_.data_dir, lagging_error_.ToString());
      lagging_error_ = Status::Ok();
    }
    return;
  }
  if (st.ok()) return;
  const bool first = lagging_error_.ok();
  lagging_error_ = st;
  if (first || now - lagging_logged_ >= kLaggingLogInterval) {
    lagging_logged_ = now;
    spdlog::error(
        "store {}: cannot write derived state ({}); the messages are durable in the log and "
        "become visible when the write succeeds (retried every {} ms)",
        options_.data_dir, st.ToString(), kRetryInterval.count());
  }
}

void StoreImpl::RecoverFromFullDisk() {
  const bool index_failing = index_->write_failing();
  if (!index_failing && !ObserverBehind()) return;
  const int64_t now = clock_->MonotonicMs();
  if (now < next_recovery_ms_) return;
  next_recovery_ms_ = now + kRecoveryIntervalMs;
  uint64_t free_bytes = 0, total = 0;
  if (!fs_->DiskUsage(options_.data_dir, &free_bytes, &total).ok() || free_bytes < disk_reserve_) {
    return;  // no room yet: a reopen would fail the same way
  }
  if (index_failing) {
    Status st = index_->Reopen();
    if (st.ok()) {
      spdlog::info("store {}: reopened the index after write failures", options_.data_dir);
    } else {
      spdlog::warn("store {}: reopening the index failed ({}); trying again in {} ms",
                   options_.data_dir, st.ToString(), kRecoveryIntervalMs);
    }
  }
  for (Observer* o : observers_) {
    if (!o->NeedsReplay()) continue;
    Status st = CatchUp(o);
    if (!st.ok()) {
      spdlog::warn("store {}: an observer could not catch up yet ({}); trying again in {} ms",
                   options_.data_dir, st.ToString(), kRecoveryIntervalMs);
    }
  }
}

void StoreImpl::RetryLagging() {
  if (!Lagging() || read_only()) return;
  RecoverFromFullDisk();
  const Status queues_st = FlushStagedQueues();
  Status index_st;
  if (lagging_index_) {
    IndexBatch nothing;
    index_st = WriteIndex(&nothing);
    if (!index_st.ok() && !Transient(index_st)) {
      EnterReadOnly(index_st);
      return;
    }
  }
  NoteLagging(queues_st.ok() ? index_st : queues_st);
}

void StoreImpl::FlushLog() {
  // The target is read before the sync: everything written up to it is covered, either by
  // this fdatasync or by the writer's sync of a segment it rolled away from.
  const int64_t target = written_end_.load(std::memory_order_acquire);
  if (target <= synced_end_.load(std::memory_order_acquire) || read_only()) return;
  const auto sync_start = std::chrono::steady_clock::now();
  Status st = log_->Sync();
  sync_latency_us_.Observe(MicrosSince(sync_start));
  syncs_.fetch_add(1);
  if (!st.ok()) {
    EnterReadOnly(st);
    return;
  }
  int64_t seen = synced_end_.load();
  while (seen < target && !synced_end_.compare_exchange_weak(seen, target)) {
  }
}

void StoreImpl::WriteCheckpoint(bool sync) {
  MutexLock lock(checkpoint_mu_);
  // Read before syncing the queues: their entries up to here were written before it was set.
  // Never past derived state still waiting to be written (the writer lowers the floor before
  // it moves dispatched_, so read in this order): replay must redo it.
  const int64_t dispatched_end = dispatched_.load(std::memory_order_acquire);
  const int64_t dispatched =
      std::min(dispatched_end, derived_floor_.load(std::memory_order_acquire));
  if (dispatched == checkpointed_ && !sync) return;
  // Queue entries must be durable before a checkpoint says they need no replay. (The log
  // itself need not be: recovery clamps the checkpoint to the recovered log end.)
  for (const auto& cq : queues_->All()) {
    Status st = cq->Sync();
    if (!st.ok()) {
      // Out of space or descriptors: keep the older checkpoint and try again next time.
      if (!Transient(st)) EnterReadOnly(st);
      return;
    }
  }
  Status st = index_->PutCheckpoint(kDispatchCheckpoint, LogOffset(dispatched), sync);
  if (!st.ok()) {
    if (!Transient(st)) EnterReadOnly(st);
    return;
  }
  checkpointed_ = dispatched;
  persisted_dispatch_.store(dispatched, std::memory_order_release);
}

}  // namespace tidemq::store
