// Open: recover the log, repair what a crash left of the derived state, replay the rest
// (docs/storage_format.md, "Recovery").
#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/file_names.h"
#include "store/segment_reader.h"
#include "store/store_impl.h"

namespace tidemq::store {
namespace {

// Index entries of one replay chunk, written together.
constexpr size_t kReplayIndexBatch = 4096;
// The automatic disk reserve: 1 % of the file system, within these bounds. The floor leaves
// room for what the LevelDB indexes write after an append was admitted (a memtable flush
// writes a table of up to its 16 MiB write buffer; LevelDB stops for good on a failed one).
constexpr uint64_t kMinAutoDiskReserve = 32u << 20;
constexpr uint64_t kMaxAutoDiskReserve = 256u << 20;

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
                                         options_.queue_entries_per_file,
                                         options_.max_open_queue_files, &queues_existed));
  disk_reserve_ = options_.disk_reserve_bytes;
  if (disk_reserve_ == 0) {
    uint64_t free_bytes = 0, total = 0;
    (void)fs_->DiskUsage(dir, &free_bytes, &total);
    disk_reserve_ = std::clamp<uint64_t>(total / 100, kMinAutoDiskReserve, kMaxAutoDiskReserve);
  }
  const LogOffset log_min = log_->min_offset();
  const LogOffset log_end = log_->end_offset();
  torn_tail_bytes_ = static_cast<int64_t>(log_->torn_tail_bytes());
  for (const DamagedRange& range : log_->damaged()) RETURN_IF_ERROR(NoteDamage(range));

  // The index's layout: one written by an older version is cleared and rebuilt from the log
  // (its metadata, written directly by those versions, stays: the first snapshot below puts
  // it into the log).
  bool rebuild = false;
  if (index_existed) {
    ASSIGN_OR_RETURN(uint32_t layout, index_->GetLayout());
    if (layout != kIndexLayoutVersion) {
      spdlog::info(
          "store {}: the key and message-id index has layout {}; rebuilding it as "
          "layout {} from the log",
          dir, layout, kIndexLayoutVersion);
      RETURN_IF_ERROR(index_->ClearDerived(/*metadata_too=*/false));
      rebuild = true;
    }
  }
  if (!index_existed || rebuild) RETURN_IF_ERROR(index_->PutLayout(kIndexLayoutVersion));
  ASSIGN_OR_RETURN(LogOffset snapshot, index_->GetCheckpoint(kMetaSnapshotCheckpoint));

  // Under kAsync the derived state may have run ahead of a torn tail that recovery cut off.
  ASSIGN_OR_RETURN(LogOffset index_end, index_->GetCheckpoint(kIndexEndCheckpoint));
  if (index_end > log_end) {
    spdlog::warn("store {}: index ran ahead of the log ({} > {}); cleaning it", dir,
                 index_end.value(), log_end.value());
    RETURN_IF_ERROR(index_->DeleteIndexEntriesFrom(log_end));
    // Metadata ops of the lost records may have been applied too, and cannot be undone one by
    // one: rebuild the metadata from the log (its snapshot and the changes after it) — when
    // the log can tell the whole story.
    if (snapshot != kNoLogOffset || log_min == LogOffset(0)) {
      RETURN_IF_ERROR(index_->ClearDerived(/*metadata_too=*/true));
      rebuild = true;
      snapshot = kNoLogOffset;
    }
  }
  // (A snapshot of an empty space has no record: its offset may be the log end.)
  if (snapshot != kNoLogOffset && snapshot >= log_min && snapshot <= log_end) {
    meta_snapshot_.store(snapshot.value());
  }
  // Buckets of segments retention deleted just before a crash.
  ASSIGN_OR_RETURN(int64_t trimmed, index_->DropSegmentsBelow(log_min));
  index_trimmed_.fetch_add(trimmed);
  for (const auto& cq : queues_->All()) {
    RETURN_IF_ERROR(cq->TruncateFromLog(log_end));
    RETURN_IF_ERROR(cq->TrimBelowLog(log_min));
  }

  ASSIGN_OR_RETURN(LogOffset dispatch, index_->GetCheckpoint(kDispatchCheckpoint));
  if (!queues_existed || !index_existed || rebuild || dispatch == kNoLogOffset) {
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
  // No snapshot in the log yet (a new log, or metadata from an older version): write one as
  // soon as the writer starts, so retention has one to keep.
  if (meta_snapshot_.load() < 0) snapshot_due_ = true;

  dispatched_.store(log_end.value());
  written_end_.store(log_end.value());
  synced_end_.store(log_end.value());
  confirmed_.store(log_end.value());
  last_store_ms_ = log_->recovered_last_store_ms();
  WriteCheckpoint(/*sync=*/true);
  if (read_only()) return ReadOnlyStatus();
  return Status::Ok();
}

