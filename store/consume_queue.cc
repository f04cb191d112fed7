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

// Entries read at once when scanning past holes.
constexpr int64_t kScanChunk = 1024;

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

ConsumeQueue::ConsumeQueue(FileSystem* fs, std::shared_ptr<FileCache> cache, std::string dir,
                           uint32_t entries_per_file)
    : fs_(fs),
      cache_(std::move(cache)),
      owner_(cache_->NewOwner()),
      dir_(std::move(dir)),
      entries_per_file_(entries_per_file) {}

ConsumeQueue::~ConsumeQueue() { cache_->EraseOwner(owner_); }

Result<std::unique_ptr<ConsumeQueue>> ConsumeQueue::Open(FileSystem* fs,
                                                         std::shared_ptr<FileCache> cache,
                                                         std::string dir,
                                                         uint32_t entries_per_file) {
  if (entries_per_file == 0) return InvalidArgument("queue_entries_per_file must be positive");
  std::unique_ptr<ConsumeQueue> cq(
      new ConsumeQueue(fs, std::move(cache), std::move(dir), entries_per_file));
  RETURN_IF_ERROR(cq->Load());
  return cq;
}

std::string ConsumeQueue::FilePath(int64_t base) const {
  return JoinPath(dir_, OffsetFileName(base));
}

Result<std::shared_ptr<File>> ConsumeQueue::FileAt(int64_t base, bool create) const {
  return cache_->Get(owner_, base, [this, base] { return FilePath(base); }, create);
}

Status ConsumeQueue::Load() {
  WriterLock lock(mu_);
  if (!fs_->Exists(dir_)) return Status::Ok();
  dir_created_ = true;
  ASSIGN_OR_RETURN(std::vector<std::string> names, fs_->ListDir(dir_));
  for (const auto& name : names) {
    int64_t base;
    if (!ParseOffsetFileName(name, &base) || base % entries_per_file_ != 0) continue;
    bases_.insert(base);
  }
  if (bases_.empty()) return Status::Ok();
  const int64_t last = *bases_.rbegin();
  ASSIGN_OR_RETURN(std::shared_ptr<File> file, FileAt(last, /*create=*/false));
  ASSIGN_OR_RETURN(uint64_t size, file->Size());
  uint64_t entries = std::min<uint64_t>(size / kQueueEntrySize, entries_per_file_);
  if (size != entries * kQueueEntrySize) {
    // A torn entry write, or a file grown past its capacity by a bug: keep whole entries.
    RETURN_IF_ERROR(file->Truncate(entries * kQueueEntrySize));
  }
  next_offset_ = last + static_cast<int64_t>(entries);
  staged_next_ = next_offset_;
  QueueEntry first;
  return NextEntryLocked(*bases_.begin(), next_offset_, &min_offset_, &first);
}

Status ConsumeQueue::ReadSlotsLocked(int64_t pos, size_t n, std::string* buf) const {
  const int64_t base = FileBase(pos);
  if (!bases_.count(base)) {  // a removed (or never written) file reads as holes
    buf->assign(n * kQueueEntrySize, '\0');
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(std::shared_ptr<File> file, FileAt(base, /*create=*/false));
  RETURN_IF_ERROR(file->Read(static_cast<uint64_t>(pos - base) * kQueueEntrySize,
                             n * kQueueEntrySize, buf));
  // A file that ends early was never written past its last entry (a gap in the queue leaves
  // trailing slots unwritten): they are holes.
  buf->resize(n * kQueueEntrySize, '\0');
  return Status::Ok();
}

Status ConsumeQueue::NextEntryLocked(int64_t from, int64_t hi, int64_t* at,
                                     QueueEntry* out) const {
  int64_t pos = from;
  std::string buf;
  while (pos < hi) {
    // Jump over files that do not exist: nothing but holes there.
    auto file = bases_.lower_bound(FileBase(pos));
    if (file == bases_.end()) break;
    pos = std::max(pos, *file);
    if (pos >= hi) break;
    const int64_t end = std::min({hi, *file + entries_per_file_, pos + kScanChunk});
    const size_t n = static_cast<size_t>(end - pos);
    RETURN_IF_ERROR(ReadSlotsLocked(pos, n, &buf));
    for (size_t i = 0; i < n; ++i) {
      QueueEntry e = DecodeQueueEntry(buf.data() + i * kQueueEntrySize);
      if (IsHole(e)) continue;
      e.queue_offset = pos + static_cast<int64_t>(i);
      *at = e.queue_offset;
      *out = e;
      return Status::Ok();
    }
    pos = end;
  }
  *at = hi;
  return Status::Ok();
}

Status ConsumeQueue::FindFirstAtOrPastLocked(int64_t lo, int64_t hi, LogOffset log,
                                             int64_t* out) const {
  // Invariant: every real entry below lo points below `log`, and only holes lie between hi and
  // the first real entry at or past hi (so the result may sit on holes before the entry the
  // caller looks for: harmless, readers skip holes).
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    int64_t at;
    QueueEntry e;
    RETURN_IF_ERROR(NextEntryLocked(mid, hi, &at, &e));
    if (at < hi && e.log_offset < log) {
      lo = at + 1;
    } else {
      hi = mid;  // [mid, at) are holes: mid is as good an answer as at
    }
  }
  *out = lo;
  return Status::Ok();
}

