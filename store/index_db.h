// The store's LevelDB (<data_dir>/index): the key and message-id indexes derived from the log
// (bucketed by CommitLog segment, so retention drops a segment's entries with it), the store's
// checkpoints, and the broker's metadata key space (derived too: applied from control records
// in log order). Key grammar in docs/storage_format.md. LevelDB statuses are converted to
// tidemq Status here and nowhere else.
//
// Thread safety: every method may be called from any thread (leveldb::DB is thread-safe).
// An IndexBatch is used by one thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "store/reopenable_db.h"

namespace leveldb {
class WriteBatch;
}  // namespace leveldb

namespace tidemq::store {

// Checkpoint names ("c/" + name in LevelDB).
inline constexpr char kDispatchCheckpoint[] = "dispatch";   // consume queues + index applied
inline constexpr char kIndexEndCheckpoint[] = "index_end";  // end of the last indexed record
// Log offset of the first record of the newest complete metadata snapshot.
inline constexpr char kMetaSnapshotCheckpoint[] = "meta_snapshot";
// The layout of the derived keys ("c/layout"). 2: key and message-id entries bucketed by
// segment. An index of another layout is cleared and rebuilt from the log at open.
inline constexpr uint32_t kIndexLayoutVersion = 2;

// Index entries of one group commit (or one replay chunk), written together.
class IndexBatch {
 public:
  IndexBatch();
  ~IndexBatch();
  // `segment`: the base offset of the CommitLog segment holding the record at `offset`.
  void AddKey(LogOffset segment, const std::string& topic, const std::string& key,
              LogOffset offset);
  void AddMessageId(LogOffset segment, const std::string& message_id, LogOffset offset);
  // Metadata ops of the control record at `offset` (applied in the order they are added).
  void PutMeta(const std::string& key, const std::string& value, LogOffset offset);
  void DeleteMeta(const std::string& key, LogOffset offset);
  void SetCheckpoint(const std::string& name, LogOffset offset);
  // Adds `later`'s entries after this batch's (a batch that could not be written goes first).
  void Append(const IndexBatch& later);
  size_t count() const { return count_; }
  // The smallest log offset an entry of this batch indexes; kNoLogOffset when none.
  LogOffset first_offset() const { return first_; }
  size_t ApproximateBytes() const;
  void Clear();

 private:
  friend class IndexDb;
  void Note(LogOffset offset);
  std::unique_ptr<leveldb::WriteBatch> batch_;
  size_t count_ = 0;
  LogOffset first_ = kNoLogOffset;
};

class IndexDb {
 public:
  // *existed is false when the database was created by this call.
  static Result<std::unique_ptr<IndexDb>> Open(const std::string& path, bool* existed);
  ~IndexDb();

  Status Write(IndexBatch* batch, bool sync);
  // Closes and opens the database again. LevelDB stops accepting writes for good after a
  // background write fails (a memtable flush on a full disk); a reopen clears that once
  // the cause has passed. Calls meanwhile fail with kResourceExhausted.
  Status Reopen();
  // True after a write failed for want of space or descriptors, until one succeeds (or a
  // Reopen): the store then reopens the database once there is room again.
  bool write_failing() const { return write_failing_.load(std::memory_order_relaxed); }

  // Newest first (highest log offset first), at most max, looking in the buckets of
  // `segments` (base offsets, newest first: the log's live segments).
  Result<std::vector<LogOffset>> LookupKey(const std::vector<LogOffset>& segments,
                                           const std::string& topic, const std::string& key,
                                           size_t max) const;
  Result<std::vector<LogOffset>> LookupMessageId(const std::vector<LogOffset>& segments,
                                                 const std::string& message_id, size_t max) const;
  // Removes key and message-id entries pointing at or past `offset` (they indexed records of a
  // torn log tail that recovery cut off). Scans the whole index: recovery-only.
  Status DeleteIndexEntriesFrom(LogOffset offset);
  // Removes the buckets of segments based below `log_min` (deleted by retention) and compacts
  // their key range so the disk space is given back. Returns how many entries went.
  Result<int64_t> DropSegmentsBelow(LogOffset log_min);
  // Key and message-id entries of every layout and the whole metadata space: what a rebuild
  // from the log starts from (an older layout, or metadata that ran ahead of a torn log).
  Status ClearDerived(bool metadata_too);
  // The derived-key layout written in this database; 0 when none is recorded (layout 1).
  Result<uint32_t> GetLayout() const;
  Status PutLayout(uint32_t version);

  // kNoLogOffset when the checkpoint was never written.
  Result<LogOffset> GetCheckpoint(const std::string& name) const;
  Status PutCheckpoint(const std::string& name, LogOffset offset, bool sync);

  // Broker metadata: keys are stored as "m/" + key and given back without the prefix. Written
  // only through IndexBatch (from control records).
  Result<std::optional<std::string>> GetMeta(const std::string& key) const;
  Result<std::vector<std::pair<std::string, std::string>>> ScanMeta(
      const std::string& prefix) const;

 private:
  explicit IndexDb(std::unique_ptr<ReopenableDb> db);
  // Appends offsets of keys "prefix + offset" to *out, newest first, until out has max.
  Status ScanNewestFirst(const std::string& prefix, size_t max, std::vector<LogOffset>* out) const;
  Status NoteWrite(Status st);  // keeps write_failing_
  // Deletes every key in [from, to), then compacts that range; counts them in *deleted.
  Status DeleteRange(const std::string& from, const std::string& to, int64_t* deleted);

  std::unique_ptr<ReopenableDb> db_;
  std::atomic<bool> write_failing_{false};
};

// Key builders, shared by the writer and the readers (exposed for tests).
std::string SegmentBucketPrefix(LogOffset segment);
std::string KeyIndexPrefix(LogOffset segment, const std::string& topic, const std::string& key);
std::string MessageIdIndexPrefix(LogOffset segment, const std::string& message_id);

}  // namespace tidemq::store
