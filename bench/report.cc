#include "bench/report.h"

#include <chrono>
#include <cstdio>
#include <utility>

namespace tidemq::bench {

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
  return buf;
}

std::string Ms(int64_t nanos) { return Fixed(static_cast<double>(nanos) / 1e6, 3); }

std::string LatencyFields(const char* latency_name, const LatencyHistogram& h) {
  return std::string(" latency=") + latency_name + " p50_ms=" + Ms(h.PercentileNanos(0.5)) +
         " p99_ms=" + Ms(h.PercentileNanos(0.99)) + " p999_ms=" + Ms(h.PercentileNanos(0.999)) +
         " max_ms=" + Ms(h.max_nanos());
}

void PrintLatency(const std::string& what, const LatencyHistogram& h) {
  std::printf("  %s ms: p50 %s  p99 %s  p99.9 %s  max %s  mean %s\n", what.c_str(),
              Ms(h.PercentileNanos(0.5)).c_str(), Ms(h.PercentileNanos(0.99)).c_str(),
              Ms(h.PercentileNanos(0.999)).c_str(), Ms(h.max_nanos()).c_str(),
              Ms(static_cast<int64_t>(h.MeanNanos())).c_str());
}

void ProgressPrinter::Run() {
  std::vector<uint64_t> last(sides_.size(), 0);
  int64_t last_ns = control_.start_ns();
  std::unique_lock lock(mu_);
  while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return finished_; })) {
    int64_t now = NowNanos();
    double dt = static_cast<double>(now - last_ns) / 1e9;
    // Appended piece by piece: "[" + std::string trips GCC 12's -Wrestrict (a false alarm).
    std::string line = "[";
    line += Fixed(static_cast<double>(now - control_.start_ns()) / 1e9, 0);
    line += control_.Measuring(now) ? "s]" : "s warm-up]";
    for (size_t i = 0; i < sides_.size(); ++i) {
      const SideStats& st = *sides_[i].stats;
      uint64_t n = st.total();
      line += std::string(" ") + sides_[i].name + " " +
              Fixed(static_cast<double>(n - last[i]) / dt, 0) + " msg/s";
      if (st.errors() > 0) line += " (" + std::to_string(st.errors()) + " errors)";
      last[i] = n;
    }
    last_ns = now;
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
  }
}

void ProgressPrinter::Finish() {
  {
    std::lock_guard lock(mu_);
    finished_ = true;
  }
  cv_.notify_all();
}

}  // namespace tidemq::bench
