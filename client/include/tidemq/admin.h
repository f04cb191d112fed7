// Admin: topics, consumer groups (with their retry policy), dead letters, message look-up,
// scheduled messages, transactions and broker statistics.
//
//   auto admin = tidemq::Admin::NewBuilder().Endpoint("127.0.0.1:9810").Build();
//   admin->CreateTopic("orders", 8);
//
// Results are plain structs so tools never see wire types. Every call is synchronous, may be
// made from any thread and never throws.
//
// In a cluster of broker groups (client/README.md, "Clusters of broker groups") the calls that
// a group answers for itself (topics' queues, consumer groups' lag, messages, traces, dead
// letters, transactions, timers, stats) ask every group — in parallel — and merge the answers;
// `group` / `broker_group` fields say which group each part came from, and `group_errors`
// lists the groups that could not answer. Builder::BrokerGroup narrows them to one group.
// Outside a cluster every call goes to the one broker (group) as before and those fields stay
// empty.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/retry_policy.h"
#include "common/status.h"
#include "tidemq/message.h"
#include "tidemq/route.h"

namespace tidemq {

struct QueueInfo {
  int32_t queue_id = 0;
  int64_t min_offset = 0;  // oldest offset still stored
  int64_t max_offset = 0;  // next offset to be written
  std::string group;       // cluster: the broker group holding it (queue ids are per group)
};

struct TopicInfo {
  std::string name;
  uint32_t queue_count = 0;  // cluster: over every group
  std::vector<QueueInfo> queues;
  std::vector<QueueRange> route;          // cluster: its queues per group, in route order
  std::vector<std::string> group_errors;  // cluster: "GROUP: why" for groups that did not answer
};

struct QueueLag {
  std::string topic;
  int32_t queue_id = 0;  // cluster: a queue of `group`
  int64_t committed_offset = 0;
  int64_t max_offset = 0;
  int64_t lag = 0;
  int64_t inflight = 0;
  std::string client_id;  // broadcasting groups: whose offset this is
  // Messages of this queue deleted by retention (age or disk watermark) before the group
  // consumed them; kept with the group's offsets, so it counts across broker restarts.
  int64_t lost_to_retention = 0;
  std::string group;  // cluster: the broker group holding the queue
};

// How a consumer group consumes and retries. A failed delivery (nack, lapsed lease) waits
// retry.DelayMs(n) after its n-th failure; after max_attempts deliveries the message goes
// to %DLQ%<group> (FIFO groups retry in place, and with fifo_block never dead-letter).
struct GroupOptions {
  bool broadcast = false;     // every member gets every message
  bool fifo = false;          // a queue's next message only after the previous is settled
  bool fifo_block = false;    // FIFO: keep retrying past max_attempts instead of dead-lettering
  uint32_t max_attempts = 0;  // 1..1000; 0: the broker's default (16 unless configured)
  std::optional<RetryPolicy> retry;  // empty: the broker's default (ladder unless configured)
};

struct GroupInfo {
  std::string name;
  bool broadcast = false;
  bool fifo = false;
  bool fifo_block = false;
  uint32_t max_attempts = 0;
  RetryPolicy retry;  // the back-off in force
  std::vector<QueueLag> queues;
  std::vector<std::string> clients;
  int64_t total_lag = 0;
  int64_t retried = 0;        // retry copies made (nack, lapsed lease) since broker start
  int64_t dead_lettered = 0;  // moved to %DLQ%<group> since broker start
  int64_t dlq_messages = 0;   // in %DLQ%<group> now, neither redriven nor purged
  int64_t lost_to_retention = 0;  // sum of the queues' lost_to_retention
  // Cluster: the counters above are summed over the broker groups that answered; these did
  // not ("GROUP: why").
  std::vector<std::string> group_errors;
};

// Selects dead letters of one group: every field that is set must match. An empty filter
// selects all of them; redrive and purge then also need all = true, so that "everything" is
// always said explicitly.
struct DeadLetterFilter {
  std::string message_id;
  int64_t dlq_offset = -1;  // one message (ReceivedMessage::dlq_offset()); -1: any
  std::string tag;
  std::string key;
  std::string original_topic;  // the topic it was sent to
  int64_t from_ms = 0;         // dead-lettered at or after (ms since the epoch); 0: any
  int64_t to_ms = 0;           // dead-lettered before; 0: any
  // Cluster: only this broker group's dead letters (dlq_offset is per group); "": every
  // group's. Not a selection: redrive and purge still need a filter or all = true.
  std::string broker_group;

