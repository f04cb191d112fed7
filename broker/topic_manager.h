// Topics and their queue counts, persisted in the store's metadata space ("topic/<name>").
// Thread-safe: any network thread may look topics up while an admin request changes them.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "store/store.h"

namespace tidemq::broker {

struct Topic {
  std::string name;
  uint32_t queue_count = 0;
  int64_t created_ms = 0;
  // Round-robin cursor for sends that let the broker choose the queue.
  std::shared_ptr<std::atomic<uint32_t>> next_queue = std::make_shared<std::atomic<uint32_t>>(0);
};

class TopicManager {
 public:
  explicit TopicManager(store::Store* store) : store_(store) {}

  // Loads every persisted topic.
  Status Load();
  // Creates a topic; an existing topic with the same queue count is OK (idempotent), a
  // different count is kAlreadyExists.
  Result<Topic> Create(const std::string& name, uint32_t queue_count, int64_t now_ms,
                       bool allow_system = false);
  Status Delete(const std::string& name);
  std::optional<Topic> Find(const std::string& name) const;
  std::vector<Topic> List() const;

  // The queue a message goes to: explicit id (checked), its message group's hash, or round
  // robin.
  static Result<uint32_t> PickQueue(const Topic& topic, int32_t requested,
                                    const std::string& message_group);

 private:
  store::Store* store_;
  mutable std::shared_mutex mu_;
  std::map<std::string, Topic> topics_;  // GUARDED_BY(mu_)
};

}  // namespace tidemq::broker
