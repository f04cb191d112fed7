// StoreImpl: the Store of store/store.h. Split over files by concern:
//   store_impl.cc       the public API (Append validation, reads, meta, stats)
//   store_writer.cc     the writer thread: group commit, dispatch, flush, checkpoints
//   store_recovery.cc   Open: log recovery, derived-state repair and replay
//   store_retention.cc  RunRetention
//   store_replication.cc  replication: ReadLog, AppendReplicated, Promote, TruncateLog
//
// Threads: "tidemq-writer" owns every field marked "writer thread" below (before it starts,
// Open owns them). Everything else is guarded as marked or atomic.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "store/commit_log.h"
#include "store/consume_queue_set.h"
#include "store/index_db.h"
#include "store/store.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace tidemq::store {

class StoreImpl final : public Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options,
                                             std::vector<Observer*> observers);
  ~StoreImpl() override;

  void Append(std::vector<Record> records, AppendCallback callback) override;
  // Append, with an fdatasync before the callback when `sync` (whatever the flush policy).
  void Enqueue(std::vector<Record> records, AppendCallback callback, bool sync);
  Result<Record> Read(LogOffset offset) const override;
  Result<std::vector<QueueEntry>> ReadQueue(const std::string& topic, uint32_t queue_id,
                                            int64_t from, size_t max) const override;
  int64_t MinQueueOffset(const std::string& topic, uint32_t queue_id) const override;
  int64_t MaxQueueOffset(const std::string& topic, uint32_t queue_id) const override;
  Status RaiseNextQueueOffset(const std::string& topic, uint32_t queue_id,
                              int64_t next) override;
  Result<std::vector<LogOffset>> LookupKey(const std::string& topic, const std::string& key,
                                           size_t max) const override;
  Result<std::vector<LogOffset>> LookupMessageId(const std::string& message_id,
                                                 size_t max) const override;
  void AppendMeta(MetaChange change, std::function<void(const Status&)> callback) override;
  Result<std::optional<std::string>> GetMeta(const std::string& key) const override;
  Result<std::vector<std::pair<std::string, std::string>>> ScanMeta(
      const std::string& prefix) const override;
  void AddRetentionGuard(std::function<LogOffset()> guard) override;
  Result<int> RunRetention() override;
  StoreStats Stats() const override;
  bool read_only() const override { return read_only_.load(std::memory_order_acquire); }

  // store_replication.cc
  Result<LogChunk> ReadLog(LogOffset from, size_t max_bytes) const override;
  void AppendReplicated(LogChunk chunk, bool sync,
                        std::function<void(const Status&, LogOffset)> callback) override;
  Status Promote() override;
  bool replica() const override { return replica_.load(std::memory_order_acquire); }
  LogOffset ConfirmedEnd() const override {
    return LogOffset(confirmed_.load(std::memory_order_acquire));
  }
  void SetVisibleEnd(LogOffset end) override {
    visible_end_.store(end == kNoLogOffset ? INT64_MAX : end.value(), std::memory_order_release);
  }

 private:
  // One queued Append, or (when `task` is set) a job to run on the writer thread in order.
  struct Request {
    std::vector<Record> records;
    AppendCallback callback;
    size_t bytes = 0;
    std::function<void()> task;
    // Written in a group of its own: it drops consume queues, and queue offsets of the
    // records after it must be assigned once the drop is done.
    bool alone = false;
    bool snapshot = false;  // the writer's metadata snapshot (a roll inside it asks no other)
    bool sync = false;      // fdatasync before the callback, whatever the flush policy
  };

  StoreImpl(const StoreOptions& options, std::vector<Observer*> observers);

  // store_recovery.cc
  Status Recover();
  // (record, base of its segment, its offset, its size)
  using RecordVisitor = std::function<Status(const Record&, LogOffset, LogOffset, uint32_t)>;
  // Reads every intact record from `from` to the log's end, in order, skipping damaged
  // ranges (NoteDamage), and gives each to `visit` (stops at the first error it returns).
  Status ScanLog(LogOffset from, const RecordVisitor& visit);
  Status Replay(LogOffset from, LogOffset dispatch_from);
  // Writer thread: Resume()s an observer that NeedsReplay() and replays the log to it from
  // its checkpoint.
  Status CatchUp(Observer* observer);
  // A damaged range found by recovery or replay: counted once, logged as an error and copied
  // aside; under strict_recovery it fails Open instead.
  Status NoteDamage(const DamagedRange& range);
  // Copies the start of a damaged range to <data_dir>/damaged/; its path, or "" on failure.
  std::string CopyDamaged(const DamagedRange& range);

  // store_replication.cc: writes a replicated chunk (writer thread); the new log end.
  Result<LogOffset> ProcessReplicated(LogChunk* chunk, bool sync);

  // store_writer.cc
  void WriterLoop();
  // The flusher thread ("tidemq-flush"): under kAsync, fdatasyncs the log every
  // flush_interval_ms; under both policies, persists the dispatch checkpoint every second.
  // Keeping these syncs off the writer keeps appends flowing while the disk works.
  void FlusherLoop();
  void ProcessBatch(std::vector<Request>* batch);
  // Applies one record to the consume queues and the index batch (idempotent). `segment`: the
  // base of the segment holding it (its index bucket).
  Status Dispatch(const Record& record, LogOffset segment, LogOffset offset, uint32_t size,
                  IndexBatch* batch);
  // Dispatch of a control record: metadata ops into the batch, queue drops at once, snapshot
  // parts tracked. A payload that does not decode is counted, logged and skipped.
  Status DispatchControl(const Record& record, LogOffset offset, IndexBatch* batch);
  // Removes the consume queues of `topic` (writer thread, or Open).
  Status DropTopicQueues(const std::string& topic);
  // Writer thread: appends the whole metadata space as a snapshot when one is due (after a
  // roll, or at open when none is known) and the space is up to date with the log end.
  void MaybeWriteSnapshot();
  // The most payload bytes a control record may carry here (segments may be small).
  size_t MaxControlPayload() const;
  // Base offsets of the live segments, newest first (the index buckets to search).
  std::vector<LogOffset> SegmentBasesNewestFirst() const;
  // Writes the consume queue entries Dispatch staged (and those of queues behind) and makes
  // them readable. A queue whose write fails keeps its entries staged and joins
  // lagging_queues_; the first error is returned.
  Status FlushStagedQueues();
  // Writes `batch` to the index after any batch still waiting; a batch that fails waits in
  // lagging_index_ (transient errors) — the returned error says what happened.
  Status WriteIndex(IndexBatch* batch);
  // Writer thread: tries again to write what is behind.
  void RetryLagging();
  // Writer thread: derived_floor_ from what is behind.
  void UpdateDerivedFloor();
  // Writer thread: after writing derived state (st: the first failure, or OK); logs the
  // start and the end of a stretch of failures, and again every kLaggingLogInterval.
  void NoteLagging(const Status& st);
  bool Lagging() const {
    return !lagging_queues_.empty() || lagging_index_ != nullptr || index_->write_failing() ||
           ObserverBehind();
  }
  bool ObserverBehind() const {
    for (Observer* o : observers_) {
      if (o->NeedsReplay()) return true;
    }
    return false;
  }
  // Writer thread: once there is room again (at most once a second), reopens the index if its
  // writes failed for want of space (LevelDB refuses every write after one failed flush until
  // it is reopened) and catches up observers that stopped for the same reason.
  void RecoverFromFullDisk();
  // Writer thread: kResourceExhausted when the disk is (nearly) full, above the watermark
  // under refuse_writes_above_watermark, or too much derived state waits; OK otherwise.
  Status CheckRoom(size_t batch_bytes);
  void SetRefusing(const std::string& reason);
  // The writer's next queue offset entry of (topic, queue_id), loaded from its consume queue.
  int64_t& NextQueueOffset(const std::string& topic, uint32_t queue_id);
  void FlushLog();
  // Syncs the consume queues, then records dispatched_ as the dispatch checkpoint.
  void WriteCheckpoint(bool sync);
  void EnterReadOnly(const Status& cause);
  Status ReadOnlyStatus() const;
  static Status NotWritableOnReplica() {
    return Status(Code::kFailedPrecondition,
                  "the store is a replica: it takes records only from its master");
  }
  // Runs task on the writer thread after everything queued before it; waits for it.
  Status RunOnWriter(std::function<Status()> task);

  const StoreOptions options_;
  FileSystem* const fs_;
  Clock* const clock_;
  const std::vector<Observer*> observers_;

  std::unique_ptr<CommitLog> log_;
  std::unique_ptr<ConsumeQueueSet> queues_;
  std::unique_ptr<IndexDb> index_;

  Mutex mu_;
  CondVar cv_;
  std::deque<Request> pending_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread writer_;
  std::thread flusher_;
  CondVar flusher_cv_;  // with mu_: wakes the flusher to stop

  // Writer thread.
  // (topic, queue) -> the next queue offset; looked up by (string_view, queue) too.
  struct QueueKeyLess {
    using is_transparent = void;
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const {
      const int c = std::string_view(a.first).compare(std::string_view(b.first));
      return c < 0 || (c == 0 && a.second < b.second);
    }
  };
  std::map<std::pair<std::string, uint32_t>, int64_t, QueueKeyLess> next_queue_offset_;
  // Log bytes written (by the writer) and known durable (after an fdatasync, any thread).
  std::atomic<int64_t> written_end_{0};
  std::atomic<int64_t> synced_end_{0};
  // End of the last record applied to queues and index (set by the writer).
  std::atomic<int64_t> dispatched_{0};
  // Writer thread: queues with entries staged by Dispatch, written by FlushStagedQueues.
  std::vector<std::shared_ptr<ConsumeQueue>> staged_queues_;
  // Writer thread: derived state a transient error kept from being written (retried).
  std::vector<std::shared_ptr<ConsumeQueue>> lagging_queues_;
  std::unique_ptr<IndexBatch> lagging_index_;
  Status lagging_error_;
  int64_t next_recovery_ms_ = 0;  // monotonic: RecoverFromFullDisk's next try
  std::chrono::steady_clock::time_point lagging_logged_{};
  // The smallest log offset whose derived state is not written yet (INT64_MAX: none); the
  // dispatch checkpoint never passes it. Set by the writer, read by checkpoints.
  std::atomic<int64_t> derived_floor_{INT64_MAX};
  // Writer thread: free space as last measured (minus what was written since).
  uint64_t disk_reserve_ = 0;
  int64_t disk_free_ = -1;
  double disk_used_ = 0;
  int64_t next_space_check_ms_ = 0;  // monotonic
  uint64_t written_since_space_check_ = 0;
  bool refusing_for_space_ = false;
  std::atomic<int64_t> disk_free_seen_{-1};  // for Stats
  mutable Mutex refusing_mu_;
  std::string refusing_ GUARDED_BY(refusing_mu_);
  Mutex checkpoint_mu_;  // one WriteCheckpoint at a time (flusher, writer tasks)
  int64_t checkpointed_ GUARDED_BY(checkpoint_mu_) = -1;
  int64_t last_store_ms_ = 0;  // store_ms never decreases along the log

  // Metadata snapshots (docs/storage_format.md §9). Writer thread (Open before it starts):
  bool snapshot_due_ = false;
  LogOffset snapshot_first_ = kNoLogOffset;  // part 0 of the snapshot being read
  uint32_t snapshot_next_part_ = 0;
  // The first record of the newest complete snapshot in the log (-1: none): retention keeps
  // its segment and everything after it.
  std::atomic<int64_t> meta_snapshot_{-1};
  std::atomic<int64_t> malformed_control_{0};
  std::atomic<int64_t> index_trimmed_{0};

  // Replication: a replica takes records only from AppendReplicated (set at Open, cleared by
  // Promote on the writer thread); consume queues show entries below visible_end_ only.
  std::atomic<bool> replica_{false};
  std::atomic<int64_t> visible_end_{INT64_MAX};

  std::atomic<int64_t> confirmed_{0};
  std::atomic<int64_t> persisted_dispatch_{0};  // what retention may rely on
  std::atomic<bool> read_only_{false};
  mutable Mutex read_only_mu_;
  std::string read_only_reason_ GUARDED_BY(read_only_mu_);

  // What recovery, replay and catch-ups found (Stats reads it).
  mutable Mutex damaged_mu_;
  std::vector<DamagedRange> damaged_ GUARDED_BY(damaged_mu_);
  int64_t torn_tail_bytes_ = 0;
  mutable std::atomic<int64_t> corrupt_reads_{0};

  std::atomic<int64_t> appended_records_{0};
  std::atomic<int64_t> appended_bytes_{0};
  std::atomic<int64_t> syncs_{0};
  std::atomic<int64_t> batches_{0};
  Histogram append_latency_us_{LatencyBoundsUs()};
  Histogram sync_latency_us_{LatencyBoundsUs()};

  Mutex retention_mu_;  // one RunRetention at a time
  Mutex guards_mu_;
  std::vector<std::function<LogOffset()>> guards_ GUARDED_BY(guards_mu_);
};

}  // namespace tidemq::store
