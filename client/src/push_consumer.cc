#include "tidemq/push_consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "client/src/client_core.h"
#include "client/src/cluster_consumer.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/mutex.h"

namespace tidemq {
namespace {

constexpr uint32_t kMaxBatch = 32;
constexpr int64_t kMinErrorBackoffMs = 100;
constexpr int64_t kMaxErrorBackoffMs = 5000;
constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxProcessingLimitMs = 24 * 3600 * 1000LL;

Status Moved() { return Status(Code::kFailedPrecondition, "consumer was moved from"); }

// A lease is renewed when 2/3 of it has run: the remaining third absorbs the round trip and a
// late wake-up of the lease thread.
int64_t RenewAfterMs(int64_t lease_ms) { return lease_ms * 2 / 3; }

}  // namespace

// Threads: one receiver ("tidemq-recv"), N workers ("tidemq-consume") and one lease renewer
// ("tidemq-lease"); the client's io threads complete the long polls (OnReceived) and the
// renewals. In a cluster one receive asks every broker group holding queues of the topic
// (client/src/cluster_consumer.h: a long poll per group, so a group that is down holds no
// other up), and each settlement goes to its message's group by the receipt handle. The io
// threads are joined (cluster_->Shutdown) before this object goes, so callbacks may use
// `this`. Every message from its receipt to its settlement is a Held entry; its
// receipt handle changes with each renewal, so whoever settles it (a worker, or Shutdown for one
// not started) takes the entry out with Finish(), which waits for a renewal in flight.
class PushConsumer::Impl {
 public:
  Impl(std::unique_ptr<client::ClusterClient> cluster, client::ConsumerSpec spec,
       MessageListener listener, int threads, int max_inflight, int64_t await_ms,
       int64_t max_processing_ms)
      : cluster_(std::move(cluster)),
        consumer_(cluster_.get(), spec),
        spec_(std::move(spec)),
        listener_(std::move(listener)),
        threads_(threads),
        max_inflight_(max_inflight),
        await_ms_(await_ms),
        max_processing_ms_(max_processing_ms) {}

  ~Impl() {
    Shutdown();
    consumer_.Shutdown();
    cluster_->Shutdown();
  }

  Status Start() {
    MutexLock lock(mu_);
    if (started_) return Status(Code::kFailedPrecondition, "push consumer already started");
    started_ = true;
    for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
    lease_thread_ = std::thread([this] { LeaseLoop(); });
    receiver_ = std::thread([this] { ReceiveLoop(); });
    return Status::Ok();
  }

  void Shutdown() {
    {
      MutexLock lock(mu_);
      if (!started_ || stopping_) return;
      stopping_ = true;
    }
    work_cv_.notify_all();
    // The receiver does not wait for its long poll; OnReceived releases what it brings.
    if (receiver_.joinable()) receiver_.join();
    ReleaseQueued();  // workers start nothing new once stopping_ is set
    consumer_.Shutdown();  // what a cluster receive buffered goes back too
    for (auto& t : workers_) {
      if (t.joinable()) t.join();
    }
    {
      MutexLock lock(mu_);
      lease_stop_ = true;
    }
    lease_cv_.notify_all();
    if (lease_thread_.joinable()) lease_thread_.join();
  }

  std::unique_ptr<client::ClusterClient> cluster_;
  client::ClusterConsumer consumer_;
  client::ConsumerSpec spec_;
  MessageListener listener_;
  int threads_;
  int max_inflight_;
  int64_t await_ms_;
  int64_t max_processing_ms_;
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> failed_{0};
  std::atomic<uint64_t> released_{0};
  std::atomic<uint64_t> renewals_{0};

 private:
  struct Held {
    std::string handle;      // the newest receipt handle
    int64_t received_ms;     // monotonic
    int64_t renew_at_ms;     // monotonic; kNever once renewal stopped
    bool renewing = false;   // a CHANGE_LEASE is in flight
    bool finishing = false;  // being settled: no further renewal
  };

