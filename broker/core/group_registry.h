// The consumer groups of the broker and their persistence (shared/DESIGN.md 2.1 and 2.4,
// docs/storage_format.md §9): which groups exist, their configs, their committed offsets as
// metadata records, and the broker's start epoch.
//
// Owns: the group table (name -> ConsumerGroup; a group's state is shared with whoever found
// it: a deleted group lives on until the last holder lets it go), the start epoch, and the
// order in which changes reach the log. It writes three kinds of metadata records through
// Store::AppendMeta (group_records.h): "group/<name>" (Create, Delete), "offset/..." (one
// record per FlushOffsets with every queue that changed since the last one; deletions with
// the group or the topic) and "broker/start_epoch" (Load). It never waits on a disk except
// in Load() and FlushOffsets(wait=true) (start and stop; AppendMetaAndWait / a future).
//
// What it does not own: what happens inside a group (receive, ack, leases, retry and
// dead-letter moves, retention, lag: ConsumerManager, which finds its groups here).
//
// Threads: every public method may be called from any thread. Callers: the network threads
// (Find / FindOrCreate on every receive, ack, nack and lease change; Create / Delete / List
// from admin requests), the io_context (All: lease expiry), the store's writer thread (the
// `durable` callbacks, and a failed new group's removal), "tidemq-maint" (FlushOffsets, All),
// and start-up / shutdown (Load, FlushOffsets(wait=true)).
//
// Locks, always taken in this order:
//   persist_mu_  orders a change in memory with the append of its record (Create, Delete,
//                FlushOffsets, OnTopicDeleted), so two changes of one key reach the log in
//                the order they were made (a group's deletion after its last flush). Never
//                taken on the hot paths nor in a store callback. AppendMeta only enqueues.
//   groups_mu_   (shared) guards the table; Find takes it shared for one map look-up.
//   ConsumerGroup::mu  guards a group's delivery state (queue states, leases, clients);
//                taken here to read or drop offsets, never across I/O.
// No lock is held across a disk read or write, and Load is single-threaded (before Start).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "broker/core/config.h"
#include "broker/core/group_records.h"
#include "broker/core/lease_table.h"
#include "broker/core/queue_state.h"
#include "broker/core/topic_manager.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "store/store.h"

namespace tidemq::broker {

// One consumer group's state in memory. The registry creates and drops it; ConsumerManager
// does the deliveries under `mu`.
struct ConsumerGroup {
  GroupConfig config;  // fixed but for the retry settings, changed under mu
  mutable Mutex mu;
  std::map<QueueKey, QueueState> queues GUARDED_BY(mu);
  LeaseTable leases GUARDED_BY(mu);
  std::map<std::string, int64_t> clients GUARDED_BY(mu);  // last seen (wall ms)
  uint32_t cursor GUARDED_BY(mu) = 0;                     // fair queue start
  // (topic, client) received at least once: every queue has a state, so that what
  // retention deletes from a queue the group has not reached yet is counted.
  std::set<std::pair<std::string, std::string>> subscribed GUARDED_BY(mu);
  std::atomic<int64_t> retried{0}, dead_lettered{0};
};

// Moves a queue state up to its queue's start `min` (QueueState::SkipTo): what the group had
// not consumed is added to st.lost and logged. Returns how many were lost (0 for a retry
// topic's state: which deleted copies were its own is unknown, so they are logged, not
// counted). Run under the group's mutex; no I/O.
int64_t SkipToQueueStart(const std::string& group, QueueState& st, int64_t min);

class GroupRegistry {
 public:
  using Durable = std::function<void(const Status&)>;
  using GroupPtr = std::shared_ptr<ConsumerGroup>;

  GroupRegistry(store::Store* store, TopicManager* topics, Clock* clock,
                const BrokerConfig& config);

  // Start-up, once, after the topics are loaded and before any other call: starts a new
  // epoch (durable before it returns), loads group configs and offsets (records that do not
  // parse are skipped, logged and counted; offsets of deleted groups are ignored, those of
  // deleted topics dropped), then checks every offset against its queue: committed offsets
  // below the queue's start move up (counted in lost_at_start), and a queue whose end is
  // below an offset some group passed continues above it (Store::RaiseNextQueueOffset).
  Status Load() EXCLUDES(persist_mu_, groups_mu_);
  // This broker run's start epoch (set by Load): every receipt handle carries it.
  uint64_t epoch() const { return epoch_; }
  // Messages Load found deleted by retention before a group consumed them.
  int64_t lost_at_start() const { return lost_at_start_; }

