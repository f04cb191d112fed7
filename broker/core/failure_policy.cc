#include "broker/core/failure_policy.h"

namespace tidemq::broker {

FailureDecision DecideFailure(const GroupConfig& c, uint32_t attempt, int64_t delay_ms) {
  const bool exhausted = attempt >= c.max_attempts;
  if (delay_ms == kDueNow) {
    delay_ms = 0;
  } else if (delay_ms <= 0) {
    delay_ms = c.retry.DelayMs(attempt);
  }
  if (exhausted && !(c.fifo && c.fifo_block)) return {FailureDecision::kDeadLetter, 0};
  // In place: a FIFO queue waits for it; a broadcasting member has its own offsets.
  if (c.fifo || c.broadcast) return {FailureDecision::kRetryInPlace, delay_ms};
  return {FailureDecision::kRetryCopy, delay_ms};
}

}  // namespace tidemq::broker
