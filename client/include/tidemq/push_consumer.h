// PushConsumer: the library receives and calls the application's listener.
//
//   auto consumer = tidemq::PushConsumer::NewBuilder()
//       .Group("orders-app").Topic("orders")
//       .Listener([](const tidemq::ReceivedMessage& m) { ...; return ConsumeResult::kSuccess; })
//       .Build();
//   consumer->Start();  ...  consumer->Shutdown();
//
// One receive thread long-polls the broker and hands messages to ConsumerThreads worker
// threads, keeping at most MaxInflight messages received but not yet settled. kSuccess acks
// the message; kRetryLater, or an exception escaping the listener, nacks it: the broker
// delivers it again after the group's retry back-off (RetryLater(delay): after delay instead),
// with delivery_attempt() one higher, and dead-letters it into %DLQ%<group> after the group's
// max attempts. Retry copies arrive through the same listener (see ReceivedMessage).
//
// Long handlers: while a message is held (queued or in its listener) past about 2/3 of its
// lease, a lease thread extends the lease (CHANGE_LEASE) so the broker does not hand it to
// another consumer; the settlement then uses the newest receipt handle. Renewal stops
// MaxProcessingTime after the message was received: the lease then lapses and the broker
// redelivers it.
//
// Shutdown() stops receiving, releases the messages received but not yet started (NACK with
// release: redelivered at once, the attempt not counted), waits for the listeners already
// running and settles them. It returns only when every running listener has returned. A long
// poll still open is not waited for: what the broker hands it is released when it arrives,
// as long as the consumer exists (its connection closes on destruction; anything that
// arrives later comes back after its lease).
//
// Threads: "tidemq-recv" (receive), ConsumerThreads x "tidemq-consume" (listeners),
// "tidemq-lease" (renewals). Start / Shutdown from one controlling thread; the listener runs
// concurrently on the worker threads and must be thread-safe. The listener must not call
// Shutdown().
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "tidemq/consumer_builder.h"
#include "tidemq/message.h"

namespace tidemq {

// What a listener returns: kSuccess (ack), kRetryLater (nack: the group's retry back-off) or
// RetryLater(delay) (nack: deliver again after delay). A small value type.
class ConsumeResult {
 public:
  static const ConsumeResult kSuccess;
  static const ConsumeResult kRetryLater;
  // The longest delay a nack may ask for; RetryLater caps longer ones to it.
  static constexpr std::chrono::milliseconds kMaxRetryDelay = std::chrono::hours(24);
  // delay 0 (or negative): the group's retry back-off.
  static constexpr ConsumeResult RetryLater(std::chrono::milliseconds delay) {
    return ConsumeResult(false,
                         std::clamp(delay, std::chrono::milliseconds(0), kMaxRetryDelay).count());
  }

  constexpr bool success() const { return success_; }
  // 0: the group's retry back-off (always 0 for kSuccess).
  constexpr std::chrono::milliseconds retry_delay() const {
    return std::chrono::milliseconds(delay_ms_);
  }

  // RetryLater(0ms) == kRetryLater; kRetryLater != RetryLater(1s).
  constexpr bool operator==(const ConsumeResult&) const = default;

 private:
  constexpr ConsumeResult(bool success, int64_t delay_ms)
      : success_(success), delay_ms_(delay_ms) {}

  bool success_;
  int64_t delay_ms_;
};

inline constexpr ConsumeResult ConsumeResult::kSuccess{true, 0};
inline constexpr ConsumeResult ConsumeResult::kRetryLater{false, 0};

class PushConsumer {
 public:
  using MessageListener = std::function<ConsumeResult(const ReceivedMessage&)>;

  // Besides these, Endpoint, Group, Topic, TagFilter, AwaitDuration, LeaseDuration,
  // RequestTimeout and ClientId: see tidemq/consumer_builder.h.
  class Builder : public ConsumerBuilder<Builder> {
   public:
    Builder& Listener(MessageListener listener);  // required
    Builder& ConsumerThreads(int threads);        // default 4
    // Messages received but not yet settled (queued or in a listener); default 64.
    Builder& MaxInflight(int messages);
    // How long after its receipt a message's lease is still renewed; default 1 h, at most
    // 24 h, at least the lease duration.
    Builder& MaxProcessingTime(int64_t ms);
    // Connects but does not start consuming.
    Result<PushConsumer> Build() const;

   private:
    MessageListener listener_;
    int threads_ = 4;
    int max_inflight_ = 64;
    int64_t max_processing_ms_ = 3'600'000;
  };

  static Builder NewBuilder() { return Builder(); }

  PushConsumer(PushConsumer&&) noexcept;
  PushConsumer& operator=(PushConsumer&&) noexcept;
  ~PushConsumer();  // Shutdown()

  Status Start();
  // Graceful: see the top of this file. Idempotent.
  void Shutdown();

  // Counters since Start (for tools and tests).
  uint64_t consumed() const;        // listener returned kSuccess
  uint64_t failed() const;          // kRetryLater, RetryLater(delay) or an exception
  uint64_t released() const;        // given back unstarted at Shutdown
  uint64_t lease_renewals() const;  // successful lease extensions

  class Impl;

 private:
  explicit PushConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq
