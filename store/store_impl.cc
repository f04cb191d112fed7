#include "store/store_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

namespace tidemq::store {

StoreImpl::StoreImpl(const StoreOptions& options, std::vector<Observer*> observers)
    : options_(options),
      fs_(options.fs != nullptr ? options.fs : FileSystem::Default()),
      clock_(options.clock != nullptr ? options.clock : SystemClock::Get()),
      observers_(std::move(observers)),
      replica_(options.replica) {}

StoreImpl::~StoreImpl() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  flusher_cv_.notify_all();
  if (!writer_.joinable()) return;  // Open failed before the store started
  writer_.join();  // drains every queued append first
  if (flusher_.joinable()) flusher_.join();
  FlushLog();
  WriteCheckpoint(/*sync=*/true);
}

void StoreImpl::Append(std::vector<Record> records, AppendCallback callback) {
  Enqueue(std::move(records), std::move(callback), /*sync=*/false);
}

void StoreImpl::Enqueue(std::vector<Record> records, AppendCallback callback, bool sync) {
  if (read_only()) {
    callback(ReadOnlyStatus(), {});
    return;
  }
  if (replica()) {
    callback(NotWritableOnReplica(), {});
    return;
  }
  if (records.empty()) {
    callback(InvalidArgument("append of no records"), {});
    return;
  }
  size_t bytes = 0;
  bool alone = false;
  for (const Record& r : records) {
    if (r.type == RecordType::kControl && DropsTopicQueues(r)) alone = true;
    Status st = CheckEncodable(r);
    if (st.ok() && r.EncodedSize() > options_.segment_bytes) {
      st = Status(Code::kTooLarge, "record of " + std::to_string(r.EncodedSize()) +
                                       " bytes exceeds the segment size " +
                                       std::to_string(options_.segment_bytes));
    }
    if (st.ok() && IsDispatchedToQueue(r.type) && !IsSafeTopicDirName(r.topic)) {
      st = InvalidArgument("topic '" + r.topic + "' cannot be stored in a consume queue");
    }
    if (!st.ok()) {
      callback(st, {});
      return;
    }
    bytes += r.EncodedSize();
  }
  {
    MutexLock lock(mu_);
    if (!stopping_) {
      pending_.push_back(
          Request{std::move(records), std::move(callback), bytes, nullptr, alone, false, sync});
      cv_.notify_one();
      return;
    }
  }
  callback(Status(Code::kUnavailable, "the store is closing"), {});
}

size_t StoreImpl::MaxControlPayload() const {
  // Room for the record's own fields and the tag, within one segment.
  const uint64_t room = options_.segment_bytes - kMinRecordSize - 32;
  return static_cast<size_t>(std::min<uint64_t>(kMaxControlPayloadBytes, room));
}

void StoreImpl::AppendMeta(MetaChange change, std::function<void(const Status&)> callback) {
  if (!callback) callback = [](const Status&) {};
  if (change.empty()) return callback(Status::Ok());
  for (const MetaOp& op : change.ops()) {
    if (op.kind == MetaOpKind::kDropTopicQueues && !IsSafeTopicDirName(op.key)) {
      return callback(InvalidArgument("topic '" + op.key + "' cannot have consume queues"));
    }
  }
  auto records = EncodeControlRecords(change.ops(), kControlTagMeta, MaxControlPayload());
  if (!records.ok()) return callback(records.status());
  Enqueue(
      std::move(records).value(),
      [callback = std::move(callback)](const Status& st, std::vector<AppendResult>) {
        callback(st);
      },
      change.synced());
}

Status StoreImpl::RunOnWriter(std::function<Status()> task) {
  if (std::this_thread::get_id() == writer_.get_id()) return task();
  std::promise<Status> done;
  std::future<Status> result = done.get_future();
  {
    MutexLock lock(mu_);
    if (stopping_) return Status(Code::kUnavailable, "the store is closing");
    Request r;
    r.task = [&task, &done] { done.set_value(task()); };
    pending_.push_back(std::move(r));
  }
  cv_.notify_one();
  return result.get();
}

Result<Record> StoreImpl::Read(LogOffset offset) const {
  Result<Record> record = log_->Read(offset, LogOffset(confirmed_.load(std::memory_order_acquire)));
  if (!record.ok() && record.status().code() == Code::kCorruption) {
    corrupt_reads_.fetch_add(1, std::memory_order_relaxed);
  }
  return record;
}

Result<std::vector<QueueEntry>> StoreImpl::ReadQueue(const std::string& topic, uint32_t queue_id,
                                                     int64_t from, size_t max) const {
  auto cq = queues_->Find(topic, queue_id);
  if (cq == nullptr) return std::vector<QueueEntry>();
  ASSIGN_OR_RETURN(std::vector<QueueEntry> entries, cq->Read(from, max, log_->min_offset()));
  // Entries are in log order: cut at the first one past the visible end.
  const int64_t visible = visible_end_.load(std::memory_order_acquire);
  auto past = std::find_if(entries.begin(), entries.end(),
                           [visible](const QueueEntry& e) { return e.log_offset.value() >= visible; });
  entries.erase(past, entries.end());
  return entries;
}

