// One consume queue: the index of one (topic, queue) — entry n says where the n-th message of
// the queue sits in the CommitLog. Files <dir>/<20-digit first queue offset>, each holding
// entries_per_file fixed-size entries (docs/storage_format.md); file bases are multiples of
// entries_per_file, so the file and slot of a queue offset are arithmetic.
//
// Derived state: everything here can be rebuilt from the log, and Append is idempotent
// (entries below next_offset() are skipped), so replay after a crash is harmless.
//
// Holes: an all-zero entry was never written (or was cut off with the log tail it pointed
// at); readers skip holes. A queue offset, once given out, is never given to another message:
// entries past a truncated log tail become holes instead of being reused.
//
// Descriptors: the queue holds none of its own; its files are opened through the store's
// FileCache (an LRU shared by every queue) and may be closed between two uses.
//
// Thread safety: Append, Flush, Sync and TruncateFromLog are called by the store's writer
// thread (Sync also by the flusher); Read, min_offset and next_offset by any thread;
// TrimBelowLog by retention (one at a time).
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/file_system.h"
#include "common/status.h"
#include "common/types.h"
#include "store/file_cache.h"
#include "store/store.h"
#include "common/thread_annotations.h"

namespace tidemq::store {

// log_offset i64, size u32, tag_hash u32, store_ms i64.
inline constexpr size_t kQueueEntrySize = 24;

void EncodeQueueEntry(const QueueEntry& e, char* dst);
// queue_offset is not stored (it is the entry's position); the caller sets it.
QueueEntry DecodeQueueEntry(const char* src);

class ConsumeQueue {
 public:
  // Loads the files found in dir (which may not exist yet: it is created on first append).
  static Result<std::unique_ptr<ConsumeQueue>> Open(FileSystem* fs,
                                                    std::shared_ptr<FileCache> cache,
                                                    std::string dir, uint32_t entries_per_file);
  ~ConsumeQueue();

  // Stages `entry` at entry.queue_offset; it becomes readable at the next Flush(), which
  // writes every staged entry with one write per file (the writer stages a whole group
  // commit, then flushes: one syscall per queue per group instead of one per message).
  // Skips it when queue_offset is below what is already staged or written (replay). A queue
  // offset past that leaves a hole (all-zero entries readers skip). *first_staged tells
  // whether this made the queue go from nothing staged to something staged.
  Status Append(const QueueEntry& entry, bool* first_staged = nullptr);
  // Writes the staged entries and publishes them to readers. On failure nothing new is
  // published and the entries stay staged: the next Flush writes them again.
  Status Flush();
  // Writer thread: the log offset of the first staged entry not yet written (kNoLogOffset
  // when everything is written), and the bytes staged.
  LogOffset first_unflushed() const;
  size_t staged_bytes() const { return staged_.size(); }
  // fdatasync of every file written since the last Sync.
  Status Sync();
  // Turns the entries pointing at or past log_end into holes (they outran a truncated torn
  // log tail); next_offset() stays, so their queue offsets are not reused.
  Status TruncateFromLog(LogOffset log_end);
  // Advances min_offset() past entries below log_min and removes files holding only such
  // entries (never the file holding the last entry: it records next_offset()).
  Status TrimBelowLog(LogOffset log_min);

  // Up to max entries from queue offset `from`, skipping holes and entries below log_min.
  Result<std::vector<QueueEntry>> Read(int64_t from, size_t max, LogOffset log_min) const;
  int64_t min_offset() const;
  int64_t next_offset() const;
  const std::string& dir() const { return dir_; }

 private:
  ConsumeQueue(FileSystem* fs, std::shared_ptr<FileCache> cache, std::string dir,
               uint32_t entries_per_file);
  Status Load();
  int64_t FileBase(int64_t queue_offset) const {
    return queue_offset - queue_offset % entries_per_file_;
  }
  std::string FilePath(int64_t base) const;
  Result<std::shared_ptr<File>> FileAt(int64_t base, bool create) const;
  // Reads n entries from queue offset `pos` (inside one file) into *buf; slots past the
  // file's end read as holes. REQUIRES(mu_) (shared)
  Status ReadSlotsLocked(int64_t pos, size_t n, std::string* buf) const REQUIRES_SHARED(mu_);
  // The first entry at or after `from` and below `hi` that is not a hole: *at is its queue
  // offset, or hi when there is none. REQUIRES(mu_) (shared)
  Status NextEntryLocked(int64_t from, int64_t hi, int64_t* at, QueueEntry* out) const REQUIRES_SHARED(mu_);
  // A queue offset in [lo, hi] such that every entry from it up to the first entry that is
  // not a hole and points at or past `log` is a hole (hi when no such entry). Entries are in
  // log order, so this is a binary search; a hole takes the verdict of the next real entry.
  // REQUIRES(mu_) (shared)
  Status FindFirstAtOrPastLocked(int64_t lo, int64_t hi, LogOffset log, int64_t* out) const REQUIRES_SHARED(mu_);

  FileSystem* const fs_;
  const std::shared_ptr<FileCache> cache_;  // shared: a reader may outlive the queue set
  const uint64_t owner_;  // this queue's files in cache_
  const std::string dir_;
  const int64_t entries_per_file_;

  mutable SharedMutex mu_;
  std::set<int64_t> bases_ GUARDED_BY(mu_);  // files that exist, by first queue offset
  int64_t min_offset_ GUARDED_BY(mu_) = 0;
  int64_t next_offset_ GUARDED_BY(mu_) = 0;
  std::set<int64_t> dirty_ GUARDED_BY(mu_);  // files written since the last Sync
  bool dir_created_ = false;                 // writer thread
  // Writer thread only: entries staged by Append and not yet written, starting at
  // staged_from_; staged_next_ is the next queue offset the writer expects.
  std::string staged_;
  int64_t staged_from_ = 0;
  int64_t staged_next_ = 0;
};

}  // namespace tidemq::store