Status ConsumeQueue::Append(const QueueEntry& entry, bool* first_staged) {
  if (first_staged != nullptr) *first_staged = false;
  if (entry.queue_offset < staged_next_) return Status::Ok();
  if (entry.queue_offset > staged_next_) {
    if (staged_.empty()) {
      // A gap (replay into a queue rebuilt from a trimmed log, or a raised next offset): the
      // skipped slots stay holes.
      WriterLock lock(mu_);
      if (next_offset_ > min_offset_) {
        spdlog::warn("consume queue {}: gap from queue offset {} to {}", dir_, next_offset_,
                     entry.queue_offset);
      } else {
        min_offset_ = entry.queue_offset;  // an empty queue starts where the log says
      }
    } else {
      // Behind a write that failed: stage the gap as holes to keep the staged run contiguous.
      staged_.append(static_cast<size_t>(entry.queue_offset - staged_next_) * kQueueEntrySize,
                     '\0');
      staged_next_ = entry.queue_offset;
    }
  }
  if (staged_.empty()) {
    staged_from_ = entry.queue_offset;
    if (first_staged != nullptr) *first_staged = true;
  }
  char encoded[kQueueEntrySize];
  EncodeQueueEntry(entry, encoded);
  staged_.append(encoded, kQueueEntrySize);
  staged_next_ = entry.queue_offset + 1;
  return Status::Ok();
}

LogOffset ConsumeQueue::first_unflushed() const {
  for (size_t at = 0; at + kQueueEntrySize <= staged_.size(); at += kQueueEntrySize) {
    QueueEntry e = DecodeQueueEntry(staged_.data() + at);
    if (!IsHole(e)) return e.log_offset;
  }
  return kNoLogOffset;
}

Status ConsumeQueue::Flush() {
  if (staged_.empty()) return Status::Ok();
  int64_t pos = staged_from_;
  std::string_view rest(staged_);
  Status st;
  std::vector<int64_t> written;
  while (!rest.empty()) {
    const int64_t base = FileBase(pos);
    const size_t n = std::min<size_t>(rest.size() / kQueueEntrySize,
                                      static_cast<size_t>(base + entries_per_file_ - pos));
    bool exists;
    {
      ReaderLock lock(mu_);
      exists = bases_.count(base) > 0;
    }
    if (!dir_created_) {
      st = fs_->CreateDirs(dir_);
      if (!st.ok()) break;
      dir_created_ = true;
    }
    Result<std::shared_ptr<File>> file = FileAt(base, /*create=*/!exists);
    if (!file.ok()) {
      st = file.status();
      break;
    }
    if (!exists) {
      st = fs_->SyncDir(dir_);
      if (!st.ok()) break;
      WriterLock lock(mu_);
      bases_.insert(base);
    }
    const uint64_t at = static_cast<uint64_t>(pos - base) * kQueueEntrySize;
    st = (*file)->Write(at, rest.substr(0, n * kQueueEntrySize));
    if (!st.ok()) break;
    written.push_back(base);
    rest.remove_prefix(n * kQueueEntrySize);
    pos += static_cast<int64_t>(n);
  }
  WriterLock lock(mu_);
  dirty_.insert(written.begin(), written.end());
  if (!st.ok()) return st;  // staged_ stays: written again, whole, by the next Flush
  staged_.clear();
  next_offset_ = staged_next_;
  return Status::Ok();
}