int64_t StoreImpl::MinQueueOffset(const std::string& topic, uint32_t queue_id) const {
  auto cq = queues_->Find(topic, queue_id);
  return cq == nullptr ? 0 : cq->min_offset();
}

int64_t StoreImpl::MaxQueueOffset(const std::string& topic, uint32_t queue_id) const {
  auto cq = queues_->Find(topic, queue_id);
  return cq == nullptr ? 0 : cq->next_offset();
}

Status StoreImpl::RaiseNextQueueOffset(const std::string& topic, uint32_t queue_id,
                                       int64_t next) {
  if (next < 0) return InvalidArgument("queue offset must not be negative");
  // On the writer thread: it owns next_queue_offset_, and appends queued before this call
  // take their offsets first.
  return RunOnWriter([this, &topic, queue_id, next] {
    int64_t& current = NextQueueOffset(topic, queue_id);
    current = std::max(current, next);
    return Status::Ok();
  });
}

std::vector<LogOffset> StoreImpl::SegmentBasesNewestFirst() const {
  std::vector<LogOffset> bases;
  for (const auto& seg : log_->Segments()) bases.push_back(seg.base);
  std::reverse(bases.begin(), bases.end());
  return bases;
}

Result<std::vector<LogOffset>> StoreImpl::LookupKey(const std::string& topic,
                                                    const std::string& key, size_t max) const {
  return index_->LookupKey(SegmentBasesNewestFirst(), topic, key, max);
}

Result<std::vector<LogOffset>> StoreImpl::LookupMessageId(const std::string& message_id,
                                                          size_t max) const {
  return index_->LookupMessageId(SegmentBasesNewestFirst(), message_id, max);
}

Result<std::optional<std::string>> StoreImpl::GetMeta(const std::string& key) const {
  return index_->GetMeta(key);
}

Result<std::vector<std::pair<std::string, std::string>>> StoreImpl::ScanMeta(
    const std::string& prefix) const {
  return index_->ScanMeta(prefix);
}

void StoreImpl::AddRetentionGuard(std::function<LogOffset()> guard) {
  MutexLock lock(guards_mu_);
  guards_.push_back(std::move(guard));
}

StoreStats StoreImpl::Stats() const {
  StoreStats s;
  auto segments = log_->Segments();
  s.min_log_offset = segments.empty() ? 0 : segments.front().base.value();
  s.max_log_offset = log_->end_offset().value();
  s.confirmed_log_offset = confirmed_.load(std::memory_order_acquire);
  s.segments = static_cast<int64_t>(segments.size());
  s.appended_records = appended_records_.load();
  s.appended_bytes = appended_bytes_.load();
  s.syncs = syncs_.load();
  s.batches = batches_.load();
  s.append_latency_us = append_latency_us_.Snapshot();
  s.sync_latency_us = sync_latency_us_.Snapshot();
  {
    MutexLock lock(damaged_mu_);
    s.damaged_ranges = static_cast<int64_t>(damaged_.size());
    for (const DamagedRange& r : damaged_) s.damaged_bytes += r.to.value() - r.from.value();
  }
  s.torn_tail_bytes = torn_tail_bytes_;
  s.corrupt_reads = corrupt_reads_.load(std::memory_order_relaxed);
  s.read_only = read_only();
  if (s.read_only) s.read_only_reason = ReadOnlyStatus().message();
  {
    MutexLock lock(refusing_mu_);
    s.refusing_reason = refusing_;
  }
  s.disk_free_bytes = disk_free_seen_.load(std::memory_order_relaxed);
  s.disk_reserve_bytes = static_cast<int64_t>(disk_reserve_);
  s.open_queue_files = static_cast<int64_t>(queues_->file_cache().open_files());
  s.meta_snapshot_offset = meta_snapshot_.load(std::memory_order_acquire);
  s.malformed_control_records = malformed_control_.load(std::memory_order_relaxed);
  s.index_entries_trimmed = index_trimmed_.load(std::memory_order_relaxed);
  return s;
}

void StoreImpl::EnterReadOnly(const Status& cause) {
  MutexLock lock(read_only_mu_);
  if (read_only_.load()) return;
  read_only_reason_ = "the store is read-only after an I/O error: " + cause.ToString() +
                      " (reads keep working; appends are refused until the broker is restarted "
                      "once the cause is fixed)";
  spdlog::error("{}", read_only_reason_);
  read_only_.store(true, std::memory_order_release);
}

Status StoreImpl::ReadOnlyStatus() const {
  MutexLock lock(read_only_mu_);
  return Status(Code::kReadOnly, read_only_reason_);
}

}  // namespace tidemq::store
