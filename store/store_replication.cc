// Replication's side of the store (docs/replication.md): the master reads its log as chunks of
// whole records; a replica writes them at the same offsets and derives everything from them
// as the master did; truncation cuts a diverged tail off a closed store.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/file_names.h"
#include "store/store_impl.h"

namespace tidemq::store {
namespace {

bool Transient(const Status& st) { return st.code() == Code::kResourceExhausted; }

}  // namespace

Result<LogChunk> StoreImpl::ReadLog(LogOffset from, size_t max_bytes) const {
  const LogOffset confirmed(confirmed_.load(std::memory_order_acquire));
  if (from > confirmed) {
    return Status(Code::kOutOfRange, "log offset " + std::to_string(from.value()) +
                                         " is past the log's end " +
                                         std::to_string(confirmed.value()));
  }
  if (from < log_->min_offset()) {
    return NotFound("log offset " + std::to_string(from.value()) +
                    " is below the log's start " + std::to_string(log_->min_offset().value()) +
                    " (deleted by retention)");
  }
  const std::vector<CommitLog::SegmentInfo> segments = log_->Segments();
  // The segment holding `from`; at the confirmed end, the last one.
  const CommitLog::SegmentInfo* seg = &segments.back();
  for (const auto& s : segments) {
    if (s.base <= from && from < s.end) {
      seg = &s;
      break;
    }
  }
  LogChunk chunk{from, seg->base, {}};
  const int64_t available = std::min(seg->end, confirmed).value() - from.value();
  if (available <= 0) return chunk;
  const uint64_t at = static_cast<uint64_t>(from.value() - seg->base.value());
  const size_t want = std::max<size_t>(std::min<size_t>(max_bytes, available), kRecordPrefixSize);
  RETURN_IF_ERROR(seg->file->Read(at, std::min<size_t>(want, available), &chunk.bytes));
  // Keep whole records only; a first record larger than max_bytes comes alone.
  size_t pos = 0;
  while (pos + kRecordPrefixSize <= chunk.bytes.size()) {
    uint32_t length = 0;
    Status st = PeekRecordLength(std::string_view(chunk.bytes).substr(pos), &length);
    if (!st.ok()) {
      if (pos > 0) break;  // damage further on: this chunk ends before it, the next one fails
      return Corruption("log offset " + std::to_string(from.value()) +
                        " is not the start of a record: " + st.message());
    }
    if (pos + length > chunk.bytes.size()) {
      if (pos > 0) break;
      if (length > static_cast<uint64_t>(available)) {
        return Corruption("the record at log offset " + std::to_string(from.value()) +
                          " claims " + std::to_string(length) + " bytes; the log has " +
                          std::to_string(available) + " after it");
      }
      RETURN_IF_ERROR(seg->file->Read(at, length, &chunk.bytes));
      pos = length;
      break;
    }
    pos += length;
  }
  chunk.bytes.resize(pos);
  return chunk;
}

void StoreImpl::AppendReplicated(LogChunk chunk, bool sync,
                                 std::function<void(const Status&, LogOffset)> callback) {
  if (!replica()) {
    return callback(Status(Code::kFailedPrecondition,
                           "the store is not a replica: it takes no records from elsewhere"),
                    kNoLogOffset);
  }
  // A task of its own between groups: its records carry their offsets, nothing to batch.
  auto shared = std::make_shared<LogChunk>(std::move(chunk));
  Request r;
  r.task = [this, shared, sync, callback] {
    Result<LogOffset> end = ProcessReplicated(shared.get(), sync);
    callback(end.status(), end.ok() ? *end : kNoLogOffset);
  };
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      pending_.push_back(std::move(r));
      cv_.notify_one();
      return;
    }
  }
  callback(Status(Code::kUnavailable, "the store is closing"), kNoLogOffset);
}

