// Routes of a cluster of broker groups (docs/cluster.md): which groups exist, who their
// masters are, and which queues of each topic each group holds. Queue ids are per group: a
// topic with ranges {g1, 4}, {g2, 2} has queues 0..3 on g1 and 0..1 on g2.
//
// What Admin::QueryRoute returns, and what producers and consumers route by (client/README.md,
// "Clusters of broker groups"). Plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tidemq {

enum class BrokerGroupState {
  kActive,    // takes sends and new queues
  kDraining,  // takes no new sends (NotWritable) nor queues; its backlog is still consumed
};
const char* ToString(BrokerGroupState state);

struct BrokerGroupRoute {
  std::string name;
  BrokerGroupState state = BrokerGroupState::kActive;
  std::string master_id;               // "" while the group has no master
  std::string master_address;          // the master's client address ("" while none)
  std::vector<std::string> addresses;  // every live member's client address, the master's first
  std::string master_grpc_address;     // the master's RocketMQ 5 endpoint ("" when none)
  int64_t epoch = 0;

  // Takes sends now: active, with a master.
  bool writable() const { return state == BrokerGroupState::kActive && !master_address.empty(); }
};

// Queues 0 .. queue_count-1 of a topic on one group.
struct QueueRange {
  std::string group;
  uint32_t queue_count = 0;
};

struct TopicRoute {
  std::string topic;
  std::vector<QueueRange> queues;  // in the order the groups were given the topic

  uint32_t queue_count() const;  // over every group
};

struct ClusterRoutes {
  int64_t revision = 0;    // the etcd revision they are as of (0 outside a cluster)
  bool clustered = false;  // false: one broker or one group without etcd; the rest is empty
  std::vector<BrokerGroupRoute> groups;  // by name
  std::vector<TopicRoute> topics;        // by name

  const BrokerGroupRoute* FindGroup(std::string_view name) const;
  const TopicRoute* FindTopic(std::string_view name) const;
};

}  // namespace tidemq
