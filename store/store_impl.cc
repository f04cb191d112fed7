#include "store/store_impl.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

namespace tidemq::store {

StoreImpl::StoreImpl(const StoreOptions& options, std::vector<Observer*> observers)
    : options_(options),
      fs_(options.fs != nullptr ? options.fs : FileSystem::Default()),
      clock_(options.clock != nullptr ? options.clock : SystemClock::Get()),
      observers_(std::move(observers)) {}

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
  if (read_only()) {
    callback(ReadOnlyStatus(), {});
    return;
  }
  if (records.empty()) {
    callback(InvalidArgument("append of no records"), {});
    return;
  }
  size_t bytes = 0;
  for (const Record& r : records) {
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
      pending_.push_back(Request{std::move(records), std::move(callback), bytes, nullptr});
      cv_.notify_one();
      return;
    }
  }
  callback(Status(Code::kUnavailable, "the store is closing"), {});
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
  return cq->Read(from, max, log_->min_offset());
}

int64_t StoreImpl::MinQueueOffset(const std::string& topic, uint32_t queue_id) const {
  auto cq = queues_->Find(topic, queue_id);
  return cq == nullptr ? 0 : cq->min_offset();
}

int64_t StoreImpl::MaxQueueOffset(const std::string& topic, uint32_t queue_id) const {
  auto cq = queues_->Find(topic, queue_id);
  return cq == nullptr ? 0 : cq->next_offset();
}

Status StoreImpl::DeleteTopicQueues(const std::string& topic) {
  // On the writer thread, so that no append of the topic is half dispatched meanwhile.
  return RunOnWriter([this, &topic] {
    // Entries of its queues still waiting for a retry are not written anywhere now.
    for (const auto& cq : queues_->TopicQueues(topic)) {
      std::erase(lagging_queues_, cq);
      std::erase(staged_queues_, cq);
    }
    UpdateDerivedFloor();
    RETURN_IF_ERROR(queues_->DeleteTopic(topic));
    auto it = next_queue_offset_.lower_bound({topic, 0});
    while (it != next_queue_offset_.end() && it->first.first == topic) {
      it = next_queue_offset_.erase(it);
    }
    // Replay from an older checkpoint would bring the queues back.
    WriteCheckpoint(/*sync=*/false);
    return Status::Ok();
  });
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

Result<std::vector<LogOffset>> StoreImpl::LookupKey(const std::string& topic,
                                                    const std::string& key, size_t max) const {
  return index_->LookupKey(topic, key, max);
}

Result<std::vector<LogOffset>> StoreImpl::LookupMessageId(const std::string& message_id,
                                                          size_t max) const {
  return index_->LookupMessageId(message_id, max);
}

Status StoreImpl::PutMeta(const std::string& key, const std::string& value, bool sync) {
  return index_->PutMeta(key, value, sync);
}

Status StoreImpl::DeleteMeta(const std::string& key, bool sync) {
  return index_->DeleteMeta(key, sync);
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
