// Broker configuration: the settings and their defaults (the flags that set them are parsed
// by the native adapter, broker/flags.h). Read-only once the broker started: any thread.
#pragma once

#include <cstdint>
#include <string>

#include "common/retry_policy.h"
#include "common/status.h"
#include "store/store.h"

namespace tidemq::broker {

inline constexpr uint16_t kDefaultPort = 9810;

struct BrokerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = kDefaultPort;                  // 0: pick a free port (tests)
  // The RocketMQ 5 gRPC endpoint (rocketmq/), on host; 0: not served.
  uint16_t grpc_port = 8081;
  // The HTTP front end (console/): web console, JSON admin API, /metrics; 0: not served.
  uint16_t http_port = 9880;
  std::string console_token;       // "": <data_dir>/console.token's
  std::string console_read_token;  // "": <data_dir>/console.token's
  // Deliveries, acks, nacks and lapses written to the log for the lifecycle trace.
  bool trace_consumption = true;
  std::string data_dir = "./data";
  store::FlushPolicy flush_policy = store::FlushPolicy::kAsync;
  int64_t flush_interval_ms = 200;
  uint64_t segment_bytes = 1ull << 30;
  int64_t retention_hours = 72;
  double disk_high_watermark = 0.90;
  uint64_t disk_reserve_mb = 0;                  // refuse appends below this free; 0: auto
  bool strict_recovery = false;                  // refuse to start on a damaged log
  uint32_t max_open_queue_files = 0;             // consume-queue descriptors; 0: auto
  // Retention never deletes a message some consumer group has not consumed yet (a retention
  // guard at the oldest unconsumed message of every group); docs/operations.md.
  bool retention_keep_unconsumed = false;
  uint32_t max_message_bytes = 4u << 20;
  uint32_t max_frame_bytes = 64u << 20;
  int io_threads = 2;
  bool auto_create_topics = false;
  bool auto_create_groups = true;
  uint32_t default_queue_count = 4;
  int64_t default_lease_ms = 30'000;
  int64_t max_wait_ms = 60'000;                  // longest long-poll a client may ask for
  uint32_t max_receive_batch = 1024;
  int64_t offset_flush_interval_ms = 1000;
  int64_t housekeeping_interval_ms = 100;        // offset flush and retention are checked
  int64_t max_schedule_days = 400;               // furthest a scheduled message may be due
  // Retries (docs/retry.md): for groups created without their own settings.
  RetryPolicy default_retry;
  uint32_t default_max_attempts = 16;
  // Transactions (docs/txn.md).
  int64_t txn_check_timeout_ms = 6'000;          // first check-back after the half is stored
  int64_t txn_check_backoff_ms = 10'000;         // after check n: min(backoff * 2^(n-1), max)
  int64_t txn_check_backoff_max_ms = 300'000;
  uint32_t txn_max_checks = 15;                  // then the final action
  bool txn_park = true;                          // final action: roll back and park (true) or
                                                 // only roll back (false)
  int64_t txn_keep_resolved_hours = 24;          // how long a repeated end is recognised
  int64_t txn_check_answer_timeout_ms = 30'000;  // a check unanswered this long counts as lost;
                                                 // the final action waits at most this long
  // Connections and limits (docs/operations.md "Connections and limits").
  uint32_t max_connections = 0;                  // 0: min(4096, half the descriptor limit)
  int64_t max_inflight_bytes = 256ll << 20;      // broker-wide bytes in flight
  int64_t max_connection_inflight_bytes = 64ll << 20;  // one connection's bytes in flight
  int64_t handshake_timeout_ms = 10'000;         // first frame complete within this; 0: off
  int64_t frame_timeout_ms = 60'000;             // any frame complete within this; 0: off
  int64_t idle_timeout_ms = 600'000;             // nothing in flight / replies unread; 0: off
  uint32_t max_receive_bytes = 16u << 20;        // a receive reply's messages (>= 1 message)
  // Broker groups (docs/replication.md). No group: a standalone broker.
  std::string group;                             // the broker group this broker belongs to
  std::string broker_id;                         // unique in its group; "": host:port
  uint16_t repl_port = 0;                        // replication listener; 0: port + 1
  // Static replication (no etcd): start as a replica of the master whose replication
  // listener is here (HOST:PORT). Empty: start as the group's master.
  std::string replica_of;
  // Coordinated groups: etcd endpoints (HOST:PORT,...). The broker registers in its group,
  // the group elects a master, replicas follow it and fail over automatically.
  std::string etcd;
  std::string etcd_prefix = "/tidemq";
  int64_t lease_ttl_s = 6;                       // a dead master is replaced after about this
  std::string bootstrap_master;                  // a new group's first master ("" first to come)
  // Ack policy: copies (the master's included) a message needs before its send is
  // acknowledged. 1: async replication; >= 2: sync (consumers see only what that many hold).
  int min_copies = 1;
  int64_t repl_max_lag_ms = 3'000;               // a replica behind this long leaves the in-sync set
  int64_t repl_ack_timeout_ms = 3'000;           // a send short of min_copies this long fails
  std::string log_level = "info";
  std::string log_file;
  std::string pid_file;

  store::StoreOptions ToStoreOptions() const;
  // Where clients reach this broker (the address it advertises in its group).
  std::string ClientAddress() const { return host + ":" + std::to_string(port); }
  // This broker's id in its group.
  std::string BrokerId() const {
    return broker_id.empty() ? host + ":" + std::to_string(port) : broker_id;
  }
};


std::string_view FlushPolicyName(store::FlushPolicy p);

}  // namespace tidemq::broker
