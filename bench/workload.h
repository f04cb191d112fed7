// The load generators of tidemq-bench: producers and consumers driven by one RunControl, each
// side counting into its SideStats. Uses only the client's public API.
//
// Threads: RunProducers / RunConsumers start their own worker threads ("bench-prod",
// "bench-cons") and return when every worker has finished; send callbacks run on the client's
// network threads, transaction checks on the producers' "tidemq-txn-check" threads. Everything
// here is bounded: by --count, by --duration and by the hard caps checked in tidemq_bench.cc.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/latency_histogram.h"
#include "common/logging.h"
#include "common/retry_policy.h"
#include "common/status.h"

namespace tidemq::bench {

struct BenchOptions {
  std::string addr = "127.0.0.1:9810";
  std::string topic = "bench";
  uint32_t queues = 8;
  std::string group = "bench";
  uint32_t size = 1024;
  uint64_t count = 0;      // messages to measure; 0: run for duration_s
  double duration_s = 10;  // measured seconds (with count: a time limit)
  double warmup_s = 0;     // unmeasured seconds before the measurement
  int inflight = 256;      // outstanding sends per producer
  int producers = 1;
  int batch = 1;    // messages per SendBatch; 1: SendAsync
  double rate = 0;  // target msg/s over all producers; 0: as fast as possible
  int64_t admin_every_ms = 0;  // produce: also create a topic this often (bench/admin_churn.h)
  // produce (unbatched): write the id of every acknowledged message to this file, one per line
  // (bench/cluster.sh compares them with what a new master holds after a failover).
  std::string acked_ids;
  // inflight threads per producer, each one blocking Send at a time (like transactional
  // sends: the baseline for them) instead of SendAsync.
  bool blocking = false;
  int consumers = 1;
  uint32_t receive_batch = 64;
  int64_t idle_stop_ms = 5000;  // consumers give up after this long without a message
  bool stamp_bodies = false;    // first 8 body bytes: send time (end-to-end latency)
  // First 8 body bytes: the message's sequence number in this run (0, 1, 2 ... in the order
  // the sends are made; see BodySequence), so consumers can tell which message they hold.
  bool number_bodies = false;
  // Scheduled messages: each is due delay_ms after its send, plus a uniform share of
  // [0, spread_ms); or, with same_due_ms > 0, all at one due time: same_due_ms after the run
  // starts. Consumers then measure lateness: receive time - the DELIVER_AT_MS property.
  int64_t delay_ms = 0;
  int64_t spread_ms = 0;
  int64_t same_due_ms = 0;
  bool Scheduled() const { return delay_ms > 0 || spread_ms > 0 || same_due_ms > 0; }
  // Transactional sends (modes txn and txn-check): each message is one SendInTransaction by a
  // producer of txn_group, `inflight` sender threads per producer (as with `blocking`), one
  // transaction at a time each; the local transaction answers at once: commit, rollback, or
  // open (kUnknown: the half is left to the check-back). check_timeout_ms: per message (0: the
  // broker's default).
  enum class TxnEnd { kNone, kCommit, kRollback, kOpen };  // kNone: plain sends
  TxnEnd txn_end = TxnEnd::kNone;
  int64_t check_timeout_ms = 0;
  std::string txn_group = "bench-txn";
  bool Transactional() const { return txn_end != TxnEnd::kNone; }
  // Retries (modes consume-fail, retry-lateness, rebalance; bench/retry_workload.h).
  double fail_rate = 0;        // consume-fail: share of messages nacked on first delivery
  int64_t nack_delay_ms = -1;  // the nack's own delay; 0: the group's back-off; -1: per mode
  int64_t lease_ms = 0;        // consumers' lease; 0: per mode (client default 30 s)
  int64_t phase_ms = 5000;     // rebalance: time between two membership events
  // --retry-backoff: the consumer group is created (or updated) with this back-off first.
  std::string retry_backoff;
  std::optional<RetryPolicy> group_retry;  // retry_backoff parsed
};

// The sequence number of a numbered body (BenchOptions::number_bodies); -1 when the body is
// too short to carry one.
inline int64_t BodySequence(const std::string& body) {
  uint64_t seq = 0;
  if (body.size() < sizeof(seq)) return -1;
  std::memcpy(&seq, body.data(), sizeof(seq));
  return seq > static_cast<uint64_t>(INT64_MAX) ? -1 : static_cast<int64_t>(seq);
}

// Consumers' long-poll wait per Receive: short, so stopping is prompt.
inline constexpr int64_t kReceiveWaitMs = 500;

// The bench programs' exit codes (tidemq-bench, tidemq-peer-bench): 0 ok, 1 some sends,
// receives or checks failed, 2 bad usage, 3 the broker (or peer) could not be reached.
inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;
// Limits of one run.
inline constexpr uint64_t kMaxCount = 10'000'000;
inline constexpr double kMaxDurationS = 600;

// Steady clock, for intervals within this process.
inline int64_t NowNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
// System clock: comparable between the processes of one host (end-to-end latency).
inline int64_t WallNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Decides when the run is warming up, measuring or over, and hands out the --count budget.
class RunControl {
 public:
  // count 0: unbounded (time only).
  RunControl(uint64_t count, double warmup_s, double duration_s);

