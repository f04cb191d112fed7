#include "tidemq/push_consumer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "client/src/client_core.h"
#include "common/logging.h"

namespace tidemq {
namespace {

constexpr uint32_t kMaxBatch = 32;
constexpr int64_t kMinErrorBackoffMs = 100;
constexpr int64_t kMaxErrorBackoffMs = 5000;

Status Moved() { return Status(Code::kFailedPrecondition, "consumer was moved from"); }

}  // namespace

// Threads: one receiver ("tidemq-recv") and N workers ("tidemq-consume"); the connection's
// io thread only completes the receive futures.
class PushConsumer::Impl {
 public:
  Impl(std::unique_ptr<client::ClientCore> core, client::ConsumerSpec spec,
       MessageListener listener, int threads, int max_inflight, int64_t await_ms)
      : core_(std::move(core)),
        spec_(std::move(spec)),
        listener_(std::move(listener)),
        threads_(threads),
        max_inflight_(max_inflight),
        await_ms_(await_ms) {}

  ~Impl() {
    Shutdown();
    core_->Shutdown();
  }

  Status Start() {
    std::lock_guard lock(mu_);
    if (started_) return Status(Code::kFailedPrecondition, "push consumer already started");
    started_ = true;
    for (int i = 0; i < threads_; ++i) workers_.emplace_back([this] { WorkerLoop(); });
    receiver_ = std::thread([this] { ReceiveLoop(); });
    return Status::Ok();
  }

  void Shutdown() {
    uint64_t receive_id = 0;
    {
      std::lock_guard lock(mu_);
      if (!started_ || stopping_) {
        if (!started_) return;
      }
      stopping_ = true;
      receive_id = receive_id_;
    }
    cv_.notify_all();
    if (receive_id != 0) {
      core_->connection().Cancel(receive_id, Status(Code::kCancelled, "consumer shutting down"));
    }
    if (receiver_.joinable()) receiver_.join();
    {
      std::lock_guard lock(mu_);
      receiver_done_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) {
      if (t.joinable()) t.join();
    }
  }

  std::unique_ptr<client::ClientCore> core_;
  client::ConsumerSpec spec_;
  MessageListener listener_;
  int threads_;
  int max_inflight_;
  int64_t await_ms_;
  std::atomic<uint64_t> consumed_{0};
  std::atomic<uint64_t> failed_{0};

 private:
  void ReceiveLoop() {
    SetThreadName("tidemq-recv");
    int64_t backoff_ms = 0;
    while (true) {
      uint32_t want;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || inflight_ < max_inflight_; });
        if (stopping_) return;
        want = static_cast<uint32_t>(std::min<int>(kMaxBatch, max_inflight_ - inflight_));
      }
      std::promise<Result<std::vector<ReceivedMessage>>> promise;
      auto future = promise.get_future();
      uint64_t id = client::ReceiveAsync(
          *core_, spec_, want, await_ms_,
          [&promise](Result<std::vector<ReceivedMessage>> r) { promise.set_value(std::move(r)); });
      bool cancel_now;
      {
        std::lock_guard lock(mu_);
        receive_id_ = id;
        cancel_now = stopping_;
      }
      if (cancel_now) core_->connection().Cancel(id, Status(Code::kCancelled, "shutting down"));
      Result<std::vector<ReceivedMessage>> r = future.get();
      {
        std::lock_guard lock(mu_);
        receive_id_ = 0;
      }
      if (!r.ok()) {
        if (r.status().code() == Code::kCancelled) return;
        backoff_ms =
            backoff_ms == 0 ? kMinErrorBackoffMs : std::min(backoff_ms * 2, kMaxErrorBackoffMs);
        spdlog::warn("push consumer {}: receive failed: {}; retrying in {} ms", spec_.group,
                     r.status().ToString(), backoff_ms);
        std::unique_lock lock(mu_);
        cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [this] { return stopping_; });
        continue;
      }
      backoff_ms = 0;
      if (r->empty()) continue;
      {
        std::lock_guard lock(mu_);
        inflight_ += static_cast<int>(r->size());
        for (auto& m : *r) queue_.push_back(std::move(m));
      }
      cv_.notify_all();
    }
  }

  void WorkerLoop() {
    SetThreadName("tidemq-consume");
    while (true) {
      ReceivedMessage message;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [this] { return !queue_.empty() || receiver_done_; });
        if (queue_.empty()) return;  // receiver finished and everything is handled
        message = std::move(queue_.front());
        queue_.pop_front();
      }
      Handle(message);
      {
        std::lock_guard lock(mu_);
        --inflight_;
      }
      cv_.notify_all();
    }
  }

  void Handle(const ReceivedMessage& message) {
    ConsumeResult result = ConsumeResult::kRetryLater;
    try {
      result = listener_(message);
    } catch (const std::exception& e) {
      spdlog::warn("listener threw on message {}: {}", message.message_id(), e.what());
    } catch (...) {
      spdlog::warn("listener threw on message {}", message.message_id());
    }
    Status st;
    if (result == ConsumeResult::kSuccess) {
      consumed_++;
      st = client::Ack(*core_, spec_, message.receipt_handle());
    } else {
      failed_++;
      st = client::Nack(*core_, spec_, message.receipt_handle(), 0);
    }
    if (!st.ok()) {
      // The lease runs out and the broker redelivers: at-least-once holds.
      spdlog::warn("settling message {} failed: {}", message.message_id(), st.ToString());
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool started_ = false;               // GUARDED_BY(mu_)
  bool stopping_ = false;              // GUARDED_BY(mu_)
  bool receiver_done_ = false;         // GUARDED_BY(mu_)
  uint64_t receive_id_ = 0;            // GUARDED_BY(mu_): the long poll in flight
  int inflight_ = 0;                   // GUARDED_BY(mu_): received, not yet settled
  std::deque<ReceivedMessage> queue_;  // GUARDED_BY(mu_)
  std::thread receiver_;
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

Result<PushConsumer> PushConsumer::Builder::Build() const {
  client::ConsumerSpec spec{group_, topic_, tag_filter_, client_id_, lease_ms_};
  if (!listener_) return InvalidArgument("push consumer needs a Listener");
  if (threads_ < 1 || threads_ > 1024) {
    return InvalidArgument("consumer threads must be 1..1024, not " + std::to_string(threads_));
  }
  if (max_inflight_ < 1 || max_inflight_ > 65536) {
    return InvalidArgument("max inflight must be 1..65536, not " + std::to_string(max_inflight_));
  }
  ASSIGN_OR_RETURN(auto core,
                   client::ConnectConsumer(&spec, endpoint_, request_timeout_ms_, await_ms_));
  return PushConsumer(std::make_unique<Impl>(std::move(core), std::move(spec), listener_, threads_,
                                             max_inflight_, await_ms_));
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

}  // namespace tidemq
