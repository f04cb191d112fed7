// A histogram with fixed bucket bounds, observed from any thread without a lock: one
// observation is three relaxed atomic adds (its bucket, the sum, the count is derived from the
// buckets). What Prometheus' histogram type exposes (docs/metrics.md): cumulative buckets by
// upper bound, the sum and the count, read as a snapshot that is consistent enough for
// monitoring (a concurrent observation may be in the sum and not yet in its bucket).
//
// Values are integers in the unit the owner states (microseconds, milliseconds, bytes).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace tidemq {

struct HistogramSnapshot {
  std::vector<int64_t> bounds;  // upper bounds (inclusive), ascending; +Inf is implied
  std::vector<int64_t> counts;  // per bucket, not cumulative: bounds.size() + 1 (the last: +Inf)
  int64_t sum = 0;

  int64_t count() const {
    int64_t n = 0;
    for (int64_t c : counts) n += c;
    return n;
  }
};

class Histogram {
 public:
  // `bounds` ascending.
  explicit Histogram(std::vector<int64_t> bounds)
      : bounds_(std::move(bounds)),
        buckets_(std::make_unique<std::atomic<int64_t>[]>(bounds_.size() + 1)) {}

  void Observe(int64_t value) {
    const size_t i = static_cast<size_t>(
        std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    buckets_[i].fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }

  HistogramSnapshot Snapshot() const {
    HistogramSnapshot s;
    s.bounds = bounds_;
    s.counts.reserve(bounds_.size() + 1);
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      s.counts.push_back(buckets_[i].load(std::memory_order_relaxed));
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  const std::vector<int64_t> bounds_;
  std::unique_ptr<std::atomic<int64_t>[]> buckets_;
  std::atomic<int64_t> sum_{0};
};

// Bounds for latencies in microseconds: 50 µs to 10 s, about three per decade.
inline std::vector<int64_t> LatencyBoundsUs() {
  return {50,     100,    250,    500,     1'000,   2'500,   5'000,     10'000,
          25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 10'000'000};
}

}  // namespace tidemq
