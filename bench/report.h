// How tidemq-bench prints: a progress line once a second while a run lasts, latency summaries,
// and the fields of the RESULT lines that scripts (bench/run_all.sh) read.
//
// Threads: ProgressPrinter::Run blocks its own thread until Finish() is called from another;
// the rest are plain functions.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "bench/latency_histogram.h"
#include "bench/workload.h"

namespace tidemq::bench {

// "%.<decimals>f".
std::string Fixed(double v, int decimals);
// Nanoseconds as milliseconds with 3 decimals.
std::string Ms(int64_t nanos);
// " latency=NAME p50_ms=... p99_ms=... p999_ms=... max_ms=..." for a RESULT line.
std::string LatencyFields(const char* latency_name, const LatencyHistogram& h);
// "  <what> ms: p50 ...  p99 ...": what is e.g. "send latency" or "check lateness".
void PrintLatency(const std::string& what, const LatencyHistogram& h);

// Prints each side's msg/s once a second until Finish() is called.
class ProgressPrinter {
 public:
  struct Side {
    const char* name;  // "produce", "consume", "check", ...
    const SideStats* stats;
  };
  ProgressPrinter(const RunControl& control, std::vector<Side> sides)
      : control_(control), sides_(std::move(sides)) {}

  void Run();
  void Finish();

 private:
  const RunControl& control_;
  const std::vector<Side> sides_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;  // GUARDED_BY(mu_)
};

}  // namespace tidemq::bench
