// The store: CommitLog (the single source of truth) plus what is derived from it — consume
// queues, the key/message-id index — and a small metadata key-value space for the broker
// (topics, groups, offsets), itself derived from control records in the log (AppendMeta).
// See store/README.md and docs/storage_format.md.
//
// Threads: Append() may be called from any thread; it never blocks on disk. One writer thread
// ("tidemq-writer") encodes, writes, syncs (group commit) and dispatches, then runs callbacks
// on that thread — callbacks must be short (post elsewhere). Reads (Read, ReadQueue, Lookup*,
// GetMeta, ...) may be called from any thread concurrently with appends.
//
// Durability: under FlushPolicy::kSync the callback runs only after fdatasync; under kAsync
// after the write reached the page cache (a flusher syncs every flush_interval_ms). Records
// become visible to readers (consume queues, lookups) in log order, normally before their
// callback runs; when a consume queue or the index cannot be written (out of space or
// descriptors), the record is acknowledged once durable in the log and becomes visible when
// the write succeeds on a retry.
// Faults: out of disk space (or below disk_reserve_bytes) and out of descriptors pass by
// themselves — appends fail with kResourceExhausted meanwhile and succeed again without a
// restart. After any other write or sync error the store turns read-only: every later Append
// fails with Code::kReadOnly and a message naming the original error, until a restart.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/file_system.h"
#include "common/histogram.h"
#include "common/status.h"
#include "common/types.h"
#include "store/control_record.h"
#include "store/record.h"

