// TIMER_STATS: the timer's counters, next due time and the lateness histogram of its fires.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleTimerStats(BrokerContext& ctx, const Request& req) {
  const TimerReport report = ctx.admin()->TimerStats();
  const timer::TimerStats& ts = report.stats;
  wire::Header h;
  auto* resp = h.mutable_timer_stats_response();
  resp->set_pending(ts.pending);
  resp->set_fired(ts.fired);
  resp->set_cancelled(ts.cancelled);
  resp->set_next_due_ms(ts.next_due_ms.value_or(0));
  resp->set_loaded(static_cast<int64_t>(ts.loaded));
  resp->set_firing(static_cast<int64_t>(ts.firing));
  resp->set_broker_time_ms(report.broker_time_ms);
  const LatenessCounts& counts = report.lateness;
  for (size_t i = 0; i < counts.size(); ++i) {
    auto* b = resp->add_lateness();
    b->set_below_ms(i < kLatenessBoundsMs.size() ? kLatenessBoundsMs[i] : 0);
    b->set_count(counts[i]);
  }
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
