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
  static void SetBrokerGroup(ReceivedMessage* m, std::string group);
};

namespace client {

inline constexpr int64_t kDefaultFailoverDeadlineMs = 10'000;
inline constexpr int64_t kMaxFailoverDeadlineMs = 3'600'000;

struct CoreOptions {
  std::string endpoint;  // one "host:port" or a comma-separated list (ParseEndpoints)
  int64_t request_timeout_ms = 5000;
  // How long a call keeps being re-issued after failures a failover explains (the connection
  // broke, no broker is connected, NOT_MASTER, NOT_ENOUGH_REPLICAS, UNAVAILABLE), counted
  // from the call; 0: no such re-issue beyond the call's own attempts.
  int64_t failover_deadline_ms = kDefaultFailoverDeadlineMs;
  std::string client_id;  // generated when empty
  std::vector<std::string> producer_groups;
  std::vector<std::string> consumer_groups;
  bool heartbeat = true;
  int64_t heartbeat_interval_ms = 5000;
  // Handlers of broker-initiated requests, in place before the first connect.
  std::vector<std::pair<wire::RequestKind, Connection::RequestHandler>> handlers;
  // Sees every response header (on the io thread; ConnectionOptions::on_response).
  std::function<void(const wire::Header&)> response_observer;
  // false: Create returns without waiting for the first connection (a broker group's core,
  // made by the route thread: a group that is down must not hold it up).
  bool wait_for_connect = true;
};

class ClientCore {
 public:
  // Validates the options, connects (Unavailable when the broker cannot be reached).
  static Result<std::unique_ptr<ClientCore>> Create(CoreOptions options);

  Connection& connection() { return *connection_; }
  int64_t request_timeout_ms() const { return options_.request_timeout_ms; }
  int64_t failover_deadline_ms() const { return options_.failover_deadline_ms; }
  const std::string& client_id() const { return options_.client_id; }

  // A request that follows the group's master: re-issued (the same header and bodies, a new
  // request id) after a failover error — Unavailable, NotMaster, NotEnoughReplicas — until
  // failover_deadline_ms after this call, or until it has made max_attempts attempts,
  // whichever allows more; Timeout and ResourceExhausted only while fewer than max_attempts
  // were made. The bodies must stay valid until `done`: keep_alive holds what they point
  // into. `done` runs once, on the io thread (or inline when closed). failover_ms >= 0
  // replaces the failover deadline for this call (a cluster producer gives one group a slice
  // of its deadline before it tries another group).
  void CallAsync(wire::Header request, std::vector<std::string_view> bodies,
                 std::shared_ptr<const void> keep_alive, int64_t timeout_ms, int max_attempts,
                 Connection::Callback done, int64_t failover_ms = -1);
  // The blocking form, with the default timeout (or timeout_ms when > 0).
  Result<wire::Frame> Call(wire::Header request, const std::vector<std::string_view>& bodies = {},
                           int64_t timeout_ms = 0, int max_attempts = 1);
  void Shutdown() { connection_->Close(); }

 private:
  struct Caller;  // the attempts of CallAsync
  ClientCore() = default;
  CoreOptions options_;
  std::unique_ptr<Connection> connection_;
};

// "a", "b" -> "a,b" (the builders' Endpoints).
std::string JoinAddresses(const std::vector<std::string>& addresses);

// Errors a retry can fix.
bool IsRetryable(Code code);
// Errors a failover explains: the request goes again, to the (new) master.
bool IsFailoverError(Code code);
Status CheckFailoverDeadline(int64_t ms);
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

// Validates the arguments of a Receive (max 1..1024, await >= 0).
Status CheckReceive(uint32_t max_messages, int64_t await_ms);

using ReceiveCallback = std::function<void(Result<std::vector<ReceivedMessage>>)>;
// Long-polls for up to await_ms.
void ReceiveAsync(ClientCore& core, const ConsumerSpec& spec, uint32_t max_messages,
                  int64_t await_ms, ReceiveCallback done);
Result<std::vector<ReceivedMessage>> Receive(ClientCore& core, const ConsumerSpec& spec,
                                             uint32_t max_messages, int64_t await_ms);
Status Ack(ClientCore& core, const ConsumerSpec& spec, const std::string& receipt_handle);
// All handles in one request: Ok when every one was acked, else the first failure.
Status AckMany(ClientCore& core, const ConsumerSpec& spec,
               const std::vector<std::string_view>& receipt_handles);
using SettleCallback = std::function<void(Status)>;
void AckManyAsync(ClientCore& core, const ConsumerSpec& spec,
                  const std::vector<std::string_view>& receipt_handles, SettleCallback done);
// delay_ms 0: the group's retry back-off; at most 24 h.
Status Nack(ClientCore& core, const ConsumerSpec& spec, const std::string& receipt_handle,
            int64_t delay_ms);
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
