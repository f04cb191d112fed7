// Open: recover the log, repair what a crash left of the derived state, replay the rest
// (docs/storage_format.md, "Recovery").
#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/segment_reader.h"
#include "store/store_impl.h"

namespace tidemq::store {
namespace {

// Index entries of one replay chunk, written together.
constexpr size_t kReplayIndexBatch = 4096;

}  // namespace

Result<std::unique_ptr<Store>> StoreImpl::Open(const StoreOptions& options,
                                               std::vector<Observer*> observers) {
  if (options.data_dir.empty()) return InvalidArgument("StoreOptions.data_dir is required");
  if (options.segment_bytes < kMinRecordSize) {
    return InvalidArgument("segment_bytes " + std::to_string(options.segment_bytes) +
                           " cannot hold a record");
  }
  if (options.queue_entries_per_file == 0) {
    return InvalidArgument("queue_entries_per_file must be positive");
  }
  std::unique_ptr<StoreImpl> store(new StoreImpl(options, std::move(observers)));
  RETURN_IF_ERROR(store->fs_->CreateDirs(options.data_dir));
  RETURN_IF_ERROR(store->Recover());
  store->writer_ = std::thread([s = store.get()] { s->WriterLoop(); });
  store->flusher_ = std::thread([s = store.get()] { s->FlusherLoop(); });
  return std::unique_ptr<Store>(std::move(store));
}

Status StoreImpl::Recover() {
  const std::string& dir = options_.data_dir;
  bool queues_existed = false, index_existed = false;
  // LevelDB's lock file comes first: a second process opening the same directory fails here,
  // before it could truncate what it takes for a torn tail.
  ASSIGN_OR_RETURN(index_, IndexDb::Open(JoinPath(dir, "index"), &index_existed));
  ASSIGN_OR_RETURN(log_, CommitLog::Open(fs_, JoinPath(dir, "commitlog"), options_.segment_bytes));
  ASSIGN_OR_RETURN(queues_,
                   ConsumeQueueSet::Open(fs_, JoinPath(dir, "consumequeue"),
                                         options_.queue_entries_per_file, &queues_existed));
  const LogOffset log_min = log_->min_offset();
  const LogOffset log_end = log_->end_offset();

  // Under kAsync the derived state may have run ahead of a torn tail that recovery cut off.
  ASSIGN_OR_RETURN(LogOffset index_end, index_->GetCheckpoint(kIndexEndCheckpoint));
  if (index_end > log_end) {
    spdlog::warn("store {}: index ran ahead of the log ({} > {}); cleaning it", dir,
                 index_end.value(), log_end.value());
    RETURN_IF_ERROR(index_->DeleteIndexEntriesFrom(log_end));
  }
  for (const auto& cq : queues_->All()) {
    RETURN_IF_ERROR(cq->TruncateFromLog(log_end));
    RETURN_IF_ERROR(cq->TrimBelowLog(log_min));
  }

  ASSIGN_OR_RETURN(LogOffset dispatch, index_->GetCheckpoint(kDispatchCheckpoint));
  if (!queues_existed || !index_existed || dispatch == kNoLogOffset) {
    if (log_end > log_min) {
      spdlog::info("store {}: rebuilding consume queues and index from the log", dir);
    }
    dispatch = log_min;
  }
  dispatch = std::clamp(dispatch, log_min, log_end);
  LogOffset from = dispatch;
  for (Observer* o : observers_) {
    LogOffset c = o->Checkpoint();
    if (c != kNoLogOffset) from = std::min(from, std::max(c, log_min));
  }
  RETURN_IF_ERROR(Replay(from, dispatch));

  dispatched_.store(log_end.value());
  written_end_.store(log_end.value());
  synced_end_.store(log_end.value());
  confirmed_.store(log_end.value());
  last_store_ms_ = log_->recovered_last_store_ms();
  WriteCheckpoint(/*sync=*/true);
  if (read_only()) return ReadOnlyStatus();
  return Status::Ok();
}

Status StoreImpl::Replay(LogOffset from, LogOffset dispatch_from) {
  std::vector<LogOffset> observer_from;
  for (Observer* o : observers_) observer_from.push_back(o->Checkpoint());
  IndexBatch batch;
  int64_t replayed = 0;
  for (const auto& seg : log_->Segments()) {
    if (seg.end <= from) continue;
    ASSIGN_OR_RETURN(uint64_t file_size, seg.file->Size());
    uint64_t limit = std::min<uint64_t>(file_size, seg.end.value() - seg.base.value());
    uint64_t start = static_cast<uint64_t>(std::max(from, seg.base).value() - seg.base.value());
    SegmentReader reader(seg.file, start, limit);
    Record record;
    while (true) {
      Result<bool> next = reader.Next(&record);
      if (!next.ok()) {
        return Corruption("replay of segment " + std::to_string(seg.base.value()) +
                          " at position " + std::to_string(reader.pos()) + ": " +
                          next.status().ToString());
      }
      if (!*next) break;
      const LogOffset offset = seg.base + static_cast<int64_t>(reader.record_pos());
      if (offset >= dispatch_from) {
        RETURN_IF_ERROR(Dispatch(record, offset, reader.record_size(), &batch));
        if (batch.count() >= kReplayIndexBatch) {
          RETURN_IF_ERROR(FlushStagedQueues());
          batch.SetCheckpoint(kIndexEndCheckpoint, offset + reader.record_size());
          RETURN_IF_ERROR(index_->Write(&batch, /*sync=*/false));
          batch.Clear();
        }
      }
      for (size_t i = 0; i < observers_.size(); ++i) {
        if (observer_from[i] != kNoLogOffset && offset >= observer_from[i]) {
          observers_[i]->OnRecord(record, offset, /*replay=*/true);
        }
      }
      if (++replayed % kReplayIndexBatch == 0) {
        for (Observer* o : observers_) o->OnBatchEnd(/*replay=*/true);
      }
    }
  }
  if (replayed % kReplayIndexBatch != 0) {
    for (Observer* o : observers_) o->OnBatchEnd(/*replay=*/true);
  }
  RETURN_IF_ERROR(FlushStagedQueues());
  if (batch.count() > 0) {
    batch.SetCheckpoint(kIndexEndCheckpoint, log_->end_offset());
    RETURN_IF_ERROR(index_->Write(&batch, /*sync=*/false));
  }
  if (replayed > 0) {
    spdlog::info("store {}: replayed {} records from log offset {}", options_.data_dir, replayed,
                 from.value());
  }
  return Status::Ok();
}

}  // namespace tidemq::store
