#include "cluster/cluster_admin.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "common/names.h"

namespace tidemq::cluster {

namespace {
// Compare-and-set attempts before giving up (another writer won every time).
constexpr int kMaxAttempts = 16;
// How long an answer waits for the route cache to show its own write.
constexpr int64_t kCacheWaitMs = 3000;
}  // namespace

ClusterAdmin::ClusterAdmin(EtcdApi* etcd, RouteCache* cache, Clock* clock)
    : etcd_(etcd), cache_(cache), clock_(clock) {}

Result<int64_t> ClusterAdmin::Update(const std::string& key, const ChangeFn& change) {
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    ASSIGN_OR_RETURN(std::optional<KeyValue> current, etcd_->Get(key));
    ASSIGN_OR_RETURN(Change next, change(current));
    if (next.kind == Change::kNone) return current ? current->mod_revision : 0;
    Compare guard = current ? Compare::ModRevisionEquals(key, current->mod_revision)
                            : Compare::Absent(key);
    TxnOp op = next.kind == Change::kDelete ? TxnOp::Delete(key) : TxnOp::Put(key, next.value);
    ASSIGN_OR_RETURN(TxnResult r, etcd_->Txn({guard}, {op}, {}));
    if (r.succeeded) return r.revision;
  }
  return Status(Code::kUnavailable,
                "'" + key + "' kept changing under this write; try again");
}

void ClusterAdmin::WaitForCache(int64_t revision) {
  if (cache_ != nullptr && revision > 0 && !cache_->WaitForRevision(revision, kCacheWaitMs)) {
    spdlog::warn("cluster routes: this broker's cache has not caught up with revision {} yet",
                 revision);
  }
}

Result<TopicEntry> ClusterAdmin::CreateTopic(const std::string& topic, uint32_t queues,
                                             const std::vector<std::string>& groups) {
  RETURN_IF_ERROR(ValidateTopicName(topic));
  TopicEntry result;
  ASSIGN_OR_RETURN(
      int64_t rev,
      Update(cache_->keys().Topic(topic),
             [&](const std::optional<KeyValue>& current) -> Result<Change> {
               if (current) {
                 TopicEntry existing;
                 RETURN_IF_ERROR(DecodeTopicEntry(current->value, &existing));
                 bool same = existing.total() == queues;
                 for (const auto& g : groups) same = same && existing.CountOn(g) > 0;
                 if (!same) {
                   return Status(Code::kAlreadyExists,
                                 "topic '" + topic + "' already exists with " +
                                     std::to_string(existing.total()) + " queues over " +
                                     std::to_string(existing.queues.size()) +
                                     " group(s) (`tidemq topic extend` adds queues)");
                 }
                 result = existing;
                 return Change{};
               }
               auto view = cache_->View();
               ASSIGN_OR_RETURN(result, PlaceQueues(*view, {}, queues, groups, clock_->NowMs()));
               return Change::Put(EncodeTopicEntry(result));
             }));
  WaitForCache(rev);
  return result;
}

Result<TopicEntry> ClusterAdmin::ExtendTopic(const std::string& topic, uint32_t add,
                                             const std::vector<std::string>& groups) {
  RETURN_IF_ERROR(ValidateTopicName(topic));
  TopicEntry result;
  ASSIGN_OR_RETURN(
      int64_t rev,
      Update(cache_->keys().Topic(topic),
             [&](const std::optional<KeyValue>& current) -> Result<Change> {
               if (!current) {
                 return Status(Code::kTopicNotFound, "topic '" + topic + "' does not exist");
               }
               TopicEntry existing;
               RETURN_IF_ERROR(DecodeTopicEntry(current->value, &existing));
               auto view = cache_->View();
               ASSIGN_OR_RETURN(result,
                                PlaceQueues(*view, existing, add, groups, clock_->NowMs()));
               return Change::Put(EncodeTopicEntry(result));
             }));
  WaitForCache(rev);
  return result;
}

Status ClusterAdmin::DeleteTopic(const std::string& topic) {
  RETURN_IF_ERROR(ValidateTopicName(topic));
  const std::string key = cache_->keys().Topic(topic);
  ASSIGN_OR_RETURN(std::optional<KeyValue> current, etcd_->Get(key));
  if (!current) return Status(Code::kTopicNotFound, "topic '" + topic + "' does not exist");
  ASSIGN_OR_RETURN(TxnResult r, etcd_->Txn({Compare::ModRevisionEquals(key, current->mod_revision)},
                                           {TxnOp::Delete(key)}, {}));
  if (!r.succeeded) {
    return Status(Code::kUnavailable, "topic '" + topic + "' changed during its deletion; try again");
  }
  WaitForCache(r.revision);
  return Status::Ok();
}

Result<GroupEntry> ClusterAdmin::SetGroupMode(const std::string& group, GroupMode mode) {
  RETURN_IF_ERROR(ValidateClusterId("group", group));
  GroupEntry result;
  ASSIGN_OR_RETURN(
      int64_t rev,
      Update(cache_->keys().GroupEntry(group),
             [&](const std::optional<KeyValue>& current) -> Result<Change> {
               const int64_t now = clock_->NowMs();
               if (current) {
                 RETURN_IF_ERROR(DecodeGroupEntry(current->value, &result));
                 if (result.mode == mode) return Change{};
               } else {
                 result.added_ms = now;
               }
               result.mode = mode;
               result.changed_ms = now;
               return Change::Put(EncodeGroupEntry(result));
             }));
  WaitForCache(rev);
  return result;
}

