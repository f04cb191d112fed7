// consume-fail (bench/retry_workload.h).
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/retry_support.h"
#include "bench/retry_workload.h"

namespace tidemq::bench {
namespace {

// The nacks' delay when --nack-delay-ms is not given: short, so the run ends soon after the
// last first delivery.
constexpr int64_t kFailNackDelayMs = 100;

// Whether consume-fail nacks message `seq` on its first delivery: a fixed pseudo-random
// choice (splitmix64 of the number), so every run fails the same messages.
bool FailsFirstDelivery(int64_t seq, double fail_rate) {
  uint64_t z = static_cast<uint64_t>(seq) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53 < fail_rate;
}

}  // namespace

Result<bool> RunConsumeFail(const BenchOptions& o, RunControl& control) {
  const uint64_t n = o.count;
  const int64_t nack_delay_ms = NackDelayMs(o, kFailNackDelayMs);
  const int64_t retry_wait_ns = MsToNanos(FirstRetryWaitMs(o, nack_delay_ms));
  RETURN_IF_ERROR(Preload(o, n));
  ASSIGN_OR_RETURN(auto consumers, NewConsumers(o, o.lease_ms));

  SeqTracker seqs(n);
  SideStats firsts;               // first deliveries, settled (acked or nacked)
  SideStats acked;                // every ack, redeliveries included; errors of any call
  LatencyHistogram nack_latency;  // each Nack call (one per received batch), request to reply
  std::atomic<uint64_t> nacks{0}, redeliveries{0}, foreign{0};
  std::atomic<int64_t> all_acked_ns{0};
  const int64_t idle_stop_ns = MsToNanos(o.idle_stop_ms);
  const int64_t start_ns = NowNanos();
  {
    Progress progress(control, {{"first", &firsts}, {"acked", &acked}});
    RunThreads(o.consumers, "bench-cons", [&](int i) {
      SimpleConsumer& consumer = consumers[i];
      // Idle counts from the last message, or from when the last nack of this consumer is
      // due back.
      int64_t idle_from = NowNanos();
      std::vector<ReceivedMessage> to_ack, to_nack;
      std::vector<int64_t> to_ack_seqs;
      while (!control.stopped() && seqs.acked_distinct() < n) {
        int64_t now = NowNanos();
        if (control.Over(now) || now - idle_from >= idle_stop_ns) break;
        auto batch = consumer.Receive(o.receive_batch);
        if (!batch.ok()) {
          ReceiveFailed(acked, batch.status());
          continue;
        }
        if (batch->empty()) continue;
        to_ack.clear();
        to_nack.clear();
        to_ack_seqs.clear();
        uint64_t first = 0, first_bytes = 0, bytes = 0;
        for (ReceivedMessage& m : *batch) {
          const int64_t seq = BodySequence(m.body());
          if (!seqs.Contains(seq)) {  // not this run's: settle it all the same
            foreign.fetch_add(1, std::memory_order_relaxed);
            to_ack.push_back(std::move(m));
            continue;
          }
          seqs.Delivered(seq);
          if (m.delivery_attempt() <= 1) {
            ++first;
            first_bytes += m.body().size();
            if (FailsFirstDelivery(seq, o.fail_rate)) {
              to_nack.push_back(std::move(m));
              continue;
            }
          } else {
            redeliveries.fetch_add(1, std::memory_order_relaxed);
          }
          bytes += m.body().size();
          to_ack_seqs.push_back(seq);
          to_ack.push_back(std::move(m));
        }
        if (!to_nack.empty()) {
          // A batch's failures go back in one request, like its acks.
          const int64_t nack_start_ns = NowNanos();
          Status nst = consumer.Nack(to_nack, nack_delay_ms);
          nack_latency.Record(NowNanos() - nack_start_ns);
          if (nst.ok()) {
            nacks.fetch_add(to_nack.size(), std::memory_order_relaxed);
          } else {
            acked.Failed(to_nack.size(), nst);
          }
          idle_from = std::max(idle_from, NowNanos() + retry_wait_ns);
        }
        Status st = to_ack.empty() ? Status::Ok() : consumer.Ack(to_ack);
        now = NowNanos();
        idle_from = std::max(idle_from, now);
        if (!st.ok()) {
          acked.Failed(to_ack.size(), st);
          continue;
        }
        for (int64_t seq : to_ack_seqs) seqs.Acked(seq);
        if (seqs.acked_distinct() >= n) SetOnce(all_acked_ns, now);
        acked.Completed(to_ack_seqs.size(), bytes, true, now);
        if (first > 0) firsts.Completed(first, first_bytes, true, now);
      }
    });
  }
  for (SimpleConsumer& c : consumers) c.Shutdown();

  const SeqTracker::Tally tally = seqs.Count(n);
  const int64_t first_ns = firsts.total() > 0 ? firsts.last_ns() - start_ns : 0;
  const int64_t done_ns = all_acked_ns.load() > 0 ? all_acked_ns.load() - start_ns : 0;
  const double first_msg_s = PerSecond(firsts.total(), first_ns);
  const double total_msg_s = PerSecond(n, done_ns);
  const uint64_t errors = acked.errors();
  std::printf(
      "consume-fail: %llu messages, %d consumers, fail rate %.4f: %llu nacked on their first "
      "delivery (back-off %s), %llu redeliveries\n",
      static_cast<unsigned long long>(n), o.consumers, o.fail_rate,
      static_cast<unsigned long long>(nacks.load()),
      nack_delay_ms > 0 ? (std::to_string(nack_delay_ms) + " ms").c_str()
      : o.group_retry   ? ("the group's, " + o.group_retry->ToString()).c_str()
                        : "the group's",
      static_cast<unsigned long long>(redeliveries.load()));
  if (nack_latency.count() > 0) PrintLatency("nack call", nack_latency);
  std::printf("  first deliveries: %llu in %.3f s = %.0f msg/s\n",
              static_cast<unsigned long long>(firsts.total()), first_ns / 1e9, first_msg_s);
  if (done_ns > 0) {
    std::printf("  every message acked after %.3f s = %.0f msg/s\n", done_ns / 1e9, total_msg_s);
  } else {
    std::printf("  NOT every message was acked: %llu missing\n",
                static_cast<unsigned long long>(tally.missing));
  }
  std::printf("  %llu missing, %llu acked twice, %llu of other runs, %llu errors\n",
              static_cast<unsigned long long>(tally.missing),
              static_cast<unsigned long long>(tally.acked_twice),
              static_cast<unsigned long long>(foreign.load()),
              static_cast<unsigned long long>(errors));
  if (errors > 0) std::printf("  first error: %s\n", acked.first_error().c_str());
  std::printf(
      "RESULT mode=consume-fail side=consume msgs=%llu secs=%s msg_s=%.0f total_secs=%s "
      "total_msg_s=%.0f nacks=%llu redeliveries=%llu missing=%llu acked_twice=%llu errors=%llu "
      "fail_rate=%s nack_delay_ms=%lld nack_p50_ms=%s nack_p99_ms=%s consumers=%d "
      "receive_batch=%u size=%u%s\n",
      static_cast<unsigned long long>(firsts.total()), Fixed(first_ns / 1e9, 3).c_str(),
      first_msg_s, Fixed(done_ns / 1e9, 3).c_str(), total_msg_s,
      static_cast<unsigned long long>(nacks.load()),
      static_cast<unsigned long long>(redeliveries.load()),
      static_cast<unsigned long long>(tally.missing),
      static_cast<unsigned long long>(tally.acked_twice), static_cast<unsigned long long>(errors),
      Fixed(o.fail_rate, 4).c_str(), static_cast<long long>(nack_delay_ms),
      Ms(nack_latency.PercentileNanos(0.5)).c_str(), Ms(nack_latency.PercentileNanos(0.99)).c_str(),
      o.consumers, o.receive_batch, o.size, RetryBackoffField(o).c_str());
  return errors == 0 && tally.missing == 0 && firsts.total() == n;
}

}  // namespace tidemq::bench
