#include "store/commit_log.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "common/coding.h"
#include "store/file_names.h"
#include "store/segment_reader.h"

namespace tidemq::store {
namespace {

// Read bytes first asked for a record: a typical message fits, so one pread serves it.
constexpr uint64_t kSpeculativeReadBytes = 4096;
// How far ahead of the write position the active segment's blocks are allocated.
constexpr uint64_t kReserveChunk = 16u << 20;
// How far the active segment's file is extended with zeros at a time.
constexpr uint64_t kExtendStep = 1u << 20;

// True when the file holds only zeros from `from` to its end: space extended ahead of the
// log (ExtendAhead), not a torn record.
Result<bool> ZerosToEnd(const File& file, uint64_t from, uint64_t size) {
  std::string buf;
  for (uint64_t at = from; at < size; at += buf.size()) {
    RETURN_IF_ERROR(file.Read(at, static_cast<size_t>(std::min<uint64_t>(size - at, 1u << 20)), &buf));
    if (buf.empty()) return false;
    if (buf.find_first_not_of('\0') != std::string::npos) return false;
  }
  return true;
}

}  // namespace

CommitLog::CommitLog(FileSystem* fs, std::string dir, uint64_t segment_bytes)
    : fs_(fs), dir_(std::move(dir)), segment_bytes_(segment_bytes) {}

CommitLog::~CommitLog() {
  if (active_ == nullptr) return;
  Status st = TrimActive();
  if (!st.ok()) spdlog::warn("commit log {}: trimming the active segment: {}", dir_, st.ToString());
}

Result<std::unique_ptr<CommitLog>> CommitLog::Open(FileSystem* fs, const std::string& dir,
                                                   uint64_t segment_bytes) {
  if (segment_bytes < kMinRecordSize) {
    return InvalidArgument("segment_bytes " + std::to_string(segment_bytes) + " is too small");
  }
  RETURN_IF_ERROR(fs->CreateDirs(dir));
  std::unique_ptr<CommitLog> log(new CommitLog(fs, dir, segment_bytes));
  RETURN_IF_ERROR(log->Recover());
  return log;
}

Status CommitLog::Recover() {
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(dir_));
  std::vector<int64_t> bases;
  for (const auto& name : names) {
    int64_t base;
    if (ParseOffsetFileName(name, &base)) bases.push_back(base);
  }
  std::sort(bases.begin(), bases.end());
  if (bases.empty()) return CreateSegment(0);

  WriterLock lock(mu_);
  for (int64_t base : bases) {
    ASSIGN_OR_RETURN(std::unique_ptr<File> file,
                     fs_->Open(JoinPath(dir_, OffsetFileName(base)), /*create=*/false));
    segments_[base].file = std::move(file);
  }
  // Only the last segment can have a torn tail: a segment is synced before the next one is
  // created, so every earlier segment is complete.
  active_base_ = bases.back();
  active_ = segments_[active_base_].file;
  ASSIGN_OR_RETURN(uint64_t file_size, active_->Size());
  SegmentReader reader(active_, 0, file_size);
  Record record;
  uint64_t valid = 0;  // end of the last intact record
  while (true) {
    Result<bool> next = reader.Next(&record);
    if (next.ok()) {
      if (!*next) break;
      recovered_last_store_ms_ = record.store_ms;
      valid = reader.pos();
      continue;
    }
    if (next.status().code() != Code::kCorruption) return next.status();
    const uint64_t bad = reader.pos();
    ASSIGN_OR_RETURN(bool zeros, ZerosToEnd(*active_, bad, file_size));
    if (zeros) {
      // The zeros the writer extends the file with (ExtendAhead): the log ends here.
      spdlog::debug("commit log {}: {} bytes of zeros past the log's end", dir_, file_size - bad);
      break;
    }
    ASSIGN_OR_RETURN(bool resynced, reader.Resync());
    if (!resynced) {
      torn_tail_bytes_ = file_size - bad;
      spdlog::warn("commit log {}: torn tail at log offset {} ({}); nothing intact follows in "
                   "the active segment, truncating {} bytes",
                   dir_, active_base_ + static_cast<int64_t>(bad), next.status().message(),
                   torn_tail_bytes_);
      break;
    }
    // Intact records follow: the bad bytes are damage, not the end of the log.
    damaged_.push_back(DamagedRange{LogOffset(active_base_ + static_cast<int64_t>(bad)),
                                    LogOffset(active_base_ + static_cast<int64_t>(reader.pos())),
                                    next.status().message()});
  }
  if (valid > segment_bytes_) {
    // Written with a larger segment_bytes setting: keep it, roll at the next append.
    spdlog::info("commit log {}: active segment is larger than segment_bytes", dir_);
  }
  if (valid != file_size) {
    RETURN_IF_ERROR(active_->Truncate(valid));
    RETURN_IF_ERROR(active_->Sync());
  }
  end_.store(active_base_ + static_cast<int64_t>(valid), std::memory_order_release);
  reserved_ = valid;
  extent_ = valid;
  return Status::Ok();
}

