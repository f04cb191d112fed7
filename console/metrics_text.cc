#include "console/metrics_text.h"

#include <spdlog/fmt/fmt.h>

#include <map>
#include <string_view>
#include <utility>
#include <vector>

namespace tidemq::console {
namespace {

using Labels = std::vector<std::pair<std::string_view, std::string_view>>;

// Writes families: the HELP and TYPE lines once, then the samples. Every sample carries the
// broker's own labels first (cluster, node_type, node_id: RocketMQ's).
class Exposition {
 public:
  Exposition(std::string cluster, std::string node_id)
      : cluster_(std::move(cluster)), node_id_(std::move(node_id)) {}

  void Family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }

  template <typename V>
  void Sample(std::string_view name, const Labels& labels, V value) {
    out_.append(name);
    AppendLabels(labels, {});
    fmt::format_to(std::back_inserter(out_), " {}\n", value);
  }

  // One family with one sample of no labels of its own.
  template <typename V>
  void Single(std::string_view name, std::string_view type, std::string_view help, V value) {
    Family(name, type, help);
    Sample(name, {}, value);
  }

  // `scale` turns the snapshot's unit into the exposed one (1e-6: microseconds to seconds).
  void Histogram(std::string_view name, const Labels& labels, const HistogramSnapshot& h,
                 double scale) {
    int64_t cumulative = 0;
    const std::string bucket = std::string(name) + "_bucket";
    for (size_t i = 0; i < h.counts.size(); ++i) {
      cumulative += h.counts[i];
      const std::string le =
          i < h.bounds.size() ? fmt::format("{}", static_cast<double>(h.bounds[i]) * scale)
                              : std::string("+Inf");
      out_.append(bucket);
      AppendLabels(labels, le);
      fmt::format_to(std::back_inserter(out_), " {}\n", cumulative);
    }
    Sample(std::string(name) + "_sum", labels, static_cast<double>(h.sum) * scale);
    Sample(std::string(name) + "_count", labels, cumulative);
  }

  std::string Take() { return std::move(out_); }

 private:
  void AppendLabels(const Labels& labels, std::string_view le) {
    fmt::format_to(std::back_inserter(out_), "{{cluster=\"{}\",node_type=\"broker\",node_id=\"{}\"",
                   EscapeLabelValue(cluster_), EscapeLabelValue(node_id_));
    for (const auto& [k, v] : labels) {
      fmt::format_to(std::back_inserter(out_), ",{}=\"{}\"", k, EscapeLabelValue(v));
    }
    if (!le.empty()) fmt::format_to(std::back_inserter(out_), ",le=\"{}\"", le);
    out_.push_back('}');
  }