  int64_t NowMs() const { return clock_->MonotonicMs(); }

  void ReceiveLoop() {
    SetThreadName("tidemq-recv");
    int64_t backoff_ms = 0;
    while (true) {
      uint32_t want;
      {
        MutexLock lock(mu_);
        work_cv_.wait(
            lock, [this]() REQUIRES(mu_) { return stopping_ || static_cast<int>(held_.size()) < max_inflight_; });
        if (stopping_) return;
        want = static_cast<uint32_t>(
            std::min<int>(kMaxBatch, max_inflight_ - static_cast<int>(held_.size())));
        receiving_ = true;
      }
      consumer_.ReceiveAsync(want, await_ms_, [this](Result<std::vector<ReceivedMessage>> r) {
        OnReceived(std::move(r));
      });
      Status status;
      {
        MutexLock lock(mu_);
        work_cv_.wait(lock, [this]() REQUIRES(mu_) { return stopping_ || !receiving_; });
        // Stopping: the long poll stays open; whatever it brings is released.
        if (stopping_) return;
        status = receive_status_;
      }
      if (status.ok()) {
        backoff_ms = 0;
        continue;
      }
      if (status.code() == Code::kCancelled) return;  // the connection was closed
      backoff_ms =
          backoff_ms == 0 ? kMinErrorBackoffMs : std::min(backoff_ms * 2, kMaxErrorBackoffMs);
      spdlog::warn("push consumer {}: receive failed: {}; retrying in {} ms", spec_.group,
                   status.ToString(), backoff_ms);
      MutexLock lock(mu_);
      work_cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [this]() REQUIRES(mu_) { return stopping_; });
    }
  }

  // A long poll's answer, on the io thread (or inline when the connection is closed). Once
  // Shutdown has begun nobody will process what it brings, so it is released at once: the
  // broker may hand a long poll the very messages Shutdown has just released.
  void OnReceived(Result<std::vector<ReceivedMessage>> r) {
    std::vector<std::string> to_release;
    {
      MutexLock lock(mu_);
      receiving_ = false;
      receive_status_ = r.ok() ? Status::Ok() : r.status();
      if (r.ok() && stopping_) {
        for (auto& m : *r) to_release.push_back(m.receipt_handle());
      } else if (r.ok()) {
        // The broker started the leases a little before this; the renewal margin covers that.
        const int64_t now = NowMs();
        for (auto& m : *r) {
          uint64_t held_id = ++next_held_id_;
          held_.emplace(held_id, Held{m.receipt_handle(), now, RenewAt(now, now)});
          queue_.emplace_back(held_id, std::move(m));
        }
      }
      work_cv_.notify_all();
      lease_cv_.notify_all();
    }
    if (to_release.empty()) return;
    std::vector<std::string_view> views(to_release.begin(), to_release.end());
    const size_t n = views.size();
    consumer_.ReleaseAsync(views, [this, n](Status st) {
      if (st.ok()) {
        released_ += n;
      } else {
        spdlog::warn(
            "push consumer {}: releasing {} message(s) received while stopping failed: "
            "{}",
            spec_.group, n, st.ToString());
      }
    });
  }

  void WorkerLoop() {
    SetThreadName("tidemq-consume");
    while (true) {
      uint64_t held_id;
      ReceivedMessage message;
      {
        MutexLock lock(mu_);
        work_cv_.wait(lock, [this]() REQUIRES(mu_) { return stopping_ || !queue_.empty(); });
        if (stopping_) return;  // Shutdown releases what is still queued
        held_id = queue_.front().first;
        message = std::move(queue_.front().second);
        queue_.pop_front();
      }
      Handle(held_id, message);
      work_cv_.notify_all();  // room for the receiver
    }
  }

