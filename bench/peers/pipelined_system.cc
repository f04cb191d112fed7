// A peer as a System: the load shapes over a PeerClient's pipes and drains, written once for
// every peer. Sends keep up to `window` outstanding and match acknowledgements to sends in
// order (every peer acknowledges one connection's sends in the order they were made).
#include <algorithm>
#include <cstring>
#include <deque>
#include <thread>

#include "bench/peers/system.h"
#include "common/logging.h"

namespace tidemq::bench::peers {

int64_t BodyStamp(std::string_view body) {
  int64_t stamp = 0;
  if (body.size() >= sizeof(stamp)) std::memcpy(&stamp, body.data(), sizeof(stamp));
  return stamp;
}

namespace {

// Fill keeps this many sends outstanding, as the pipelined shape does.
constexpr int kFillWindow = 256;
// A receiver's wait for the first message of a batch: short, so its limits are checked often.
constexpr int64_t kTakeWaitMs = 100;
constexpr double kUnboundedS = 600;

std::string NewBody() {
  std::string body(kBodyBytes, '\0');
  for (size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>('a' + i % 26);
  return body;
}

// Sends until `control` says the run is over, at most `window` outstanding; then waits for
// the acknowledgements still due. delay_ns > 0: each body is stamped with its due time (send
// + delay_ns). Latency: from the send to its acknowledgement.
Status RunPipe(Pipe& pipe, int window, int64_t delay_ns, RunControl& control, SideStats& stats) {
  struct Pending {
    int64_t sent_ns;
    bool measured;
  };
  std::deque<Pending> pending;
  std::string body = NewBody();
  uint64_t seq = 0;
  bool over = false;
  while (true) {
    while (!over && pending.size() < static_cast<size_t>(window)) {
      bool measured = false;
      const int64_t now = NowNanos();
      if (control.Claim(1, now, &measured) == 0) {
        over = true;
        break;
      }
      const int64_t stamp = delay_ns > 0 ? WallNanos() + delay_ns : 0;
      std::memcpy(body.data(), &stamp, sizeof(stamp));
      std::memcpy(body.data() + sizeof(stamp), &seq, sizeof(seq));
      ++seq;
      RETURN_IF_ERROR(pipe.Send(body));
      pending.push_back({now, measured});
    }
    if (pending.empty()) return Status::Ok();
    RETURN_IF_ERROR(pipe.Flush());
    ASSIGN_OR_RETURN(uint32_t acked, pipe.WaitAcks());
    const int64_t now = NowNanos();
    if (acked > pending.size()) return Internal("more acknowledgements than sends outstanding");
    for (uint32_t i = 0; i < acked; ++i) {
      const Pending p = pending.front();
      pending.pop_front();
      stats.Completed(1, kBodyBytes, p.measured, now);
      if (p.measured) stats.latency().Record(now - p.sent_ns);
    }
  }
}

// Takes messages in batches of `batch` until `limits` says stop (see ConsumeLimits: the
// count, the drain deadline, or kIdleStopMs without a message once the sends are done). With
// `lateness`, records receive time - the body's stamp (its due time) as latency.
Status RunDrain(Drain& drain, uint32_t batch, bool lateness, const ConsumeLimits& limits,
                SideStats& stats) {
  std::vector<int64_t> stamps;
  stamps.reserve(batch);
  int64_t last_message_ns = NowNanos();
  while (true) {
    int64_t now = NowNanos();
    const uint64_t limit = limits.count.load();
    const uint64_t done = stats.total();
    if (done >= limit || now >= limits.drain_deadline_ns.load()) break;
    if (limits.producers_done.load() &&
        now - std::max(last_message_ns, limits.idle_from_ns.load()) >= kIdleStopMs * 1'000'000) {
      break;
    }
    stamps.clear();
    int64_t received_wall_ns = 0;
    const auto wanted = static_cast<uint32_t>(std::min<uint64_t>(batch, limit - done));
    ASSIGN_OR_RETURN(uint32_t n, drain.Take(wanted, kTakeWaitMs, &stamps, &received_wall_ns));
    if (n == 0) continue;
    now = NowNanos();
    last_message_ns = now;
    if (lateness) {
      for (int64_t due : stamps) stats.latency().Record(received_wall_ns - due);
    }
    stats.Completed(n, uint64_t{n} * kBodyBytes, true, now);
  }
  return Status::Ok();
}

class PipelinedSystem : public System {
 public:
  PipelinedSystem(std::unique_ptr<PeerClient> client, const PeerOptions& options)
      : client_(std::move(client)), options_(options) {}

  Status Publish(int window, RunControl& control, SideStats& stats) override {
    RETURN_IF_ERROR(Prepare());
    ASSIGN_OR_RETURN(std::unique_ptr<Pipe> pipe, client_->OpenPipe(false, window));
    return RunPipe(*pipe, window, 0, control, stats);
  }

  Status Fill(uint64_t count) override {
    RETURN_IF_ERROR(Prepare());
    ASSIGN_OR_RETURN(std::unique_ptr<Pipe> pipe, client_->OpenPipe(false, kFillWindow));
    RunControl control(count, 0, kUnboundedS);
    SideStats stats;
    RETURN_IF_ERROR(RunPipe(*pipe, kFillWindow, 0, control, stats));
    if (stats.total() < count) return Internal("fill stopped at " + std::to_string(stats.total()));
    return Status::Ok();
  }

  Status Consume(uint64_t count, uint32_t batch, SideStats& stats) override {
    RETURN_IF_ERROR(Prepare());
    if (drain_ == nullptr) {
      ASSIGN_OR_RETURN(drain_, client_->OpenDrain(false));
    }
    ConsumeLimits limits;
    limits.count = stats.total() + count;
    limits.producers_done = true;
    return RunDrain(*drain_, batch, false, limits, stats);
  }

  Status Schedule(int window, uint32_t batch, RunControl& control, SideStats& sent,
                  SideStats& delivered) override {
    if (ScheduleMethod().empty()) return Status(Code::kUnsupported, "no scheduled messages");
    RETURN_IF_ERROR(client_->Prepare(true));
    ASSIGN_OR_RETURN(std::unique_ptr<Drain> drain, client_->OpenDrain(true));
    ASSIGN_OR_RETURN(std::unique_ptr<Pipe> pipe, client_->OpenPipe(true, window));
    RETURN_IF_ERROR(client_->StartScheduler());
    ConsumeLimits limits;
    Status received;
    std::thread receiver([&] {
      SetThreadName("peer-recv");
      received = RunDrain(*drain, batch, true, limits, delivered);
    });
    const int64_t delay_ns = options_.delay_ms * 1'000'000;
    Status produced = RunPipe(*pipe, window, delay_ns, control, sent);
    const int64_t last_due_ns = NowNanos() + delay_ns;
    limits.count = sent.total();
    limits.idle_from_ns = last_due_ns;
    limits.drain_deadline_ns = last_due_ns + kDrainLimitMs * 1'000'000;
    limits.producers_done = true;
    receiver.join();
    Status stopped = client_->StopScheduler();
    RETURN_IF_ERROR(produced);
    RETURN_IF_ERROR(received);
    return stopped;
  }

  std::string ScheduleMethod() const override { return client_->ScheduleMethod(); }

 private:
  Status Prepare() {
    if (prepared_) return Status::Ok();
    RETURN_IF_ERROR(client_->Prepare(false));
    prepared_ = true;
    return Status::Ok();
  }

  const std::unique_ptr<PeerClient> client_;
  const PeerOptions options_;
  bool prepared_ = false;
  std::unique_ptr<Drain> drain_;  // kept across Consume calls: warm-up, then measured
};

}  // namespace

std::unique_ptr<System> NewPipelinedSystem(std::unique_ptr<PeerClient> client,
                                           const PeerOptions& options) {
  return std::make_unique<PipelinedSystem>(std::move(client), options);
}

}  // namespace tidemq::bench::peers