Result<bool> ClusterAdmin::Register(const std::string& group) {
  RETURN_IF_ERROR(ValidateClusterId("group", group));
  const std::string key = cache_->keys().GroupEntry(group);
  GroupEntry e;
  e.added_ms = e.changed_ms = clock_->NowMs();
  // Only when absent: an operator's drain stays in force across the group's failovers.
  ASSIGN_OR_RETURN(TxnResult r,
                   etcd_->Txn({Compare::Absent(key)}, {TxnOp::Put(key, EncodeGroupEntry(e))}, {}));
  if (r.succeeded) spdlog::info("cluster: broker group {} registered (active)", group);
  return r.succeeded;
}

Result<int> ClusterAdmin::ImportTopics(
    const std::string& group, const std::vector<std::pair<std::string, uint32_t>>& topics) {
  int added = 0;
  int64_t last = 0;
  for (const auto& [name, count] : topics) {
    if (!ValidateTopicName(name).ok() || count == 0 || count > kMaxQueuesPerTopic) continue;
    TopicEntry e;
    e.queues = {{group, count}};
    e.created_ms = e.changed_ms = clock_->NowMs();
    const std::string key = cache_->keys().Topic(name);
    ASSIGN_OR_RETURN(TxnResult r, etcd_->Txn({Compare::Absent(key)},
                                             {TxnOp::Put(key, EncodeTopicEntry(e))}, {}));
    if (r.succeeded) {
      ++added;
      last = r.revision;
    } else {
      spdlog::warn("cluster: broker group {} holds topic '{}', which the cluster already has "
                   "elsewhere: its queues here are not in the route (extend the topic onto {} "
                   "to use them)", group, name, group);
    }
  }
  WaitForCache(last);
  return added;
}

Status ClusterAdmin::RemoveGroup(const std::string& group, bool force) {
  RETURN_IF_ERROR(ValidateClusterId("group", group));
  auto view = cache_->View();
  const GroupView* g = view->Group(group);
  if (g == nullptr) return Status(Code::kNotFound, "no broker group '" + group + "' in the cluster");
  if (g->registered && g->entry.mode != GroupMode::kDraining) {
    return Status(Code::kFailedPrecondition,
                  "broker group '" + group + "' is not drained: `tidemq cluster drain " + group +
                      "` first, and wait until its backlog is consumed");
  }
  if (!force && !g->members.empty()) {
    return Status(Code::kFailedPrecondition,
                  "broker group '" + group + "' still has " + std::to_string(g->members.size()) +
                      " live broker(s): stop them once its backlog is consumed (or --force)");
  }
  // The group's queues leave every topic's route: consumers stop reading them.
  int64_t last = 0;
  for (const auto& [name, t] : view->topics) {
    if (t.CountOn(group) == 0) continue;
    ASSIGN_OR_RETURN(
        int64_t rev,
        Update(cache_->keys().Topic(name),
               [&](const std::optional<KeyValue>& current) -> Result<Change> {
                 if (!current) return Change{};
                 TopicEntry e;
                 RETURN_IF_ERROR(DecodeTopicEntry(current->value, &e));
                 auto it = std::find_if(e.queues.begin(), e.queues.end(),
                                        [&](const QueueSet& q) { return q.group == group; });
                 if (it == e.queues.end()) return Change{};
                 e.queues.erase(it);
                 e.changed_ms = clock_->NowMs();
                 // A topic whose only group goes is gone with it.
                 if (e.queues.empty()) return Change::Delete();
                 return Change::Put(EncodeTopicEntry(e));
               }));
    last = std::max(last, rev);
  }
  // The registry entry, and the group's state (its epoch and in-sync set): brokers started
  // again under this name begin a new group.
  RETURN_IF_ERROR(etcd_->Delete(cache_->keys().GroupEntry(group)).status());
  RETURN_IF_ERROR(etcd_->Delete(GroupKeys(cache_->keys().Root(), group).State()).status());
  WaitForCache(last);
  spdlog::info("cluster: broker group {} removed{}", group, force ? " (forced)" : "");
  return Status::Ok();
}

Result<std::string> ClusterAdmin::PutConsumerGroup(const std::string& name,
                                                   const ConsumerGroupFn& make) {
  RETURN_IF_ERROR(ValidateGroupName(name));
  std::string result;
  ASSIGN_OR_RETURN(int64_t rev,
                   Update(cache_->keys().ConsumerGroup(name),
                          [&](const std::optional<KeyValue>& current) -> Result<Change> {
                            ASSIGN_OR_RETURN(result, make(current ? &current->value : nullptr));
                            if (current && current->value == result) return Change{};
                            return Change::Put(result);
                          }));
  WaitForCache(rev);
  return result;
}

Status ClusterAdmin::DeleteConsumerGroup(const std::string& name) {
  RETURN_IF_ERROR(ValidateGroupName(name));
  ASSIGN_OR_RETURN(TxnResult r, etcd_->Txn({}, {TxnOp::Delete(cache_->keys().ConsumerGroup(name))}, {}));
  if (r.results.empty() || r.results[0].deleted == 0) {
    return Status(Code::kGroupNotFound, "consumer group '" + name + "' does not exist");
  }
  WaitForCache(r.revision);
  return Status::Ok();
}

}  // namespace tidemq::cluster