namespace tidemq::store {

enum class FlushPolicy { kAsync, kSync };

struct StoreOptions {
  std::string data_dir;                          // required
  uint64_t segment_bytes = 1ull << 30;           // CommitLog segment size
  FlushPolicy flush_policy = FlushPolicy::kAsync;
  int64_t flush_interval_ms = 200;               // kAsync only
  int64_t retention_ms = 72ll * 3600 * 1000;     // segments older than this may be deleted
  double disk_high_watermark = 0.90;             // delete oldest segments above this usage
  // Disk full (docs/storage_format.md, "Faults"): appends are refused with kResourceExhausted
  // while the file system has less than this free, and accepted again by themselves once
  // space is freed. 0: 1 % of the file system, within [32 MiB, 256 MiB].
  uint64_t disk_reserve_bytes = 0;
  // Above disk_high_watermark, refuse appends instead of only deleting what retention may
  // (retention guards can keep unconsumed messages; then writes stop, not deletes go on).
  bool refuse_writes_above_watermark = false;
  // Consume-queue files open at once (an LRU shared by every queue). 0: a quarter of the
  // process's descriptor limit, within [64, 4096].
  size_t max_open_queue_files = 0;
  uint32_t queue_entries_per_file = 300'000;     // consume queue file size, in entries
  size_t max_batch_bytes = 8u << 20;             // group commit: most bytes per write
  // Recovery (docs/storage_format.md, "Recovery"): a damaged range of the log with intact
  // records after it is skipped, counted and logged (and the first kMaxDamagedCopyBytes of it
  // copied to <data_dir>/damaged/); strict_recovery makes Open fail instead.
  bool strict_recovery = false;
  // Replication (docs/replication.md): opened as a replica, the store takes records only
  // from AppendReplicated (Append and AppendMeta fail with kFailedPrecondition) and writes no
  // metadata snapshots of its own (the master's arrive in the log) until Promote().
  bool replica = false;
  // Asked by the writer before it writes each group of appends (not replicated chunks): a
  // non-OK answer refuses the group with that status and nothing of it reaches the log. A
  // master fenced by its lease clock says no here (docs/replication.md, "Fencing"). Must be
  // cheap and never block. nullptr: always write.
  std::function<Status()> write_gate;
  FileSystem* fs = nullptr;                      // nullptr: FileSystem::Default()
  Clock* clock = nullptr;                        // nullptr: SystemClock::Get()
};

// A range of the log that recovery or replay found damaged, with intact records on both sides:
// its records cannot be read (Read says kCorruption) and were skipped.
struct DamagedRange {
  LogOffset from;
  LogOffset to;          // the next intact record
  std::string reason;    // what was wrong at `from`
};

// The most bytes of a damaged range copied aside for an operator to inspect.
inline constexpr uint64_t kMaxDamagedCopyBytes = 16u << 20;

struct AppendResult {
  LogOffset log_offset;
  int64_t queue_offset = -1;                     // -1 for records not put in a queue
  int64_t store_ms = 0;
  uint32_t size = 0;
};

using AppendCallback = std::function<void(const Status&, std::vector<AppendResult>)>;

// Replication: a stretch of the log copied byte for byte — whole records of one segment.
struct LogChunk {
  LogOffset from;          // log offset of its first byte
  LogOffset segment_base;  // base of the (master's) segment holding it
  std::string bytes;       // whole records, back to back; empty: nothing new
};

// The most bytes ReadLog returns when not asked for fewer (one record may exceed it).
inline constexpr size_t kDefaultLogChunkBytes = 1u << 20;

// One consume queue entry: where the n-th message of a (topic, queue) sits in the log.
struct QueueEntry {
  int64_t queue_offset = 0;
  LogOffset log_offset;
  uint32_t size = 0;
  uint32_t tag_hash = 0;
  int64_t store_ms = 0;
};

// Something derived from the log (timer index, transaction index, long-poll waiters).
// OnRecord is called on the writer thread for every record, in log order, once the record is
// durable under the policy; during Open() it is called for records past Checkpoint() that the
// observer has not seen (replay). It must be idempotent: a record may be seen twice after a
// crash. OnBatchEnd follows the last OnRecord of each group commit (and of each replay chunk),
// before any appender's callback runs: an observer may stage the records' effects and apply
// them there at once (one index write per batch instead of one per record).
class Observer {
 public:
  virtual ~Observer() = default;
  // The log offset up to which this observer's derived state is persisted (replay starts
  // here). Observers with no persisted state return kNoLogOffset (sees live records only).
  virtual LogOffset Checkpoint() const = 0;
  virtual void OnRecord(const Record& record, LogOffset offset, bool replay) = 0;
  virtual void OnBatchEnd(bool /*replay*/) {}
  // Catching up after a failure of the observer's own, for want of space or descriptors (its
  // index could not be written on a full disk): NeedsReplay() says it stopped applying
  // records. The store then calls Resume() (the observer makes itself ready: reopens its
  // index) and, when that succeeds, replays the log to it from Checkpoint() — on the writer
  // thread, between groups, about once a second while there is room — so the observer
  // recovers without a restart.
  virtual bool NeedsReplay() const { return false; }
  virtual Status Resume() { return Status::Ok(); }
};

struct StoreStats {
  int64_t min_log_offset = 0;
  int64_t max_log_offset = 0;          // next byte to be written
  int64_t confirmed_log_offset = 0;    // durable under the policy, visible to readers
  int64_t segments = 0;
  int64_t appended_records = 0;
  int64_t appended_bytes = 0;
  int64_t syncs = 0;                   // fdatasync calls
  int64_t batches = 0;                 // group-commit writes
  bool read_only = false;
  std::string read_only_reason;
  // Appends refused for a reason that passes by itself (disk full, derived state that could
  // not be written yet); empty when appends are accepted.
  std::string refusing_reason;
  int64_t disk_free_bytes = -1;        // at the last check; -1 when unknown
  int64_t disk_reserve_bytes = 0;
  int64_t open_queue_files = 0;
  // Found by recovery and replay since this Open: damaged ranges skipped, their bytes, and the
  // bytes of the torn tail truncated from the active segment.
  int64_t damaged_ranges = 0;
  int64_t damaged_bytes = 0;
  int64_t torn_tail_bytes = 0;
  int64_t corrupt_reads = 0;           // Read() calls that met a damaged record
  // Metadata (docs/storage_format.md §9): the log offset of the newest complete metadata
  // snapshot (-1: none yet), control records skipped because they did not decode, and
  // key / message-id index entries dropped with segments deleted by retention.
  int64_t meta_snapshot_offset = -1;
  int64_t malformed_control_records = 0;
  int64_t index_entries_trimmed = 0;
  // The writer's time per group-commit write (the batch's pwrite calls) and per fdatasync of
  // the log, in microseconds (docs/metrics.md: tidemq_store_append_latency_us, ..._sync_...).
  HistogramSnapshot append_latency_us;
  HistogramSnapshot sync_latency_us;
};

class Store {
 public:
  // Opens (creating when missing) the store in options.data_dir; recovers the CommitLog
  // (truncating a torn tail), re-derives consume queues and indexes from their checkpoints,
  // replays to `observers` (not owned; must outlive the store), then starts the writer.
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options,
                                             std::vector<Observer*> observers = {});
  // Stops accepting appends, completes queued ones, syncs and persists checkpoints.
  virtual ~Store() = default;

  // Appends `records` contiguously and in order; assigns queue offsets; calls `callback` once
  // with one AppendResult per record when durable (see the contract above), or with an error
  // and no results. Record.store_ms is set by the store.
  virtual void Append(std::vector<Record> records, AppendCallback callback) = 0;
  // Blocking convenience over Append (tests, tools). Never call it on the writer thread.
  Result<std::vector<AppendResult>> AppendAndWait(std::vector<Record> records);

  virtual Result<Record> Read(LogOffset offset) const = 0;

