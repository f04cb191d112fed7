// The protocol-neutral admin API of the broker core: topics, consumer groups, dead letters,
// scheduled messages, transactions, message look-ups and the broker's figures. A front end
// decodes its request, makes one call, and encodes the result; defaults, validation and the
// derived figures (lag, totals) are decided here.
//
// Threads: every call may come from any thread (normally a network thread). Calls that end
// in an append (DLQ redrive and purge, cancels) complete through their callback, maybe on
// the store's writer thread or the DLQ worker.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "broker/core/consumer_manager.h"
#include "broker/core/core_parts.h"
#include "broker/core/dead_letters.h"
#include "broker/core/scheduled_delivery.h"
#include "broker/core/txn_coordinator.h"
#include "common/retry_policy.h"
#include "common/status.h"
#include "store/store.h"
#include "timer/timer_service.h"
#include "txn/txn_service.h"

namespace tidemq::broker {

struct QueueRange {
  uint32_t queue_id = 0;
  int64_t min_offset = 0;
  int64_t max_offset = 0;
};

struct TopicInfo {
  std::string name;
  uint32_t queue_count = 0;
  std::vector<QueueRange> queues;
};

struct DlqPage {
  std::vector<DeadLetter> messages;
  int64_t total = 0;  // in the group's DLQ, neither redriven nor purged
};

struct TimerReport {
  timer::TimerStats stats;
  LatenessCounts lateness{};
  int64_t broker_time_ms = 0;
};

struct ScheduledInfo {
  timer::IndexEntry entry;
  bool firing = false;
};

struct TxnListQuery {
  std::optional<txn::TxnState> state;  // none: every state
  bool parked_only = false;
  int64_t after_offset = -1;  // < 0: from the first
  uint32_t limit = 0;         // 0: 100
};

struct TxnReport {
  txn::TxnStats index;
  CheckStats checks;
};

// A message look-up: by message id, by (topic, key), or by log offset (log_offset > 0, or
// neither id nor key given).
struct QueryCommand {
  std::string message_id;
  std::string topic;  // with a key: required; otherwise a filter
  std::string key;
  int64_t log_offset = 0;
  uint32_t max_messages = 0;  // 0: 32; at most 1024
};

struct QueryResult {
  std::vector<std::pair<LogOffset, store::Record>> found;
  std::vector<LogOffset> damaged;  // matches whose record cannot be read
  bool truncated = false;          // more matched than max_messages (only the first are here)
};

// Messages of a topic stored in [from_ms, to_ms), oldest first across its queues.
struct TimeRangeQuery {
  std::string topic;
  int64_t from_ms = 0;
  int64_t to_ms = 0;          // 0: now
  uint32_t max_messages = 0;  // 0: 32; at most 1024
};

struct StatsReport {
  std::vector<std::pair<std::string, int64_t>> counters;
  std::vector<std::pair<std::string, std::string>> info;
};

// What /metrics shows (docs/metrics.md), gathered in one pass: a front end renders it.
struct TopicMetrics {
  std::string name;
  uint32_t queue_count = 0;
  int64_t messages_in[kMessageKinds] = {};  // since the broker started, by MessageKind
  int64_t bytes_in[kMessageKinds] = {};
  int64_t stored_messages = 0;              // in its queues (max - min offsets)
};

// One consumer group's consumption of one topic (its retry copies included).
struct ConsumptionMetrics {
  std::string group;
  std::string topic;
  int64_t lag = 0;       // stored and not acked
  int64_t inflight = 0;  // delivered, leased, not acked
  int64_t ready = 0;     // never delivered yet
  int64_t oldest_unacked_age_ms = 0;  // now - store time of the oldest unacked; 0: none
  int64_t delivered = 0;              // since the broker started
  int64_t delivered_bytes = 0;
  int64_t retried = 0;
  int64_t dead_lettered = 0;
};

struct GroupMetrics {
  std::string name;
  bool fifo = false;
  int64_t clients = 0;
  int64_t dlq_messages = 0;
};

struct MetricsReport {
  int64_t now_ms = 0;
  StatsReport stats;  // the STATS counters and facts
  std::vector<TopicMetrics> topics;  // system topics included
  std::vector<GroupMetrics> groups;
  std::vector<ConsumptionMetrics> consumption;
  HistogramSnapshot send_latency_us;
  HistogramSnapshot message_size_bytes;
  HistogramSnapshot append_latency_us;
  HistogramSnapshot sync_latency_us;
  HistogramSnapshot timer_lateness_ms;
  store::StoreStats store;
  int64_t timer_next_due_ms = 0;  // 0: nothing scheduled
  int64_t txn_answers_failed = 0;
  int64_t txn_waiting_groups = 0;
};

// One step in a message's life (AdminService::Trace), from a record of the log: the message's
// own records (sent, scheduled, fired, half, committed, checked, rolled back, cancelled, retry
// copies, dead letters, redrives, parked) and the consumption events of its queue positions.
struct TraceStep {
  int64_t time_ms = 0;
  std::string kind;     // "sent", "delivered", ... (docs/console.md, "Trace")
  int64_t log_offset = 0;  // of the record it comes from
  std::vector<std::pair<std::string, std::string>> detail;
};

struct MessageTrace {
  std::string message_id;
  std::vector<TraceStep> steps;  // in the order they happened (by log position)
  bool truncated = false;        // more records than one trace reads (kMaxTraceRecords)
  std::vector<LogOffset> damaged;
  bool consumption_traced = true;  // --trace-consumption
  int64_t events_dropped = 0;      // consumption events the broker could not record
};

inline constexpr size_t kMaxTraceRecords = 256;

// The counters and facts that need no core service: the process, its connections and its
// store. All a replica has (BrokerCore::Metrics); AdminService::Stats starts from them.
StatsReport BaseStats(const BrokerConfig& config, Clock* clock, const BrokerStats& stats,
                      const store::Store& store);

class AdminService {
 public:
  explicit AdminService(const CoreParts& parts) : p_(parts) {}

