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
#include "tidemq/message.h"

namespace tidemq {

enum class ConsumeResult { kSuccess, kRetryLater };

class PushConsumer {
 public:
  using MessageListener = std::function<ConsumeResult(const ReceivedMessage&)>;

  class Builder {
   public:
    Builder& Endpoint(std::string endpoint);      // default 127.0.0.1:9810
    Builder& Group(std::string group);            // required
    Builder& Topic(std::string topic);            // required
    Builder& TagFilter(std::string expression);   // "*" (default) or "a||b"
    Builder& Listener(MessageListener listener);  // required
    Builder& ConsumerThreads(int threads);        // default 4
    Builder& MaxInflight(int messages);           // default 64
    Builder& AwaitDuration(int64_t ms);           // long-poll wait; default 20000 ms
    Builder& LeaseDuration(int64_t ms);           // default 30000 ms
    Builder& RequestTimeout(int64_t ms);          // default 5000 ms
    Builder& ClientId(std::string client_id);     // generated when empty
    // Connects but does not start consuming.
    Result<PushConsumer> Build() const;

   private:
    std::string endpoint_ = "127.0.0.1:9810";
    std::string group_;
    std::string topic_;
    std::string tag_filter_ = "*";
    std::string client_id_;
    MessageListener listener_;
    int threads_ = 4;
    int max_inflight_ = 64;
    int64_t await_ms_ = 20000;
    int64_t lease_ms_ = 30000;
    int64_t request_timeout_ms_ = 5000;
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