  bool empty() const;
};

struct DeadLetterPage {
  // Ordered by dlq_offset(); each with original_topic(), delivery_attempt() (deliveries
  // made), first_failure_ms(), dead_letter_reason() and store_ms() = when dead-lettered.
  std::vector<ReceivedMessage> messages;
  int64_t total = 0;  // dead letters of the group, matching the filter or not
  // Cluster: each message's broker_group() says where it is; after_offset applies to every
  // group's DLQ alike, so page one group at a time (DeadLetterFilter::broker_group).
};

// Where a redriven dead letter goes.
enum class RedriveTarget {
  kOriginalTopic,  // back into its topic: every group of the topic receives it again
  kRetryQueue,     // into %RETRY%<group>: only this group, its attempts counted from 1 again
};
const char* ToString(RedriveTarget target);

struct StatsInfo {
  std::map<std::string, int64_t> counters;
  std::map<std::string, std::string> info;
};

// What CancelScheduled did.
struct CancelOutcome {
  bool cancelled = false;  // false: too late, it had already fired (is or was delivered)
  int64_t due_ms = 0;      // its due time (ms since the epoch); 0 when unknown
};

struct TimerStatsInfo {
  int64_t pending = 0;  // scheduled messages waiting for their due time
  int64_t fired = 0;
  int64_t cancelled = 0;
  int64_t next_due_ms = 0;  // earliest pending due time; 0 = none
  int64_t loaded = 0;       // pending entries the broker holds in memory
  int64_t firing = 0;       // being delivered right now
  int64_t broker_time_ms = 0;
  // Fires by lateness (fire time - due time): count of those below below_ms (0: the rest).
  struct Bucket {
    int64_t below_ms = 0;
    int64_t count = 0;
  };
  std::vector<Bucket> lateness;
};

struct ScheduledInfo {
  std::string message_id;
  int64_t due_ms = 0;
  std::string topic;
  int32_t queue_id = 0;
  bool firing = false;  // being delivered: too late to cancel
  int64_t log_offset = 0;
};

// One transactional message's transaction (docs/txn.md).
enum class TransactionState { kPending, kCommitted, kRolledBack };
const char* ToString(TransactionState state);

struct TransactionInfo {
  int64_t half_offset = 0;  // log offset of its half message
  TransactionState state = TransactionState::kPending;
  std::string producer_group;
  std::string topic;
  int32_t queue_id = 0;
  std::string message_id;
  int64_t half_store_ms = 0;
  int64_t timeout_ms = 0;     // first check-back this long after the half was stored
  uint32_t checks = 0;        // check-backs sent
  int64_t next_check_ms = 0;  // pending only
  int64_t end_ms = 0;         // ended only
  std::string end_reason;     // producer, check, operator, max_checks or topic_deleted
  bool parked = false;        // rolled back after the last check, copied to %TXN_PARKED%
  std::string broker_group;   // cluster: the group holding the half message
};

struct TransactionStatsInfo {
  int64_t pending = 0;
  int64_t committed = 0;
  int64_t rolled_back = 0;  // parked ones included
  int64_t parked = 0;
  int64_t checks_sent = 0;
  // Check-back answers since the broker started.
  int64_t answers_commit = 0;
  int64_t answers_rollback = 0;
  int64_t answers_unknown = 0;
  // Answers to any check count, superseded ones included (docs/txn.md "Check-back answers").
  int64_t answers_failed = 0;     // no usable answer: error reply, connection lost, timed out
  int64_t waiting_groups = 0;     // producer groups with due checks and no live producer
  int64_t answers_unmatched = 0;  // answers to no check the broker sent (ignored)
  int64_t answers_late = 0;       // answers after their check counted as failed (still applied)
  int64_t final_actions_deferred = 0;  // final actions that waited for a check in flight
  int64_t checks_in_flight = 0;        // now: checks sent and not yet answered
  int64_t final_actions_waiting = 0;   // now: transactions whose final action waits
};

struct TransactionFilter {
  std::optional<TransactionState> state;  // any when empty
  bool parked_only = false;
  int64_t after_offset = -1;  // paging: half offsets above this
  uint32_t limit = 100;
};

// One step of a message's life (Admin::Trace; docs/console.md, "Trace").
struct TraceStep {
  int64_t time_ms = 0;
  std::string kind;        // sent, scheduled, fired, delivered, acked, nacked, dead_lettered, ...
  int64_t log_offset = 0;  // of the record that tells it
  std::vector<std::pair<std::string, std::string>> detail;  // group, client, attempt, topic, ...
};

struct MessageTrace {
  std::string message_id;
  std::vector<TraceStep> steps;  // in the order they happened
  bool truncated = false;        // the message has more records than one trace reads
  std::vector<int64_t> damaged_log_offsets;
};

struct TraceResult {
  std::vector<MessageTrace> traces;  // one by id; by key, one per message stored under it
  bool truncated = false;            // by key: more messages than asked for
  bool consumption_traced = true;    // the broker records deliveries, acks, ... (--trace-consumption)
  int64_t events_dropped = 0;        // consumption events the broker could not record
};

// A queue whose position ResetOffset moved.
struct OffsetReset {
  int32_t queue_id = 0;
  int64_t from_offset = 0;
  int64_t to_offset = 0;
  std::string group;  // cluster: the broker group of the queue
};

class Admin {
 public:
  class Builder {
   public:
    // "host:port" or a group's brokers "h1:p1,h2:p2" (calls follow the master); default
    // 127.0.0.1:9810.
    Builder& Endpoint(std::string endpoint);
    Builder& Endpoints(const std::vector<std::string>& endpoints);
    Builder& RequestTimeout(int64_t ms);  // default 5000 ms
    // How long a call keeps following the master through a failover; default 10000 ms.
    Builder& FailoverDeadline(int64_t ms);
    // Cluster: the calls a broker group answers for itself go to this group only (NotFound
    // when the routes do not name it); "" (default): every group, answers merged.
    Builder& BrokerGroup(std::string group);
    // Connects; Unavailable when the broker cannot be reached.
    Result<Admin> Build() const;

   private:
    std::string endpoint_ = "127.0.0.1:9810";
    int64_t request_timeout_ms_ = 5000;
    int64_t failover_deadline_ms_ = 10'000;
    std::string broker_group_;
  };

  static Builder NewBuilder() { return Builder(); }

  Admin(Admin&&) noexcept;
  Admin& operator=(Admin&&) noexcept;
  ~Admin();

  // The cluster's groups and where each topic's queues are, asked now (routes.clustered is
  // false outside a cluster: the rest is then empty). topics: those only; empty: every topic.
  Result<ClusterRoutes> QueryRoute(const std::vector<std::string>& topics = {});

  // In a cluster the queues are spread over `groups` (in this order), or over every writable
  // group when empty, and the result's route says where they went (queues: one entry per
  // queue, offsets 0). Outside a cluster `groups` must be empty.
  Result<TopicInfo> CreateTopic(const std::string& name, uint32_t queue_count = 4,
                                const std::vector<std::string>& groups = {});
  // add_queues more queues (existing messages stay where they are): on `groups`, or on the
  // writable groups holding the fewest of the topic's queues first. Returns the new route.
  Result<TopicRoute> ExtendTopic(const std::string& topic, uint32_t add_queues,
                                 const std::vector<std::string>& groups = {});
  Result<std::vector<TopicInfo>> ListTopics(bool include_system = false);
  Result<TopicInfo> DescribeTopic(const std::string& name);
  Status DeleteTopic(const std::string& name);

  // Creates a group or updates an existing one (its mode, broadcast and fifo, cannot change).
  // max_attempts 0: the broker's default.
  Result<GroupInfo> CreateGroup(const std::string& name, bool broadcast = false, bool fifo = false,
                                uint32_t max_attempts = 0);
  Result<GroupInfo> CreateGroup(const std::string& name, const GroupOptions& options);
  Result<std::vector<GroupInfo>> ListGroups();
  Result<GroupInfo> DescribeGroup(const std::string& name);
  Status DeleteGroup(const std::string& name);

