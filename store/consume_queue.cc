#include "store/consume_queue.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

#include "common/coding.h"
#include "store/file_names.h"

namespace tidemq::store {
namespace {

// A hole (never written) reads as zeros; a real entry always has a record's size.
bool IsHole(const QueueEntry& e) { return e.size == 0; }

}  // namespace

void EncodeQueueEntry(const QueueEntry& e, char* dst) {
  EncodeFixed64(dst, static_cast<uint64_t>(e.log_offset.value()));
  EncodeFixed32(dst + 8, e.size);
  EncodeFixed32(dst + 12, e.tag_hash);
  EncodeFixed64(dst + 16, static_cast<uint64_t>(e.store_ms));
}

QueueEntry DecodeQueueEntry(const char* src) {
  QueueEntry e;
  e.log_offset = LogOffset(static_cast<int64_t>(DecodeFixed64(src)));
  e.size = DecodeFixed32(src + 8);
  e.tag_hash = DecodeFixed32(src + 12);
  e.store_ms = static_cast<int64_t>(DecodeFixed64(src + 16));
  return e;
}

ConsumeQueue::ConsumeQueue(FileSystem* fs, std::string dir, uint32_t entries_per_file)
    : fs_(fs), dir_(std::move(dir)), entries_per_file_(entries_per_file) {}

Result<std::unique_ptr<ConsumeQueue>> ConsumeQueue::Open(FileSystem* fs, std::string dir,
                                                         uint32_t entries_per_file) {
  if (entries_per_file == 0) return InvalidArgument("queue_entries_per_file must be positive");
  std::unique_ptr<ConsumeQueue> cq(new ConsumeQueue(fs, std::move(dir), entries_per_file));
  RETURN_IF_ERROR(cq->Load());
  return cq;
}

Status ConsumeQueue::Load() {
  std::unique_lock lock(mu_);
  if (!fs_->Exists(dir_)) return Status::Ok();
  dir_created_ = true;
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(dir_));
  for (const auto& name : names) {
    int64_t base;
    if (!ParseOffsetFileName(name, &base) || base % entries_per_file_ != 0) continue;
    ASSIGN_OR_RETURN(std::unique_ptr<File> file, fs_->Open(JoinPath(dir_, name), false));
    files_[base] = std::move(file);
  }
  if (files_.empty()) return Status::Ok();
  auto last = std::prev(files_.end());
  ASSIGN_OR_RETURN(uint64_t size, last->second->Size());
  uint64_t entries = std::min<uint64_t>(size / kQueueEntrySize, entries_per_file_);
  if (size != entries * kQueueEntrySize) {
    // A torn entry write, or a file grown past its capacity by a bug: keep whole entries.
    RETURN_IF_ERROR(last->second->Truncate(entries * kQueueEntrySize));
  }
  next_offset_ = last->first + static_cast<int64_t>(entries);
  staged_next_ = next_offset_;
  // Holes exist only before the first entry of a queue rebuilt from a trimmed log.
  int64_t first_base = files_.begin()->first;
  int64_t first_end = files_.size() == 1 ? next_offset_ : first_base + entries_per_file_;
  RETURN_IF_ERROR(FindFirstAtOrPastLocked(first_base, first_end, LogOffset(0), &min_offset_));
  return Status::Ok();
}

Status ConsumeQueue::ReadEntryLocked(int64_t queue_offset, QueueEntry* out) const {
  auto it = files_.find(FileBase(queue_offset));
  if (it == files_.end()) {
    *out = QueueEntry{};  // a removed file reads as holes
    out->queue_offset = queue_offset;
    return Status::Ok();
  }
  char buf[kQueueEntrySize];
  uint64_t pos = static_cast<uint64_t>(queue_offset - it->first) * kQueueEntrySize;
  RETURN_IF_ERROR(it->second->ReadExact(pos, kQueueEntrySize, buf));
  *out = DecodeQueueEntry(buf);
  out->queue_offset = queue_offset;
  return Status::Ok();
}

Status ConsumeQueue::FindFirstAtOrPastLocked(int64_t lo, int64_t hi, LogOffset log,
                                             int64_t* out) const {
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    QueueEntry e;
    RETURN_IF_ERROR(ReadEntryLocked(mid, &e));
    if (IsHole(e) || e.log_offset < log) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  *out = lo;
  return Status::Ok();
}

Status ConsumeQueue::Append(const QueueEntry& entry, bool* first_staged) {
  if (first_staged != nullptr) *first_staged = false;
  if (entry.queue_offset < staged_next_) return Status::Ok();
  if (entry.queue_offset > staged_next_) {
    // A gap (rare: replay into a queue rebuilt from a trimmed log). Write what is staged,
    // then start staging again at the new offset; the skipped slots stay holes.
    RETURN_IF_ERROR(Flush());
    std::unique_lock lock(mu_);
    if (next_offset_ > min_offset_) {
      spdlog::warn("consume queue {}: gap from queue offset {} to {}", dir_, next_offset_,
                   entry.queue_offset);
    } else {
      min_offset_ = entry.queue_offset;  // an empty queue starts where the log says
    }
  }
  if (staged_.empty()) {
    staged_from_ = entry.queue_offset;
    if (first_staged != nullptr) *first_staged = true;
  }
  size_t at = staged_.size();
  staged_.resize(at + kQueueEntrySize);
  EncodeQueueEntry(entry, staged_.data() + at);
  staged_next_ = entry.queue_offset + 1;
  return Status::Ok();
}

