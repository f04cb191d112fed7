#include "bench/retry_workload.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "bench/report.h"
#include "tidemq/admin.h"
#include "tidemq/simple_consumer.h"

namespace tidemq::bench {
namespace {

constexpr double kPreloadLimitS = 600;
constexpr int64_t kNanosPerMs = 1'000'000;
// What each mode's nack waits when --nack-delay-ms is not given: consume-fail a short
// back-off so the run ends soon after the last first delivery, retry-lateness a fixed one
// long enough that the nacks of a run are all sent before the first comes back.
constexpr int64_t kFailNackDelayMs = 100;
constexpr int64_t kLatenessNackDelayMs = 2000;
constexpr int64_t kRebalanceLeaseMs = 2000;
// Rebalance: after the producer stops, how long the consumers may take to ack the rest.
constexpr int64_t kDrainLimitNs = 30'000'000'000;
// The killed consumer's last receives: how long it may take to fill its hands (a batch).
constexpr int64_t kKillHoldLimitNs = 1'000'000'000;
constexpr auto kPollInterval = std::chrono::milliseconds(20);

int64_t MsToNanos(int64_t ms) { return ms * kNanosPerMs; }
double NanosToMs(int64_t nanos) { return static_cast<double>(nanos) / 1e6; }

// Sleeps until `until_ns` (steady clock) or until the run is stopped or over.
void SleepUntil(int64_t until_ns, const RunControl& control) {
  while (!control.stopped()) {
    int64_t now = NowNanos();
    if (now >= until_ns || control.Over(now)) return;
    std::this_thread::sleep_for(std::min<std::chrono::nanoseconds>(
        std::chrono::nanoseconds(until_ns - now), std::chrono::milliseconds(100)));
  }
}

// Sets *slot to value if it is still 0: the first time something happened.
void SetOnce(std::atomic<int64_t>& slot, int64_t value) {
  int64_t unset = 0;
  slot.compare_exchange_strong(unset, value, std::memory_order_relaxed);
}

// How often each sequence number of a run was delivered and acked (each saturating at 255).
class SeqTracker {
 public:
  explicit SeqTracker(uint64_t capacity)
      : capacity_(capacity),
        delivered_(std::make_unique<std::atomic<uint8_t>[]>(capacity)),
        acked_(std::make_unique<std::atomic<uint8_t>[]>(capacity)) {
    for (uint64_t i = 0; i < capacity; ++i) {
      delivered_[i].store(0, std::memory_order_relaxed);
      acked_[i].store(0, std::memory_order_relaxed);
    }
  }

