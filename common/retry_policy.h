// How long a message whose delivery failed waits before it is delivered again (a consumer
// group's retry back-off), and the text form operators type for it.
//
// The n-th failure of a message (n = 1, 2, ...) waits DelayMs(n):
//   ladder       RocketMQ's delay levels from 10 s: 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m
//                30m 1h 2h (the last repeats)
//   custom       the operator's list, e.g. "1s,5s,30s" (the last repeats)
//   exponential  initial * multiplier^(n-1), capped at max, e.g. "exponential:1s,2,10m"
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemq {

struct RetryPolicy {
  enum class Kind { kLadder, kCustom, kExponential };

  Kind kind = Kind::kLadder;
  std::vector<int64_t> delays_ms;  // kCustom
  int64_t initial_ms = 1000;       // kExponential
  double multiplier = 2.0;         // kExponential
  int64_t max_ms = 3'600'000;      // kExponential

  // The wait after the n-th failure (n >= 1; 0 is treated as 1).
  int64_t DelayMs(uint32_t failures) const;
  // Every delay between 0 and 24 h, 1..64 custom delays, multiplier 1..100.
  Status Validate() const;
  // The text form Parse accepts: "ladder", "1s,5s,30s", "exponential:1s,2,10m".
  std::string ToString() const;
  static Result<RetryPolicy> Parse(std::string_view text);

  bool operator==(const RetryPolicy&) const = default;
};

// RocketMQ's delay levels from its third (10 s) on: what its consumers' 16 retries wait.
const std::vector<int64_t>& LadderDelaysMs();

// "250ms", "10s", "5m", "2h", "1d" or a plain number of milliseconds.
Result<int64_t> ParseDurationMs(std::string_view text);
// The shortest of those forms that is exact: 90000 -> "90s", 120000 -> "2m".
std::string FormatDurationMs(int64_t ms);

}  // namespace tidemq
