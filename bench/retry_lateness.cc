// retry-lateness (bench/retry_workload.h).
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "bench/retry_support.h"
#include "bench/retry_workload.h"

namespace tidemq::bench {
namespace {

// The nacks' delay when --nack-delay-ms is not given: long enough that the nacks of a run
// are all sent before the first comes back.
constexpr int64_t kLatenessNackDelayMs = 2000;

}  // namespace

Result<bool> RunRetryLateness(const BenchOptions& o, RunControl& control) {
  const uint64_t n = o.count;
  // The nack's own delay (0: the group's back-off) and when the message is due back.
  const int64_t nack_delay_ms = NackDelayMs(o, kLatenessNackDelayMs);
  const int64_t delay_ms = FirstRetryWaitMs(o, nack_delay_ms);
  const int64_t delay_ns = MsToNanos(delay_ms);
  RETURN_IF_ERROR(Preload(o, n));
  ASSIGN_OR_RETURN(auto consumers, NewConsumers(o, o.lease_ms));

  SeqTracker seqs(n);  // acked = redelivered and acked
  // When each message's nack was sent (steady clock); 0: not nacked, -1: the nack failed.
  auto nacked_at = std::make_unique<std::atomic<int64_t>[]>(n);
  for (uint64_t i = 0; i < n; ++i) nacked_at[i].store(0, std::memory_order_relaxed);
  SideStats nacked;       // nacks sent (Completed at their reply)
  SideStats redelivered;  // redeliveries (Completed at their receipt); lateness
  std::atomic<uint64_t> early{0}, unmeasured{0}, foreign{0};
  std::atomic<int64_t> earliest{0};  // the most negative lateness
  const int64_t idle_stop_ns = MsToNanos(o.idle_stop_ms);
  const int64_t start_ns = NowNanos();
  {
    Progress progress(control, {{"nack", &nacked}, {"redeliver", &redelivered}});
    RunThreads(o.consumers, "bench-cons", [&](int i) {
      SimpleConsumer& consumer = consumers[i];
      int64_t idle_from = NowNanos();
      std::vector<ReceivedMessage> to_ack;
      std::vector<int64_t> to_ack_seqs;
      while (!control.stopped() && seqs.acked_distinct() < n) {
        int64_t now = NowNanos();
        if (control.Over(now) || now - idle_from >= idle_stop_ns) break;
        auto batch = consumer.Receive(o.receive_batch);
        const int64_t received_ns = NowNanos();
        if (!batch.ok()) {
          ReceiveFailed(redelivered, batch.status());
          continue;
        }
        if (batch->empty()) continue;
        to_ack.clear();
        to_ack_seqs.clear();
        uint64_t bytes = 0;
        for (ReceivedMessage& m : *batch) {
          const int64_t seq = BodySequence(m.body());
          if (!seqs.Contains(seq)) {
            foreign.fetch_add(1, std::memory_order_relaxed);
            to_ack.push_back(std::move(m));
            continue;
          }
          seqs.Delivered(seq);
          if (m.delivery_attempt() <= 1) {
            // Sent before the broker sees it: the lateness may include the nack's trip there.
            const int64_t sent_ns = NowNanos();
            nacked_at[seq].store(sent_ns, std::memory_order_release);
            Status st = consumer.Nack(m, nack_delay_ms);
            if (st.ok()) {
              nacked.Completed(1, m.body().size(), true, NowNanos());
            } else {
              nacked_at[seq].store(-1, std::memory_order_release);
              nacked.Failed(1, st);
            }
            idle_from = std::max(idle_from, sent_ns + delay_ns);
            continue;
          }
          const int64_t at = nacked_at[seq].load(std::memory_order_acquire);
          if (m.delivery_attempt() == 2 && at > 0) {
            const int64_t late = received_ns - (at + delay_ns);
            if (late < 0) {
              early.fetch_add(1, std::memory_order_relaxed);
              int64_t seen = earliest.load(std::memory_order_relaxed);
              while (late < seen && !earliest.compare_exchange_weak(seen, late)) {
              }
            }
            redelivered.latency().Record(late);
          } else {
            unmeasured.fetch_add(1, std::memory_order_relaxed);  // a lapse, not our nack
          }
          bytes += m.body().size();
          to_ack_seqs.push_back(seq);
          to_ack.push_back(std::move(m));
        }
        Status st = to_ack.empty() ? Status::Ok() : consumer.Ack(to_ack);
        idle_from = std::max(idle_from, NowNanos());
        if (!st.ok()) {
          redelivered.Failed(to_ack.size(), st);
          continue;
        }
        for (int64_t seq : to_ack_seqs) seqs.Acked(seq);
        if (!to_ack_seqs.empty())
          redelivered.Completed(to_ack_seqs.size(), bytes, true, received_ns);
      }
    });
  }
  for (SimpleConsumer& c : consumers) c.Shutdown();

  const SeqTracker::Tally tally = seqs.Count(n);
  const uint64_t got = redelivered.total();
  const int64_t nack_ns = nacked.total() > 0 ? nacked.last_ns() - start_ns : 0;
  const int64_t spread_ns = got > 1 ? redelivered.last_ns() - redelivered.first_ns() : 0;
  const double nack_s = PerSecond(nacked.total(), nack_ns);
  const double redeliver_s = PerSecond(got > 1 ? got - 1 : 0, spread_ns);
  const uint64_t errors = nacked.errors() + redelivered.errors();
  const LatencyHistogram& h = redelivered.latency();
  std::printf(
      "retry-lateness: %llu nacked with a %lld ms delay in %.3f s = %.0f nacks/s; %llu "
      "redelivered over %.3f s (first to last) = %.0f msg/s\n",
      static_cast<unsigned long long>(nacked.total()), static_cast<long long>(delay_ms),
      nack_ns / 1e9, nack_s, static_cast<unsigned long long>(got), spread_ns / 1e9, redeliver_s);
  if (h.count() > 0) PrintLatency("redelivery lateness", h);
  std::printf(
      "  %llu early (by at most %.3f ms), %llu not measured (not a redelivery of "
      "our nack), %llu missing, %llu acked twice, %llu errors\n",
      static_cast<unsigned long long>(early.load()), NanosToMs(-earliest.load()),
      static_cast<unsigned long long>(unmeasured.load()),
      static_cast<unsigned long long>(tally.missing),
      static_cast<unsigned long long>(tally.acked_twice), static_cast<unsigned long long>(errors));
  if (nacked.errors() > 0) std::printf("  first nack error: %s\n", nacked.first_error().c_str());
  if (redelivered.errors() > 0) {
    std::printf("  first receive/ack error: %s\n", redelivered.first_error().c_str());
  }
  std::string line = "RESULT mode=retry-lateness side=redeliver msgs=" + std::to_string(got) +
                     " secs=" + Fixed(spread_ns / 1e9, 3) + " msg_s=" + Fixed(redeliver_s, 0);
  if (h.count() > 0) line += LatencyFields("lateness", h);
  line += " nacks=" + std::to_string(nacked.total()) + " nack_secs=" + Fixed(nack_ns / 1e9, 3) +
          " nack_msg_s=" + Fixed(nack_s, 0) + " early=" + std::to_string(early.load()) +
          " early_max_ms=" + Ms(-earliest.load()) +
          " unmeasured=" + std::to_string(unmeasured.load()) +
          " missing=" + std::to_string(tally.missing) + " errors=" + std::to_string(errors) +
          " nack_delay_ms=" + std::to_string(nack_delay_ms) +
          " retry_wait_ms=" + std::to_string(delay_ms) + RetryBackoffField(o) +
          " consumers=" + std::to_string(o.consumers) +
          " receive_batch=" + std::to_string(o.receive_batch) + " size=" + std::to_string(o.size);
  std::printf("%s\n", line.c_str());
  return errors == 0 && tally.missing == 0;
}

}  // namespace tidemq::bench