  bool Contains(int64_t seq) const { return seq >= 0 && static_cast<uint64_t>(seq) < capacity_; }
  // Returns the deliveries before this one.
  uint8_t Delivered(int64_t seq) { return Bump(delivered_[seq]); }
  void Acked(int64_t seq) {
    if (Bump(acked_[seq]) == 0) acked_distinct_.fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t acked_distinct() const { return acked_distinct_.load(std::memory_order_relaxed); }

  struct Tally {
    uint64_t missing = 0;      // never acked
    uint64_t redelivered = 0;  // delivered more than once
    uint64_t acked_twice = 0;  // acked more than once: two leases on one message
  };
  // Over the sequence numbers 0 .. sent - 1.
  Tally Count(uint64_t sent) const {
    Tally t;
    for (uint64_t i = 0; i < std::min(sent, capacity_); ++i) {
      uint8_t acks = acked_[i].load(std::memory_order_relaxed);
      t.missing += acks == 0;
      t.acked_twice += acks > 1;
      t.redelivered += delivered_[i].load(std::memory_order_relaxed) > 1;
    }
    return t;
  }

 private:
  static uint8_t Bump(std::atomic<uint8_t>& n) {
    uint8_t seen = n.load(std::memory_order_relaxed);
    while (seen < UINT8_MAX &&
           !n.compare_exchange_weak(seen, seen + 1, std::memory_order_relaxed)) {
    }
    return seen;
  }

  const uint64_t capacity_;
  std::unique_ptr<std::atomic<uint8_t>[]> delivered_;
  std::unique_ptr<std::atomic<uint8_t>[]> acked_;
  std::atomic<uint64_t> acked_distinct_{0};
};

// Whether consume-fail nacks message `seq` on its first delivery: a fixed pseudo-random
// choice (splitmix64 of the number), so every run fails the same messages.
bool FailsFirstDelivery(int64_t seq, double fail_rate) {
  uint64_t z = static_cast<uint64_t>(seq) + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53 < fail_rate;
}

Result<SimpleConsumer> NewConsumer(const BenchOptions& o, int64_t lease_ms) {
  auto builder = SimpleConsumer::NewBuilder();
  builder.Endpoint(o.addr).Group(o.group).Topic(o.topic).AwaitDuration(kReceiveWaitMs);
  if (lease_ms > 0) builder.LeaseDuration(lease_ms);
  return builder.Build();
}

Result<std::vector<SimpleConsumer>> NewConsumers(const BenchOptions& o, int64_t lease_ms) {
  std::vector<SimpleConsumer> consumers;
  consumers.reserve(o.consumers);
  for (int i = 0; i < o.consumers; ++i) {
    ASSIGN_OR_RETURN(SimpleConsumer c, NewConsumer(o, lease_ms));
    consumers.push_back(std::move(c));
  }
  return consumers;
}

// A failed Receive: counted; a lost connection is retried after a pause, not in a spin.
void ReceiveFailed(SideStats& stats, const Status& status) {
  stats.Failed(1, status);
  if (status.code() == Code::kUnavailable) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The producer options of a run of numbered messages: as given, or, for a preload, as fast as
// the broker takes them (batches of 64, 512 in flight).
BenchOptions NumberedSends(const BenchOptions& o, bool preload) {
  BenchOptions p = o;
  p.number_bodies = true;
  p.stamp_bodies = false;
  p.delay_ms = p.spread_ms = p.same_due_ms = 0;
  p.txn_end = BenchOptions::TxnEnd::kNone;
  p.blocking = false;
  if (preload) {
    p.producers = 1;
    p.batch = 64;
    p.inflight = 512;
    p.rate = 0;
  }
  return p;
}

// Sends messages 0 .. count - 1 (not measured).
Status Preload(const BenchOptions& o, uint64_t count) {
  RunControl control(count, 0, kPreloadLimitS);
  SideStats sent;
  RETURN_IF_ERROR(RunProducers(NumberedSends(o, /*preload=*/true), control, sent));
  const double secs = static_cast<double>(NowNanos() - control.start_ns()) / 1e9;
  if (sent.errors() > 0 || sent.total() != count) {
    return Internal("preload: " + std::to_string(sent.total()) + " of " + std::to_string(count) +
                    " messages sent (" + std::to_string(sent.errors()) +
                    " errors; first: " + sent.first_error() + ")");
  }
  std::printf("preloaded %llu messages into %s in %.3f s\n", static_cast<unsigned long long>(count),
              o.topic.c_str(), secs);
  std::fflush(stdout);
  return Status::Ok();
}

// Runs the progress printer on its own thread for the lifetime of this object.
class Progress {
 public:
  Progress(const RunControl& control, std::vector<ProgressPrinter::Side> sides)
      : printer_(control, std::move(sides)), thread_([this] { printer_.Run(); }) {}
  ~Progress() {
    printer_.Finish();
    thread_.join();
  }

 private:
  ProgressPrinter printer_;
  std::thread thread_;
};

double PerSecond(uint64_t n, int64_t nanos) {
  return nanos > 0 ? static_cast<double>(n) / (static_cast<double>(nanos) / 1e9) : 0;
}

}  // namespace

// ---- consume-fail -------------------------------------------------------------------------

Result<bool> RunConsumeFail(const BenchOptions& o, RunControl& control) {
  const uint64_t n = o.count;
  const int64_t nack_delay_ms = o.nack_delay_ms < 0 ? kFailNackDelayMs : o.nack_delay_ms;
  RETURN_IF_ERROR(Preload(o, n));
  ASSIGN_OR_RETURN(auto consumers, NewConsumers(o, o.lease_ms));

  SeqTracker seqs(n);
  SideStats firsts;               // first deliveries, settled (acked or nacked)
  SideStats acked;                // every ack, redeliveries included; errors of any call
  LatencyHistogram nack_latency;  // each Nack call, request to reply
  std::atomic<uint64_t> nacks{0}, redeliveries{0}, foreign{0};
  std::atomic<int64_t> all_acked_ns{0};
  const int64_t idle_stop_ns = MsToNanos(o.idle_stop_ms);
  const int64_t start_ns = NowNanos();
  {
    Progress progress(control, {{"first", &firsts}, {"acked", &acked}});
    RunThreads(o.consumers, "bench-cons", [&](int i) {
      SimpleConsumer& consumer = consumers[i];
      // Idle counts from the last message, or from when the last nack of this consumer is
      // due back (the group's back-off, if the nack has no delay, is not known here).
      int64_t idle_from = NowNanos();
      std::vector<ReceivedMessage> to_ack;
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
              const int64_t nack_start_ns = NowNanos();
              Status st = consumer.Nack(m, nack_delay_ms);
              nack_latency.Record(NowNanos() - nack_start_ns);
              if (st.ok()) {
                nacks.fetch_add(1, std::memory_order_relaxed);
              } else {
                acked.Failed(1, st);
              }
              idle_from = std::max(idle_from, NowNanos() + MsToNanos(nack_delay_ms));
              continue;
            }
          } else {
            redeliveries.fetch_add(1, std::memory_order_relaxed);
          }
          bytes += m.body().size();
          to_ack_seqs.push_back(seq);
          to_ack.push_back(std::move(m));
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
      nack_delay_ms > 0 ? (std::to_string(nack_delay_ms) + " ms").c_str() : "the group's",
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
      "receive_batch=%u size=%u\n",
      static_cast<unsigned long long>(firsts.total()), Fixed(first_ns / 1e9, 3).c_str(),
      first_msg_s, Fixed(done_ns / 1e9, 3).c_str(), total_msg_s,
      static_cast<unsigned long long>(nacks.load()),
      static_cast<unsigned long long>(redeliveries.load()),
      static_cast<unsigned long long>(tally.missing),
      static_cast<unsigned long long>(tally.acked_twice), static_cast<unsigned long long>(errors),
      Fixed(o.fail_rate, 4).c_str(), static_cast<long long>(nack_delay_ms),
      Ms(nack_latency.PercentileNanos(0.5)).c_str(), Ms(nack_latency.PercentileNanos(0.99)).c_str(),
      o.consumers, o.receive_batch, o.size);
  return errors == 0 && tally.missing == 0 && firsts.total() == n;
}

// ---- retry-lateness -----------------------------------------------------------------------

Result<bool> RunRetryLateness(const BenchOptions& o, RunControl& control) {
  const uint64_t n = o.count;
  const int64_t delay_ms = o.nack_delay_ms < 0 ? kLatenessNackDelayMs : o.nack_delay_ms;
  if (delay_ms <= 0) return InvalidArgument("retry-lateness needs --nack-delay-ms > 0");
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
            Status st = consumer.Nack(m, delay_ms);
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
  line +=
      " nacks=" + std::to_string(nacked.total()) + " nack_secs=" + Fixed(nack_ns / 1e9, 3) +
      " nack_msg_s=" + Fixed(nack_s, 0) + " early=" + std::to_string(early.load()) +
      " early_max_ms=" + Ms(-earliest.load()) + " unmeasured=" + std::to_string(unmeasured.load()) +
      " missing=" + std::to_string(tally.missing) + " errors=" + std::to_string(errors) +
      " nack_delay_ms=" + std::to_string(delay_ms) + " consumers=" + std::to_string(o.consumers) +
      " receive_batch=" + std::to_string(o.receive_batch) + " size=" + std::to_string(o.size);
  std::printf("%s\n", line.c_str());
  return errors == 0 && tally.missing == 0;
}

// ---- rebalance ----------------------------------------------------------------------------

namespace {

enum class MemberState { kRunning, kLeaving, kKilled, kStopped };

// One membership event and, per queue, the first delivery to a running consumer after it.
struct Event {
  Event(std::string n, uint32_t queues) : name(std::move(n)), queue_first_ns(queues) {}
  std::string name;   // join2 (the group's size after it), leave, kill
  int64_t at_ns = 0;  // set before the event is published
  int member = -1;    // who joined, left or was killed
  std::vector<std::atomic<int64_t>> queue_first_ns;
};

// One consumer of the rebalance run, on its own thread from its join to its end.
struct Member {
  explicit Member(uint32_t queues) : queue_first_ns(queues) {}
  std::thread thread;
  std::atomic<MemberState> state{MemberState::kRunning};
  std::atomic<int64_t> first_ns{0};  // its first delivery
  std::vector<std::atomic<int64_t>> queue_first_ns;
  std::atomic<uint64_t> window_deliveries{0};  // first deliveries in the share window
};

// Everything the rebalance consumers record; shared by their threads and the driver.
class RebalanceRecord {
 public:
  RebalanceRecord(uint64_t capacity, uint32_t queues, int members)
      : seqs(capacity), queues_(queues) {
    for (int i = 0; i < members; ++i) this->members.push_back(std::make_unique<Member>(queues));
  }

