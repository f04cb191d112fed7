// Producer: sends messages to one broker.
//
//   auto producer = tidemq::Producer::NewBuilder().Endpoint("127.0.0.1:9810").Build();
//   if (!producer.ok()) ...;
//   auto receipt = producer->Send(message);
//
// Every send is retried on Unavailable, Timeout and ResourceExhausted (with exponential
// back-off, up to MaxSendAttempts in total) under the same message id; errors that retrying
// cannot fix (InvalidArgument, TopicNotFound, TooLarge, ...) are returned at once. Retries
// mean a message may be stored twice (at-least-once); consumers dedupe by message id.
//
// Thread safety: every method may be called from any thread concurrently. Async callbacks
// run on the client's network thread ("tidemq-client"): keep them short, never block in them
// and never destroy the Producer from inside one. Calls never throw.
#pragma once

#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "tidemq/message.h"

namespace tidemq {

class Producer {
 public:
  using SendCallback = std::function<void(const Result<SendReceipt>&)>;

  class Builder {
   public:
    // "host:port"; default 127.0.0.1:9810.
    Builder& Endpoint(std::string endpoint);
    // Producer group (reported to the broker; needed later by transactions).
    Builder& Group(std::string group);
    // Per request; default 5000 ms.
    Builder& RequestTimeout(int64_t timeout_ms);
    // Total attempts per send, the first included; default 3, at least 1.
    Builder& MaxSendAttempts(int attempts);
    // Identifies this client instance in heartbeats; generated when empty.
    Builder& ClientId(std::string client_id);
    // Connects; Unavailable when the broker cannot be reached.
    Result<Producer> Build() const;

   private:
    std::string endpoint_ = "127.0.0.1:9810";
    std::string group_;
    std::string client_id_;
    int64_t request_timeout_ms_ = 5000;
    int max_send_attempts_ = 3;
  };

  static Builder NewBuilder() { return Builder(); }

  Producer(Producer&&) noexcept;
  Producer& operator=(Producer&&) noexcept;
  ~Producer();  // closes the connection; pending sends fail with Cancelled

  Result<SendReceipt> Send(const Message& message);
  void SendAsync(Message message, SendCallback callback);
  std::future<Result<SendReceipt>> SendFuture(Message message);
  // All messages in one request; one receipt per message, in order.
  Result<std::vector<SendReceipt>> SendBatch(std::vector<Message> messages);

  // Closes now instead of in the destructor. Idempotent.
  void Shutdown();

  class Impl;

 private:
  explicit Producer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq
