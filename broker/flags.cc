#include "broker/flags.h"

#include <CLI/CLI.hpp>

#include <map>
#include <sstream>

#include "proto/frame.h"

namespace tidemq::broker {

ParsedConfig ParseBrokerFlags(int argc, char** argv) {
  ParsedConfig out;
  BrokerConfig& c = out.config;
  CLI::App app{"tidemq-broker: the TideMQ message broker"};
  app.set_config("--config", "", "Read options from a file (lines of `name = value`)");
  app.option_defaults()->always_capture_default();

  app.add_option("--host", c.host, "Address to listen on (loopback by default)");
  app.add_option("--port", c.port, "Port to listen on (0 picks a free one)");
  app.add_option("--grpc-port", c.grpc_port,
                 "Also serve RocketMQ 5 clients (gRPC, apache.rocketmq.v2) on this port, 8081 "
                 "like RocketMQ's proxy by default (0: not served; docs/rocketmq_compat.md)");
  app.add_option("--http-port", c.http_port,
                 "Serve the web console, its JSON admin API and Prometheus /metrics on this port "
                 "(0: not served; docs/console.md)");
  app.add_option("--console-token", c.console_token,
                 "The console's admin token (default: generated at the first start, kept in "
                 "<data dir>/console.token)");
  app.add_option("--console-read-token", c.console_read_token,
                 "The console's read-only token (default: from <data dir>/console.token)");
  app.add_option("--trace-consumption", c.trace_consumption,
                 "Record deliveries, acks, nacks and lapsed leases in the log for `tidemq trace` "
                 "and the console's message trace (docs/console.md)");
  app.add_option("--data-dir", c.data_dir, "Where the CommitLog, queues and indexes live");
  std::string flush = "async";
  app.add_option("--flush-policy", flush,
                 "async: ack after the page cache, sync every --flush-interval-ms; "
                 "sync: ack after fdatasync (group commit)")
      ->check(CLI::IsMember({"async", "sync"}));
  app.add_option("--flush-interval-ms", c.flush_interval_ms, "Flush period under async")
      ->check(CLI::Range(1, 60'000));
  uint64_t segment_mb = c.segment_bytes >> 20;
  app.add_option("--segment-mb", segment_mb, "CommitLog segment size in MiB")
      ->check(CLI::Range(1, 16 * 1024));
  app.add_option("--retention-hours", c.retention_hours, "Delete log segments older than this")
      ->check(CLI::Range(1, 24 * 365 * 10));
  app.add_option("--disk-watermark", c.disk_high_watermark,
                 "Delete oldest segments while disk usage is above this fraction")
      ->check(CLI::Range(0.1, 0.99));
  app.add_option("--disk-reserve-mb", c.disk_reserve_mb,
                 "Refuse appends (RESOURCE_EXHAUSTED, accepted again once space is freed) while "
                 "the data directory's file system has less than this free; 0: 1 % of it, "
                 "between 32 and 256 MiB")
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 30));
  app.add_flag("--strict-recovery", c.strict_recovery,
               "Refuse to start when the CommitLog has a damaged range (by default it is "
               "skipped, logged, counted and copied to <data-dir>/damaged/, and every intact "
               "record is kept)");
  app.add_option("--max-open-queue-files", c.max_open_queue_files,
                 "Consume-queue files kept open at once (an LRU shared by all queues); 0: a "
                 "quarter of the descriptor limit, between 64 and 4096")
      ->check(CLI::Range(0u, 1u << 20));
  app.add_flag("--retention-keep-unconsumed", c.retention_keep_unconsumed,
               "Never let retention (age or disk watermark) delete a message some consumer "
               "group has not consumed yet (docs/operations.md)");
  app.add_option("--max-message-bytes", c.max_message_bytes, "Largest message body accepted")
      ->check(CLI::Range(1u, 32u << 20));
  app.add_option("--max-frame-bytes", c.max_frame_bytes,
                 "Largest request frame accepted (a batch of messages travels in one frame)")
      ->check(CLI::Range(1u << 20, 256u << 20));
  app.add_option("--io-threads", c.io_threads, "Network threads")->check(CLI::Range(1, 64));
  app.add_option("--auto-create-topics", c.auto_create_topics,
                 "Create a topic on its first send instead of refusing it");
  app.add_option("--auto-create-groups", c.auto_create_groups,
                 "Create a consumer group on its first receive");
  app.add_option("--default-queues", c.default_queue_count, "Queues of a new topic")
      ->check(CLI::Range(1, 1024));
  app.add_option("--max-schedule-days", c.max_schedule_days,
                 "Furthest ahead a scheduled message may be due (deliver_at / delay)")
      ->check(CLI::Range(int64_t{1}, int64_t{36500}));
  app.add_option("--txn-check-timeout-ms", c.txn_check_timeout_ms,
                 "First check-back this long after a half message is stored, unless the "
                 "message sets its own")
      ->check(CLI::Range(int64_t{100}, int64_t{24} * 3600 * 1000));
  app.add_option("--txn-check-backoff-ms", c.txn_check_backoff_ms,
                 "Wait after the first check-back; doubles after each one")
      ->check(CLI::Range(int64_t{100}, int64_t{24} * 3600 * 1000));
  app.add_option("--txn-check-backoff-max-ms", c.txn_check_backoff_max_ms,
                 "Longest wait between check-backs")
      ->check(CLI::Range(int64_t{100}, int64_t{7} * 24 * 3600 * 1000));
  app.add_option("--txn-max-checks", c.txn_max_checks,
                 "Check-backs before the final action")
      ->check(CLI::Range(1u, 1000u));
  std::string final_action = "park";
  app.add_option("--txn-final-action", final_action,
                 "After the last check-back: park (roll back and copy the message to "
                 "%TXN_PARKED% with the reason) or rollback")
      ->check(CLI::IsMember({"park", "rollback"}));
  app.add_option("--txn-check-answer-timeout-ms", c.txn_check_answer_timeout_ms,
                 "How long a check-back sent to a live producer may stay unanswered before it "
                 "counts as lost; the final action waits this long for a check in flight")
      ->check(CLI::Range(int64_t{100}, int64_t{3600} * 1000));
  app.add_option("--txn-keep-resolved-hours", c.txn_keep_resolved_hours,
                 "How long an ended transaction is remembered (a repeated end answers OK)")
      ->check(CLI::Range(int64_t{1}, int64_t{24} * 365));
  std::string retry_backoff = "ladder";
  app.add_option("--retry-backoff", retry_backoff,
                 "Retry back-off of groups created without one: ladder (10s 30s 1m ... 2h), a "
                 "list like 1s,5s,30s, or exponential:INITIAL,MULTIPLIER,MAX")
      ->capture_default_str();
  app.add_option("--retry-max-attempts", c.default_max_attempts,
                 "Deliveries before dead-lettering, for groups created without a maximum")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  app.add_option("--max-connections", c.max_connections,
                 "Connections accepted at once; more are closed at once and counted "
                 "(0: 4096 or half the open-file limit, whichever is lower)");
  app.add_option("--max-inflight-bytes", c.max_inflight_bytes,
                 "Broker-wide bytes of requests being served and replies not yet written; "
                 "above it the broker stops reading from connections")
      ->check(CLI::Range(int64_t{16} << 20, int64_t{64} << 30));
  app.add_option("--max-connection-inflight-bytes", c.max_connection_inflight_bytes,
                 "The same for one connection")
      ->check(CLI::Range(int64_t{1} << 20, int64_t{64} << 30));
  app.add_option("--handshake-timeout-ms", c.handshake_timeout_ms,
                 "Close a new connection that has not sent a complete frame by then (0: never)")
      ->check(CLI::Range(int64_t{0}, int64_t{3600} * 1000));
  app.add_option("--frame-timeout-ms", c.frame_timeout_ms,
                 "Close a connection whose frame is still incomplete after this (0: never)")
      ->check(CLI::Range(int64_t{0}, int64_t{3600} * 1000));
  app.add_option("--idle-timeout-ms", c.idle_timeout_ms,
                 "Close a connection with nothing in flight, or whose replies go unread, for "
                 "this long (0: never)")
      ->check(CLI::Range(int64_t{0}, int64_t{7} * 24 * 3600 * 1000));
  app.add_option("--max-receive-bytes", c.max_receive_bytes,
                 "Message bytes in one receive reply (a reply always carries at least one "
                 "message)")
      ->check(CLI::Range(64u << 10, 32u << 20));
  app.add_option("--group", c.group,
                 "Broker group (master + replicas, docs/replication.md); none: standalone");
  app.add_option("--broker-id", c.broker_id, "This broker's id in its group (default HOST:PORT)");
  app.add_option("--repl-port", c.repl_port,
                 "Port of the replication listener a master serves its replicas on "
                 "(default --port + 1)");
  app.add_option("--replica-of", c.replica_of,
                 "Static replication without etcd: start as a replica of the master whose "
                 "replication listener is at HOST:PORT (needs --group)");
  app.add_option("--etcd", c.etcd,
                 "etcd endpoints HOST:PORT[,HOST:PORT...]: the group elects its master there and "
                 "fails over by itself (needs --group)");
  app.add_option("--etcd-prefix", c.etcd_prefix, "Key prefix of the cluster in etcd");
  app.add_option("--lease-ttl-s", c.lease_ttl_s,
                 "The broker's etcd lease: a master that stops answering is replaced after "
                 "about this long, and stops writing before it lapses")
      ->check(CLI::Range(int64_t{1}, int64_t{300}));
  app.add_option("--bootstrap-master", c.bootstrap_master,
                 "The broker id that becomes a new group's first master (default: the first "
                 "to start)");
  app.add_option("--min-copies", c.min_copies,
                 "Copies, the master's included, a message needs before its send is "
                 "acknowledged: 1 = async replication, 2 or more = sync")
      ->check(CLI::Range(1, 16));
  app.add_option("--repl-max-lag-ms", c.repl_max_lag_ms,
                 "A replica not caught up for this long leaves the in-sync set")
      ->check(CLI::Range(int64_t{100}, int64_t{600'000}));
  app.add_option("--repl-ack-timeout-ms", c.repl_ack_timeout_ms,
                 "Under --min-copies >= 2, a send still short of copies after this fails with "
                 "NOT_ENOUGH_REPLICAS")
      ->check(CLI::Range(int64_t{100}, int64_t{600'000}));
  app.add_option("--log-level", c.log_level, "trace, debug, info, warn, error or off");
  app.add_option("--log-file", c.log_file, "Also log to this file");
  app.add_option("--pid-file", c.pid_file, "Write the broker's PID here");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::ostringstream os, es;
    out.exit_now = true;
    // 0 for --help; 2 for any usage error (CLI11's own codes are not a stable contract).
    out.exit_code = app.exit(e, os, es) == 0 ? 0 : 2;
    out.message = os.str() + es.str();
    return out;
  }
  c.flush_policy = flush == "sync" ? store::FlushPolicy::kSync : store::FlushPolicy::kAsync;
  c.segment_bytes = segment_mb << 20;
  c.txn_park = final_action == "park";
  auto policy = RetryPolicy::Parse(retry_backoff);
  if (!policy.ok()) {
    out.exit_now = true;
    out.exit_code = 2;
    out.message = "--retry-backoff: " + policy.status().message() + "\n";
    return out;
  }
  c.default_retry = *policy;
  if ((!c.replica_of.empty() || c.min_copies > 1 || !c.etcd.empty()) && c.group.empty()) {
    out.exit_now = true;
    out.exit_code = 2;
    out.message = "--replica-of, --etcd and --min-copies need --group (a broker group to "
                  "belong to)\n";
    return out;
  }
  if (!c.replica_of.empty() && !c.etcd.empty()) {
    out.exit_now = true;
    out.exit_code = 2;
    out.message = "--replica-of is static replication; with --etcd the group elects its "
                  "master: give one or the other\n";
    return out;
  }
  if (!c.etcd.empty() && c.port == 0) {
    out.exit_now = true;
    out.exit_code = 2;
    out.message = "--etcd needs a fixed --port: the group advertises it\n";
    return out;
  }
  if (c.max_inflight_bytes < int64_t{c.max_frame_bytes} + int64_t{wire::kLengthFieldSize}) {
    out.exit_now = true;
    out.exit_code = 2;
    out.message = "--max-inflight-bytes must be at least --max-frame-bytes (" +
                  std::to_string(c.max_frame_bytes) + "): a frame must fit in it\n";
    return out;
  }
  return out;
}

}  // namespace tidemq::broker
