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
// the message; kRetryLater, or an exception escaping the listener, nacks it (the broker
// redelivers it after its retry back-off, or dead-letters it after the group's max attempts).
//
// Shutdown() stops receiving (a long poll in progress is abandoned; anything the broker was
// about to hand over comes back after its lease), waits for the listeners already running and
// the messages already queued, settles them, then closes the connection.
//
// Thread safety: Start / Shutdown from one controlling thread; the listener runs concurrently
// on the worker threads and must be thread-safe. The listener must not call Shutdown().
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "tidemq/consumer_builder.h"
#include "tidemq/message.h"

namespace tidemq {

enum class ConsumeResult { kSuccess, kRetryLater };

class PushConsumer {
 public:
  using MessageListener = std::function<ConsumeResult(const ReceivedMessage&)>;

  // Besides these, Endpoint, Group, Topic, TagFilter, AwaitDuration, LeaseDuration,
  // RequestTimeout and ClientId: see tidemq/consumer_builder.h.
  class Builder : public ConsumerBuilder<Builder> {
   public:
    Builder& Listener(MessageListener listener);  // required
    Builder& ConsumerThreads(int threads);        // default 4
    Builder& MaxInflight(int messages);           // default 64
    // Connects but does not start consuming.
    Result<PushConsumer> Build() const;

   private:
    MessageListener listener_;
    int threads_ = 4;
    int max_inflight_ = 64;
  };

  static Builder NewBuilder() { return Builder(); }

  PushConsumer(PushConsumer&&) noexcept;
  PushConsumer& operator=(PushConsumer&&) noexcept;
  ~PushConsumer();  // Shutdown()

  Status Start();
  void Shutdown();

  // Counters since Start (for tools and tests).
  uint64_t consumed() const;  // listener returned kSuccess
  uint64_t failed() const;    // kRetryLater or exception

  class Impl;

 private:
  explicit PushConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq
