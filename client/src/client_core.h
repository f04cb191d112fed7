// What every client object shares: the connection, its options, the conversions between
// public message types and wire messages, and the consumer calls used by both consumers.
// Internal to the client library.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client/src/connection.h"
#include "common/status.h"
#include "proto/tidemq.pb.h"
#include "tidemq/message.h"

namespace tidemq {

// The one way into ReceivedMessage's fields (it is a friend).
struct ReceivedMessageAccess {
  static ReceivedMessage FromWire(const wire::Message& m, std::string_view body);
  // A message of a DLQ_LIST reply: FromWire plus its DLQ offset.
  static ReceivedMessage FromWireDeadLetter(const wire::Message& m, std::string_view body);
  static void SetReceiptHandle(ReceivedMessage* m, std::string handle);
};

namespace client {

struct CoreOptions {
  std::string endpoint;
  int64_t request_timeout_ms = 5000;
  std::string client_id;  // generated when empty
  std::vector<std::string> producer_groups;
  std::vector<std::string> consumer_groups;
  bool heartbeat = true;
  int64_t heartbeat_interval_ms = 5000;
  // Handlers of broker-initiated requests, in place before the first connect.
  std::vector<std::pair<wire::RequestKind, Connection::RequestHandler>> handlers;
};

class ClientCore {
 public:
  // Validates the options, connects (Unavailable when the broker cannot be reached).
  static Result<std::unique_ptr<ClientCore>> Create(CoreOptions options);

  Connection& connection() { return *connection_; }
  int64_t request_timeout_ms() const { return options_.request_timeout_ms; }
  const std::string& client_id() const { return options_.client_id; }

  // A blocking request with the default timeout (or timeout_ms when > 0).
  Result<wire::Frame> Call(wire::Header request, const std::vector<std::string_view>& bodies = {},
                           int64_t timeout_ms = 0);
  void Shutdown() { connection_->Close(); }

 private:
  ClientCore() = default;
  CoreOptions options_;
  std::unique_ptr<Connection> connection_;
};

// Errors a retry can fix.
bool IsRetryable(Code code);
// "" and "*" match everything; otherwise tags joined by "||" (spaces around tags allowed).
Status ValidateTagFilter(std::string_view expression);
Status CheckTimeout(std::string_view what, int64_t ms);

void ToWireMessage(const Message& m, const std::string& message_id, int64_t born_ms,
                   wire::Message* out);
Result<std::vector<ReceivedMessage>> FromWireMessages(
    const google::protobuf::RepeatedPtrField<wire::Message>& messages, std::string_view body);

// The consumer side of the protocol, shared by SimpleConsumer and PushConsumer.
struct ConsumerSpec {
  std::string group;
  std::string topic;
  std::string tag_filter;
  std::string client_id;
  int64_t lease_ms = 30000;
};
Status ValidateConsumerSpec(const ConsumerSpec& spec);

// What both consumer builders do last: validate the spec and the await duration, connect,
// and fill in the client id the core chose (spec.client_id).
Result<std::unique_ptr<ClientCore>> ConnectConsumer(ConsumerSpec* spec, std::string endpoint,
                                                    int64_t request_timeout_ms, int64_t await_ms);

using ReceiveCallback = std::function<void(Result<std::vector<ReceivedMessage>>)>;
// Long-polls for up to await_ms; returns the request id (for Connection::Cancel).
uint64_t ReceiveAsync(ClientCore& core, const ConsumerSpec& spec, uint32_t max_messages,
                      int64_t await_ms, ReceiveCallback done);
Result<std::vector<ReceivedMessage>> Receive(ClientCore& core, const ConsumerSpec& spec,
                                             uint32_t max_messages, int64_t await_ms);
Status Ack(ClientCore& core, const ConsumerSpec& spec, const std::string& receipt_handle);
// All handles in one request: Ok when every one was acked, else the first failure.
Status AckMany(ClientCore& core, const ConsumerSpec& spec,
               const std::vector<std::string_view>& receipt_handles);
// delay_ms 0: the group's retry back-off; at most 24 h.
Status Nack(ClientCore& core, const ConsumerSpec& spec, const std::string& receipt_handle,
            int64_t delay_ms);
using SettleCallback = std::function<void(Status)>;
// All handles in one request, answered like AckMany. The async forms run `done` on the io
// thread (or inline on a bad argument), so they may be used from a callback.
Status NackMany(ClientCore& core, const ConsumerSpec& spec,
                const std::vector<std::string_view>& receipt_handles, int64_t delay_ms);
void NackManyAsync(ClientCore& core, const ConsumerSpec& spec,
                   const std::vector<std::string_view>& receipt_handles, int64_t delay_ms,
                   SettleCallback done);
// Gives messages back unprocessed: redelivered at once, their attempts not counted.
Status Release(ClientCore& core, const ConsumerSpec& spec,
               const std::vector<std::string_view>& receipt_handles);
void ReleaseAsync(ClientCore& core, const ConsumerSpec& spec,
                  const std::vector<std::string_view>& receipt_handles, SettleCallback done);
using ChangeLeaseCallback = std::function<void(Result<std::string>)>;
// The new receipt handle goes to `done` (on the io thread, or inline on a bad argument).
void ChangeLeaseAsync(ClientCore& core, const ConsumerSpec& spec, const std::string& receipt_handle,
                      int64_t lease_ms, ChangeLeaseCallback done);
Result<std::string> ChangeLease(ClientCore& core, const ConsumerSpec& spec,
                                const std::string& receipt_handle, int64_t lease_ms);

}  // namespace client
}  // namespace tidemq
