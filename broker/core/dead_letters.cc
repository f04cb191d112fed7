#include "broker/core/dead_letters.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <charconv>
#include <cstdio>

#include "broker/core/retry_copies.h"
#include "common/logging.h"
#include "common/names.h"

namespace tidemq::broker {
namespace {

constexpr char kFloorPrefix[] = "dlq/floor/";
constexpr char kRemovedPrefix[] = "dlq/removed/";
// Records read, copied and appended per store append during a redrive.
constexpr size_t kRedriveChunk = 512;

std::string RemovedKey(const std::string& group, int64_t offset) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "%020lld", static_cast<long long>(offset));
  return kRemovedPrefix + group + "/" + buf;
}

bool Matches(const DlqFilter& f, const DeadLetter& d) {
  const store::Record& r = d.record;
  if (!f.message_id.empty() && r.message_id != f.message_id) return false;
  if (f.dlq_offset >= 0 && d.dlq_offset != f.dlq_offset) return false;
  if (!f.tag.empty() && r.tag != f.tag) return false;
  if (!f.key.empty() && std::find(r.keys.begin(), r.keys.end(), f.key) == r.keys.end()) {
    return false;
  }
  if (f.from_ms != 0 && r.store_ms < f.from_ms) return false;
  if (f.to_ms != 0 && r.store_ms >= f.to_ms) return false;
  if (!f.original_topic.empty() && ReadRetryInfo(r).original_topic != f.original_topic) {
    return false;
  }
  return true;
}

}  // namespace

store::Record MakeRedriveCopy(const store::Record& dead, const std::string& group,
                              RedriveTarget target, int64_t now_ms, uint64_t incarnation) {
  const RetryInfo info = ReadRetryInfo(dead);
  store::Record r;
  if (target == RedriveTarget::kRetryQueue) {
    r = MakeRetryCopy(dead, group, /*attempts=*/0, now_ms, now_ms, incarnation);
    EraseProperty(&r, kDeadLetterReasonProperty);
  } else {
    r = dead;
    r.type = store::RecordType::kMessage;
    r.topic = info.original_topic;
    r.queue_offset = -1;
    r.store_ms = 0;
    r.origin_offset = kNoLogOffset;
    r.flags = 0;
    for (const char* p : {kOriginalTopicProperty, kAttemptsProperty, kFirstFailureProperty,
                          kDeadLetterReasonProperty, kTopicIncarnationProperty}) {
      EraseProperty(&r, p);
    }
  }
  SetProperty(&r, kRedrivenFromProperty, group);
  return r;
}

DeadLetters::DeadLetters(store::Store* store, TopicManager* topics, Clock* clock)
    : store_(store), topics_(topics), clock_(clock) {}

DeadLetters::~DeadLetters() { Stop(); }

void DeadLetters::Stop() { worker_.join(); }

Status DeadLetters::Load() {
  ASSIGN_OR_RETURN(auto floors, store_->ScanMeta(kFloorPrefix));
  ASSIGN_OR_RETURN(auto removed, store_->ScanMeta(kRemovedPrefix));
  MutexLock lock(mu_);
  for (const auto& [key, value] : floors) {
    int64_t floor = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), floor);
    if (ec != std::errc() || end != value.data() + value.size() || floor < 0) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("ignoring malformed DLQ record '{}': '{}'", key, value.substr(0, 64));
      continue;
    }
    removed_[key.substr(sizeof(kFloorPrefix) - 1)].floor = floor;
  }
  for (const auto& [key, _] : removed) {
    std::string rest = key.substr(sizeof(kRemovedPrefix) - 1);
    size_t slash = rest.rfind('/');
    int64_t offset = 0;
    if (slash == std::string::npos ||
        std::from_chars(rest.data() + slash + 1, rest.data() + rest.size(), offset).ec !=
            std::errc()) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("ignoring malformed DLQ record '{}'", key);
      continue;
    }
    Removed& r = removed_[rest.substr(0, slash)];
    if (offset >= r.floor) r.offsets.insert(offset);
  }
  return Status::Ok();
}

bool DeadLetters::IsRemoved(const std::string& group, int64_t offset) const {
  MutexLock lock(mu_);
  auto it = removed_.find(group);
  if (it == removed_.end()) return false;
  return offset < it->second.floor || it->second.offsets.count(offset) > 0;
}