Status CommitLog::CreateSegment(int64_t base) {
  std::string path = JoinPath(dir_, OffsetFileName(base));
  ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs_->Open(path, /*create=*/true));
  // A leftover file with this name can only hold bytes that were never acknowledged.
  RETURN_IF_ERROR(file->Truncate(0));
  RETURN_IF_ERROR(fs_->SyncDir(dir_));
  std::shared_ptr<File> shared = std::move(file);
  {
    WriterLock lock(mu_);
    segments_[base].file = shared;
  }
  {
    WriterLock lock(mu_);
    active_ = std::move(shared);
  }
  active_base_ = base;
  reserved_ = 0;
  extent_ = 0;
  end_.store(base, std::memory_order_release);
  return Status::Ok();
}

uint64_t CommitLog::RoomInActiveSegment() const {
  uint64_t used = static_cast<uint64_t>(end_.load(std::memory_order_relaxed) - active_base_);
  return used >= segment_bytes_ ? 0 : segment_bytes_ - used;
}

Status CommitLog::Write(std::string_view bytes) {
  int64_t end = end_.load(std::memory_order_relaxed);
  const uint64_t at = static_cast<uint64_t>(end - active_base_);
  ReserveAhead(at + bytes.size());
  RETURN_IF_ERROR(active_->Write(at, bytes));
  ExtendAhead(at + bytes.size());
  end_.store(end + static_cast<int64_t>(bytes.size()), std::memory_order_release);
  return Status::Ok();
}

void CommitLog::ReserveAhead(uint64_t until) {
  // Appending to a file that grows block by block makes every write reserve delayed-allocation
  // blocks, and that waits while a concurrent fdatasync's writeback allocates the blocks
  // written before (ext4 holds the inode's block map for it): under the async policy the
  // writer stalled for ~10 ms at every periodic flush. Blocks allocated ahead, a chunk at a
  // time and never past the segment's size, take the allocation out of both paths. The
  // file's size is unchanged (recovery and readers see only what was written).
  if (until <= reserved_) return;
  const uint64_t to = std::max(until, std::min(until + kReserveChunk, segment_bytes_));
  Status st = active_->Reserve(reserved_, to - reserved_);
  if (!st.ok()) {
    // Out of space, say: the write reports what matters; try again at the next chunk.
    spdlog::debug("commit log {}: reserving blocks ahead: {}", dir_, st.ToString());
  }
  reserved_ = to;
}

void CommitLog::ExtendAhead(uint64_t until) {
  // A write that grows the file changes its size, and the next fdatasync must then commit
  // the file system's journal as well as the data: about 40 % fewer syncs a second here
  // than overwriting blocks already in the file. So the file grows a step of zeros at a
  // time and most writes (and their syncs) overwrite. Recovery reads zeros past the last
  // record as the end of the log, and a sealed segment is trimmed to its records.
  if (until <= extent_) return;
  static const std::string kZeros(kExtendStep, '\0');
  const uint64_t to = std::min(until + kExtendStep - until % kExtendStep, segment_bytes_);
  if (to > until) {
    Status st = active_->Write(until, std::string_view(kZeros).substr(0, to - until));
    if (!st.ok()) {
      // Out of space, say: the next write reports what matters.
      spdlog::debug("commit log {}: extending the segment: {}", dir_, st.ToString());
      extent_ = until;
      return;
    }
  }
  extent_ = std::max(to, until);
}

