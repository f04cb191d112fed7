#include "bench/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tidemq::bench {

LatencyHistogram::LatencyHistogram() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
}

// Below 2^kSubBucketBits a value is its own bucket. Above, with msb its highest set bit and
// shift = msb - kSubBucketBits + 1, the value's top kSubBucketBits bits (64..127) pick one of
// 64 buckets in the range of buckets that starts at shift * 64: the ranges join up exactly.
int LatencyHistogram::BucketOf(uint64_t value) {
  if (value < (uint64_t{1} << kSubBucketBits)) return static_cast<int>(value);
  int msb = 63 - std::countl_zero(value);
  int shift = msb - kSubBucketBits + 1;
  return (shift << (kSubBucketBits - 1)) + static_cast<int>(value >> shift);
}

uint64_t LatencyHistogram::UpperBoundOf(int bucket) {
  constexpr int kHalf = 1 << (kSubBucketBits - 1);
  if (bucket < 2 * kHalf) return static_cast<uint64_t>(bucket);
  int shift = bucket / kHalf - 1;
  uint64_t mantissa = static_cast<uint64_t>(bucket - shift * kHalf);
  return ((mantissa + 1) << shift) - 1;
}

void LatencyHistogram::Record(int64_t nanos, uint64_t count) {
  if (count == 0) return;
  uint64_t value = static_cast<uint64_t>(std::max<int64_t>(nanos, 0));
  buckets_[BucketOf(value)].fetch_add(count, std::memory_order_relaxed);
  count_.fetch_add(count, std::memory_order_relaxed);
  sum_.fetch_add(value * count, std::memory_order_relaxed);
  int64_t seen = max_.load(std::memory_order_relaxed);
  while (
      static_cast<int64_t>(value) > seen &&
      !max_.compare_exchange_weak(seen, static_cast<int64_t>(value), std::memory_order_relaxed)) {
  }
}

double LatencyHistogram::MeanNanos() const {
  uint64_t n = count();
  return n == 0 ? 0.0 : static_cast<double>(sum_.load(std::memory_order_relaxed)) / n;
}

int64_t LatencyHistogram::PercentileNanos(double quantile) const {
  uint64_t n = count();
  if (n == 0) return 0;
  if (quantile >= 1.0) return max_nanos();
  auto rank = static_cast<uint64_t>(std::ceil(std::max(quantile, 0.0) * static_cast<double>(n)));
  rank = std::max<uint64_t>(rank, 1);
  uint64_t seen = 0;
  for (int b = 0; b < kBucketCount; ++b) {
    seen += buckets_[b].load(std::memory_order_relaxed);
    if (seen >= rank) {
      return std::min(static_cast<int64_t>(UpperBoundOf(b)), max_nanos());
    }
  }
  return max_nanos();
}

}  // namespace tidemq::bench
