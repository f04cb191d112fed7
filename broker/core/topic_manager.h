// Topics and their queue counts, persisted in the store's metadata space ("topic/<name>")
// through metadata records in the CommitLog (Store::AppendMeta). Thread-safe: any thread
// (network threads, the timer and store writer threads, the maintenance thread) may look
// topics up while an admin request changes them; no call waits on a disk.
//
// A change is made in memory and its record appended under one ordering lock, so records
// reach the log in the order the changes were made (a creation before a deletion of the same
// name), and every record appended after a creation (its messages) lands after the topic's
// own record. Callers that must answer only once the change is durable pass a callback.
//
// Incarnations (docs/operations.md). Deleting a topic and creating it again makes a new topic
// with the same name: each creation gets an incarnation id, strictly increasing per name
// (one counter for all names, persisted). Records that wait on the old topic's behalf — a
// scheduled message, a retry copy, a transaction's half message — carry the incarnation they
// were made for (kTopicIncarnationProperty, never shown to clients), and IsCurrent() tells
// whether that incarnation is still the topic's: when it is not, the record is dropped where
// it would have taken effect (a timer fire, a receive from the retry queue, a commit).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "store/store.h"

namespace tidemq::broker {

// The internal property that stamps a record with its topic's incarnation (decimal; absent
// means 0, the incarnation of topics created before incarnations existed). Reserved: the
// broker overwrites it where it stamps and strips it from everything it sends to clients.
inline constexpr char kTopicIncarnationProperty[] = "TOPIC_INCARNATION";

// The kinds of message a send stores, as RocketMQ's metrics label them (message_type).
enum class MessageKind : uint8_t { kNormal = 0, kFifo = 1, kDelay = 2, kTransaction = 3 };
inline constexpr size_t kMessageKinds = 4;
inline constexpr const char* kMessageKindNames[kMessageKinds] = {"normal", "fifo", "delay",
                                                                 "transaction"};

// A topic's traffic since the broker started (docs/metrics.md), by kind of message: one
// relaxed add per stored send batch and topic, no lock. Shared by every copy of the Topic;
// a deleted topic's counters go with it (a new incarnation starts from zero).
struct TopicCounters {
  std::atomic<int64_t> messages_in[kMessageKinds] = {};
  std::atomic<int64_t> bytes_in[kMessageKinds] = {};
};

struct Topic {
  std::string name;
  uint32_t queue_count = 0;
  int64_t created_ms = 0;
  uint64_t incarnation = 0;  // 0: created before incarnations existed
  // Round-robin cursor for sends that let the broker choose the queue.
  std::shared_ptr<std::atomic<uint32_t>> next_queue = std::make_shared<std::atomic<uint32_t>>(0);
  std::shared_ptr<TopicCounters> counters = std::make_shared<TopicCounters>();
};

class TopicManager {
 public:
  explicit TopicManager(store::Store* store) : store_(store) {}

  using Durable = std::function<void(const Status&)>;
  using Created = std::function<void(const Status&, const Topic&)>;

  // Loads every persisted topic. A record that does not parse is skipped, logged and counted
  // (malformed_skipped()), never a reason not to start.
  Status Load();
  // Creates a topic; an existing topic with the same queue count is OK (idempotent), a
  // different count is kAlreadyExists. The topic is usable at once; `durable`, when set, runs
  // (on the store's writer thread) once its record is durable — or with the error, and the
  // topic is gone again. Errors returned here come before anything was appended.
  Result<Topic> Create(const std::string& name, uint32_t queue_count, int64_t now_ms,
                       bool allow_system = false, Created durable = nullptr);
  // Deletes the topic and drops its consume queues (one record). kTopicNotFound at once;
  // otherwise `durable` (may be null) runs when the record is durable.
  Status Delete(const std::string& name, Durable durable);
  std::optional<Topic> Find(const std::string& name) const;
  std::vector<Topic> List() const;

  // A topic has at least queue_count queues afterwards: created, or grown (queues are only
  // ever added: a topic never shrinks), with one record. Idempotent.
  Result<Topic> Ensure(const std::string& name, uint32_t queue_count, int64_t now_ms);

  // Clusters (docs/cluster.md): how many queues the cluster's routes give this broker group
  // for a topic (0: none). Set once, before the services are called.
  using RoutedQueues = std::function<uint32_t(const std::string& topic)>;
  void SetRoutedQueues(RoutedQueues routed) { routed_ = std::move(routed); }
  // Find, except that a topic the routes give this group more queues of than it has here
  // (a send or receive arriving before the routes' watch made it) is created or grown first.
  // The routes are consulted only when the topic is missing or has no queue `queue_id`.
  std::optional<Topic> FindRouted(const std::string& name, int64_t now_ms,
                                  int32_t queue_id = -1);

  // True when the topic `record` waits for still exists in the incarnation stamped on it: the
  // record's own topic, and for a retry copy (%RETRY%<group>) also the topic it was first
  // sent to, whose incarnation the copy carries. Only for stamped kinds of records (scheduled
  // messages, retry copies, half messages).
  bool IsCurrent(const store::Record& record) const;
  // Counts a record dropped because IsCurrent() said no (the caller logs what it was).
  void CountStale() { stale_.fetch_add(1, std::memory_order_relaxed); }
  int64_t stale_dropped() const { return stale_.load(std::memory_order_relaxed); }
  // Metadata records Load() skipped because they did not parse.
  int64_t malformed_skipped() const { return malformed_.load(std::memory_order_relaxed); }
  // Stamps `record` with an incarnation (replacing any value a producer may have set).
  static void StampIncarnation(store::Record* record, uint64_t incarnation);
  static uint64_t IncarnationOf(const store::Record& record);
  // The incarnation of `topic` now, or 0 when it does not exist.
  uint64_t IncarnationNow(const std::string& topic) const;

  // The queue a message goes to: explicit id (checked), its message group's hash, or round
  // robin.
  static Result<uint32_t> PickQueue(const Topic& topic, int32_t requested,
                                    const std::string& message_group);

 private:
  // Appends the topic's record; a new topic's counter too.
  void Persist(const Topic& t, bool is_new, Created durable) REQUIRES(order_mu_);

  store::Store* store_;
  RoutedQueues routed_;
  // Held across a change in memory and the append of its record (never by a reader, nor in a
  // store callback): log order = the order of the changes. Taken before mu_.
  Mutex order_mu_;
  mutable SharedMutex mu_;
  std::map<std::string, Topic> topics_ GUARDED_BY(mu_);
  uint64_t last_incarnation_ GUARDED_BY(mu_) = 0;  // the last one handed out
  std::atomic<int64_t> stale_{0};
  std::atomic<int64_t> malformed_{0};
};

}  // namespace tidemq::broker
