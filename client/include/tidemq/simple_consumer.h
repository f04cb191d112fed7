// SimpleConsumer: the application pulls batches and settles each message itself.
//
//   auto consumer = tidemq::SimpleConsumer::NewBuilder()
//                       .Group("orders-app").Topic("orders").TagFilter("created||paid")
//                       .Build();
//   auto batch = consumer->Receive(16);
//   for (auto& m : *batch) { Process(m); consumer->Ack(m); }
//
// A received message is invisible to the rest of the group for LeaseDuration; if it is
// neither acked nor nacked by then, the broker redelivers it (delivery_attempt grows), as a
// retry copy after the group's back-off, like a nack. ChangeLease extends the lease of a
// message that takes long to process.
// Receive long-polls: it waits up to AwaitDuration for a message, then returns an empty batch.
//
// Thread safety: every method may be called from any thread concurrently. Calls never throw.
// Async callbacks run on the client's network thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "tidemq/consumer_builder.h"
#include "tidemq/message.h"

namespace tidemq {

class SimpleConsumer {
 public:
  // Endpoint, Group, Topic, TagFilter, AwaitDuration (per Receive), LeaseDuration,
  // RequestTimeout, ClientId: see tidemq/consumer_builder.h.
  class Builder : public ConsumerBuilder<Builder> {
   public:
    Result<SimpleConsumer> Build() const;
  };

  static Builder NewBuilder() { return Builder(); }

  SimpleConsumer(SimpleConsumer&&) noexcept;
  SimpleConsumer& operator=(SimpleConsumer&&) noexcept;
  ~SimpleConsumer();

  // Up to max_messages (1..1024), and no more message bytes than the broker puts in one reply
  // (--max-receive-bytes, 16 MiB by default; always at least one message); an empty vector
  // when nothing arrived within AwaitDuration.
  Result<std::vector<ReceivedMessage>> Receive(uint32_t max_messages = 32);
  // Same, with this call's own long-poll wait instead of AwaitDuration.
  Result<std::vector<ReceivedMessage>> Receive(uint32_t max_messages, int64_t await_ms);

  Status Ack(const ReceivedMessage& message);
  // Acks the whole batch in one request. Ok when every message was acked; otherwise the first
  // failure, its message saying how many failed (the others are acked all the same).
  Status Ack(const std::vector<ReceivedMessage>& messages);
  // Processing failed: the message comes back with delivery_attempt() one higher, after
  // delay_ms (0: the group's retry back-off; at most 24 h), or is dead-lettered into
  // %DLQ%<group> once the group's max attempts are used up.
  Status Nack(const ReceivedMessage& message, int64_t delay_ms = 0);
  // The whole batch in one request, answered like the batch Ack.
  Status Nack(const std::vector<ReceivedMessage>& messages, int64_t delay_ms = 0);
  // Same, without waiting: `callback` gets the outcome on the client's network thread once
  // the broker has stored the retry copies (it must not block, nor call blocking methods).
  using SettleCallback = std::function<void(const Status&)>;
  void NackAsync(const std::vector<ReceivedMessage>& messages, int64_t delay_ms,
                 SettleCallback callback);
  // Not processed (e.g. this consumer is stopping): the message is redelivered at once and
  // the delivery does not count as an attempt. The vector form releases in one request,
  // answered like the batch Ack.
  Status Release(const ReceivedMessage& message);
  Status Release(const std::vector<ReceivedMessage>& messages);
  // Makes the message invisible for lease_ms from now; stores the new receipt handle in
  // *message, so later Ack / Nack calls use it.
  Status ChangeLease(ReceivedMessage& message, int64_t lease_ms);

  const std::string& client_id() const;
  void Shutdown();

  class Impl;

 private:
  explicit SimpleConsumer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq
