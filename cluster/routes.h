// The cluster of broker groups as etcd holds it (docs/cluster.md): which groups exist and
// whether they take new messages, and where each topic's queues are. The key names, the JSON
// of each record, the view every broker builds from them (RouteView), and where new queues go
// (PlaceQueues).
//
//   <prefix>/cluster/groups/<group>   GroupEntry: {"state": "active"|"draining", ...}
//   <prefix>/topics/<topic>           TopicEntry: {"queues": [{"group", "count"}, ...], ...}
//   <prefix>/consumer-groups/<name>   a consumer group's configuration, a JSON object the
//                                     brokers read (broker/core/group_records.h); the routes
//                                     keep its text
//   <prefix>/groups/<group>/...       the group's own keys (cluster/group_state.h): its master,
//                                     epoch and members, which the view reads for addresses
//
// Queue ids are per group: a topic with {"g1", 4}, {"g2", 4} has queues 0..3 on g1 and 0..3
// on g2. A topic only grows: a group's count never shrinks and a group, once listed, stays
// (its messages stay where they are; "logical queues, no data copied").
//
// The decoders read whatever etcd holds (another version, an operator's edit): anything
// unexpected is kCorruption naming the field, never an exception (tests/fuzz/etcd_json_fuzz.cc).
//
// Thread safety: pure functions and values.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/etcd_api.h"
#include "cluster/group_state.h"
#include "common/status.h"

namespace tidemq::cluster {

// At most this many queues per topic over all groups, and per group.
inline constexpr uint32_t kMaxQueuesPerTopic = 1024;

enum class GroupMode { kActive, kDraining };
std::string_view GroupModeName(GroupMode mode);

// A group's place in the cluster (the registry entry).
struct GroupEntry {
  GroupMode mode = GroupMode::kActive;
  int64_t added_ms = 0;
  int64_t changed_ms = 0;

  bool operator==(const GroupEntry&) const = default;
};

struct QueueSet {
  std::string group;
  uint32_t count = 0;  // queues 0 .. count-1 on that group

  bool operator==(const QueueSet&) const = default;
};

struct TopicEntry {
  std::vector<QueueSet> queues;  // one per group, in the order the groups got the topic
  int64_t created_ms = 0;
  int64_t changed_ms = 0;

  uint32_t total() const;
  // The group's queue count (0 when the topic has none there).
  uint32_t CountOn(std::string_view group) const;
  bool operator==(const TopicEntry&) const = default;
};

std::string EncodeGroupEntry(const GroupEntry& e);
Status DecodeGroupEntry(std::string_view json, GroupEntry* e);
std::string EncodeTopicEntry(const TopicEntry& t);
Status DecodeTopicEntry(std::string_view json, TopicEntry* t);

class ClusterKeys {
 public:
  explicit ClusterKeys(std::string prefix);

  // "<prefix>/": everything a route cache watches.
  const std::string& Root() const { return root_; }
  std::string GroupEntriesPrefix() const { return root_ + "cluster/groups/"; }
  std::string GroupEntry(std::string_view group) const;
  std::string TopicsPrefix() const { return root_ + "topics/"; }
  std::string Topic(std::string_view topic) const;
  std::string ConsumerGroupsPrefix() const { return root_ + "consumer-groups/"; }
  std::string ConsumerGroup(std::string_view name) const;

  // What a key under Root() is.
  struct Parsed {
    enum class Kind {
      kOther,
      kGroupEntry,
      kTopic,
      kConsumerGroup,
      kGroupState,
      kGroupLeader,
      kMember
    };
    Kind kind = Kind::kOther;
    std::string group;           // kGroupEntry, kGroupState, kGroupLeader, kMember
    std::string topic;           // kTopic
    std::string consumer_group;  // kConsumerGroup
    std::string broker_id;       // kMember
  };
  Parsed Parse(std::string_view key) const;

 private:
  std::string root_;
};

// One group as the routes show it: its registry entry (if registered) and its own keys.
struct GroupView {
  std::string name;
  bool registered = false;  // has a registry entry
  GroupEntry entry;
  bool has_state = false;   // has ever elected a master
  GroupState state;
  std::string leader;       // the leader key's broker id ("" while none: no master now)
  std::map<std::string, MemberRecord> members;  // live members by broker id

  // The master now: the leader key names a live member.
  const MemberRecord* Master() const;
  // Takes sends and new queues: registered active (or unregistered) with a master.
  bool Writable() const;
  // Every live member's client address, the master's first.
  std::vector<std::string> Addresses() const;
};

// Everything a broker knows of the cluster, as of one etcd revision.
struct RouteView {
  // The etcd revision of the last change that altered the routes (not of consumer groups'
  // configuration, which clients do not route by).
  int64_t revision = 0;
  std::map<std::string, GroupView> groups;
  std::map<std::string, TopicEntry> topics;
  // Consumer group → its configuration's text (a JSON object; what it means is the brokers').
  std::map<std::string, std::string> consumer_groups;

  const GroupView* Group(std::string_view name) const;
  const TopicEntry* Topic(std::string_view name) const;
  const std::string* ConsumerGroup(std::string_view name) const;
};

// Applies one etcd key to a view (put or delete); *routes_changed (if given) is set when what
// clients route by changed — member progress, rewritten at every keepalive, is not — and
// *config_changed when what only brokers act on changed (a consumer group's configuration).
// Records that do not parse are left out of the view and reported: a bad hand edit must not
// take the routes down.
Status ApplyKey(const ClusterKeys& keys, const KeyValue& kv, bool deleted, RouteView* view,
                bool* routes_changed = nullptr, bool* config_changed = nullptr);

// Where `add` new queues of a topic go. `existing` is the topic's entry (empty for a new
// topic); `groups` the groups to use, in order (every one must be writable; empty: every
// writable group of the view, the ones holding the fewest of the topic's queues first, then by
// name). The queues are dealt one at a time to the group holding the fewest so far (ties: the
// earlier in order). Returns the new entry (existing groups keep their order; new ones are
// appended), or an error naming the group that cannot take queues, or the limit.
Result<TopicEntry> PlaceQueues(const RouteView& view, const TopicEntry& existing, uint32_t add,
                               const std::vector<std::string>& groups, int64_t now_ms);

}  // namespace tidemq::cluster