  // Publishes the next event (its fields set): deliveries from now on count for it.
  void Publish(Event* e) {
    std::lock_guard lock(events_mu_);
    events_.push_back(e);
  }

  // A batch received at received_ns by `member`. Only a running member's deliveries serve
  // queues (one leaving or killed is gone already).
  void Received(int member, const std::vector<ReceivedMessage>& batch, int64_t received_ns,
                bool running) {
    std::vector<Event*> events;
    if (running) {
      std::lock_guard lock(events_mu_);
      events = events_;
    }
    Member& m = *members[member];
    const bool in_window = received_ns >= window_from_ns.load(std::memory_order_relaxed) &&
                           received_ns < window_to_ns.load(std::memory_order_relaxed);
    for (const ReceivedMessage& msg : batch) {
      const int64_t seq = BodySequence(msg.body());
      if (!seqs.Contains(seq)) continue;
      seqs.Delivered(seq);
      if (msg.delivery_attempt() > 1) {
        NoteRedelivery(seq, received_ns);
        continue;
      }
      if (!running) continue;
      SetOnce(m.first_ns, received_ns);
      const int32_t q = msg.queue_id();
      if (q < 0 || static_cast<uint32_t>(q) >= queues_) continue;
      SetOnce(m.queue_first_ns[q], received_ns);
      for (Event* e : events) {
        if (received_ns >= e->at_ns) SetOnce(e->queue_first_ns[q], received_ns);
      }
      if (in_window) m.window_deliveries.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Messages the killed consumer received and will never settle (already Received).
  void Orphaned(const std::vector<ReceivedMessage>& batch) {
    std::lock_guard lock(orphans_mu_);
    for (const ReceivedMessage& msg : batch) {
      const int64_t seq = BodySequence(msg.body());
      if (seqs.Contains(seq)) orphans_.emplace(seq, 0);
    }
  }

  // Orphans, those delivered again, and the last of those redeliveries (0: none yet).
  void OrphanFigures(uint64_t* count, uint64_t* back, int64_t* last_ns) const {
    std::lock_guard lock(orphans_mu_);
    *count = orphans_.size();
    *back = 0;
    *last_ns = 0;
    for (const auto& [_, at] : orphans_) {
      if (at == 0) continue;
      ++*back;
      *last_ns = std::max(*last_ns, at);
    }
  }

  SeqTracker seqs;
  std::vector<std::unique_ptr<Member>> members;
  std::atomic<int64_t> window_from_ns{INT64_MAX}, window_to_ns{INT64_MAX};
  SideStats acked;  // acks; errors of any consumer call

 private:
  void NoteRedelivery(int64_t seq, int64_t received_ns) {
    std::lock_guard lock(orphans_mu_);
    auto it = orphans_.find(seq);
    if (it != orphans_.end() && it->second == 0) it->second = received_ns;
  }

  const uint32_t queues_;
  std::mutex events_mu_;
  std::vector<Event*> events_;  // GUARDED_BY(events_mu_)
  mutable std::mutex orphans_mu_;
  std::map<int64_t, int64_t> orphans_;  // GUARDED_BY(orphans_mu_): seq -> redelivered at
};

// One consumer's life: receive and ack until told to leave (finish the batch in hand, then
// go), to die (stop acking, receive until it holds --receive-batch messages, then disconnect
// without settling them: a consumer that crashed mid-processing), or to stop.
void RunMember(const BenchOptions& o, int64_t lease_ms, int index, RebalanceRecord& record,
               const RunControl& control) {
  Member& me = *record.members[index];
  auto consumer = NewConsumer(o, lease_ms);
  if (!consumer.ok()) {
    record.acked.Failed(1, consumer.status());
    return;
  }
  int64_t die_by_ns = 0;  // killed: when it dies at the latest
  uint32_t held = 0;      // killed: messages received since, never to be settled
  while (!control.stopped() && !control.Over(NowNanos())) {
    const MemberState state = me.state.load();
    if (state == MemberState::kLeaving || state == MemberState::kStopped) break;
    if (state == MemberState::kKilled) {
      if (die_by_ns == 0) die_by_ns = NowNanos() + kKillHoldLimitNs;
      if (held >= o.receive_batch || NowNanos() >= die_by_ns) break;  // no ack, no release
    }
    auto batch = consumer->Receive(o.receive_batch);
    const int64_t received_ns = NowNanos();
    if (!batch.ok()) {
      ReceiveFailed(record.acked, batch.status());
      continue;
    }
    if (batch->empty()) continue;
    const MemberState now_state = me.state.load();
    record.Received(index, *batch, received_ns, now_state == MemberState::kRunning);
    if (now_state == MemberState::kKilled) {
      record.Orphaned(*batch);
      held += batch->size();
      continue;
    }
    Status st = consumer->Ack(*batch);
    if (!st.ok()) {
      record.acked.Failed(batch->size(), st);
      continue;
    }
    uint64_t bytes = 0;
    for (const ReceivedMessage& m : *batch) {
      bytes += m.body().size();
      const int64_t seq = BodySequence(m.body());
      if (record.seqs.Contains(seq)) record.seqs.Acked(seq);
    }
    record.acked.Completed(batch->size(), bytes, true, NowNanos());
  }
  consumer->Shutdown();
}

// "-1" when some queue was not served after the event; else the last queue's first delivery
// after it, in ms from the event.
std::string AllServedMs(const std::vector<std::atomic<int64_t>>& queue_first_ns, int64_t from_ns) {
  int64_t last = 0;
  for (const auto& q : queue_first_ns) {
    int64_t at = q.load();
    if (at == 0) return "-1";
    last = std::max(last, at);
  }
  return Fixed(NanosToMs(last - from_ns), 1);
}

}  // namespace

Result<bool> RunRebalance(const BenchOptions& o, RunControl& control) {
  if (o.rate <= 0) return InvalidArgument("rebalance needs --rate (the producer's pace)");
  if (o.consumers < 3) {
    return InvalidArgument(
        "rebalance needs --consumers >= 3: the peak, then one leaves and one "
        "is killed");
  }
  const int64_t lease_ms = o.lease_ms > 0 ? o.lease_ms : kRebalanceLeaseMs;
  const int64_t phase_ns = MsToNanos(o.phase_ms);
  uint32_t queues = 0;
  {
    ASSIGN_OR_RETURN(Admin admin, Admin::NewBuilder().Endpoint(o.addr).Build());
    ASSIGN_OR_RETURN(TopicInfo info, admin.DescribeTopic(o.topic));
    queues = info.queue_count;
  }
  // Timeline, one phase apart: consumer 0 starts with the producer; joins up to the peak;
  // one leaves; one is killed; then a phase plus the lease for its messages to come back.
  const int joins = o.consumers - 1;
  const int64_t produce_ns = phase_ns * (joins + 3) + MsToNanos(lease_ms);
  const auto capacity =
      static_cast<uint64_t>(o.rate * (static_cast<double>(produce_ns) / 1e9) * 1.05) + 1024;
  RebalanceRecord record(capacity, queues, o.consumers);
  std::deque<Event> events;

  BenchOptions sends = NumberedSends(o, /*preload=*/false);
  RunControl produce_control(capacity, 0, static_cast<double>(produce_ns) / 1e9);
  SideStats produced;
  Status produce_status;
  std::printf(
      "rebalance: %u queues, producer at %.0f msg/s, lease %lld ms, a membership event "
      "every %lld ms (peak %d consumers)\n",
      queues, o.rate, static_cast<long long>(lease_ms), static_cast<long long>(o.phase_ms),
      o.consumers);
  std::fflush(stdout);
  const int64_t start_ns = NowNanos();
  {
    Progress progress(control, {{"produce", &produced}, {"acked", &record.acked}});
    std::thread producer([&] {
      SetThreadName("bench-prod");
      produce_status = RunProducers(sends, produce_control, produced);
    });
    auto start_member = [&](int i) {
      record.members[i]->thread = std::thread([&, i] {
        SetThreadName("bench-cons");
        RunMember(o, lease_ms, i, record, control);
      });
    };
    auto publish = [&](std::string name, int member) {
      Event& e = events.emplace_back(std::move(name), queues);
      e.at_ns = NowNanos();
      e.member = member;
      record.Publish(&e);
      std::printf("  [%.1fs] %s (consumer %d)\n", (e.at_ns - start_ns) / 1e9, e.name.c_str(),
                  member);
      std::fflush(stdout);
    };
    start_member(0);
    int64_t next_ns = start_ns + phase_ns;
    for (int i = 1; i <= joins; ++i) {
      SleepUntil(next_ns, control);
      publish("join" + std::to_string(i + 1), i);
      start_member(i);
      next_ns += phase_ns;
    }
    // Shares with every consumer running: from a fifth of a phase after the last join to the
    // leave.
    record.window_from_ns = next_ns - phase_ns + phase_ns / 5;
    SleepUntil(next_ns, control);
    record.window_to_ns = NowNanos();
    const int leaver = o.consumers - 1, victim = o.consumers - 2;
    record.members[leaver]->state = MemberState::kLeaving;
    publish("leave", leaver);
    next_ns += phase_ns;
    SleepUntil(next_ns, control);
    record.members[victim]->state = MemberState::kKilled;
    publish("kill", victim);
    if (control.stopped()) produce_control.Stop();
    producer.join();  // at its deadline: a phase plus the lease after the kill
    // The survivors drain what was sent, within a limit.
    const uint64_t sent = produced.total();
    const int64_t drain_until = NowNanos() + kDrainLimitNs;
    while (!control.stopped() && record.seqs.acked_distinct() < sent && NowNanos() < drain_until &&
           !control.Over(NowNanos())) {
      std::this_thread::sleep_for(kPollInterval);
    }
    for (auto& m : record.members) {
      if (m->state.load() == MemberState::kRunning) m->state = MemberState::kStopped;
    }
    for (auto& m : record.members) {
      if (m->thread.joinable()) m->thread.join();
    }
  }
  RETURN_IF_ERROR(produce_status);

  const uint64_t sent = produced.total();
  const SeqTracker::Tally tally = record.seqs.Count(sent);
  uint64_t orphans = 0, orphans_back = 0;
  int64_t orphans_back_ns = 0;
  record.OrphanFigures(&orphans, &orphans_back, &orphans_back_ns);
  const uint64_t errors = produced.errors() + record.acked.errors();
  std::string fields;
  std::printf(
      "  sent %llu (%llu send errors), %llu missing (never acked), %llu redelivered "
      "(%llu of them held by the killed consumer), %llu acked twice\n",
      static_cast<unsigned long long>(sent), static_cast<unsigned long long>(produced.errors()),
      static_cast<unsigned long long>(tally.missing),
      static_cast<unsigned long long>(tally.redelivered),
      static_cast<unsigned long long>(orphans_back),
      static_cast<unsigned long long>(tally.acked_twice));
  for (const Event& e : events) {
    const std::string served = AllServedMs(e.queue_first_ns, e.at_ns);
    std::string line = "  " + e.name + ": every queue served again after " + served + " ms";
    fields += " " + e.name + "_served_ms=" + served;
    if (e.name.rfind("join", 0) == 0) {
      const Member& m = *record.members[e.member];
      const int64_t first = m.first_ns.load();
      const std::string first_ms = first == 0 ? "-1" : Fixed(NanosToMs(first - e.at_ns), 1);
      const std::string all_ms = AllServedMs(m.queue_first_ns, e.at_ns);
      line += "; the new consumer's first message after " + first_ms +
              " ms, a message from every queue after " + all_ms + " ms";
      fields += " " + e.name + "_first_ms=" + first_ms + " " + e.name + "_allq_ms=" + all_ms;
    }
    if (e.name == "kill") {
      const std::string back_ms = orphans_back == orphans && orphans > 0
                                      ? Fixed(NanosToMs(orphans_back_ns - e.at_ns), 1)
                                      : "-1";
      line += "; " + std::to_string(orphans) + " messages held unsettled, " +
              std::to_string(orphans_back) + " delivered again, the last after " + back_ms + " ms";
      fields += " kill_orphans=" + std::to_string(orphans) +
                " kill_back=" + std::to_string(orphans_back) + " kill_redeliver_ms=" + back_ms;
    }
    std::printf("%s\n", line.c_str());
  }
  uint64_t window_total = 0;
  for (const auto& m : record.members) window_total += m->window_deliveries.load();
  double share_min = 1, share_max = 0;
  std::string shares;
  for (const auto& m : record.members) {
    const double share =
        window_total > 0 ? static_cast<double>(m->window_deliveries.load()) / window_total : 0;
    share_min = std::min(share_min, share);
    share_max = std::max(share_max, share);
    shares += (shares.empty() ? "" : ",") + Fixed(share, 3);
  }
  std::printf("  shares with %d consumers (%llu first deliveries): %s (even: %.3f)\n", o.consumers,
              static_cast<unsigned long long>(window_total), shares.c_str(), 1.0 / o.consumers);
  if (errors > 0) {
    std::printf(
        "  first error: %s\n",
        (produced.errors() > 0 ? produced.first_error() : record.acked.first_error()).c_str());
  }
  std::printf(
      "RESULT mode=rebalance side=consume sent=%llu missing=%llu redelivered=%llu "
      "acked_twice=%llu errors=%llu%s share_min=%s share_max=%s shares=%s "
      "consumers=%d rate=%.0f lease_ms=%lld phase_ms=%lld queues=%u\n",
      static_cast<unsigned long long>(sent), static_cast<unsigned long long>(tally.missing),
      static_cast<unsigned long long>(tally.redelivered),
      static_cast<unsigned long long>(tally.acked_twice), static_cast<unsigned long long>(errors),
      fields.c_str(), Fixed(share_min, 3).c_str(), Fixed(share_max, 3).c_str(), shares.c_str(),
      o.consumers, o.rate, static_cast<long long>(lease_ms), static_cast<long long>(o.phase_ms),
      queues);
  return errors == 0 && tally.missing == 0;
}

}  // namespace tidemq::bench
