// rebalance (bench/retry_workload.h).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/retry_support.h"
#include "bench/retry_workload.h"
#include "tidemq/admin.h"

namespace tidemq::bench {

namespace {

constexpr int64_t kRebalanceLeaseMs = 2000;  // when --lease-ms is not given
// After the producer stops, how long the consumers may take to ack the rest.
constexpr int64_t kDrainLimitNs = 30'000'000'000;
// The killed consumer's last receives: how long it may take to fill its hands (a batch).
constexpr int64_t kKillHoldLimitNs = 1'000'000'000;
constexpr auto kPollInterval = std::chrono::milliseconds(20);

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
    if (!shares.empty()) shares += ",";
    shares += Fixed(share, 3);
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
