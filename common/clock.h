// Time, injectable. Everything that reads the time takes a Clock*, so timer, lease and
// transaction tests run in virtual time (ManualClock) instead of sleeping.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace tidemq {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock milliseconds since the Unix epoch (may jump when the system time is set).
  virtual int64_t NowMs() const = 0;
  // Milliseconds from an arbitrary origin; never goes backwards.
  virtual int64_t MonotonicMs() const = 0;
};

// The real clocks (CLOCK_REALTIME, CLOCK_MONOTONIC). A process-wide instance.
class SystemClock final : public Clock {
 public:
  static SystemClock* Get();
  int64_t NowMs() const override;
  int64_t MonotonicMs() const override;
};

// A clock that moves only when told: tests advance it explicitly.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ms = 1'700'000'000'000) : now_(now_ms), mono_(0) {}
  int64_t NowMs() const override { return now_.load(); }
  int64_t MonotonicMs() const override { return mono_.load(); }
  void AdvanceMs(int64_t d) {
    now_ += d;
    mono_ += d;
  }
  // Steps only the wall clock, as an administrator setting the time would.
  void SetWallMs(int64_t ms) { now_ = ms; }

 private:
  std::atomic<int64_t> now_;
  std::atomic<int64_t> mono_;
};

}  // namespace tidemq