  // Topic and group changes are answered once their metadata record is durable (never
  // waiting on a thread for it): `done` runs exactly once — at once on an error found before
  // anything was appended, otherwise from the store's writer thread (deletions) or on the
  // io_context (creations, whose description is built there).
  using StatusDone = std::function<void(const Status&)>;
  using TopicDone = std::function<void(Result<TopicInfo>)>;
  using GroupDone = std::function<void(Result<GroupInfo>)>;

  // queue_count 0: the broker's default.
  void CreateTopic(const std::string& name, uint32_t queue_count, TopicDone done);
  std::vector<TopicInfo> ListTopics(bool include_system) const;
  Result<TopicInfo> DescribeTopic(const std::string& name) const;
  void DeleteTopic(const std::string& name, StatusDone done);
  // `add` more queues (1..1024 in all); its messages stay where they are.
  Result<TopicInfo> ExtendTopic(const std::string& name, uint32_t add);

  void CreateGroup(GroupSpec spec, GroupDone done);
  std::vector<GroupInfo> ListGroups() const;
  Result<GroupInfo> DescribeGroup(const std::string& name) const;
  void DeleteGroup(const std::string& name, StatusDone done);

  // limit 0: 100; at most 10,000.
  Result<DlqPage> ListDeadLetters(const std::string& group, const DlqFilter& filter,
                                  int64_t after_offset, uint32_t limit) const;
  void RedriveDeadLetters(const std::string& group, const DlqFilter& filter, bool all,
                          RedriveTarget target, DeadLetters::CountDone done);
  void PurgeDeadLetters(const std::string& group, const DlqFilter& filter, bool all,
                        DeadLetters::CountDone done);

  void CancelScheduled(const std::string& message_id,
                       std::function<void(Result<CancelResult>)> done);
  TimerReport TimerStats() const;
  Result<ScheduledInfo> ShowScheduled(const std::string& message_id) const;
  // Pending scheduled messages (delays and retry back-offs), soonest first, after the
  // position (due_ms, log offset) of the last one seen; limit 0: 100, at most 10,000.
  Result<std::vector<ScheduledInfo>> ListScheduled(int64_t after_due_ms, int64_t after_offset,
                                                   uint32_t limit) const;

  Result<std::vector<txn::TxnEntry>> ListTxns(const TxnListQuery& query) const;
  // By message id when it is not empty, else by half offset.
  Result<txn::TxnEntry> ShowTxn(const std::string& message_id, int64_t half_offset) const;
  TxnReport TxnStats() const;

  // By id, key or log offset. truncated is set when max_messages were found and more may
  // exist.
  Result<QueryResult> Query(const QueryCommand& query) const;
  Result<QueryResult> QueryByTime(const TimeRangeQuery& query) const;
  StatsReport Stats() const;
  // Reads no message; one consume-queue entry per (group, queue) that has unacked messages,
  // for its age (admin_metrics.cc).
  MetricsReport Metrics() const;
  // Everything the log holds about message `message_id`, oldest first (admin_trace.cc).
  Result<MessageTrace> Trace(const std::string& message_id) const;
  // The traces of the messages stored under `key` in `topic` (at most max_messages, newest
  // first; *truncated when there are more).
  Result<std::vector<MessageTrace>> TraceByKey(const std::string& topic, const std::string& key,
                                               uint32_t max_messages, bool* truncated) const;
  // ConsumerManager::ResetOffset, checked.
  Result<std::vector<OffsetMove>> ResetOffset(const std::string& group, const std::string& topic,
                                              int64_t time_ms, int32_t queue_id) const;

 private:
  TopicInfo Describe(const Topic& topic) const;
  // The group `spec` asks for, with defaults filled in and checked.
  Result<GroupConfig> GroupConfigFor(GroupSpec spec) const;
  void Complete(GroupInfo* info) const;
  const CoreParts p_;
};

}  // namespace tidemq::broker