Status ConsumeQueue::Sync() {
  std::vector<int64_t> bases;
  {
    WriterLock lock(mu_);
    for (int64_t base : dirty_) {
      if (bases_.count(base)) bases.push_back(base);
    }
    dirty_.clear();
  }
  for (size_t i = 0; i < bases.size(); ++i) {
    Status st;
    Result<std::shared_ptr<File>> file = FileAt(bases[i], /*create=*/false);
    if (file.ok()) st = (*file)->Sync();
    if (!file.ok() || !st.ok()) {
      WriterLock lock(mu_);  // still to sync: the next Sync tries again
      dirty_.insert(bases.begin() + static_cast<ptrdiff_t>(i), bases.end());
      return file.ok() ? st : file.status();
    }
  }
  return Status::Ok();
}

Status ConsumeQueue::TruncateFromLog(LogOffset log_end) {
  WriterLock lock(mu_);
  int64_t keep;
  RETURN_IF_ERROR(FindFirstAtOrPastLocked(min_offset_, next_offset_, log_end, &keep));
  if (keep == next_offset_) return Status::Ok();
  spdlog::warn(
      "consume queue {}: entries {}..{} point past the recovered log end {}; they become holes "
      "(their queue offsets are not given to other messages)",
      dir_, keep, next_offset_ - 1, log_end.value());
  const std::string zeros(static_cast<size_t>(kScanChunk) * kQueueEntrySize, '\0');
  for (auto it = bases_.lower_bound(FileBase(keep)); it != bases_.end(); ++it) {
    const int64_t from = std::max(keep, *it);
    const int64_t to = std::min(next_offset_, *it + entries_per_file_);
    if (from >= to) continue;
    ASSIGN_OR_RETURN(std::shared_ptr<File> file, FileAt(*it, /*create=*/false));
    for (int64_t pos = from; pos < to; pos += kScanChunk) {
      const size_t n = static_cast<size_t>(std::min(kScanChunk, to - pos));
      RETURN_IF_ERROR(file->Write(static_cast<uint64_t>(pos - *it) * kQueueEntrySize,
                                  std::string_view(zeros.data(), n * kQueueEntrySize)));
    }
    RETURN_IF_ERROR(file->Sync());
  }
  return Status::Ok();
}

Status ConsumeQueue::TrimBelowLog(LogOffset log_min) {
  std::vector<int64_t> doomed;
  {
    WriterLock lock(mu_);
    int64_t first;
    RETURN_IF_ERROR(FindFirstAtOrPastLocked(min_offset_, next_offset_, log_min, &first));
    min_offset_ = std::max(min_offset_, first);
    const int64_t last_base = bases_.empty() ? 0 : *bases_.rbegin();
    for (auto it = bases_.begin(); it != bases_.end() && *it < last_base;) {
      if (*it + entries_per_file_ > min_offset_) break;
      doomed.push_back(*it);
      dirty_.erase(*it);
      it = bases_.erase(it);
    }
  }
  for (int64_t base : doomed) {
    cache_->Erase(owner_, base);
    RETURN_IF_ERROR(fs_->Remove(FilePath(base)));
  }
  return Status::Ok();
}

Result<std::vector<QueueEntry>> ConsumeQueue::Read(int64_t from, size_t max,
                                                   LogOffset log_min) const {
  std::vector<QueueEntry> out;
  ReaderLock lock(mu_);
  int64_t pos = std::max(from, min_offset_);
  std::string buf;
  while (pos < next_offset_ && out.size() < max) {
    const int64_t base = FileBase(pos);
    if (!bases_.count(base)) {  // a trimmed (or never written) file: nothing there to return
      auto next = bases_.upper_bound(base);
      if (next == bases_.end()) break;
      pos = *next;
      continue;
    }
    const int64_t end = std::min(
        {next_offset_, base + entries_per_file_, pos + static_cast<int64_t>(max - out.size())});
    const size_t n = static_cast<size_t>(end - pos);
    RETURN_IF_ERROR(ReadSlotsLocked(pos, n, &buf));
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
  ReaderLock lock(mu_);
  return min_offset_;
}

int64_t ConsumeQueue::next_offset() const {
  ReaderLock lock(mu_);
  return next_offset_;
}

}  // namespace tidemq::store
