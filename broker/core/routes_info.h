// The cluster's routes as front ends see them (docs/cluster.md): which broker groups exist,
// their masters, and where each topic's queues are. Plain values, so that front ends never
// see cluster/ types. Filled in by BrokerCore (broker/core/cluster_routing.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tidemq::broker {

struct GroupRouteInfo {
  std::string name;
  bool draining = false;  // takes no new sends or queues
  std::string master_id;  // "" while the group has no master
  std::string master_address;
  std::string master_grpc_address;  // its RocketMQ 5 endpoint ("" when none)
  std::vector<std::string> addresses;  // every live member's client address, the master's first
  int64_t epoch = 0;
};

struct QueueSetInfo {
  std::string group;
  uint32_t count = 0;  // queues 0 .. count-1 on that group
};

struct TopicRouteInfo {
  std::string topic;
  std::vector<QueueSetInfo> queues;

  // Queues over every group.
  uint32_t total() const {
    uint32_t n = 0;
    for (const auto& q : queues) n += q.count;
    return n;
  }
};

struct RoutesInfo {
  // false: a standalone broker or a group without etcd; groups holds this broker's group
  // alone and topics its own topics.
  bool clustered = false;
  int64_t revision = 0;
  std::vector<GroupRouteInfo> groups;
  std::vector<TopicRouteInfo> topics;
};

enum class GroupAction { kAdd, kDrain, kRemove };

}  // namespace tidemq::broker