Result<LogOffset> StoreImpl::ProcessReplicated(LogChunk* chunk, bool sync) {
  if (!replica()) return Status(Code::kFailedPrecondition, "the store was promoted: not a replica");
  if (read_only()) return ReadOnlyStatus();
  if (chunk->bytes.empty()) return log_->end_offset();
  // Every record must be intact before a byte of the chunk is written.
  std::vector<Record> records;
  std::vector<uint32_t> sizes;
  int64_t newest_ms = last_store_ms_;
  for (size_t pos = 0; pos < chunk->bytes.size();) {
    Record& r = records.emplace_back();
    size_t consumed = 0;
    Status st = DecodeRecord(std::string_view(chunk->bytes).substr(pos), &r, &consumed);
    if (!st.ok()) {
      return Corruption("replicated record at log offset " +
                        std::to_string(chunk->from.value() + static_cast<int64_t>(pos)) + ": " +
                        st.message());
    }
    sizes.push_back(static_cast<uint32_t>(consumed));
    newest_ms = std::max(newest_ms, r.store_ms);
    pos += consumed;
  }
  if (log_->empty() && chunk->from != log_->end_offset()) {
    // A new replica begins where the master's log begins (retention deleted what was before).
    if (chunk->from != chunk->segment_base) {
      return Status(Code::kFailedPrecondition,
                    "an empty replica starts at a segment's base; the chunk starts at " +
                        std::to_string(chunk->from.value()) + " in segment " +
                        std::to_string(chunk->segment_base.value()));
    }
    RETURN_IF_ERROR(log_->Rebase(chunk->from));
    dispatched_.store(chunk->from.value(), std::memory_order_release);
    written_end_.store(chunk->from.value(), std::memory_order_release);
    synced_end_.store(chunk->from.value(), std::memory_order_release);
    confirmed_.store(chunk->from.value(), std::memory_order_release);
  }
  const LogOffset start = log_->end_offset();
  if (chunk->from != start) {
    return Status(Code::kFailedPrecondition,
                  "the chunk starts at log offset " + std::to_string(chunk->from.value()) +
                      ", the replica's log ends at " + std::to_string(start.value()));
  }
  if (chunk->segment_base > log_->active_base()) {
    // The master started a segment here: so does the replica (its segments mirror the
    // master's, and with them retention and the index buckets).
    if (chunk->segment_base != start) {
      return Corruption("the master's segment starts at " +
                        std::to_string(chunk->segment_base.value()) +
                        ", inside the replica's log ending at " + std::to_string(start.value()));
    }
    Status st = log_->Roll();
    syncs_.fetch_add(1);
    if (!st.ok()) {
      EnterReadOnly(st);
      return ReadOnlyStatus();
    }
  } else if (chunk->segment_base < log_->active_base()) {
    return Corruption("the master's segment " + std::to_string(chunk->segment_base.value()) +
                      " is older than the replica's active segment " +
                      std::to_string(log_->active_base().value()));
  }
  RETURN_IF_ERROR(CheckRoom(chunk->bytes.size()));
  Status st = log_->Write(chunk->bytes);
  if (!st.ok()) {
    if (Transient(st) && log_->end_offset() == start && log_->DiscardUnwritten().ok()) {
      next_space_check_ms_ = 0;
      return st;  // the master sends it again
    }
    EnterReadOnly(st);
    return ReadOnlyStatus();
  }
  last_store_ms_ = newest_ms;
  log_->NoteStoreMs(newest_ms);
  const LogOffset end = log_->end_offset();
  written_end_.store(end.value(), std::memory_order_release);
  if (sync || options_.flush_policy == FlushPolicy::kSync) {
    st = log_->Sync();
    syncs_.fetch_add(1);
    if (!st.ok()) {
      EnterReadOnly(st);
      return ReadOnlyStatus();
    }
    synced_end_.store(end.value(), std::memory_order_release);
  }
  confirmed_.store(end.value(), std::memory_order_release);
  batches_.fetch_add(1);
  written_since_space_check_ += chunk->bytes.size();
  if (disk_free_ >= 0) disk_free_ -= static_cast<int64_t>(chunk->bytes.size());

  IndexBatch index_batch;
  const LogOffset segment = log_->active_base();
  LogOffset at = start;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    st = Dispatch(r, segment, at, sizes[i], &index_batch);
    if (!st.ok()) {
      EnterReadOnly(st);
      return ReadOnlyStatus();
    }
    if (IsDispatchedToQueue(r.type)) {
      // After a promotion the next message of the queue follows the master's last.
      int64_t& next = NextQueueOffset(r.topic, r.queue_id);
      next = std::max(next, r.queue_offset + 1);
    }
    at += static_cast<int64_t>(sizes[i]);
  }
  const Status queues_st = FlushStagedQueues();
  index_batch.SetCheckpoint(kIndexEndCheckpoint, end);
  const Status index_st = WriteIndex(&index_batch);
  if (!index_st.ok() && !Transient(index_st)) {
    EnterReadOnly(index_st);
    return ReadOnlyStatus();
  }
  NoteLagging(queues_st.ok() ? index_st : queues_st);
  dispatched_.store(end.value(), std::memory_order_release);
  at = start;
  for (size_t i = 0; i < records.size(); ++i) {
    for (Observer* o : observers_) o->OnRecord(records[i], at, /*replay=*/false);
    at += static_cast<int64_t>(sizes[i]);
  }
  for (Observer* o : observers_) o->OnBatchEnd(/*replay=*/false);
  appended_records_.fetch_add(static_cast<int64_t>(records.size()));
  appended_bytes_.fetch_add(static_cast<int64_t>(chunk->bytes.size()));
  return end;
}

Status StoreImpl::Promote() {
  return RunOnWriter([this] {
    if (!replica()) return Status::Ok();
    replica_.store(false, std::memory_order_release);
    // The first metadata snapshot of its own, if the log has none yet.
    if (meta_snapshot_.load() < 0) snapshot_due_ = true;
    spdlog::info("store {}: promoted, appends accepted from log offset {}", options_.data_dir,
                 log_->end_offset().value());
    return Status::Ok();
  });
}

Status Store::TruncateLog(const StoreOptions& options, LogOffset to) {
  FileSystem* fs = options.fs != nullptr ? options.fs : FileSystem::Default();
  ASSIGN_OR_RETURN(auto log, CommitLog::Open(fs, JoinPath(options.data_dir, "commitlog"),
                                             options.segment_bytes));
  const LogOffset end = log->end_offset();
  if (to >= end) return Status::Ok();
  RETURN_IF_ERROR(log->TruncateTo(to));
  spdlog::warn("store {}: truncated the log from {} to {} (replication: what the master never "
               "had); consume queues and index are rebuilt at the next open",
               options.data_dir, end.value(), to.value());
  // The derived state is rebuilt from the log by the next Open (metadata from its snapshot and
  // the changes after it).
  RETURN_IF_ERROR(fs->RemoveAll(JoinPath(options.data_dir, "consumequeue")));
  RETURN_IF_ERROR(fs->RemoveAll(JoinPath(options.data_dir, "index")));
  return Status::Ok();
}

}  // namespace tidemq::store
