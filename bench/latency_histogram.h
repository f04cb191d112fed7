// LatencyHistogram: bounded-memory latency recording for the benchmark tool.
//
// Log-linear buckets in the style of HdrHistogram: values below 128 ns get a bucket each, and
// every power-of-two range above is split into 64 buckets, so a reported percentile is at most
// 1/64 (1.6 %) above the true value, whatever the range (1 ns .. centuries) and however many
// samples. About 30 KiB per histogram.
//
// Thread safety: Record may be called from any number of threads concurrently (relaxed
// atomics); read the percentiles once the recording threads are done or when an estimate will
// do.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace tidemq::bench {

class LatencyHistogram {
 public:
  LatencyHistogram();

  // Records `count` samples of `nanos` (negative values count as 0).
  void Record(int64_t nanos, uint64_t count = 1);

  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  int64_t max_nanos() const { return max_.load(std::memory_order_relaxed); }
  double MeanNanos() const;
  // The smallest recorded bucket's upper bound below which at least `quantile` (0..1] of the
  // samples fall; the exact maximum for quantile 1. 0 when empty.
  int64_t PercentileNanos(double quantile) const;

 private:
  static constexpr int kSubBucketBits = 7;  // 2^6 buckets per power of two
  // Enough for any uint64_t: the top bucket is (64 - kSubBucketBits) * 64 + 127.
  static constexpr int kBucketCount = (64 - kSubBucketBits + 2) << (kSubBucketBits - 1);

  static int BucketOf(uint64_t value);
  static uint64_t UpperBoundOf(int bucket);

  std::array<std::atomic<uint64_t>, kBucketCount> buckets_;
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<int64_t> max_{0};
};

}  // namespace tidemq::bench
