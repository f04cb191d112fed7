// The retry benchmarks of tidemq-bench (issue 5), each on numbered messages
// (BenchOptions::number_bodies) so the consumers know which message they hold:
//
//   consume-fail    preloads --count messages, then consumers ack them, except that a
//                   deterministic --fail-rate share (by a hash of the sequence number) is nacked
//                   on its first delivery and acked when it comes back. Reports the rate of
//                   first deliveries and the time until every message was acked.
//   retry-lateness  preloads --count messages; the consumers nack each once with
//                   --nack-delay-ms and ack its redelivery, recording per message the lateness
//                   receive time - (time the nack was sent + delay).
//   rebalance       a producer paced at --rate; one consumer, then one joining every
//                   --phase-ms up to --consumers, then one leaving gracefully and one killed (it
//                   receives a batch and disconnects without settling it: the leases, of
//                   --lease-ms, lapse). Reports per event how long until every queue had a
//                   first delivery again (and, for the kill, until the victim's messages came
//                   back), each consumer's share with all of them running, and messages lost,
//                   redelivered and acked twice.
//
// Each prints a summary and one RESULT line and returns whether the figures are sound (no
// errors, nothing missing); a Status only when the run could not be made (e.g. the broker is
// unreachable). Uses only the client's public API.
//
// Preconditions (checked by tidemq_bench.cc): o.count > 0 for consume-fail and
// retry-lateness, o.nack_delay_ms != 0 for retry-lateness, o.rate > 0 and o.consumers >= 3
// for rebalance; o.size >= 8 and the topic exists.
//
// Threads: each function blocks the caller and starts its own threads ("bench-prod",
// "bench-cons"), all joined before it returns. `control` is the run's hard limit
// (--duration, Ctrl-C); every wait is also bounded by the run's own phase limits.
#pragma once

#include "bench/workload.h"
#include "common/status.h"

namespace tidemq::bench {

Result<bool> RunConsumeFail(const BenchOptions& options, RunControl& control);
Result<bool> RunRetryLateness(const BenchOptions& options, RunControl& control);
Result<bool> RunRebalance(const BenchOptions& options, RunControl& control);

}  // namespace tidemq::bench