Status StoreImpl::ScanLog(LogOffset from, const RecordVisitor& visit) {
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
        if (next.status().code() != Code::kCorruption) {
          return Status(next.status().code(), "reading segment " +
                                                  std::to_string(seg.base.value()) + ": " +
                                                  next.status().message());
        }
        // Damage: skip to the next intact record (or the segment's end) and go on.
        const LogOffset bad = seg.base + static_cast<int64_t>(reader.pos());
        ASSIGN_OR_RETURN(bool resynced, reader.Resync());
        const LogOffset next_intact =
            resynced ? seg.base + static_cast<int64_t>(reader.pos()) : seg.end;
        RETURN_IF_ERROR(NoteDamage(DamagedRange{bad, next_intact, next.status().message()}));
        if (!resynced) break;
        continue;
      }
      if (!*next) break;
      const LogOffset offset = seg.base + static_cast<int64_t>(reader.record_pos());
      RETURN_IF_ERROR(visit(record, seg.base, offset, reader.record_size()));
    }
  }
  return Status::Ok();
}

Status StoreImpl::Replay(LogOffset from, LogOffset dispatch_from) {
  std::vector<LogOffset> observer_from;
  for (Observer* o : observers_) observer_from.push_back(o->Checkpoint());
  IndexBatch batch;
  int64_t replayed = 0;
  RETURN_IF_ERROR(
      ScanLog(from, [&](const Record& record, LogOffset segment, LogOffset offset, uint32_t size) {
        if (offset >= dispatch_from) {
          RETURN_IF_ERROR(Dispatch(record, segment, offset, size, &batch));
          if (batch.count() >= kReplayIndexBatch) {
            RETURN_IF_ERROR(FlushStagedQueues());
            batch.SetCheckpoint(kIndexEndCheckpoint, offset + size);
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
        return Status::Ok();
      }));
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

Status StoreImpl::CatchUp(Observer* observer) {
  RETURN_IF_ERROR(observer->Resume());
  const LogOffset from = std::max(observer->Checkpoint(), log_->min_offset());
  int64_t replayed = 0;
  Status st = ScanLog(from, [&](const Record& record, LogOffset, LogOffset offset, uint32_t) {
    observer->OnRecord(record, offset, /*replay=*/true);
    if (++replayed % kReplayIndexBatch == 0) observer->OnBatchEnd(/*replay=*/true);
    return Status::Ok();
  });
  if (replayed % kReplayIndexBatch != 0) observer->OnBatchEnd(/*replay=*/true);
  RETURN_IF_ERROR(st);
  if (observer->NeedsReplay()) {
    return Status(Code::kResourceExhausted, "it failed again while catching up");
  }
  spdlog::info("store {}: an observer caught up after its failure ({} records replayed from "
               "log offset {})",
               options_.data_dir, replayed, from.value());
  return Status::Ok();
}

Status StoreImpl::NoteDamage(const DamagedRange& range) {
  {
    MutexLock lock(damaged_mu_);
    for (const DamagedRange& known : damaged_) {
      if (known.from == range.from) return Status::Ok();  // met before (recovery, replay)
    }
    damaged_.push_back(range);
  }
  const int64_t bytes = range.to.value() - range.from.value();
  if (options_.strict_recovery) {
    return Corruption("the commit log is damaged at log offsets " +
                      std::to_string(range.from.value()) + ".." +
                      std::to_string(range.to.value()) + " (" + range.reason +
                      "); --strict-recovery is set, so the broker does not start. Without it the "
                      "damaged range is skipped and every intact record after it is kept");
  }
  const std::string copy = CopyDamaged(range);
  spdlog::error(
      "store {}: the commit log is DAMAGED at log offsets {}..{} ({} bytes: {}); the records "
      "there are lost and skipped, every intact record after them is kept{}",
      options_.data_dir, range.from.value(), range.to.value(), bytes, range.reason,
      copy.empty() ? std::string() : "; the damaged bytes were copied to " + copy);
  return Status::Ok();
}

std::string StoreImpl::CopyDamaged(const DamagedRange& range) {
  const std::string dir = JoinPath(options_.data_dir, "damaged");
  const std::string path = JoinPath(dir, OffsetFileName(range.from.value()) + "-" +
                                             OffsetFileName(range.to.value()));
  if (fs_->Exists(path)) return path;
  for (const auto& seg : log_->Segments()) {
    if (range.from < seg.base || range.from >= seg.end) continue;
    const uint64_t len = std::min<uint64_t>(
        kMaxDamagedCopyBytes, static_cast<uint64_t>(range.to.value() - range.from.value()));
    std::string bytes;
    Status st = seg.file->Read(static_cast<uint64_t>(range.from.value() - seg.base.value()), len,
                               &bytes);
    if (st.ok()) st = fs_->CreateDirs(dir);
    if (st.ok()) st = fs_->WriteFileAtomic(path, bytes);
    if (!st.ok()) {
      spdlog::warn("store {}: could not copy the damaged range aside: {}", options_.data_dir,
                   st.ToString());
      return "";
    }
    return path;
  }
  return "";
}

}  // namespace tidemq::store