  const std::string cluster_;
  const std::string node_id_;
  std::string out_;
};

// The STATS counters exposed as they are, by name (the rest are rendered below with labels
// or under RocketMQ's names).
struct PlainMetric {
  const char* stat;
  const char* name;
  const char* type;
  const char* help;
};

constexpr PlainMetric kPlain[] = {
    {"send_requests", "tidemq_send_requests_total", "counter", "Send requests received."},
    {"send_errors", "tidemq_send_errors_total", "counter",
     "Sends refused or failed (each request once)."},
    {"receive_requests", "tidemq_receive_requests_total", "counter", "Receive requests."},
    {"messages_delivered", "tidemq_messages_delivered_total", "counter",
     "Deliveries to consumers (redeliveries included)."},
    {"messages_acked", "tidemq_messages_acked_total", "counter", "Deliveries acknowledged."},
    {"messages_nacked", "tidemq_messages_nacked_total", "counter",
     "Deliveries refused by the consumer (nack)."},
    {"leases_lapsed", "tidemq_leases_lapsed_total", "counter",
     "Deliveries whose lease ran out before an ack."},
    {"messages_lost_to_retention", "tidemq_messages_lost_to_retention_total", "counter",
     "Messages deleted by retention before a group consumed them (once per group)."},
    {"messages_damaged_skipped", "tidemq_messages_damaged_skipped_total", "counter",
     "Queue entries skipped because their record could not be read."},
    {"dlq_redriven", "tidemq_dlq_redriven_total", "counter",
     "Dead letters redriven by an operator."},
    {"dlq_purged", "tidemq_dlq_purged_total", "counter", "Dead letters purged by an operator."},
    {"connections", "tidemq_connections", "gauge", "Open native-protocol connections."},
    {"connections_total", "tidemq_connections_accepted_total", "counter",
     "Native-protocol connections accepted."},
    {"connections_refused", "tidemq_connections_refused_total", "counter",
     "Connections refused over --max-connections."},
    {"connections_timed_out", "tidemq_connections_timed_out_total", "counter",
     "Connections closed by a handshake, frame or idle timeout."},
    {"bad_frames", "tidemq_bad_frames_total", "counter",
     "Frames that did not decode (the connection is closed)."},
    {"receives_refused", "tidemq_receives_refused_total", "counter",
     "Receives refused for want of room for a reply (RESOURCE_EXHAUSTED)."},
    {"inflight_bytes", "tidemq_inflight_bytes", "gauge",
     "Request and reply bytes in flight, broker-wide."},
    {"long_polls_parked", "tidemq_long_polls_parked", "gauge", "Receives waiting for messages."},
    {"log_segments", "tidemq_storage_segments", "gauge", "CommitLog segment files."},
    {"store_syncs", "tidemq_store_syncs_total", "counter", "fdatasync calls on the CommitLog."},
    {"store_batches", "tidemq_store_batches_total", "counter", "Group-commit writes."},
    {"store_damaged_bytes", "tidemq_store_damaged_bytes", "gauge",
     "Bytes of damaged log ranges skipped at start-up and since."},
    {"store_corrupt_reads", "tidemq_store_corrupt_reads_total", "counter",
     "Reads that met a damaged record."},
    {"timer_pending", "tidemq_timer_pending_messages", "gauge",
     "Scheduled messages (delays and retry back-offs) waiting to fire."},
    {"timer_fired", "tidemq_timer_fired_total", "counter", "Scheduled messages fired."},
    {"timer_cancelled", "tidemq_timer_cancelled_total", "counter",
     "Scheduled messages cancelled before they fired."},
    {"txn_parked", "tidemq_txn_parked_total", "counter",
     "Transactions rolled back and parked after their last check."},
    {"txn_checks_sent", "tidemq_txn_checks_total", "counter", "Transaction check-backs sent."},
    {"trace_events_written", "tidemq_trace_events_written_total", "counter",
     "Consumption events stored for the message lifecycle trace."},
    {"trace_events_dropped", "tidemq_trace_events_dropped_total", "counter",
     "Consumption events dropped (the trace journal was full, or its append failed)."},
};

}  // namespace

