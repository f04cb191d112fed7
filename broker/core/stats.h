// The broker's counters since it started (the STATS figures). Neutral: the core counts what it
// decides (sends, receives, retention runs), adapters count their connections and frames.
// Every field may be updated and read from any thread (relaxed atomics, lock-free histograms).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "common/histogram.h"

namespace tidemq::broker {

struct BrokerStats {
  std::atomic<int64_t> messages_in{0};
  std::atomic<int64_t> bytes_in{0};
  std::atomic<int64_t> send_requests{0};
  std::atomic<int64_t> send_errors{0};
  std::atomic<int64_t> receive_requests{0};
  std::atomic<int64_t> connections{0};
  std::atomic<int64_t> connections_total{0};
  std::atomic<int64_t> bad_frames{0};
  std::atomic<int64_t> bad_requests{0};
  std::atomic<int64_t> retention_runs{0};  // periodic store retention runs since start
  int64_t start_ms = 0;
  // Connections and limits (docs/operations.md).
  std::atomic<int64_t> connections_refused{0};    // over --max-connections
  std::atomic<int64_t> connections_timed_out{0};  // handshake, frame or idle timeout
  std::atomic<int64_t> reads_paused{0};           // a frame had to wait for in-flight room
  std::atomic<int64_t> receives_refused{0};       // RESOURCE_EXHAUSTED: no room for a reply
  std::atomic<int64_t> deliveries_unsent{0};      // released: the reply could not be written
  // Admission to acknowledgement of each stored send (its durability and copies included),
  // microseconds; and the body size of each message stored (RocketMQ's rocketmq_message_size
  // buckets).
  Histogram send_latency_us{LatencyBoundsUs()};
  Histogram message_size_bytes{{1 << 10, 4 << 10, 512 << 10, 1 << 20, 2 << 20, 4 << 20}};
  // Bytes in flight, broker-wide (the adapter's budget); set once before the broker serves.
  std::function<int64_t()> inflight_bytes;
};

}  // namespace tidemq::broker
