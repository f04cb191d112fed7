#include "cluster/routes.h"

#include <algorithm>
#include <exception>
#include <set>

#include "cluster/json_fields.h"
#include "common/names.h"

namespace tidemq::cluster {

namespace {

using json_fields::Bad;
using json_fields::Json;
using json_fields::ParseObject;
using json_fields::ReadInt;
using json_fields::ReadString;

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

}  // namespace

std::string_view GroupModeName(GroupMode mode) {
  return mode == GroupMode::kDraining ? "draining" : "active";
}

uint32_t TopicEntry::total() const {
  uint32_t n = 0;
  for (const auto& q : queues) n += q.count;
  return n;
}

uint32_t TopicEntry::CountOn(std::string_view group) const {
  for (const auto& q : queues) {
    if (q.group == group) return q.count;
  }
  return 0;
}

std::string EncodeGroupEntry(const GroupEntry& e) {
  Json j;
  j["state"] = std::string(GroupModeName(e.mode));
  j["added_ms"] = e.added_ms;
  j["changed_ms"] = e.changed_ms;
  return j.dump();
}

Status DecodeGroupEntry(std::string_view text, GroupEntry* e) {
  const char* what = "cluster group entry";
  try {
    ASSIGN_OR_RETURN(Json j, ParseObject(text, what));
    GroupEntry out;
    std::string state;
    RETURN_IF_ERROR(ReadString(j, what, "state", true, &state));
    if (state == "active") {
      out.mode = GroupMode::kActive;
    } else if (state == "draining") {
      out.mode = GroupMode::kDraining;
    } else {
      return Bad(what, "state");
    }
    RETURN_IF_ERROR(ReadInt(j, what, "added_ms", &out.added_ms));
    RETURN_IF_ERROR(ReadInt(j, what, "changed_ms", &out.changed_ms));
    *e = out;
    return Status::Ok();
  } catch (const std::exception& ex) {
    return Corruption(std::string(what) + " in etcd: " + ex.what());
  }
}

std::string EncodeTopicEntry(const TopicEntry& t) {
  Json queues = Json::array();
  for (const auto& q : t.queues) queues.push_back({{"group", q.group}, {"count", q.count}});
  Json j;
  j["queues"] = std::move(queues);
  j["created_ms"] = t.created_ms;
  j["changed_ms"] = t.changed_ms;
  return j.dump();
}

Status DecodeTopicEntry(std::string_view text, TopicEntry* t) {
  const char* what = "topic route";
  try {
    ASSIGN_OR_RETURN(Json j, ParseObject(text, what));
    TopicEntry out;
    auto it = j.find("queues");
    if (it == j.end() || !it->is_array() || it->empty()) return Bad(what, "queues");
    std::set<std::string> seen;
    uint64_t total = 0;
    for (const Json& q : *it) {
      if (!q.is_object()) return Bad(what, "queues");
      QueueSet set;
      RETURN_IF_ERROR(ReadString(q, what, "group", true, &set.group));
      int64_t count = -1;
      RETURN_IF_ERROR(ReadInt(q, what, "count", &count));
      if (count < 1 || count > kMaxQueuesPerTopic) return Bad(what, "queues.count");
      if (!ValidateClusterId("group", set.group).ok() || !seen.insert(set.group).second) {
        return Bad(what, "queues.group");
      }
      set.count = static_cast<uint32_t>(count);
      total += set.count;
      out.queues.push_back(std::move(set));
    }
    if (total > kMaxQueuesPerTopic) return Bad(what, "queues");
    RETURN_IF_ERROR(ReadInt(j, what, "created_ms", &out.created_ms));
    RETURN_IF_ERROR(ReadInt(j, what, "changed_ms", &out.changed_ms));
    *t = std::move(out);
    return Status::Ok();
  } catch (const std::exception& ex) {
    return Corruption(std::string(what) + " in etcd: " + ex.what());
  }
}

ClusterKeys::ClusterKeys(std::string prefix) {
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  root_ = prefix + "/";
}

std::string ClusterKeys::GroupEntry(std::string_view group) const {
  return GroupEntriesPrefix() + std::string(group);
}

std::string ClusterKeys::Topic(std::string_view topic) const {
  return TopicsPrefix() + std::string(topic);
}

std::string ClusterKeys::ConsumerGroup(std::string_view name) const {
  return ConsumerGroupsPrefix() + std::string(name);
}

ClusterKeys::Parsed ClusterKeys::Parse(std::string_view key) const {
  Parsed p;
  if (!StartsWith(key, root_)) return p;
  std::string_view rest = key.substr(root_.size());
  if (StartsWith(rest, "cluster/groups/")) {
    std::string_view group = rest.substr(std::string_view("cluster/groups/").size());
    if (ValidateClusterId("group", group).ok()) {
      p.kind = Parsed::Kind::kGroupEntry;
      p.group = std::string(group);
    }
    return p;
  }
  if (StartsWith(rest, "topics/")) {
    std::string_view topic = rest.substr(std::string_view("topics/").size());
    if (ValidateTopicName(topic).ok()) {
      p.kind = Parsed::Kind::kTopic;
      p.topic = std::string(topic);
    }
    return p;
  }
  if (StartsWith(rest, "consumer-groups/")) {
    std::string_view name = rest.substr(std::string_view("consumer-groups/").size());
    if (ValidateGroupName(name).ok()) {
      p.kind = Parsed::Kind::kConsumerGroup;
      p.consumer_group = std::string(name);
    }
    return p;
  }
  if (StartsWith(rest, "groups/")) {
    rest = rest.substr(std::string_view("groups/").size());
    size_t slash = rest.find('/');
    if (slash == std::string_view::npos) return p;
    std::string_view group = rest.substr(0, slash);
    std::string_view tail = rest.substr(slash + 1);
    if (!ValidateClusterId("group", group).ok()) return p;
    p.group = std::string(group);
    if (tail == "state") {
      p.kind = Parsed::Kind::kGroupState;
    } else if (tail == "leader") {
      p.kind = Parsed::Kind::kGroupLeader;
    } else if (StartsWith(tail, "members/")) {
      std::string_view id = tail.substr(std::string_view("members/").size());
      if (ValidateClusterId("broker id", id).ok()) {
        p.kind = Parsed::Kind::kMember;
        p.broker_id = std::string(id);
      }
    }
  }
  return p;
}

const MemberRecord* GroupView::Master() const {
  if (leader.empty()) return nullptr;
  auto it = members.find(leader);
  return it == members.end() ? nullptr : &it->second;
}

bool GroupView::Writable() const {
  return (!registered || entry.mode == GroupMode::kActive) && Master() != nullptr;
}

std::vector<std::string> GroupView::Addresses() const {
  std::vector<std::string> out;
  if (const MemberRecord* m = Master(); m != nullptr && !m->address.empty()) {
    out.push_back(m->address);
  }
  for (const auto& [id, m] : members) {
    if (id != leader && !m.address.empty()) out.push_back(m.address);
  }
  return out;
}

const GroupView* RouteView::Group(std::string_view name) const {
  auto it = groups.find(std::string(name));
  return it == groups.end() ? nullptr : &it->second;
}

const TopicEntry* RouteView::Topic(std::string_view name) const {
  auto it = topics.find(std::string(name));
  return it == topics.end() ? nullptr : &it->second;
}

const std::string* RouteView::ConsumerGroup(std::string_view name) const {
  auto it = consumer_groups.find(std::string(name));
  return it == consumer_groups.end() ? nullptr : &it->second;
}

Status ApplyKey(const ClusterKeys& keys, const KeyValue& kv, bool deleted, RouteView* view,
                bool* routes_changed, bool* config_changed) {
  ClusterKeys::Parsed p = keys.Parse(kv.key);
  bool changed = true;
  bool config = false;
  using Kind = ClusterKeys::Parsed::Kind;
  auto group = [&]() -> GroupView& {
    GroupView& g = view->groups[p.group];
    g.name = p.group;
    return g;
  };
  // A group disappears from the view when nothing of it is left.
  auto drop_if_empty = [&] {
    auto it = view->groups.find(p.group);
    if (it == view->groups.end()) return;
    const GroupView& g = it->second;
    if (!g.registered && !g.has_state && g.leader.empty() && g.members.empty()) {
      view->groups.erase(it);
    }
  };
  Status bad;
  switch (p.kind) {
    case Kind::kOther:
      changed = false;
      break;
    case Kind::kGroupEntry: {
      GroupView& g = group();
      if (deleted) {
        g.registered = false;
        g.entry = {};
      } else if (bad = DecodeGroupEntry(kv.value, &g.entry); bad.ok()) {
        g.registered = true;
      }
      break;
    }
    case Kind::kTopic: {
      if (deleted) {
        view->topics.erase(p.topic);
        break;
      }
      TopicEntry t;
      if (bad = DecodeTopicEntry(kv.value, &t); bad.ok()) view->topics[p.topic] = std::move(t);
      break;
    }
    case Kind::kConsumerGroup: {
      changed = false;
      if (deleted) {
        config = view->consumer_groups.erase(p.consumer_group) > 0;
        break;
      }
      auto parsed = ParseObject(kv.value, "consumer group configuration");
      if (parsed.ok()) {
        view->consumer_groups[p.consumer_group] = kv.value;
        config = true;
      } else {
        bad = parsed.status();
      }
      break;
    }
    case Kind::kGroupState: {
      GroupView& g = group();
      if (deleted) {
        g.has_state = false;
        g.state = {};
      } else if (bad = DecodeState(kv.value, &g.state); bad.ok()) {
        g.has_state = true;
      }
      break;
    }
    case Kind::kGroupLeader:
      group().leader = deleted ? "" : kv.value;
      break;
    case Kind::kMember: {
      GroupView& g = group();
      if (deleted) {
        g.members.erase(p.broker_id);
        break;
      }
      MemberRecord m;
      if (bad = DecodeMember(kv.value, &m); bad.ok()) {
        auto it = g.members.find(p.broker_id);
        changed = it == g.members.end() || it->second.address != m.address ||
                  it->second.grpc_address != m.grpc_address;
        g.members[p.broker_id] = std::move(m);
      } else {
        changed = false;
      }
      break;
    }
  }
  if (deleted) drop_if_empty();
  if (routes_changed != nullptr) *routes_changed = changed;
  if (config_changed != nullptr) *config_changed = config;
  if (!bad.ok()) return Status(bad.code(), kv.key + ": " + bad.message());
  return Status::Ok();
}

Result<TopicEntry> PlaceQueues(const RouteView& view, const TopicEntry& existing, uint32_t add,
                               const std::vector<std::string>& groups, int64_t now_ms) {
  if (add == 0) return InvalidArgument("no queues to add (queue count 0)");
  if (existing.total() + static_cast<uint64_t>(add) > kMaxQueuesPerTopic) {
    return InvalidArgument("a topic has at most " + std::to_string(kMaxQueuesPerTopic) +
                           " queues over all groups (asked for " +
                           std::to_string(existing.total() + static_cast<uint64_t>(add)) + ")");
  }
  std::vector<std::string> order;
  if (!groups.empty()) {
    std::set<std::string> seen;
    for (const auto& name : groups) {
      RETURN_IF_ERROR(ValidateClusterId("group", name));
      if (!seen.insert(name).second) continue;
      const GroupView* g = view.Group(name);
      if (g == nullptr) return Status(Code::kNotFound, "no broker group '" + name + "' in the cluster");
      if (g->registered && g->entry.mode == GroupMode::kDraining) {
        return Status(Code::kFailedPrecondition,
                      "broker group '" + name + "' is draining: it takes no new queues "
                      "(`tidemq cluster add-group " + name + "` makes it writable again)");
      }
      if (g->Master() == nullptr) {
        return Status(Code::kUnavailable, "broker group '" + name + "' has no master now");
      }
      order.push_back(name);
    }
  } else {
    for (const auto& [name, g] : view.groups) {
      if (g.Writable()) order.push_back(name);
    }
    std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
      return existing.CountOn(a) < existing.CountOn(b);
    });
    if (order.empty()) {
      return Status(Code::kUnavailable,
                    "no writable broker group in the cluster (none has a master, or all are "
                    "draining)");
    }
  }
  TopicEntry out = existing;
  if (out.created_ms == 0) out.created_ms = now_ms;
  out.changed_ms = now_ms;
  auto slot = [&](const std::string& name) -> QueueSet& {
    for (auto& q : out.queues) {
      if (q.group == name) return q;
    }
    out.queues.push_back({name, 0});
    return out.queues.back();
  };
  for (uint32_t i = 0; i < add; ++i) {
    const std::string* best = nullptr;
    uint32_t best_count = 0;
    for (const auto& name : order) {
      uint32_t c = out.CountOn(name);
      if (best == nullptr || c < best_count) {
        best = &name;
        best_count = c;
      }
    }
    ++slot(*best).count;
  }
  return out;
}

}  // namespace tidemq::cluster
