// Messages as the application sees them.
//
//   Message          what a producer sends; built and validated by Message::Builder, so a bad
//                    topic, tag, key, property or an oversized body is refused before it
//                    reaches the wire.
//   ReceivedMessage  what a consumer (or a query) gets back: a read-only view that also carries
//                    where the message is stored and, for consumers, the receipt handle of the
//                    delivery lease that Ack / Nack / ChangeLease act on.
//   SendReceipt      where the broker stored one sent message.
//
// All three are plain values: copyable, movable, no connection to any client object.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace tidemq {

inline constexpr size_t kMaxMessageBodyBytes = 4u << 20;

class Message {
 public:
  class Builder;
  static Builder NewBuilder();

  const std::string& topic() const { return topic_; }
  const std::string& tag() const { return tag_; }
  const std::vector<std::string>& keys() const { return keys_; }
  const std::map<std::string, std::string>& properties() const { return properties_; }
  const std::string& body() const { return body_; }
  // FIFO: messages with the same group go to one queue and are consumed in order.
  const std::string& message_group() const { return message_group_; }
  // Scheduled delivery: absolute (ms since the Unix epoch) or relative; 0 = none.
  int64_t deliver_at_ms() const { return deliver_at_ms_; }
  int64_t delay_ms() const { return delay_ms_; }
  // Transactional sends: the first check-back comes this long after the half message is stored
  // if the transaction is still open; 0 = the broker's default (6 s).
  int64_t transaction_check_timeout_ms() const { return transaction_check_timeout_ms_; }

 private:
  friend class Builder;
  Message() = default;

  std::string topic_;
  std::string tag_;
  std::vector<std::string> keys_;
  std::map<std::string, std::string> properties_;
  std::string body_;
  std::string message_group_;
  int64_t deliver_at_ms_ = 0;
  int64_t delay_ms_ = 0;
  int64_t transaction_check_timeout_ms_ = 0;
};

// Fluent builder: Message::NewBuilder().Topic("t").Body("b").Tag("x").Build().
// Setters only record; Build() validates everything and reports the first problem.
class Message::Builder {
 public:
  Builder& Topic(std::string topic);
  Builder& Body(std::string body);
  Builder& Tag(std::string tag);
  // Replaces the keys; Key() appends one.
  Builder& Keys(std::vector<std::string> keys);
  Builder& Key(std::string key);
  Builder& Property(std::string key, std::string value);
  Builder& MessageGroup(std::string group);
  Builder& DeliverAt(int64_t epoch_ms);
  Builder& Delay(int64_t delay_ms);
  Builder& TransactionCheckTimeout(int64_t timeout_ms);

  Result<Message> Build() const;

 private:
  Message m_;
};

// A failed delivery (nack, exception in a PushConsumer listener, lapsed lease) comes back as a
// retry copy after the group's back-off, and after the group's max attempts the message is
// dead-lettered into %DLQ%<group>. Every copy keeps the message id, topic, tag, keys,
// properties and body of the message the producer sent; the fields below say which copy this
// is. Idempotent consumers dedupe on message_id().
class ReceivedMessage {
 public:
  ReceivedMessage() = default;

  // Assigned by the producer; the same on every delivery, retry copy and dead letter.
  const std::string& message_id() const { return message_id_; }
  // The topic it was sent to, also on a retry copy (stored in %RETRY%<group>).
  const std::string& topic() const { return topic_; }
  const std::string& tag() const { return tag_; }
  const std::vector<std::string>& keys() const { return keys_; }
  const std::map<std::string, std::string>& properties() const { return properties_; }
  const std::string& body() const { return body_; }
  const std::string& message_group() const { return message_group_; }
  int32_t queue_id() const { return queue_id_; }
  int64_t queue_offset() const { return queue_offset_; }
  int64_t log_offset() const { return log_offset_; }
  int64_t store_ms() const { return store_ms_; }
  int64_t born_ms() const { return born_ms_; }
  int64_t deliver_at_ms() const { return deliver_at_ms_; }
  // 1-based; > 1 means this is a redelivery.
  uint32_t delivery_attempt() const { return delivery_attempt_; }
  // Identifies this delivery's lease; empty for messages returned by a query.
  const std::string& receipt_handle() const { return receipt_handle_; }

  // Retries and dead letters. The topic the message was sent to, when this is a retry copy
  // or a dead letter; empty on a first delivery.
  const std::string& original_topic() const { return original_topic_; }
  // When its first delivery failed (ms since the Unix epoch); 0 if it never failed.
  int64_t first_failure_ms() const { return first_failure_ms_; }
  // Dead letters only (Admin::ListDeadLetters): why it was dead-lettered ("max_attempts",
  // ...) and its offset in %DLQ%<group>, which selects it for a redrive or purge. For a dead
  // letter, delivery_attempt() is the number of deliveries made and store_ms() the time it
  // was dead-lettered.
  const std::string& dead_letter_reason() const { return dead_letter_reason_; }
  int64_t dlq_offset() const { return dlq_offset_; }
  // In a cluster of broker groups: the group that holds it (queue_id() and the offsets are
  // that group's); empty outside a cluster.
  const std::string& broker_group() const { return broker_group_; }

 private:
  friend struct ReceivedMessageAccess;  // the client library fills these in

  std::string message_id_;
  std::string topic_;
  std::string tag_;
  std::vector<std::string> keys_;
  std::map<std::string, std::string> properties_;
  std::string body_;
  std::string message_group_;
  int32_t queue_id_ = -1;
  int64_t queue_offset_ = -1;
  int64_t log_offset_ = -1;
  int64_t store_ms_ = 0;
  int64_t born_ms_ = 0;
  int64_t deliver_at_ms_ = 0;
  uint32_t delivery_attempt_ = 0;
  std::string receipt_handle_;
  std::string original_topic_;
  int64_t first_failure_ms_ = 0;
  std::string dead_letter_reason_;
  int64_t dlq_offset_ = -1;
  std::string broker_group_;
};

struct SendReceipt {
  std::string message_id;
  int32_t queue_id = -1;  // in a cluster: the queue of `group` (queue ids are per group)
  int64_t queue_offset = -1;
  int64_t log_offset = -1;
  // In a cluster of broker groups: the group that stored it (EndTransaction goes there);
  // empty outside a cluster.
  std::string group;
};

}  // namespace tidemq
