// What the retry benchmarks (bench/retry_workload.h) share: numbered sends and a preload,
// a record of which numbered messages were delivered and acked, consumers, progress.
//
// Threads: SeqTracker may be used from any number of threads; Progress prints on its own
// thread while it lives; the functions run on the caller's thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "bench/report.h"
#include "bench/workload.h"
#include "common/status.h"
#include "tidemq/simple_consumer.h"

namespace tidemq::bench {

inline constexpr int64_t kNanosPerMs = 1'000'000;
inline int64_t MsToNanos(int64_t ms) { return ms * kNanosPerMs; }
inline double NanosToMs(int64_t nanos) { return static_cast<double>(nanos) / 1e6; }
// n per second over `nanos`; 0 when nanos is not positive.
double PerSecond(uint64_t n, int64_t nanos);

// Sleeps until `until_ns` (steady clock) or until the run is stopped or over.
void SleepUntil(int64_t until_ns, const RunControl& control);
// Sets `slot` to value if it is still 0: the first time something happened.
void SetOnce(std::atomic<int64_t>& slot, int64_t value);

// How often each sequence number of a run was delivered and acked (each saturating at 255).
class SeqTracker {
 public:
  explicit SeqTracker(uint64_t capacity);

  bool Contains(int64_t seq) const { return seq >= 0 && static_cast<uint64_t>(seq) < capacity_; }
  // Returns the deliveries before this one.
  uint8_t Delivered(int64_t seq) { return Bump(delivered_[seq]); }
  void Acked(int64_t seq) {
    if (Bump(acked_[seq]) == 0) acked_distinct_.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t acked_distinct() const { return acked_distinct_.load(std::memory_order_relaxed); }

  struct Tally {
    uint64_t missing = 0;      // never acked
    uint64_t redelivered = 0;  // delivered more than once
    uint64_t acked_twice = 0;  // acked more than once: two leases on one message
  };
  // Over the sequence numbers 0 .. sent - 1.
  Tally Count(uint64_t sent) const;

 private:
  // Adds one unless saturated; returns the count before.
  static uint8_t Bump(std::atomic<uint8_t>& n);

  const uint64_t capacity_;
  std::unique_ptr<std::atomic<uint8_t>[]> delivered_;
  std::unique_ptr<std::atomic<uint8_t>[]> acked_;
  std::atomic<uint64_t> acked_distinct_{0};
};

// A consumer of o.group on o.topic with the bench's short long-poll; lease_ms 0: the client's
// default lease.
Result<SimpleConsumer> NewConsumer(const BenchOptions& o, int64_t lease_ms);
// o.consumers of them.
Result<std::vector<SimpleConsumer>> NewConsumers(const BenchOptions& o, int64_t lease_ms);
// A failed Receive: counted; a lost connection is retried after a pause, not in a spin.
void ReceiveFailed(SideStats& stats, const Status& status);

// The producer options of a run of numbered messages: as given, or, for a preload, as fast as
// the broker takes them (batches of 64, 512 in flight).
BenchOptions NumberedSends(const BenchOptions& o, bool preload);
// Sends numbered messages 0 .. count - 1 to o.topic (not measured); an error unless all went.
Status Preload(const BenchOptions& o, uint64_t count);

// The nacks' own delay: --nack-delay-ms, or when it is not given, 0 (the group's back-off) if
// --retry-backoff set one, else `fallback_ms`.
int64_t NackDelayMs(const BenchOptions& o, int64_t fallback_ms);
// How long after a nack with this delay its message is due again: the delay, or the group's
// first back-off step for a nack without one; 0 when that is not known here.
int64_t FirstRetryWaitMs(const BenchOptions& o, int64_t nack_delay_ms);
// " retry_backoff=<policy or ->" for a RESULT line.
std::string RetryBackoffField(const BenchOptions& o);

// Runs the progress printer on its own thread for the lifetime of this object.
class Progress {
 public:
  Progress(const RunControl& control, std::vector<ProgressPrinter::Side> sides)
      : printer_(control, std::move(sides)), thread_([this] { printer_.Run(); }) {}
  ~Progress() {
    printer_.Finish();
    thread_.join();
  }

 private:
  ProgressPrinter printer_;
  std::thread thread_;
};

}  // namespace tidemq::bench