int64_t DeadLetters::Count(const std::string& group) const {
  const std::string topic = DlqTopic(group);
  int64_t min = store_->MinQueueOffset(topic, 0);
  const int64_t max = store_->MaxQueueOffset(topic, 0);
  MutexLock lock(mu_);
  auto it = removed_.find(group);
  if (it == removed_.end()) return std::max<int64_t>(0, max - min);
  min = std::max(min, it->second.floor);
  if (max <= min) return 0;
  const auto& offs = it->second.offsets;
  auto gone = std::distance(offs.lower_bound(min), offs.lower_bound(max));
  return max - min - gone;
}

Status DeadLetters::Scan(const std::string& group, const DlqFilter& filter, int64_t after_offset,
                         const std::function<bool(DeadLetter)>& visit) const {
  RETURN_IF_ERROR(ValidateGroupName(group));
  const std::string topic = DlqTopic(group);
  if (!topics_->Find(topic)) return Status::Ok();  // nothing was ever dead-lettered
  int64_t from = std::max(after_offset + 1, store_->MinQueueOffset(topic, 0));
  if (filter.dlq_offset >= 0) from = std::max(from, filter.dlq_offset);
  while (true) {
    ASSIGN_OR_RETURN(auto entries, store_->ReadQueue(topic, 0, from, 256));
    if (entries.empty()) return Status::Ok();
    for (const store::QueueEntry& e : entries) {
      from = e.queue_offset + 1;
      if (filter.dlq_offset >= 0 && e.queue_offset > filter.dlq_offset) return Status::Ok();
      if (IsRemoved(group, e.queue_offset)) continue;
      auto rec = store_->Read(e.log_offset);
      if (!rec.ok()) continue;  // deleted by retention meanwhile
      DeadLetter d{std::move(rec).value(), e.queue_offset, e.log_offset};
      if (!Matches(filter, d)) continue;
      if (!visit(std::move(d))) return Status::Ok();
    }
  }
}

Result<std::vector<DeadLetter>> DeadLetters::List(const std::string& group,
                                                  const DlqFilter& filter, int64_t after_offset,
                                                  size_t limit) const {
  std::vector<DeadLetter> out;
  if (limit == 0) return out;
  RETURN_IF_ERROR(Scan(group, filter, after_offset, [&](DeadLetter d) {
    out.push_back(std::move(d));
    return out.size() < limit;
  }));
  return out;
}

Status DeadLetters::CheckSelection(const std::string& group, const DlqFilter& filter,
                                   bool all) const {
  RETURN_IF_ERROR(ValidateGroupName(group));
  if (filter.empty() && !all) {
    return InvalidArgument("select the dead letters: a message id, a DLQ offset, a filter "
                           "(tag, key, topic, time range), or all");
  }
  return Status::Ok();
}

store::MetaChange DeadLetters::RemovedMarks(const std::string& group,
                                            const std::vector<int64_t>& offsets) const {
  store::MetaChange change;
  const std::string now = std::to_string(clock_->NowMs());
  for (int64_t off : offsets) change.Put(RemovedKey(group, off), now);
  return change;
}

void DeadLetters::NoteRemoved(const std::string& group, const std::vector<int64_t>& offsets) {
  MutexLock lock(mu_);
  Removed& r = removed_[group];
  r.offsets.insert(offsets.begin(), offsets.end());
}

void DeadLetters::Redrive(const std::string& group, const DlqFilter& filter, bool all,
                          RedriveTarget target, CountDone done) {
  if (Status st = CheckSelection(group, filter, all); !st.ok()) return done(st);
  boost::asio::post(worker_, [this, group, filter, target, done = std::move(done)] {
    done(DoRedrive(group, filter, target));
  });
}

void DeadLetters::Purge(const std::string& group, const DlqFilter& filter, bool all,
                        CountDone done) {
  if (Status st = CheckSelection(group, filter, all); !st.ok()) return done(st);
  boost::asio::post(worker_, [this, group, filter, done = std::move(done)] {
    done(DoPurge(group, filter));
  });
}