Status ConsumeQueue::Flush() {
  if (staged_.empty()) return Status::Ok();
  int64_t pos = staged_from_;
  std::string_view rest(staged_);
  std::vector<int64_t> written;
  while (!rest.empty()) {
    int64_t base = FileBase(pos);
    size_t n = std::min<size_t>(rest.size() / kQueueEntrySize,
                                static_cast<size_t>(base + entries_per_file_ - pos));
    std::shared_ptr<File> file;
    {
      std::shared_lock lock(mu_);
      auto it = files_.find(base);
      if (it != files_.end()) file = it->second;
    }
    if (file == nullptr) {
      if (!dir_created_) {
        RETURN_IF_ERROR(fs_->CreateDirs(dir_));
        dir_created_ = true;
      }
      ASSIGN_OR_RETURN(std::unique_ptr<File> created,
                       fs_->Open(JoinPath(dir_, OffsetFileName(base)), /*create=*/true));
      RETURN_IF_ERROR(fs_->SyncDir(dir_));
      file = std::move(created);
      std::unique_lock lock(mu_);
      files_.emplace(base, file);
    }
    uint64_t at = static_cast<uint64_t>(pos - base) * kQueueEntrySize;
    RETURN_IF_ERROR(file->Write(at, rest.substr(0, n * kQueueEntrySize)));
    written.push_back(base);
    rest.remove_prefix(n * kQueueEntrySize);
    pos += static_cast<int64_t>(n);
  }
  staged_.clear();
  std::unique_lock lock(mu_);
  dirty_.insert(written.begin(), written.end());
  next_offset_ = staged_next_;
  return Status::Ok();
}

Status ConsumeQueue::Sync() {
  std::vector<std::shared_ptr<File>> files;
  {
    std::unique_lock lock(mu_);
    for (int64_t base : dirty_) {
      auto it = files_.find(base);
      if (it != files_.end()) files.push_back(it->second);
    }
    dirty_.clear();
  }
  for (const auto& f : files) RETURN_IF_ERROR(f->Sync());
  return Status::Ok();
}

Status ConsumeQueue::TruncateFromLog(LogOffset log_end) {
  std::unique_lock lock(mu_);
  int64_t keep;
  RETURN_IF_ERROR(FindFirstAtOrPastLocked(min_offset_, next_offset_, log_end, &keep));
  if (keep == next_offset_) return Status::Ok();
  spdlog::warn("consume queue {}: dropping entries {}..{} past the recovered log end {}", dir_,
               keep, next_offset_ - 1, log_end.value());
  for (auto it = files_.begin(); it != files_.end();) {
    if (it->first > keep || (it->first == keep && it != files_.begin())) {
      RETURN_IF_ERROR(fs_->Remove(it->second->path()));
      dirty_.erase(it->first);
      it = files_.erase(it);
    } else {
      if (it->first + entries_per_file_ > keep) {
        RETURN_IF_ERROR(
            it->second->Truncate(static_cast<uint64_t>(keep - it->first) * kQueueEntrySize));
        RETURN_IF_ERROR(it->second->Sync());
      }
      ++it;
    }
  }
  next_offset_ = keep;
  staged_next_ = keep;
  min_offset_ = std::min(min_offset_, keep);
  return Status::Ok();
}

Status ConsumeQueue::TrimBelowLog(LogOffset log_min) {
  std::vector<std::string> doomed;
  {
    std::unique_lock lock(mu_);
    int64_t first;
    RETURN_IF_ERROR(FindFirstAtOrPastLocked(min_offset_, next_offset_, log_min, &first));
    min_offset_ = first;
    int64_t last_base = files_.empty() ? 0 : std::prev(files_.end())->first;
    for (auto it = files_.begin(); it != files_.end() && it->first < last_base;) {
      if (it->first + entries_per_file_ > min_offset_) break;
      doomed.push_back(it->second->path());
      dirty_.erase(it->first);
      it = files_.erase(it);
    }
  }
  for (const auto& path : doomed) RETURN_IF_ERROR(fs_->Remove(path));
  return Status::Ok();
}

Result<std::vector<QueueEntry>> ConsumeQueue::Read(int64_t from, size_t max,
                                                   LogOffset log_min) const {
  std::vector<QueueEntry> out;
  std::shared_lock lock(mu_);
  int64_t pos = std::max(from, min_offset_);
  std::string buf;
  while (pos < next_offset_ && out.size() < max) {
    int64_t base = FileBase(pos);
    int64_t end = std::min(
        {next_offset_, base + entries_per_file_, pos + static_cast<int64_t>(max - out.size())});
    auto it = files_.find(base);
    if (it == files_.end()) {  // a trimmed file: nothing there to return
      pos = base + entries_per_file_;
      continue;
    }
    size_t n = static_cast<size_t>(end - pos);
    RETURN_IF_ERROR(it->second->Read(static_cast<uint64_t>(pos - base) * kQueueEntrySize,
                                     n * kQueueEntrySize, &buf));
    // A file that ends early was never written past its last entry: a gap in the queue
    // (replay over a trimmed log) leaves its trailing slots unwritten. They are holes.
    buf.resize(n * kQueueEntrySize, '\0');
    for (size_t i = 0; i < n; ++i) {
      QueueEntry e = DecodeQueueEntry(buf.data() + i * kQueueEntrySize);
      e.queue_offset = pos + static_cast<int64_t>(i);
      if (IsHole(e) || e.log_offset < log_min) continue;
      out.push_back(e);
    }
    pos = end;
  }
  return out;
}

int64_t ConsumeQueue::min_offset() const {
  std::shared_lock lock(mu_);
  return min_offset_;
}

int64_t ConsumeQueue::next_offset() const {
  std::shared_lock lock(mu_);
  return next_offset_;
}

}  // namespace tidemq::store
