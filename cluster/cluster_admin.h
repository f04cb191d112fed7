// ClusterAdmin: the changes an operator makes to the cluster of broker groups (docs/cluster.md),
// each one etcd transaction guarded by the key's mod_revision (compare-and-set) and retried
// with a fresh read when another writer came first. Any broker runs them for its clients; the
// masters of the groups concerned then act on what their route caches show (a topic's queues
// are created or grown, a drained group refuses sends).
//
// Every call blocks on etcd (a worker thread, never a network thread) and, once its write
// went through, waits until the given RouteCache holds it, so that an answer built from the
// cache shows the change.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "cluster/etcd_api.h"
#include "cluster/route_cache.h"
#include "cluster/routes.h"
#include "common/clock.h"
#include "common/status.h"

namespace tidemq::cluster {

class ClusterAdmin {
 public:
  ClusterAdmin(EtcdApi* etcd, RouteCache* cache, Clock* clock);

  // A new topic's queues over `groups` (empty: the writable groups). An existing topic with the
  // same number of queues (and on the same groups, when given) is fine; another layout is
  // kAlreadyExists.
  Result<TopicEntry> CreateTopic(const std::string& topic, uint32_t queues,
                                 const std::vector<std::string>& groups);
  // `add` more queues (PlaceQueues): kTopicNotFound when the topic has no route.
  Result<TopicEntry> ExtendTopic(const std::string& topic, uint32_t add,
                                 const std::vector<std::string>& groups);
  // Removes the topic's route; the masters holding its queues delete it. kTopicNotFound.
  Status DeleteTopic(const std::string& topic);
  // The group's registry entry: created if absent (kActive), or its mode changed.
  Result<GroupEntry> SetGroupMode(const std::string& group, GroupMode mode);
  // A master's first act in a cluster: its group is registered (active) unless it already is.
  // True when this call registered it (the group joins the cluster now).
  Result<bool> Register(const std::string& group);
  // A joining group's own topics (made before it was in a cluster) get a route naming it
  // alone, unless the cluster already has a topic of that name. Returns how many were added.
  Result<int> ImportTopics(const std::string& group,
                           const std::vector<std::pair<std::string, uint32_t>>& topics);
  // Forgets a drained group: its registry entry and its queues in every topic's route.
  // Refused unless it is draining, and — without force — while it has live members (stop its
  // brokers first, once its backlog is consumed).
  Status RemoveGroup(const std::string& group, bool force);

  // A consumer group's configuration (a JSON object the brokers read; routes.h), made by
  // `make` from the text etcd holds (nullptr: none). Returning the same text writes nothing;
  // an error from `make` is the answer. Returns the text now stored.
  using ConsumerGroupFn = std::function<Result<std::string>(const std::string* current)>;
  Result<std::string> PutConsumerGroup(const std::string& name, const ConsumerGroupFn& make);
  // kGroupNotFound when etcd holds no configuration for it.
  Status DeleteConsumerGroup(const std::string& name);

 private:
  struct Change {
    enum Kind { kNone, kPut, kDelete };
    Kind kind = kNone;
    std::string value;
    static Change Put(std::string v) { return {kPut, std::move(v)}; }
    static Change Delete() { return {kDelete, {}}; }
  };
  using ChangeFn = std::function<Result<Change>(const std::optional<KeyValue>& current)>;
  // One compare-and-set write of `key` computed from its current value (nullopt: absent).
  // Returns the revision written at (or the key's, when there was nothing to change).
  Result<int64_t> Update(const std::string& key, const ChangeFn& change);
  void WaitForCache(int64_t revision);

  EtcdApi* etcd_;
  RouteCache* cache_;
  Clock* clock_;
};

}  // namespace tidemq::cluster
