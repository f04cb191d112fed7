// tidemq-bench --admin-every-ms: topic creations alongside a produce run, to show whether
// metadata changes stall sends (compare the run's send p99 with and without it). Every
// `every_ms` one topic "<topic>-churn-<pid>-<n>" is created (1 queue) on its own Admin
// connection; Stop() deletes them again and prints how many were created and how long each
// creation took.
//
// Threads: one thread ("bench-admin") between Start and Stop. Bounded: at most
// kMaxChurnTopics topics per run.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "bench/latency_histogram.h"
#include "bench/workload.h"

namespace tidemq::bench {

inline constexpr int kMaxChurnTopics = 10'000;

class AdminChurn {
 public:
  AdminChurn(const BenchOptions& options, int64_t every_ms);
  ~AdminChurn();  // Stop()
  void Start();
  // Stops creating, deletes what was created, prints the summary (once).
  void Stop();

 private:
  void Run();

  const BenchOptions options_;
  const int64_t every_ms_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  bool stopped_ = false;
  // Written by the thread, read after join.
  std::vector<std::string> created_;
  LatencyHistogram create_latency_;
  uint64_t errors_ = 0;
  std::string first_error_;
};

}  // namespace tidemq::bench
