#include "broker/topic_manager.h"

#include <nlohmann/json.hpp>

#include <mutex>

#include "common/crc32c.h"
#include "common/names.h"

namespace tidemq::broker {
namespace {
constexpr char kTopicPrefix[] = "topic/";
constexpr uint32_t kMaxQueues = 1024;
}  // namespace

Status TopicManager::Load() {
  ASSIGN_OR_RETURN(auto rows, store_->ScanMeta(kTopicPrefix));
  std::unique_lock lock(mu_);
  for (auto& [key, value] : rows) {
    auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("queues")) {
      return Corruption("topic metadata for '" + key + "' is not valid JSON");
    }
    Topic t;
    t.name = key.substr(sizeof(kTopicPrefix) - 1);
    t.queue_count = j["queues"].get<uint32_t>();
    t.created_ms = j.value("created_ms", int64_t{0});
    topics_[t.name] = t;
  }
  return Status::Ok();
}

Result<Topic> TopicManager::Create(const std::string& name, uint32_t queue_count, int64_t now_ms,
                                   bool allow_system) {
  RETURN_IF_ERROR(ValidateTopicName(name, allow_system));
  if (queue_count == 0 || queue_count > kMaxQueues) {
    return InvalidArgument("queue count must be between 1 and " + std::to_string(kMaxQueues));
  }
  std::unique_lock lock(mu_);
  if (auto it = topics_.find(name); it != topics_.end()) {
    if (it->second.queue_count == queue_count) return it->second;
    return Status(Code::kAlreadyExists, "topic '" + name + "' already exists with " +
                                            std::to_string(it->second.queue_count) + " queues");
  }
  Topic t;
  t.name = name;
  t.queue_count = queue_count;
  t.created_ms = now_ms;
  nlohmann::json j = {{"queues", queue_count}, {"created_ms", now_ms}};
  RETURN_IF_ERROR(store_->PutMeta(kTopicPrefix + name, j.dump(), /*sync=*/true));
  topics_[name] = t;
  return t;
}

Status TopicManager::Delete(const std::string& name) {
  std::unique_lock lock(mu_);
  if (topics_.erase(name) == 0) {
    return Status(Code::kTopicNotFound, "topic '" + name + "' does not exist");
  }
  RETURN_IF_ERROR(store_->DeleteMeta(kTopicPrefix + name, /*sync=*/true));
  return store_->DeleteTopicQueues(name);
}

std::optional<Topic> TopicManager::Find(const std::string& name) const {
  std::shared_lock lock(mu_);
  auto it = topics_.find(name);
  if (it == topics_.end()) return std::nullopt;
  return it->second;
}

std::vector<Topic> TopicManager::List() const {
  std::shared_lock lock(mu_);
  std::vector<Topic> out;
  for (const auto& [_, t] : topics_) out.push_back(t);
  return out;
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
