#include "broker/core/topic_manager.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <mutex>

#include "broker/core/retry_copies.h"
#include "common/crc32c.h"
#include "common/names.h"

namespace tidemq::broker {
namespace {
constexpr char kTopicPrefix[] = "topic/";
// The last incarnation handed out (decimal). Not under kTopicPrefix: it outlives every topic.
constexpr char kIncarnationKey[] = "topic_incarnation";
constexpr uint32_t kMaxQueues = 1024;
}  // namespace

Status TopicManager::Load() {
  ASSIGN_OR_RETURN(auto rows, store_->ScanMeta(kTopicPrefix));
  WriterLock lock(mu_);
  for (auto& [key, value] : rows) {
    // Field by field, with their types checked: nlohmann's typed getters throw on a mismatch.
    auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    const std::string name = key.substr(sizeof(kTopicPrefix) - 1);
    auto field = [&j](const char* f) { return j.is_object() ? j.find(f) : j.end(); };
    auto queues = field("queues");
    auto created = field("created_ms");
    auto incarnation = field("incarnation");
    const bool ok =
        j.is_object() && queues != j.end() && queues->is_number_unsigned() &&
        queues->get<uint64_t>() >= 1 && queues->get<uint64_t>() <= kMaxQueues &&
        (created == j.end() || created->is_number_integer()) &&
        (incarnation == j.end() || incarnation->is_number_unsigned()) && !name.empty();
    if (!ok) {
      malformed_.fetch_add(1, std::memory_order_relaxed);
      spdlog::error("skipping malformed topic metadata '{}': '{}'", key, value.substr(0, 128));
      continue;
    }
    Topic t;
    t.name = name;
    t.queue_count = static_cast<uint32_t>(queues->get<uint64_t>());
    t.created_ms = created == j.end() ? 0 : created->get<int64_t>();
    t.incarnation = incarnation == j.end() ? 0 : incarnation->get<uint64_t>();
    last_incarnation_ = std::max(last_incarnation_, t.incarnation);
    topics_[t.name] = t;
  }
  ASSIGN_OR_RETURN(auto last, store_->GetMeta(kIncarnationKey));
  uint64_t stored = 0;
  if (last &&
      std::from_chars(last->data(), last->data() + last->size(), stored).ec != std::errc()) {
    // The topics' own incarnations still bound it from below.
    malformed_.fetch_add(1, std::memory_order_relaxed);
    spdlog::error("skipping malformed topic incarnation counter '{}'", last->substr(0, 64));
  }
  last_incarnation_ = std::max(last_incarnation_, stored);
  return Status::Ok();
}

Result<Topic> TopicManager::Create(const std::string& name, uint32_t queue_count, int64_t now_ms,
                                   bool allow_system, Created durable) {
  RETURN_IF_ERROR(ValidateTopicName(name, allow_system));
  if (queue_count == 0 || queue_count > kMaxQueues) {
    return InvalidArgument("queue count must be between 1 and " + std::to_string(kMaxQueues));
  }
  MutexLock order(order_mu_);
  Topic t;
  bool is_new = false;
  {
    WriterLock lock(mu_);
    if (auto it = topics_.find(name); it != topics_.end()) {
      if (it->second.queue_count != queue_count) {
        return Status(Code::kAlreadyExists, "topic '" + name + "' already exists with " +
                                                std::to_string(it->second.queue_count) +
                                                " queues");
      }
      if (!durable) return it->second;
      t = it->second;
    } else {
      t.name = name;
      t.queue_count = queue_count;
      t.created_ms = now_ms;
      t.incarnation = ++last_incarnation_;
      topics_[name] = t;
      is_new = true;
    }
  }
  // An existing topic's record is written again (not the counter: it may have moved on since)
  // so that the answer waits until the topic is durable (it may be a moment old).
  Persist(t, is_new, std::move(durable));
  return t;
}

Result<Topic> TopicManager::Ensure(const std::string& name, uint32_t queue_count,
                                   int64_t now_ms) {
  if (queue_count == 0 || queue_count > kMaxQueues) {
    return InvalidArgument("queue count must be between 1 and " + std::to_string(kMaxQueues));
  }
  {
    MutexLock order(order_mu_);
    Topic t;
    {
      WriterLock lock(mu_);
      auto it = topics_.find(name);
      if (it != topics_.end() && it->second.queue_count >= queue_count) return it->second;
      if (it != topics_.end()) {
        it->second.queue_count = queue_count;
        t = it->second;
      }
    }
    if (!t.name.empty()) {
      spdlog::info("topic '{}' grows to {} queues", name, queue_count);
      Persist(t, /*is_new=*/false, nullptr);
      return t;
    }
  }
  auto created = Create(name, queue_count, now_ms);
  // A concurrent creation with another count: grow that one instead.
  if (!created.ok() && created.status().code() == Code::kAlreadyExists) {
    return Ensure(name, queue_count, now_ms);
  }
  return created;
}

std::optional<Topic> TopicManager::FindRouted(const std::string& name, int64_t now_ms,
                                             int32_t queue_id) {
  std::optional<Topic> found = Find(name);
  if (!routed_ || (found && (queue_id < 0 || static_cast<uint32_t>(queue_id) < found->queue_count))) {
    return found;
  }
  const uint32_t routed = routed_(name);
  if (routed == 0 || (found && found->queue_count >= routed)) return found;
  auto ensured = Ensure(name, routed, now_ms);
  if (!ensured.ok()) {
    spdlog::warn("topic '{}': cannot take the {} queues the cluster's routes give it here: {}",
                 name, routed, ensured.status().ToString());
    return found;
  }
  return *ensured;
}

void TopicManager::Persist(const Topic& t, bool is_new, Created durable) {
  store::MetaChange change;
  // A new topic: the counter first (one record: both or neither reach the log).
  if (is_new) change.Put(kIncarnationKey, std::to_string(t.incarnation));
  nlohmann::json j = {
      {"queues", t.queue_count}, {"created_ms", t.created_ms}, {"incarnation", t.incarnation}};
  change.Put(kTopicPrefix + t.name, j.dump());
  store_->AppendMeta(std::move(change), [this, t, is_new,
                                         durable = std::move(durable)](const Status& st) {
    if (!st.ok() && is_new) {
      spdlog::error("topic '{}': its record could not be stored ({}); it is gone again", t.name,
                    st.ToString());
      WriterLock lock(mu_);
      if (auto it = topics_.find(t.name);
          it != topics_.end() && it->second.incarnation == t.incarnation) {
        topics_.erase(it);
      }
    }
    if (durable) durable(st, t);
  });
}

Status TopicManager::Delete(const std::string& name, Durable durable) {
  MutexLock order(order_mu_);
  {
    WriterLock lock(mu_);
    if (topics_.erase(name) == 0) {
      return Status(Code::kTopicNotFound, "topic '" + name + "' does not exist");
    }
  }
  store::MetaChange change;
  change.Delete(kTopicPrefix + name).DropTopicQueues(name);
  store_->AppendMeta(std::move(change), [name, durable = std::move(durable)](const Status& st) {
    if (!st.ok()) {
      spdlog::error("topic '{}': its deletion could not be stored: {}", name, st.ToString());
    }
    if (durable) durable(st);
  });
  return Status::Ok();
}

std::optional<Topic> TopicManager::Find(const std::string& name) const {
  ReaderLock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::vector<Topic> TopicManager::List() const {
  ReaderLock lock(mu_);
  std::vector<Topic> out;
  for (const auto& [_, t] : topics_) out.push_back(t);
  return out;
}

bool TopicManager::IsCurrent(const store::Record& record) const {
  ReaderLock lock(mu_);
  if (!topics_.count(record.topic)) return false;
  const std::string& fenced_by =
      IsRetryTopic(record.topic) ? ReadRetryInfo(record).original_topic : record.topic;
  auto it = topics_.find(fenced_by);
  return it != topics_.end() && it->second.incarnation == IncarnationOf(record);
}

uint64_t TopicManager::IncarnationNow(const std::string& topic) const {
  ReaderLock lock(mu_);
  auto it = topics_.find(topic);
  return it == topics_.end() ? 0 : it->second.incarnation;
}

void TopicManager::StampIncarnation(store::Record* record, uint64_t incarnation) {
  SetProperty(record, kTopicIncarnationProperty, std::to_string(incarnation));
}

uint64_t TopicManager::IncarnationOf(const store::Record& record) {
  for (const auto& [k, v] : record.properties) {
    if (k != kTopicIncarnationProperty) continue;
    uint64_t n = 0;
    // A value that does not parse matches no incarnation but 0, like a missing one.
    std::from_chars(v.data(), v.data() + v.size(), n);
    return n;
  }
  return 0;
}

Result<uint32_t> TopicManager::PickQueue(const Topic& topic, int32_t requested,
                                         const std::string& message_group) {
  if (requested >= 0) {
    if (static_cast<uint32_t>(requested) >= topic.queue_count) {
      return InvalidArgument("queue " + std::to_string(requested) + " does not exist; topic '" +
                             topic.name + "' has " + std::to_string(topic.queue_count) +
                             " queues");
    }
    return static_cast<uint32_t>(requested);
  }
  if (!message_group.empty()) {
    // CRC32C, not std::hash: the mapping must stay the same across restarts and builds, or a
    // FIFO group's messages would change queues (and lose their order) after an upgrade.
    return crc32c::Value(message_group) % topic.queue_count;
  }
  return topic.next_queue->fetch_add(1, std::memory_order_relaxed) % topic.queue_count;
}

}  // namespace tidemq::broker