Result<int64_t> DeadLetters::DoRedrive(const std::string& group, const DlqFilter& filter,
                                       RedriveTarget target) {
  SetThreadName("tidemq-dlq");
  const int64_t now_ms = clock_->NowMs();
  if (target == RedriveTarget::kRetryQueue) {
    RETURN_IF_ERROR(
        topics_->Create(RetryTopic(group), 1, now_ms, /*allow_system=*/true).status());
  }
  int64_t moved = 0, skipped = 0;
  int64_t after = -1;
  while (true) {
    ASSIGN_OR_RETURN(auto chunk, List(group, filter, after, kRedriveChunk));
    if (chunk.empty()) break;
    after = chunk.back().dlq_offset;
    std::vector<store::Record> records;
    std::vector<int64_t> offsets;
    for (const DeadLetter& d : chunk) {
      store::Record copy =
          MakeRedriveCopy(d.record, group, target, now_ms,
                          topics_->IncarnationNow(ReadRetryInfo(d.record).original_topic));
      if (target == RedriveTarget::kOriginalTopic) {
        auto topic = topics_->Find(copy.topic);
        if (!topic) {
          if (skipped++ == 0) {
            spdlog::warn("DLQ of '{}': message {} not redriven: topic '{}' no longer exists",
                         group, copy.message_id, copy.topic);
          }
          continue;
        }
        ASSIGN_OR_RETURN(copy.queue_id, TopicManager::PickQueue(*topic, -1, copy.message_group));
      }
      records.push_back(std::move(copy));
      offsets.push_back(d.dlq_offset);
    }
    if (records.empty()) continue;
    // The copies and their marks in one append, marks last: the log never says "removed"
    // for a message whose copy is not before it.
    auto marks = store::EncodeControlRecords(RemovedMarks(group, offsets).ops(),
                                             store::kControlTagMeta,
                                             store::kMaxControlPayloadBytes);
    if (!marks.ok()) return marks.status();
    for (store::Record& m : *marks) records.push_back(std::move(m));
    ASSIGN_OR_RETURN(auto appended, store_->AppendAndWait(std::move(records)));
    NoteRemoved(group, offsets);
    moved += static_cast<int64_t>(offsets.size());
    redriven_.fetch_add(static_cast<int64_t>(offsets.size()), std::memory_order_relaxed);
  }
  if (skipped > 0) {
    spdlog::warn("DLQ of '{}': {} messages of deleted topics were left in the DLQ", group,
                 skipped);
  }
  spdlog::info("DLQ of '{}': redrove {} messages to the {}", group, moved,
               target == RedriveTarget::kRetryQueue ? "retry queue" : "original topics");
  return moved;
}

Result<int64_t> DeadLetters::DoPurge(const std::string& group, const DlqFilter& filter) {
  SetThreadName("tidemq-dlq");
  int64_t purged = 0;
  if (filter.empty()) {
    // Everything: one floor instead of a record per message.
    const int64_t max = store_->MaxQueueOffset(DlqTopic(group), 0);
    const int64_t before = Count(group);
    // The floor and the single marks it makes needless, in one record.
    store::MetaChange change;
    int64_t floor = 0;
    std::vector<int64_t> stale;
    {
      MutexLock lock(mu_);
      const Removed& r = removed_[group];
      floor = std::max(r.floor, max);
      stale.assign(r.offsets.begin(), r.offsets.lower_bound(floor));
    }
    change.Put(kFloorPrefix + group, std::to_string(floor));
    for (int64_t off : stale) change.Delete(RemovedKey(group, off));
    RETURN_IF_ERROR(store_->AppendMetaAndWait(std::move(change)));
    {
      MutexLock lock(mu_);
      Removed& r = removed_[group];
      r.floor = std::max(r.floor, floor);
      r.offsets.erase(r.offsets.begin(), r.offsets.lower_bound(r.floor));
    }
    purged = before;
  } else {
    int64_t after = -1;
    while (true) {
      ASSIGN_OR_RETURN(auto chunk, List(group, filter, after, kRedriveChunk));
      if (chunk.empty()) break;
      after = chunk.back().dlq_offset;
      std::vector<int64_t> offsets;
      for (const DeadLetter& d : chunk) offsets.push_back(d.dlq_offset);
      RETURN_IF_ERROR(store_->AppendMetaAndWait(RemovedMarks(group, offsets)));
      NoteRemoved(group, offsets);
      purged += static_cast<int64_t>(offsets.size());
    }
  }
  purged_.fetch_add(purged, std::memory_order_relaxed);
  spdlog::info("DLQ of '{}': purged {} messages", group, purged);
  return purged;
}

}  // namespace tidemq::broker