  int64_t start_ns() const { return start_ns_; }
  int64_t start_wall_ms() const { return start_wall_ms_; }
  int64_t measure_start_ns() const { return measure_start_ns_; }
  bool Measuring(int64_t now_ns) const { return now_ns >= measure_start_ns_; }
  bool Over(int64_t now_ns) const {
    return stopped_.load(std::memory_order_relaxed) || now_ns >= end_ns_;
  }
  // Stops every worker soon (Ctrl-C, fatal error, or consumers done).
  void Stop() { stopped_.store(true, std::memory_order_relaxed); }
  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }

  // Grants up to `wanted` messages to send now; 0 when the run is over. *measured says whether
  // they count (false while warming up; warm-up messages do not use the --count budget).
  uint32_t Claim(uint32_t wanted, int64_t now_ns, bool* measured);
  uint64_t count() const { return count_; }

 private:
  const uint64_t count_;
  const int64_t start_ns_;
  const int64_t start_wall_ms_;
  const int64_t measure_start_ns_;
  const int64_t end_ns_;
  std::atomic<uint64_t> claimed_{0};
  std::atomic<bool> stopped_{false};
};

// What one side (producers or consumers) did.
class SideStats {
 public:
  // `n` messages of `bytes` in total completed at now_ns; measured ones go into the figures.
  void Completed(uint64_t n, uint64_t bytes, bool measured, int64_t now_ns);
  void Failed(uint64_t n, const Status& status);

  uint64_t total() const { return total_.load(std::memory_order_relaxed); }
  uint64_t measured() const { return measured_.load(std::memory_order_relaxed); }
  uint64_t measured_bytes() const { return measured_bytes_.load(std::memory_order_relaxed); }
  uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }
  int64_t last_ns() const { return last_ns_.load(std::memory_order_relaxed); }
  int64_t first_ns() const { return first_ns_.load(std::memory_order_relaxed); }
  std::string first_error() const;

  LatencyHistogram& latency() { return latency_; }
  const LatencyHistogram& latency() const { return latency_; }

 private:
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> measured_{0};
  std::atomic<uint64_t> measured_bytes_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<int64_t> last_ns_{0};
  std::atomic<int64_t> first_ns_{0};  // first measured completion
  LatencyHistogram latency_;
  mutable std::mutex error_mu_;
  std::string first_error_;  // GUARDED_BY(error_mu_)
};

// What the transaction checker of a transactional run saw. Checks of this run's topic are
// recorded once per half message: lateness = arrival - (half store time + its check timeout)
// in stats.latency() (early ones as 0, and counted in `early`); a repeated check of a half
// already answered counts in `repeats` only. Every check is answered commit.
struct CheckRecord {
  SideStats stats;
  std::atomic<uint64_t> early{0};
  std::atomic<uint64_t> repeats{0};
  std::atomic<uint64_t> foreign{0};  // halves of other topics (an earlier run's)
};

// Sends until `control` says the run is over, then waits for the sends in flight. Latency is
// recorded per message, from the moment it was due (paced mode) or handed to the client, to
// the broker's acknowledgement (transactional: to the end's acknowledgement). A producer that
// cannot connect is an error for the caller. With `checks` and open transactions, the
// producers stay connected until every half sent was checked (or the run is stopped, or
// check timeout + 60 s passed), recording the checks into *checks.
Status RunProducers(const BenchOptions& options, RunControl& control, SideStats& stats,
                    CheckRecord* checks = nullptr);

// Where consumers stop. Consume-only runs obey the run's deadline; consumers running beside
// producers instead drain what was produced: `count` (acked messages, warm-up included) is set
// once the producers are done, and `drain_deadline_ns` bounds the drain.
struct ConsumeLimits {
  std::atomic<uint64_t> count{UINT64_MAX};
  std::atomic<bool> producers_done{false};
  std::atomic<int64_t> drain_deadline_ns{INT64_MAX};
  // Scheduled messages: the idle stop counts from here at the earliest (the last due time).
  std::atomic<int64_t> idle_from_ns{0};
  bool obey_run_deadline = true;
};

// Receives and acks (one batch ack per received batch) until the run is stopped, the limits
// are reached, or nothing arrived for idle_stop_ms once the producers are done. With
// stamp_bodies, records the end-to-end latency (send to receive) in stats.latency(); with
// scheduled messages (options.Scheduled()), the lateness (receive - DELIVER_AT_MS) instead.
Status RunConsumers(const BenchOptions& options, RunControl& control, const ConsumeLimits& limits,
                    SideStats& stats);

// Runs `workers` threads named `name`, each running body(i); returns when all are done.
template <typename Body>
void RunThreads(int workers, const char* name, Body body) {
  std::vector<std::thread> threads;
  threads.reserve(workers);
  for (int i = 0; i < workers; ++i) {
    threads.emplace_back([&body, name, i] {
      SetThreadName(name);
      body(i);
    });
  }
  for (auto& t : threads) t.join();
}

}  // namespace tidemq::bench
