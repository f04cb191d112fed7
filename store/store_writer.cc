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

// How often the dispatch checkpoint is persisted. Background housekeeping periods use the
// steady clock: they bound replay work after a crash and carry no meaning a test observes.
constexpr std::chrono::milliseconds kCheckpointInterval(1000);

}  // namespace

void StoreImpl::WriterLoop() {
  SetThreadName("tidemq-writer");
  while (true) {
    std::vector<Request> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return !pending_.empty() || stopping_; });
      if (pending_.empty() && stopping_) break;
      size_t bytes = 0;
      while (!pending_.empty()) {
        Request& front = pending_.front();
        const bool is_task = static_cast<bool>(front.task);
        if (!batch.empty() && (is_task || bytes + front.bytes > options_.max_batch_bytes)) break;
        bytes += front.bytes;
        batch.push_back(std::move(front));
        pending_.pop_front();
        if (is_task) break;  // a task runs alone, between groups
      }
    }
    if (batch.front().task) {
      batch.front().task();
    } else {
      ProcessBatch(&batch);
    }
  }
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
      std::unique_lock lock(mu_);
      auto deadline = async ? std::min(next_flush, next_checkpoint) : next_checkpoint;
      if (flusher_cv_.wait_until(lock, deadline, [this] { return stopping_; })) break;
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
  auto key = std::make_pair(topic, queue_id);
  auto it = next_queue_offset_.find(key);
  if (it == next_queue_offset_.end()) {
    auto cq = queues_->Find(topic, queue_id);
    it = next_queue_offset_.emplace(key, cq == nullptr ? 0 : cq->next_offset()).first;
  }
  return it->second;
}

int64_t StoreImpl::TakeQueueOffset(const std::string& topic, uint32_t queue_id) {
  return NextQueueOffset(topic, queue_id)++;
}

void StoreImpl::ProcessBatch(std::vector<Request>* batch) {
  auto fail_all = [batch](const Status& st) {
    for (Request& r : *batch) r.callback(st, {});
  };
  if (read_only()) {
    fail_all(ReadOnlyStatus());
    return;
  }
  // store_ms never decreases along the log, even when the wall clock steps back: retention
  // relies on it to date a whole segment by the first record of the next one.
  const int64_t now = std::max(clock_->NowMs(), last_store_ms_);
  last_store_ms_ = now;

  std::vector<std::vector<AppendResult>> results(batch->size());
  std::string buf;
  uint64_t room = log_->RoomInActiveSegment();
  Status st;
  for (size_t i = 0; i < batch->size() && st.ok(); ++i) {
    for (Record& r : (*batch)[i].records) {
      r.store_ms = now;
      const bool queued = IsDispatchedToQueue(r.type);
      if (queued) r.queue_offset = TakeQueueOffset(r.topic, r.queue_id);
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
        room = log_->RoomInActiveSegment();
      }
      LogOffset offset = log_->end_offset() + static_cast<int64_t>(buf.size());
      EncodeRecord(r, &buf);
      results[i].push_back(
          AppendResult{offset, queued ? r.queue_offset : -1, now, static_cast<uint32_t>(size)});
    }
  }
  if (st.ok() && !buf.empty()) st = log_->Write(buf);
  if (st.ok()) {
    log_->NoteStoreMs(now);
    const LogOffset written = log_->end_offset();
    written_end_.store(written.value(), std::memory_order_release);
    if (options_.flush_policy == FlushPolicy::kSync) {
      st = log_->Sync();
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

  IndexBatch index_batch;
  for (size_t i = 0; i < batch->size() && st.ok(); ++i) {
    const auto& records = (*batch)[i].records;
    for (size_t j = 0; j < records.size() && st.ok(); ++j) {
      st = Dispatch(records[j], results[i][j].log_offset, results[i][j].size, &index_batch);
    }
  }
  if (st.ok()) st = FlushStagedQueues();
  if (st.ok()) {
    index_batch.SetCheckpoint(kIndexEndCheckpoint, end);
    st = index_->Write(&index_batch, /*sync=*/false);
  }
  if (!st.ok()) {
    // The records are in the log but not visible in their queues: the producer must retry.
    EnterReadOnly(st);
    fail_all(ReadOnlyStatus());
    return;
  }
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

Status StoreImpl::Dispatch(const Record& record, LogOffset offset, uint32_t size,
                           IndexBatch* batch) {
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
  for (const auto& key : record.keys) batch->AddKey(record.topic, key, offset);
  if (!record.message_id.empty()) batch->AddMessageId(record.message_id, offset);
  return Status::Ok();
}

Status StoreImpl::FlushStagedQueues() {
  Status st;
  for (const auto& cq : staged_queues_) {
    if (st.ok()) st = cq->Flush();
  }
  staged_queues_.clear();
  return st;
}

void StoreImpl::FlushLog() {
  // The target is read before the sync: everything written up to it is covered, either by
  // this fdatasync or by the writer's sync of a segment it rolled away from.
  const int64_t target = written_end_.load(std::memory_order_acquire);
  if (target <= synced_end_.load(std::memory_order_acquire) || read_only()) return;
  Status st = log_->Sync();
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
  std::lock_guard lock(checkpoint_mu_);
  // Read before syncing the queues: their entries up to here were written before it was set.
  const int64_t dispatched = dispatched_.load(std::memory_order_acquire);
  if (dispatched == checkpointed_ && !sync) return;
  // Queue entries must be durable before a checkpoint says they need no replay. (The log
  // itself need not be: recovery clamps the checkpoint to the recovered log end.)
  for (const auto& cq : queues_->All()) {
    Status st = cq->Sync();
    if (!st.ok()) {
      EnterReadOnly(st);
      return;
    }
  }
  Status st = index_->PutCheckpoint(kDispatchCheckpoint, LogOffset(dispatched), sync);
  if (!st.ok()) {
    EnterReadOnly(st);
    return;
  }
  checkpointed_ = dispatched;
  persisted_dispatch_.store(dispatched, std::memory_order_release);
}

}  // namespace tidemq::store