  // Creates a group, or updates an existing one's retry settings (max attempts, back-off,
  // fifo_block). Changing the mode or FIFO of an existing group is refused
  // (kFailedPrecondition): its offsets mean something else. The group is usable at once;
  // `durable` (may be null) runs on the store's writer thread once its record is durable, or
  // with the error (a new group is then gone again).
  Result<GroupConfig> Create(GroupConfig config, Durable durable = nullptr)
      EXCLUDES(persist_mu_, groups_mu_);
  // kGroupNotFound at once; otherwise the group is gone and `durable` (may be null) runs when
  // the deletion (with its offsets) is durable.
  Status Delete(const std::string& name, Durable durable = nullptr)
      EXCLUDES(persist_mu_, groups_mu_);
  std::vector<GroupConfig> List() const EXCLUDES(groups_mu_);
  // kGroupNotFound (or the name's validation error) when there is no such group.
  Result<GroupPtr> Find(const std::string& name) const EXCLUDES(groups_mu_);
  // Find; else a group the cluster's configuration has (ClusterGroups) is created from it;
  // else with --auto-create-groups a new clustering group with the broker's defaults (in a
  // cluster, announced to it).
  Result<GroupPtr> FindOrCreate(const std::string& name) EXCLUDES(persist_mu_, groups_mu_);

  // Clusters of broker groups (docs/cluster.md): the consumer groups' configuration in etcd.
  // `find` gives the cluster's configuration of a group (nullopt: it has none); `announce`
  // makes a group auto-created here known to the cluster. Neither blocks. Set once, before
  // the services are called.
  struct ClusterGroups {
    std::function<std::optional<GroupConfig>(const std::string& name)> find;
    std::function<void(const GroupConfig& config)> announce;
  };
  void SetClusterGroups(ClusterGroups hooks) { cluster_ = std::move(hooks); }
  // Every group, for a pass over all of them outside groups_mu_.
  std::vector<GroupPtr> All() const EXCLUDES(groups_mu_);

  // Appends one metadata record with the offsets of every queue that changed (QueueState's
  // `dirty`) since the last flush; after a flush whose record failed, of every queue.
  // wait=true blocks until it is durable (shutdown; never on a network thread).
  Status FlushOffsets(bool wait) EXCLUDES(persist_mu_, groups_mu_);
  // Drops every group's state in `topic` (queue states, their leases, subscriptions) and
  // appends the deletion of their offsets records.
  void OnTopicDeleted(const std::string& topic) EXCLUDES(persist_mu_, groups_mu_);

  // FlushOffsets calls that completed: everything dirty before one began is persisted.
  int64_t offset_flushes() const { return offset_flushes_.load(std::memory_order_relaxed); }
  // Metadata records Load() skipped because they did not parse.
  int64_t malformed_skipped() const { return malformed_.load(std::memory_order_relaxed); }

 private:
  Status StartEpoch();
  // Start-up: every loaded offset against its queue's range.
  Status CheckQueueRanges() REQUIRES(groups_mu_);
  // Appends the group's record.
  void PersistGroup(const GroupConfig& c, Durable done) REQUIRES(persist_mu_);

  store::Store* store_;
  TopicManager* topics_;
  Clock* clock_;
  const BrokerConfig& config_;
  ClusterGroups cluster_;
  uint64_t epoch_ = 0;         // set by Load(), before other threads call
  int64_t lost_at_start_ = 0;  // set by Load()
  std::atomic<int64_t> offset_flushes_{0}, malformed_{0};
  // A flush's record failed: the next flush writes every queue, changed or not.
  std::atomic<bool> flush_all_{false};
  std::atomic<int64_t> flushes_pending_{0};  // appended, not yet durable

  Mutex persist_mu_;  // taken before groups_mu_ and every ConsumerGroup::mu
  mutable SharedMutex groups_mu_;
  std::map<std::string, GroupPtr> groups_ GUARDED_BY(groups_mu_);
};

}  // namespace tidemq::broker