Status CommitLog::TrimActive() {
  const auto end = static_cast<uint64_t>(end_.load(std::memory_order_relaxed) - active_base_);
  if (extent_ <= end) return Status::Ok();
  RETURN_IF_ERROR(active_->Truncate(end));
  extent_ = end;
  reserved_ = std::min(reserved_, end);
  return Status::Ok();
}

Status CommitLog::DiscardUnwritten() {
  // The truncation also frees the blocks reserved past the end.
  reserved_ = static_cast<uint64_t>(end_.load(std::memory_order_relaxed) - active_base_);
  extent_ = reserved_;
  return active_->Truncate(reserved_);
}

Status CommitLog::Roll() {
  RETURN_IF_ERROR(TrimActive());
  RETURN_IF_ERROR(active_->Sync());
  return CreateSegment(end_.load(std::memory_order_relaxed));
}

Status CommitLog::Sync() {
  // May run on the flusher while the writer rolls: syncing the segment that was active a
  // moment ago is still right, because Roll() syncs it completely before switching.
  std::shared_ptr<File> file;
  {
    ReaderLock lock(mu_);
    file = active_;
  }
  return file->Sync();
}

void CommitLog::NoteStoreMs(int64_t store_ms) {
  WriterLock lock(mu_);
  auto it = segments_.find(active_base_);
  if (it != segments_.end()) it->second.newest_store_ms = store_ms;
}

Result<Record> CommitLog::Read(LogOffset offset, LogOffset limit) const {
  std::shared_ptr<File> file;
  int64_t base, segment_end;
  {
    ReaderLock lock(mu_);
    if (segments_.empty() || offset.value() < segments_.begin()->first) {
      return NotFound("log offset " + std::to_string(offset.value()) +
                      " is below the log start (deleted by retention)");
    }
    if (offset >= limit) {
      return Status(Code::kOutOfRange, "log offset " + std::to_string(offset.value()) +
                                           " is at or past the log end " +
                                           std::to_string(limit.value()));
    }
    auto it = std::prev(segments_.upper_bound(offset.value()));
    base = it->first;
    file = it->second.file;
    auto next = std::next(it);
    segment_end = next == segments_.end() ? limit.value() : std::min(next->first, limit.value());
  }
  const uint64_t pos = static_cast<uint64_t>(offset.value() - base);
  uint64_t room = static_cast<uint64_t>(segment_end - offset.value());
  if (room < kMinRecordSize) {
    return Corruption("no record at log offset " + std::to_string(offset.value()));
  }
  // One read of the likely size (most records are small); a second only for a longer one.
  // A short read is fine here: the record may be the last in a file that ends early (the
  // rest of a damaged segment was cut off).
  std::string bytes;
  const uint64_t wanted = std::min<uint64_t>(room, kSpeculativeReadBytes);
  RETURN_IF_ERROR(file->Read(pos, wanted, &bytes));
  if (bytes.size() < wanted) room = bytes.size();  // the file ends here
  if (bytes.size() < kRecordPrefixSize) {
    return Corruption("no record at log offset " + std::to_string(offset.value()) +
                      ": the segment file ends before it");
  }
  uint32_t total;
  Status st = PeekRecordLength(bytes, &total);
  if (!st.ok() || total > room) {
    return Corruption(
        "no record at log offset " + std::to_string(offset.value()) +
        (st.ok() ? std::string(": length past the segment end") : ": " + st.message()));
  }
  if (total > bytes.size()) {
    const size_t have = bytes.size();
    bytes.resize(total);
    st = file->ReadExact(pos + have, total - have, bytes.data() + have);
    if (st.code() == Code::kOutOfRange) {
      return Corruption("record at log offset " + std::to_string(offset.value()) +
                        " is cut short: the segment file ends inside it");
    }
    RETURN_IF_ERROR(st);
  } else {
    bytes.resize(total);
  }
  Record record;
  size_t consumed;
  st = DecodeRecord(bytes, &record, &consumed);
  if (!st.ok()) {
    return Corruption("record at log offset " + std::to_string(offset.value()) + ": " +
                      st.message());
  }
  return record;
}