std::string EscapeLabelValue(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

std::string RenderMetrics(const broker::MetricsReport& r, const broker::ReplicationStatus& repl,
                          const broker::BrokerConfig& config, const broker::RoutesInfo* routes) {
  using broker::kMessageKindNames;
  using broker::kMessageKinds;
  Exposition e(repl.group.empty() ? "standalone" : repl.group, config.BrokerId());
  std::map<std::string_view, int64_t> stats;
  for (const auto& [name, value] : r.stats.counters) stats[name] = value;
  std::map<std::string_view, std::string_view> info;
  for (const auto& [name, value] : r.stats.info) info[name] = value;

  e.Family("tidemq_broker_info", "gauge", "Always 1: the broker's version and settings.");
  e.Sample("tidemq_broker_info",
           {{"version", info["version"]}, {"flush_policy", info["flush_policy"]},
            {"role", repl.role}},
           1);
  e.Single("tidemq_uptime_seconds", "gauge", "Seconds since the broker started.",
           static_cast<double>(stats["uptime_ms"]) / 1000.0);

  // ---- produced ----
  e.Family("rocketmq_messages_in_total", "counter", "Messages stored by sends, by topic and type.");
  for (const auto& t : r.topics) {
    for (size_t k = 0; k < kMessageKinds; ++k) {
      if (t.messages_in[k] == 0) continue;
      e.Sample("rocketmq_messages_in_total", {{"topic", t.name}, {"message_type", kMessageKindNames[k]}},
               t.messages_in[k]);
    }
  }
  e.Family("rocketmq_throughput_in_total", "counter", "Body bytes stored by sends, by topic and type.");
  for (const auto& t : r.topics) {
    for (size_t k = 0; k < kMessageKinds; ++k) {
      if (t.messages_in[k] == 0) continue;
      e.Sample("rocketmq_throughput_in_total",
               {{"topic", t.name}, {"message_type", kMessageKindNames[k]}}, t.bytes_in[k]);
    }
  }
  e.Family("rocketmq_message_size", "histogram", "Body size of each message sent, in bytes.");
  e.Histogram("rocketmq_message_size", {}, r.message_size_bytes, 1.0);
  e.Family("tidemq_send_latency_seconds", "histogram",
           "Time from a send's admission to its acknowledgement (durable, copies included).");
  e.Histogram("tidemq_send_latency_seconds", {}, r.send_latency_us, 1e-6);

  // ---- topics and groups ----
  e.Single("rocketmq_topic_number", "gauge", "Topics (system topics included).",
           static_cast<int64_t>(r.topics.size()));
  e.Single("rocketmq_consumer_group_number", "gauge", "Consumer groups.",
           static_cast<int64_t>(r.groups.size()));
  e.Family("tidemq_topic_queues", "gauge", "Queues of the topic.");
  for (const auto& t : r.topics) e.Sample("tidemq_topic_queues", {{"topic", t.name}}, t.queue_count);
  e.Family("tidemq_topic_stored_messages", "gauge",
           "Messages stored in the topic's queues (retention not yet reached).");
  for (const auto& t : r.topics) {
    e.Sample("tidemq_topic_stored_messages", {{"topic", t.name}}, t.stored_messages);
  }

  // ---- consumed ----
  struct PerGroupTopic {
    const char* name;
    const char* type;
    const char* help;
    int64_t broker::ConsumptionMetrics::*field;
  };
  static constexpr PerGroupTopic kConsumption[] = {
      {"rocketmq_messages_out_total", "counter", "Messages delivered to the group (redeliveries included).",
       &broker::ConsumptionMetrics::delivered},
      {"rocketmq_throughput_out_total", "counter", "Body bytes delivered to the group.",
       &broker::ConsumptionMetrics::delivered_bytes},
      {"rocketmq_consumer_lag_messages", "gauge", "Messages stored and not yet acknowledged by the group.",
       &broker::ConsumptionMetrics::lag},
      {"rocketmq_consumer_inflight_messages", "gauge",
       "Messages delivered to the group and not yet acknowledged (leased).",
       &broker::ConsumptionMetrics::inflight},
      {"rocketmq_consumer_ready_messages", "gauge", "Messages stored and never delivered to the group.",
       &broker::ConsumptionMetrics::ready},
      {"rocketmq_consumer_lag_latency", "gauge",
       "Age in milliseconds of the group's oldest unacknowledged message (0: none).",
       &broker::ConsumptionMetrics::oldest_unacked_age_ms},
      {"tidemq_retries_total", "counter", "Failed deliveries copied to the group's retry topic.",
       &broker::ConsumptionMetrics::retried},
      {"rocketmq_send_to_dlq_messages_total", "counter",
       "Failed deliveries moved to the group's dead-letter queue.",
       &broker::ConsumptionMetrics::dead_lettered},
  };
  for (const auto& m : kConsumption) {
    e.Family(m.name, m.type, m.help);
    for (const auto& c : r.consumption) {
      e.Sample(m.name, {{"topic", c.topic}, {"consumer_group", c.group}}, c.*(m.field));
    }
  }
  e.Family("rocketmq_consumer_connections", "gauge", "Consumer clients of the group seen recently.");
  for (const auto& g : r.groups) {
    e.Sample("rocketmq_consumer_connections", {{"consumer_group", g.name}}, g.clients);
  }
  e.Family("tidemq_dlq_messages", "gauge", "Messages in the group's dead-letter queue.");
  for (const auto& g : r.groups) e.Sample("tidemq_dlq_messages", {{"consumer_group", g.name}}, g.dlq_messages);

  // ---- scheduled messages and transactions ----
  e.Family("tidemq_timer_fire_lateness_seconds", "histogram",
           "How late scheduled messages fired after their due time.");
  e.Histogram("tidemq_timer_fire_lateness_seconds", {}, r.timer_lateness_ms, 1e-3);
  e.Single("tidemq_timer_next_due_timestamp_seconds", "gauge",
           "When the next scheduled message is due (Unix time; 0: none).",
           static_cast<double>(r.timer_next_due_ms) / 1000.0);
  e.Single("rocketmq_half_messages", "gauge", "Transactions waiting for commit or rollback.",
           stats["txn_pending"]);
  e.Single("rocketmq_commit_messages_total", "counter", "Transactions committed.",
           stats["txn_committed"]);
  e.Single("rocketmq_rollback_messages_total", "counter", "Transactions rolled back (parked ones included).",
           stats["txn_rolled_back"]);
  e.Single("tidemq_txn_check_failures_total", "counter",
           "Check-backs that got no usable answer (error, closed channel, timeout).",
           r.txn_answers_failed);
  e.Single("tidemq_txn_waiting_groups", "gauge",
           "Producer groups with pending transactions and no live producer to check.",
           r.txn_waiting_groups);

  // ---- store ----
  const auto& s = r.store;
  e.Single("rocketmq_storage_size", "gauge", "Bytes of CommitLog kept (retention not yet reached).",
           s.max_log_offset - s.min_log_offset);
  e.Single("tidemq_storage_log_end_offset", "gauge", "The CommitLog's end (log offset).",
           s.max_log_offset);
  e.Single("tidemq_disk_free_bytes", "gauge", "Free bytes on the data directory's disk (-1: unknown).",
           s.disk_free_bytes);
  e.Single("tidemq_disk_reserve_bytes", "gauge",
           "Free bytes below which appends are refused (the high watermark).", s.disk_reserve_bytes);
  e.Single("tidemq_read_only", "gauge", "1 when the store stopped accepting writes after an I/O error.",
           s.read_only ? 1 : 0);
  e.Single("tidemq_refusing_appends", "gauge",
           "1 while appends are refused for a reason that passes by itself (disk full).",
           s.refusing_reason.empty() ? 0 : 1);
  e.Family("tidemq_store_append_latency_seconds", "histogram",
           "The writer's time per group-commit write (encoding and write calls).");
  e.Histogram("tidemq_store_append_latency_seconds", {}, r.append_latency_us, 1e-6);
  e.Family("tidemq_store_sync_latency_seconds", "histogram", "Time per fdatasync of the CommitLog.");
  e.Histogram("tidemq_store_sync_latency_seconds", {}, r.sync_latency_us, 1e-6);

  for (const PlainMetric& m : kPlain) {
    auto it = stats.find(m.stat);
    if (it != stats.end()) e.Single(m.name, m.type, m.help, it->second);
  }

  // ---- replication ----
  e.Single("tidemq_replication_epoch", "gauge", "The broker group's epoch (0: standalone).", repl.epoch);
  e.Single("tidemq_replication_is_master", "gauge", "1 on the group's master (and standalone).",
           repl.role == "replica" ? 0 : 1);
  e.Single("tidemq_replication_commit_offset", "gauge",
           "What min_copies copies hold (log offset): what consumers can see.", repl.commit_end);
  e.Family("tidemq_replica_lag_bytes", "gauge", "A replica's distance behind this master's log end.");
  for (const auto& rep : repl.replicas) {
    e.Sample("tidemq_replica_lag_bytes", {{"replica", rep.id}}, std::max<int64_t>(0, repl.log_end - rep.written));
  }
  e.Family("tidemq_replica_in_sync", "gauge", "1 when the replica is in the in-sync set.");
  for (const auto& rep : repl.replicas) e.Sample("tidemq_replica_in_sync", {{"replica", rep.id}}, rep.in_sync ? 1 : 0);
  if (repl.role == "replica") {
    e.Single("tidemq_replication_master_lag_bytes", "gauge",
             "This replica's distance behind its master's log end.",
             std::max<int64_t>(0, repl.master_end - repl.log_end));
    e.Single("tidemq_replication_connected", "gauge", "1 while this replica is connected to its master.",
             repl.connected ? 1 : 0);
  }

  // ---- the cluster of broker groups, as this broker's routes show it (the same on every
  // broker of the cluster: aggregate with max, not sum) ----
  if (routes != nullptr) {
    e.Single("tidemq_cluster_route_revision", "gauge",
             "The etcd revision of the cluster's routes this broker holds.", routes->revision);
    std::map<std::string, int64_t> queues;
    for (const auto& t : routes->topics) {
      for (const auto& q : t.queues) queues[q.group] += q.count;
    }
    e.Family("tidemq_cluster_group_info", "gauge",
             "Always 1: a broker group of the cluster, its state and master (\"\" while none).");
    for (const auto& g : routes->groups) {
      e.Sample("tidemq_cluster_group_info",
               {{"cluster_group", g.name}, {"state", g.draining ? "draining" : "active"},
                {"master", g.master_id}},
               1);
    }
    e.Family("tidemq_cluster_group_has_master", "gauge", "1 while the group has a master.");
    for (const auto& g : routes->groups) {
      e.Sample("tidemq_cluster_group_has_master", {{"cluster_group", g.name}},
               g.master_id.empty() ? 0 : 1);
    }
    e.Family("tidemq_cluster_group_members", "gauge", "Live brokers of the group.");
    for (const auto& g : routes->groups) {
      e.Sample("tidemq_cluster_group_members", {{"cluster_group", g.name}},
               static_cast<int64_t>(g.addresses.size()));
    }
    e.Family("tidemq_cluster_group_queues", "gauge", "Queues of all topics the group holds.");
    for (const auto& g : routes->groups) {
      e.Sample("tidemq_cluster_group_queues", {{"cluster_group", g.name}}, queues[g.name]);
    }
    e.Single("tidemq_cluster_topics", "gauge", "Topics with a route in the cluster.",
             static_cast<int64_t>(routes->topics.size()));
  }
  return e.Take();
}

}  // namespace tidemq::console
