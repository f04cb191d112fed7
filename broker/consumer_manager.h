// Broker-managed consumption (shared/DESIGN.md 2.4): consumer groups, leases, acks, nacks,
// committed offsets, FIFO and broadcasting.
//
// Per (group, topic, queue[, client for broadcasting]) the manager keeps:
//   committed  every offset below it is acked (persisted as "offset/..." in store metadata)
//   next       the smallest offset never delivered
//   inflight   delivered, leased, not yet acked: offset -> lease (deadline, lease id, attempt)
//   retry      nacked or lapsed: offset -> when it may be delivered again
//   acked      acked offsets above committed (acks arrive out of order)
// A receipt handle names (topic, queue, offset, lease id); only the current lease's handle
// acks. After a restart, offsets above committed are delivered again (at-least-once).
//
// Thread safety: every public method may be called from any thread; each group has its own
// mutex, the group table a shared mutex.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "broker/config.h"
#include "broker/receipt.h"
#include "broker/topic_manager.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"

namespace tidemq::broker {

struct GroupConfig {
  std::string name;
  bool broadcast = false;
  bool fifo = false;
  uint32_t max_attempts = 16;
  int64_t created_ms = 0;
};

struct ReceiveArgs {
  std::string group;
  std::string topic;
  std::string tag_filter;      // "", "*" or "a||b"
  uint32_t max_messages = 32;
  int64_t lease_ms = 30'000;
  std::string client_id;
};

struct Delivery {
  store::Record record;
  uint32_t queue_id = 0;
  int64_t queue_offset = 0;
  LogOffset log_offset;
  uint32_t attempt = 1;
  std::string receipt;
};

struct QueueLagInfo {
  std::string topic;
  uint32_t queue_id = 0;
  std::string client_id;
  int64_t committed = 0;
  int64_t max_offset = 0;
  int64_t inflight = 0;
};

struct GroupInfo {
  GroupConfig config;
  std::vector<QueueLagInfo> queues;
  std::vector<std::string> clients;
};

class ConsumerManager {
 public:
  ConsumerManager(store::Store* store, TopicManager* topics, Clock* clock,
                  const BrokerConfig& config);

  // Loads group configs and committed offsets from store metadata.
  Status Load();

  // Creates a group, or updates an existing one's max_attempts. Changing the mode or FIFO of an
  // existing group is refused (kFailedPrecondition): its offsets mean something else.
  Result<GroupConfig> CreateGroup(GroupConfig config);
  Status DeleteGroup(const std::string& name);
  std::vector<GroupConfig> ListGroups() const;
  Result<GroupInfo> DescribeGroup(const std::string& name) const;

  // Delivers what is available now (possibly nothing); never waits.
  Result<std::vector<Delivery>> TryReceive(const ReceiveArgs& args);
  Status Ack(const std::string& group, const std::string& receipt);
  Status Nack(const std::string& group, const std::string& receipt, int64_t delay_ms);
  // Returns the new receipt handle.
  Result<std::string> ChangeLease(const std::string& group, const std::string& receipt,
                                  int64_t lease_ms);
  void Touch(const std::string& group, const std::string& client_id);

  // Turns lapsed leases into retries. Returns the topics that now have a message ready for
  // redelivery (nacked or lapsed), so long-polling receivers can be woken.
  std::set<std::string> ExpireLeases();
  // Persists changed committed offsets.
  Status FlushOffsets(bool sync);
  void OnTopicDeleted(const std::string& topic);

  int64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  int64_t acked() const { return acked_.load(std::memory_order_relaxed); }
  int64_t nacked() const { return nacked_.load(std::memory_order_relaxed); }
  int64_t lapsed() const { return lapsed_.load(std::memory_order_relaxed); }

 private:
  struct Lease {
    int64_t deadline_ms = 0;   // monotonic
    uint64_t lease_id = 0;
    uint32_t attempt = 0;
  };
  struct QueueState {
    int64_t committed = 0;
    int64_t next = 0;
    std::map<int64_t, Lease> inflight;
    std::map<int64_t, int64_t> retry;            // offset -> ready at (monotonic ms)
    std::unordered_map<int64_t, uint32_t> attempts;
    std::set<int64_t> acked;
    bool dirty = false;
  };
  // (topic, queue, client id: "" for clustering groups)
  using QueueKey = std::tuple<std::string, uint32_t, std::string>;
  struct Group {
    GroupConfig config;
    mutable std::mutex mu;
    std::map<QueueKey, QueueState> queues;               // GUARDED_BY(mu)
    std::map<std::string, int64_t> clients;              // GUARDED_BY(mu): last seen (wall ms)
    uint32_t cursor = 0;                                 // GUARDED_BY(mu): fair queue start
  };

  Result<std::shared_ptr<Group>> FindGroup(const std::string& name, bool create) const;
  Result<std::shared_ptr<Group>> FindOrCreateGroup(const std::string& name);
  QueueState& StateFor(Group& g, const QueueKey& key);  // REQUIRES(g.mu)
  // Appends deliverable messages of one queue to *out (up to max total). REQUIRES(g.mu)
  void CollectFromQueue(Group& g, const QueueKey& key, const std::set<uint32_t>& tag_hashes,
                        const std::set<std::string>& tags, const ReceiveArgs& args,
                        int64_t now, std::vector<Delivery>* out);
  // Leases offset `off` (record already read) and appends the delivery. REQUIRES(g.mu)
  void LeaseMessage(QueueState& st, const QueueKey& key, int64_t off, store::Record record,
             LogOffset log_offset, int64_t lease_ms, int64_t now, std::vector<Delivery>* out);
  static void MarkAcked(QueueState& st, int64_t off);  // REQUIRES(g.mu)
  // Validates a receipt against the current lease. REQUIRES(g.mu)
  Result<QueueState*> CheckReceipt(Group& g, const Receipt& r);
  Status PersistGroup(const GroupConfig& c);
  static std::string OffsetKey(const std::string& group, const QueueKey& key);

  store::Store* store_;
  TopicManager* topics_;
  Clock* clock_;
  const BrokerConfig& config_;
  std::atomic<uint64_t> lease_seq_{0};
  std::atomic<int64_t> delivered_{0}, acked_{0}, nacked_{0}, lapsed_{0};

  mutable std::shared_mutex groups_mu_;
  std::map<std::string, std::shared_ptr<Group>> groups_;   // GUARDED_BY(groups_mu_)
};

// Parses "", "*" or "a||b||c" into a set of tags (empty = everything).
Result<std::set<std::string>> ParseTagFilter(const std::string& expr);

}  // namespace tidemq::broker