LogOffset CommitLog::min_offset() const {
  ReaderLock lock(mu_);
  return LogOffset(segments_.empty() ? 0 : segments_.begin()->first);
}

std::vector<CommitLog::SegmentInfo> CommitLog::Segments() const {
  ReaderLock lock(mu_);
  std::vector<SegmentInfo> out;
  for (auto it = segments_.begin(); it != segments_.end(); ++it) {
    SegmentInfo info;
    info.base = LogOffset(it->first);
    auto next = std::next(it);
    info.active = next == segments_.end();
    info.end = info.active ? end_offset() : LogOffset(next->first);
    info.newest_store_ms = it->second.newest_store_ms;
    info.file = it->second.file;
    out.push_back(std::move(info));
  }
  return out;
}

bool CommitLog::empty() const {
  ReaderLock lock(mu_);
  return segments_.size() == 1 && end_.load(std::memory_order_acquire) == active_base_;
}

Status CommitLog::Rebase(LogOffset base) {
  if (!empty()) return Status(Code::kFailedPrecondition, "only an empty log can start over");
  if (base.value() == active_base_) return Status::Ok();
  if (base.value() < 0) return InvalidArgument("a log cannot start at a negative offset");
  const std::string old = JoinPath(dir_, OffsetFileName(active_base_));
  {
    WriterLock lock(mu_);
    segments_.clear();
  }
  RETURN_IF_ERROR(fs_->Remove(old));
  return CreateSegment(base.value());
}

Status CommitLog::TruncateTo(LogOffset to) {
  if (to >= end_offset()) return Status::Ok();
  std::vector<int64_t> doomed;  // segments wholly past `to`, newest first
  int64_t keep = -1;            // the segment holding `to`
  std::shared_ptr<File> keep_file;
  {
    ReaderLock lock(mu_);
    for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
      if (it->first <= to.value() && keep < 0) {
        keep = it->first;
        keep_file = it->second.file;
      } else if (it->first > to.value()) {
        doomed.push_back(it->first);
      }
    }
  }
  if (keep >= 0) {
    // `to` must end a record of its segment: read the records up to it.
    const uint64_t cut = static_cast<uint64_t>(to.value() - keep);
    SegmentReader reader(keep_file, 0, cut);
    Record record;
    while (reader.pos() < cut) {
      Result<bool> next = reader.Next(&record);
      if (!next.ok() || !*next) {
        return InvalidArgument("log offset " + std::to_string(to.value()) +
                               " is not a record boundary of segment " + std::to_string(keep) +
                               (next.ok() ? std::string() : ": " + next.status().message()));
      }
    }
  }
  for (int64_t base : doomed) {
    {
      WriterLock lock(mu_);
      segments_.erase(base);
    }
    RETURN_IF_ERROR(fs_->Remove(JoinPath(dir_, OffsetFileName(base))));
  }
  if (keep < 0) {
    // Nothing of the log is left: an empty one at 0.
    RETURN_IF_ERROR(fs_->SyncDir(dir_));
    return CreateSegment(0);
  }
  RETURN_IF_ERROR(keep_file->Truncate(static_cast<uint64_t>(to.value() - keep)));
  RETURN_IF_ERROR(keep_file->Sync());
  RETURN_IF_ERROR(fs_->SyncDir(dir_));
  {
    WriterLock lock(mu_);
    active_ = keep_file;
  }
  active_base_ = keep;
  reserved_ = static_cast<uint64_t>(to.value() - keep);
  extent_ = reserved_;
  end_.store(to.value(), std::memory_order_release);
  return Status::Ok();
}

Status CommitLog::DeleteOldestSegment() {
  std::string path;
  {
    WriterLock lock(mu_);
    if (segments_.size() < 2) {
      return Status(Code::kFailedPrecondition, "the active segment is never deleted");
    }
    path = JoinPath(dir_, OffsetFileName(segments_.begin()->first));
    segments_.erase(segments_.begin());
  }
  // Readers may still hold the file open; POSIX keeps its bytes until they close it.
  RETURN_IF_ERROR(fs_->Remove(path));
  return fs_->SyncDir(dir_);
}

}  // namespace tidemq::store