  void Handle(uint64_t held_id, const ReceivedMessage& message) {
    ConsumeResult result = ConsumeResult::kRetryLater;  // also what an exception means
    try {
      result = listener_(message);
    } catch (const std::exception& e) {
      spdlog::warn("listener threw on message {}: {}", message.message_id(), e.what());
    } catch (...) {
      spdlog::warn("listener threw on message {}", message.message_id());
    }
    const std::string handle = Finish(held_id);
    Status st;
    if (result.success()) {
      consumed_++;
      st = consumer_.Ack({handle});
    } else {
      failed_++;
      st = consumer_.Nack({handle}, result.retry_delay().count());
    }
    if (!st.ok()) {
      // The lease runs out and the broker redelivers: at-least-once holds.
      spdlog::warn("settling message {} failed: {}", message.message_id(), st.ToString());
    }
  }

  // Takes a message out of the renewal set and returns its newest receipt handle.
  std::string Finish(uint64_t held_id) {
    MutexLock lock(mu_);
    auto it = held_.find(held_id);
    Held& h = it->second;  // references into an unordered_map survive rehashing
    h.finishing = true;
    renewed_cv_.wait(lock, [&h] { return !h.renewing; });
    std::string handle = std::move(h.handle);
    held_.erase(held_id);
    return handle;
  }

  void ReleaseQueued() {
    std::vector<uint64_t> ids;
    {
      MutexLock lock(mu_);
      for (const auto& [id, _] : queue_) ids.push_back(id);
      queue_.clear();
    }
    if (ids.empty()) return;
    std::vector<std::string> handles;
    handles.reserve(ids.size());
    for (uint64_t id : ids) handles.push_back(Finish(id));
    std::vector<std::string_view> views(handles.begin(), handles.end());
    Status st = consumer_.Release(views);
    if (st.ok()) {
      released_ += handles.size();
    } else {
      // They come back when their leases lapse, counted as a failed attempt.
      spdlog::warn("push consumer {}: releasing {} unstarted message(s) failed: {}", spec_.group,
                   handles.size(), st.ToString());
    }
  }

  // `at`, or kNever when the message will by then have been held for max_processing_ms_.
  int64_t Capped(int64_t received_ms, int64_t at) const {
    return at - received_ms < max_processing_ms_ ? at : kNever;
  }
  // When a lease that started (or was last extended) at lease_start_ms is next extended.
  int64_t RenewAt(int64_t received_ms, int64_t lease_start_ms) const {
    return Capped(received_ms, lease_start_ms + RenewAfterMs(spec_.lease_ms));
  }

  void LeaseLoop() {
    SetThreadName("tidemq-lease");
    MutexLock lock(mu_);
    while (true) {
      const int64_t now = NowMs();
      int64_t next = kNever;
      std::vector<std::pair<uint64_t, std::string>> due;
      for (auto& [id, h] : held_) {
        if (h.renewing || h.finishing) continue;
        if (h.renew_at_ms <= now) {
          h.renewing = true;
          due.emplace_back(id, h.handle);
        } else {
          next = std::min(next, h.renew_at_ms);
        }
      }
      if (!due.empty()) {
        lock.unlock();
        for (auto& [id, handle] : due) Renew(id, handle, now);
        lock.lock();
        continue;
      }
      if (lease_stop_) return;
      if (next == kNever) {
        lease_cv_.wait(lock);
      } else {
        lease_cv_.wait_for(lock, std::chrono::milliseconds(next - now));
      }
    }
  }

  void Renew(uint64_t held_id, const std::string& handle, int64_t sent_ms) {
    consumer_.ChangeLeaseAsync(
        handle, spec_.lease_ms, [this, held_id, sent_ms](Result<std::string> r) {
          MutexLock lock(mu_);
          Held& h = held_.at(held_id);  // Finish waits for this, so it is still there
          h.renewing = false;
          if (r.ok()) {
            h.handle = std::move(*r);
            h.renew_at_ms = RenewAt(h.received_ms, sent_ms);
            renewals_++;
          } else if (client::IsRetryable(r.status().code())) {
            // The old lease may still hold: try again soon, while it lasts.
            h.renew_at_ms =
                Capped(h.received_ms, NowMs() + std::max<int64_t>(50, spec_.lease_ms / 10));
          } else {
            h.renew_at_ms = kNever;  // e.g. the lease already lapsed: the broker redelivers
            spdlog::warn("push consumer {}: extending the lease of a message failed: {}",
                         spec_.group, r.status().ToString());
          }
          renewed_cv_.notify_all();
          lease_cv_.notify_all();
        });
  }

