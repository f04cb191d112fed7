// Rate limit for a log line about a recurring event (accept failures, refused connections,
// bad frames): at most one line per interval, reporting how many events it stands for, so a
// flood of failures costs a line a second instead of filling the disk. Thread-safe.
#pragma once

#include "common/mutex.h"

#include <cstdint>
#include <mutex>

namespace tidemq::broker {

class LogLimiter {
 public:
  explicit LogLimiter(int64_t interval_ms = 1000) : interval_ms_(interval_ms) {}

  // Counts one event at now_ms (a monotonic clock). Returns 0 to stay quiet, or the number of
  // events the line to log now stands for (this one and those held back since the last line).
  int64_t Tick(int64_t now_ms) {
    MutexLock lock(mu_);
    ++pending_;
    if (logged_once_ && now_ms - last_ms_ < interval_ms_) return 0;
    logged_once_ = true;
    last_ms_ = now_ms;
    int64_t n = pending_;
    pending_ = 0;
    return n;
  }

 private:
  const int64_t interval_ms_;
  Mutex mu_;
  bool logged_once_ GUARDED_BY(mu_) = false;
  int64_t last_ms_ GUARDED_BY(mu_) = 0;
  int64_t pending_ GUARDED_BY(mu_) = 0;
};

}  // namespace tidemq::broker