  // Dead letters of a group (%DLQ%<group>), neither redriven nor purged. Paging: pass the
  // last dlq_offset() seen as after_offset (-1: from the start). limit 1..10000. Bodies are
  // fetched only with with_bodies.
  Result<DeadLetterPage> ListDeadLetters(const std::string& group,
                                         const DeadLetterFilter& filter = {},
                                         int64_t after_offset = -1, uint32_t limit = 100,
                                         bool with_bodies = false);
  // Sends the selected dead letters back to target; returns how many. The filter must not be
  // empty unless all is true (InvalidArgument otherwise).
  Result<int64_t> RedriveDeadLetters(const std::string& group, const DeadLetterFilter& filter,
                                     bool all = false,
                                     RedriveTarget target = RedriveTarget::kOriginalTopic);
  // Drops the selected dead letters for good; returns how many. Same rule as redrive.
  Result<int64_t> PurgeDeadLetters(const std::string& group, const DeadLetterFilter& filter,
                                   bool all = false);

  // topic narrows the search and may be empty.
  Result<std::vector<ReceivedMessage>> QueryById(const std::string& message_id,
                                                 const std::string& topic = "");
  Result<std::vector<ReceivedMessage>> QueryByKey(const std::string& topic, const std::string& key,
                                                  uint32_t max_messages = 32);
  Result<std::vector<ReceivedMessage>> QueryByOffset(int64_t log_offset);

  // Everything the broker's log holds about a message, oldest first: sent, scheduled, fired,
  // committed / checked / rolled back, each delivery with its group, client, attempt and lease,
  // acks, nacks, lapsed leases, retry copies, dead-lettering, redrives.
  Result<TraceResult> Trace(const std::string& message_id);
  // The same for the messages stored under `key` in `topic` (at most max_messages, 1..64).
  Result<TraceResult> TraceByKey(const std::string& topic, const std::string& key,
                                 uint32_t max_messages = 8);

  // Moves `group`'s position on `topic` (every queue, or queue_id >= 0) to the first message
  // stored at or after time_ms: later messages are delivered again, earlier ones skipped.
  // Cluster: on every broker group holding the topic (queue ids are per group: name one
  // with Builder::BrokerGroup when giving queue_id).
  Result<std::vector<OffsetReset>> ResetOffset(const std::string& group, const std::string& topic,
                                               int64_t time_ms, int32_t queue_id = -1);

  Result<StatsInfo> Stats();

  // The broker group as the broker connected to sees it: one JSON document (docs/replication.md,
  // "Status"): group, broker_id, role, epoch, master, master_address, min_copies, in_sync,
  // members [{broker_id, address, role, log_end, lag_bytes, lag_ms, in_sync, connected}],
  // last_failover_ms. A broker outside a group answers {"role":"standalone"}. Replicas answer
  // it too (no NOT_MASTER): `tidemq cluster status` asks each address it is given.
  Result<std::string> ClusterStatus();
  // The same document from the master of one broker group of the cluster.
  Result<std::string> ClusterStatus(const std::string& broker_group);

  // The cluster's broker groups. Add: register a group (its brokers then serve it) or make a
  // drained one writable again. Drain: no new sends or queues; consumers empty it. Remove:
  // forget a drained group whose queues hold nothing unconsumed (force: anyway — its
  // unconsumed messages are then lost to consumers). FailedPrecondition outside a cluster.
  Result<BrokerGroupRoute> AddBrokerGroup(const std::string& name);
  Result<BrokerGroupRoute> DrainBrokerGroup(const std::string& name);
  Result<BrokerGroupRoute> RemoveBrokerGroup(const std::string& name, bool force = false);

  // Scheduled messages (Message::Builder::Delay / DeliverAt). NotFound when no message with
  // this id is pending or was delivered (never scheduled, or already cancelled).
  Result<CancelOutcome> CancelScheduled(const std::string& message_id);
  Result<TimerStatsInfo> TimerStats();
  // A pending scheduled message; NotFound once it fired or was cancelled.
  Result<ScheduledInfo> ShowTimer(const std::string& message_id);

  // Transactions. Ordered by half offset.
  Result<std::vector<TransactionInfo>> ListTransactions(const TransactionFilter& filter = {});
  Result<TransactionInfo> ShowTransaction(const std::string& message_id);
  // Resolves a transaction by hand (commit = true: make it visible). A repeat of the same
  // resolution is OK; the opposite of one already taken fails with TxnConflict.
  Status ResolveTransaction(const std::string& message_id, bool commit);
  Result<TransactionStatsInfo> TransactionStats();

  void Shutdown();

  class Impl;

 private:
  explicit Admin(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq
