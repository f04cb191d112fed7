#include "examples/order_service/console.h"

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <mutex>
#include <thread>

namespace order_service {
namespace {

std::mutex g_say_mu;
volatile std::sig_atomic_t g_stop = 0;

void OnSignal(int) {
  g_stop = 1;
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace

int64_t EpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Say(const std::string& line) {
  int64_t ms = EpochMs();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  std::lock_guard lock(g_say_mu);
  std::printf("%02d:%02d:%02d.%03d %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec,
              static_cast<int>(ms % 1000), line.c_str());
  std::fflush(stdout);
}

void InstallStopSignals() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
}

bool StopRequested() { return g_stop != 0; }

bool SleepUntilStopOr(std::chrono::steady_clock::time_point deadline) {
  constexpr auto kTick = std::chrono::milliseconds(100);  // how promptly a signal is seen
  while (!StopRequested()) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    std::this_thread::sleep_for(
        std::min<std::chrono::steady_clock::duration>(kTick, deadline - now));
  }
  return true;
}

std::chrono::steady_clock::time_point DeadlineAfter(double seconds) {
  if (seconds <= 0) return std::chrono::steady_clock::time_point::max();
  return std::chrono::steady_clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::string ForSeconds(double seconds) {
  if (seconds <= 0) return " until Ctrl-C";
  char buf[48];
  std::snprintf(buf, sizeof(buf), " for %g s", seconds);
  return buf;
}

}  // namespace order_service
