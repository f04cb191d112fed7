// Output and lifetime of the order_service commands: timestamped progress lines (from any
// thread, never interleaved) and a stop flag raised by SIGINT / SIGTERM.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace order_service {

// Prints "hh:mm:ss.mmm <line>" to stdout and flushes. Any thread.
void Say(const std::string& line);

// SIGINT and SIGTERM raise the stop flag; a second one ends the process at once.
void InstallStopSignals();
bool StopRequested();
// Sleeps until `deadline` or a stop signal, whichever comes first; true when stopped.
bool SleepUntilStopOr(std::chrono::steady_clock::time_point deadline);
// `seconds` from now; never (time_point::max) for 0.
std::chrono::steady_clock::time_point DeadlineAfter(double seconds);
// " for 2.5 s", or " until Ctrl-C" for 0.
std::string ForSeconds(double seconds);

int64_t EpochMs();

}  // namespace order_service
