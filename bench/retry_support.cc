#include "bench/retry_support.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>

namespace tidemq::bench {
namespace {
constexpr double kPreloadLimitS = 600;
}  // namespace

double PerSecond(uint64_t n, int64_t nanos) {
  return nanos > 0 ? static_cast<double>(n) / (static_cast<double>(nanos) / 1e9) : 0;
}

void SleepUntil(int64_t until_ns, const RunControl& control) {
  while (!control.stopped()) {
    int64_t now = NowNanos();
    if (now >= until_ns || control.Over(now)) return;
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
        std::chrono::nanoseconds(until_ns - now), std::chrono::milliseconds(100)));
  }
}

void SetOnce(std::atomic<int64_t>& slot, int64_t value) {
  int64_t unset = 0;
  slot.compare_exchange_strong(unset, value, std::memory_order_relaxed);
}

SeqTracker::SeqTracker(uint64_t capacity)
    : capacity_(capacity),
      delivered_(std::make_unique<std::atomic<uint8_t>[]>(capacity)),
      acked_(std::make_unique<std::atomic<uint8_t>[]>(capacity)) {
  for (uint64_t i = 0; i < capacity; ++i) {
    delivered_[i].store(0, std::memory_order_relaxed);
    acked_[i].store(0, std::memory_order_relaxed);
  }
}

SeqTracker::Tally SeqTracker::Count(uint64_t sent) const {
  Tally t;
  for (uint64_t i = 0; i < std::min(sent, capacity_); ++i) {
    uint8_t acks = acked_[i].load(std::memory_order_relaxed);
    t.missing += acks == 0;
    t.acked_twice += acks > 1;
    t.redelivered += delivered_[i].load(std::memory_order_relaxed) > 1;
  }
  return t;
}

uint8_t SeqTracker::Bump(std::atomic<uint8_t>& n) {
  uint8_t seen = n.load(std::memory_order_relaxed);
  while (seen < UINT8_MAX && !n.compare_exchange_weak(seen, seen + 1, std::memory_order_relaxed)) {
  }
  return seen;
}

Result<SimpleConsumer> NewConsumer(const BenchOptions& o, int64_t lease_ms) {
  auto builder = SimpleConsumer::NewBuilder();
  builder.Endpoint(o.addr).Group(o.group).Topic(o.topic).AwaitDuration(kReceiveWaitMs);
  if (lease_ms > 0) builder.LeaseDuration(lease_ms);
  return builder.Build();
}

Result<std::vector<SimpleConsumer>> NewConsumers(const BenchOptions& o, int64_t lease_ms) {
  std::vector<SimpleConsumer> consumers;
  consumers.reserve(o.consumers);
  for (int i = 0; i < o.consumers; ++i) {
    ASSIGN_OR_RETURN(SimpleConsumer c, NewConsumer(o, lease_ms));
    consumers.push_back(std::move(c));
  }
  return consumers;
}

void ReceiveFailed(SideStats& stats, const Status& status) {
  stats.Failed(1, status);
  if (status.code() == Code::kUnavailable) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

BenchOptions NumberedSends(const BenchOptions& o, bool preload) {
  BenchOptions p = o;
  p.number_bodies = true;
  p.stamp_bodies = false;
  p.delay_ms = p.spread_ms = p.same_due_ms = 0;
  p.txn_end = BenchOptions::TxnEnd::kNone;
  p.blocking = false;
  if (preload) {
    p.producers = 1;
    p.batch = 64;
    p.inflight = 512;
    p.rate = 0;
  }
  return p;
}

Status Preload(const BenchOptions& o, uint64_t count) {
  RunControl control(count, 0, kPreloadLimitS);
  SideStats sent;
  RETURN_IF_ERROR(RunProducers(NumberedSends(o, /*preload=*/true), control, sent));
  const double secs = static_cast<double>(NowNanos() - control.start_ns()) / 1e9;
  if (sent.errors() > 0 || sent.total() != count) {
    return Internal("preload: " + std::to_string(sent.total()) + " of " + std::to_string(count) +
                    " messages sent (" + std::to_string(sent.errors()) +
                    " errors; first: " + sent.first_error() + ")");
  }
  std::printf("preloaded %llu messages into %s in %.3f s\n", static_cast<unsigned long long>(count),
              o.topic.c_str(), secs);
  std::fflush(stdout);
  return Status::Ok();
}

int64_t NackDelayMs(const BenchOptions& o, int64_t fallback_ms) {
  if (o.nack_delay_ms >= 0) return o.nack_delay_ms;
  return o.group_retry ? 0 : fallback_ms;
}

int64_t FirstRetryWaitMs(const BenchOptions& o, int64_t nack_delay_ms) {
  if (nack_delay_ms > 0) return nack_delay_ms;
  return o.group_retry ? o.group_retry->DelayMs(1) : 0;
}

std::string RetryBackoffField(const BenchOptions& o) {
  return " retry_backoff=" + (o.group_retry ? o.group_retry->ToString() : std::string("-"));
}

}  // namespace tidemq::bench
