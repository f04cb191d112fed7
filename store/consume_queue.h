// One consume queue: the index of one (topic, queue) — entry n says where the n-th message of
// the queue sits in the CommitLog. Files <dir>/<20-digit first queue offset>, each holding
// entries_per_file fixed-size entries (docs/storage_format.md); file bases are multiples of
// entries_per_file, so the file and slot of a queue offset are arithmetic.
//
// Derived state: everything here can be rebuilt from the log, and Append is idempotent
// (entries below next_offset() are skipped), so replay after a crash is harmless.
//
// Thread safety: Append, Sync and TruncateFromLog are called by the store's writer thread;
// Read, min_offset and next_offset by any thread; TrimBelowLog by retention (one at a time).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/file_system.h"
#include "common/status.h"
#include "common/types.h"
#include "store/store.h"
#include "store/thread_annotations.h"

namespace tidemq::store {

// log_offset i64, size u32, tag_hash u32, store_ms i64.
inline constexpr size_t kQueueEntrySize = 24;

void EncodeQueueEntry(const QueueEntry& e, char* dst);
// queue_offset is not stored (it is the entry's position); the caller sets it.
QueueEntry DecodeQueueEntry(const char* src);

class ConsumeQueue {
 public:
  // Loads the files found in dir (which may not exist yet: it is created on first append).
  static Result<std::unique_ptr<ConsumeQueue>> Open(FileSystem* fs, std::string dir,
                                                    uint32_t entries_per_file);

  // Stages `entry` at entry.queue_offset; it becomes readable at the next Flush(), which
  // writes every staged entry with one write per file (the writer stages a whole group
  // commit, then flushes: one syscall per queue per group instead of one per message).
  // Skips it when queue_offset is below what is already staged or written (replay). A queue
  // offset past that leaves a hole (all-zero entries readers skip). *first_staged tells
  // whether this made the queue go from nothing staged to something staged.
  Status Append(const QueueEntry& entry, bool* first_staged = nullptr);
  // Writes the staged entries and publishes them to readers.
  Status Flush();
  // fdatasync of every file written since the last Sync.
  Status Sync();
  // Drops the entries pointing at or past log_end (they outran a truncated torn log tail).
  Status TruncateFromLog(LogOffset log_end);
  // Advances min_offset() past entries below log_min and removes files holding only such
  // entries (never the file holding the last entry: it records next_offset()).
  Status TrimBelowLog(LogOffset log_min);

  // Up to max entries from queue offset `from`, skipping holes and entries below log_min.
  Result<std::vector<QueueEntry>> Read(int64_t from, size_t max, LogOffset log_min) const;
  int64_t min_offset() const;
  int64_t next_offset() const;

 private:
  ConsumeQueue(FileSystem* fs, std::string dir, uint32_t entries_per_file);
  Status Load();
  int64_t FileBase(int64_t queue_offset) const {
    return queue_offset - queue_offset % entries_per_file_;
  }
  // Entry at queue_offset; requires the lock held and the entry to be inside a file.
  Status ReadEntryLocked(int64_t queue_offset, QueueEntry* out) const;
  // First queue offset in [lo, hi) whose entry is not a hole and points at or past `log`;
  // hi when none. Entries are in log order, so this is a binary search.
  Status FindFirstAtOrPastLocked(int64_t lo, int64_t hi, LogOffset log, int64_t* out) const;

  FileSystem* const fs_;
  const std::string dir_;
  const int64_t entries_per_file_;

  mutable std::shared_mutex mu_;
  std::map<int64_t, std::shared_ptr<File>> files_ GUARDED_BY(mu_);  // by first queue offset
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
