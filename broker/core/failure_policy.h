// The failure policy of a consumer group (docs/retry.md): what a failed delivery (a nack or
// a lapsed lease) becomes — a retry copy in %RETRY%<group> due after a delay, a retry in
// place (FIFO groups: the queue waits; broadcasting groups: each member has its own offsets),
// or a dead-letter copy in %DLQ%<group> once max_attempts deliveries failed (FIFO groups with
// fifo_block keep retrying in place instead).
//
// Owns: nothing. A pure function of the group's config and the failed lease: callable from
// any thread, no lock. ConsumerManager calls it under the group's mutex and carries out the
// decision (the copies through the store, in-place retries in the queue state).
#pragma once

#include <cstdint>

#include "broker/core/group_records.h"

namespace tidemq::broker {

// The delay of a lapsed lease: the lease was the wait, the retry is due at once.
inline constexpr int64_t kDueNow = -1;

struct FailureDecision {
  enum Kind { kRetryCopy, kRetryInPlace, kDeadLetter };
  Kind kind = kRetryCopy;
  int64_t delay_ms = 0;  // until the retry is due (0 for a dead letter)
};

// `attempt`: deliveries of the message so far, the failed one included. `delay_ms`: the
// nack's own delay (0: the group's back-off for this attempt) or kDueNow.
FailureDecision DecideFailure(const GroupConfig& c, uint32_t attempt, int64_t delay_ms);

}  // namespace tidemq::broker