  Clock* clock_ = SystemClock::Get();
  Mutex mu_;
  CondVar work_cv_;     // receiver and workers: queue, room, stopping_
  CondVar lease_cv_;    // lease thread: new messages, renewal results
  CondVar renewed_cv_;  // Finish: a renewal completed
  bool started_ GUARDED_BY(mu_) = false;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool lease_stop_ GUARDED_BY(mu_) = false;
  bool receiving_ GUARDED_BY(mu_) = false;  // a long poll is open
  Status receive_status_ GUARDED_BY(mu_);  // how the last one ended
  uint64_t next_held_id_ GUARDED_BY(mu_) = 0;
  // Received, not yet settled: the in-flight count MaxInflight bounds.
  std::unordered_map<uint64_t, Held> held_ GUARDED_BY(mu_);
  std::deque<std::pair<uint64_t, ReceivedMessage>> queue_ GUARDED_BY(mu_);  // not started
  std::thread receiver_;
  std::thread lease_thread_;
  std::vector<std::thread> workers_;
};

PushConsumer::Builder& PushConsumer::Builder::Listener(MessageListener listener) {
  listener_ = std::move(listener);
  return *this;
}
PushConsumer::Builder& PushConsumer::Builder::ConsumerThreads(int threads) {
  threads_ = threads;
  return *this;
}
PushConsumer::Builder& PushConsumer::Builder::MaxInflight(int messages) {
  max_inflight_ = messages;
  return *this;
}
PushConsumer::Builder& PushConsumer::Builder::MaxProcessingTime(int64_t ms) {
  max_processing_ms_ = ms;
  return *this;
}

Result<PushConsumer> PushConsumer::Builder::Build() const {
  client::ConsumerSpec spec{group_, topic_, tag_filter_, client_id_, lease_ms_};
  if (!listener_) return InvalidArgument("push consumer needs a Listener");
  if (threads_ < 1 || threads_ > 1024) {
    return InvalidArgument("consumer threads must be 1..1024, not " + std::to_string(threads_));
  }
  if (max_inflight_ < 1 || max_inflight_ > 65536) {
    return InvalidArgument("max inflight must be 1..65536, not " + std::to_string(max_inflight_));
  }
  if (max_processing_ms_ < 0 || max_processing_ms_ > kMaxProcessingLimitMs) {
    return InvalidArgument(
        "max processing time must be between 0 (no lease renewal) and 24 h, "
        "not " +
        std::to_string(max_processing_ms_) + " ms");
  }
  ASSIGN_OR_RETURN(auto cluster, client::ConnectConsumer(&spec, endpoint_, request_timeout_ms_,
                                                         await_ms_, failover_deadline_ms_));
  return PushConsumer(std::make_unique<Impl>(std::move(cluster), std::move(spec), listener_,
                                             threads_, max_inflight_, await_ms_,
                                             max_processing_ms_));
}

PushConsumer::PushConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PushConsumer::PushConsumer(PushConsumer&&) noexcept = default;
PushConsumer& PushConsumer::operator=(PushConsumer&&) noexcept = default;
PushConsumer::~PushConsumer() = default;

Status PushConsumer::Start() {
  if (!impl_) return Moved();
  return impl_->Start();
}

void PushConsumer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

uint64_t PushConsumer::consumed() const { return impl_ ? impl_->consumed_.load() : 0; }
uint64_t PushConsumer::failed() const { return impl_ ? impl_->failed_.load() : 0; }
uint64_t PushConsumer::released() const { return impl_ ? impl_->released_.load() : 0; }
uint64_t PushConsumer::lease_renewals() const { return impl_ ? impl_->renewals_.load() : 0; }

}  // namespace tidemq