  // Up to max entries of (topic, queue_id) starting at queue offset `from`. Entries whose log
  // region was deleted by retention are skipped. Empty when from >= MaxQueueOffset.
  virtual Result<std::vector<QueueEntry>> ReadQueue(const std::string& topic, uint32_t queue_id,
                                                    int64_t from, size_t max) const = 0;
  virtual int64_t MinQueueOffset(const std::string& topic, uint32_t queue_id) const = 0;
  // The next queue offset to be written (== number of messages ever put in the queue).
  virtual int64_t MaxQueueOffset(const std::string& topic, uint32_t queue_id) const = 0;
  // Makes the next message of (topic, queue_id) get a queue offset of at least `next`, so that
  // offsets a consumer already passed (say, before the log lost its tail) are never reused for
  // different messages. The consume queue leaves a hole below it. Not persisted: the caller
  // raises it again at every start. Never lowers; runs after everything appended before it.
  virtual Status RaiseNextQueueOffset(const std::string& topic, uint32_t queue_id,
                                      int64_t next) = 0;

  // Log offsets of messages of `topic` carrying `key`, newest first, at most max.
  virtual Result<std::vector<LogOffset>> LookupKey(const std::string& topic,
                                                   const std::string& key, size_t max) const = 0;
  // Log offsets of records with this message id (several after re-puts), newest first.
  virtual Result<std::vector<LogOffset>> LookupMessageId(const std::string& message_id,
                                                         size_t max) const = 0;

  // Broker metadata (topics, groups, consumer offsets) under keys the broker chooses. A change
  // is appended to the log as control records (split when large; each op absolute) and applied
  // to the metadata space when dispatched, in log order with every other append: a change
  // made after another reaches the log after it. `callback` (may be null) runs once, like an
  // Append's, when the change is durable under the flush policy (then GetMeta/ScanMeta see it
  // unless the index write is behind after a transient failure; the log has it either way). A
  // kDropTopicQueues op removes the topic's consume queues when dispatched (live and on
  // replay; the log records stay until retention).
  virtual void AppendMeta(MetaChange change, std::function<void(const Status&)> callback) = 0;
  // Blocking convenience over AppendMeta (start-up, tests, worker threads; never a network
  // thread nor the writer thread).
  Status AppendMetaAndWait(MetaChange change);
  virtual Result<std::optional<std::string>> GetMeta(const std::string& key) const = 0;
  virtual Result<std::vector<std::pair<std::string, std::string>>> ScanMeta(
      const std::string& prefix) const = 0;

  // Retention: a guard returns the smallest log offset its module still needs (kNoLogOffset:
  // nothing). Segments at or past any guard's offset are never deleted.
  virtual void AddRetentionGuard(std::function<LogOffset()> guard) = 0;
  // Deletes segments past retention_ms or above the disk watermark, respecting checkpoints
  // and guards. Returns how many segments were deleted. Called periodically by the broker.
  virtual Result<int> RunRetention() = 0;

  virtual StoreStats Stats() const = 0;
  virtual bool read_only() const = 0;

  // --- Replication (docs/replication.md) ---
  // Master side: whole records from `from` (a record boundary) up to the confirmed end, at
  // most max_bytes of them (but at least one record when there is one), never across a
  // segment boundary. Empty bytes when `from` is the confirmed end. kNotFound below the log's
  // start (retention deleted it: a replica that far behind starts over), kOutOfRange past the
  // confirmed end, kCorruption when `from` is not where a record starts.
  virtual Result<LogChunk> ReadLog(LogOffset from, size_t max_bytes) const = 0;
  // Replica side: writes a master's chunk at the same log offsets — chunk.from must be this
  // log's end — after checking every record in it (magic, length, CRC, fields: kCorruption,
  // and nothing written, when one fails). A chunk whose segment_base is this log's end starts
  // a new segment there, so the replica's segments mirror the master's; an empty log takes
  // any segment_base as its start (a replica that begins where the master's log begins).
  // Records are dispatched like a replay (queue offsets come from the records) and given to
  // the observers. `callback` runs on the writer thread once the chunk is durable under the
  // flush policy (`sync`: after an fdatasync whatever the policy), with the new log end.
  // kFailedPrecondition when the store is not a replica or chunk.from is not the log end.
  virtual void AppendReplicated(LogChunk chunk, bool sync,
                                std::function<void(const Status&, LogOffset end)> callback) = 0;
  // A replica becomes the master: appends are accepted from here on (after everything
  // replicated before). No-op on a master.
  virtual Status Promote() = 0;
  virtual bool replica() const = 0;
  // The end of what is durable under the flush policy and readable (cheap; any thread).
  virtual LogOffset ConfirmedEnd() const = 0;
  // Consume queues show only messages below `end` (kNoLogOffset: no limit): under `sync`
  // replication consumers see only what the in-sync replicas hold. Any thread.
  virtual void SetVisibleEnd(LogOffset end) = 0;
  // Replication truncation, on a closed store: cuts the log at `to` (a record boundary; the
  // end of the last record both logs share) and clears the consume queues and the index,
  // which the next Open rebuilds from the log (metadata included). `to` at or past the end:
  // nothing to do. The caller clears what its observers derived (timer/, txn/).
  static Status TruncateLog(const StoreOptions& options, LogOffset to);
};

}  // namespace tidemq::store
