// What the handlers of the RocketMQ 5 endpoint share: the core, the endpoint's options, the
// clients' Telemetry channels (check-backs go down them; EndTransaction answers come back by
// client id), and the bytes receive replies hold (bounded, so that many slow readers cannot
// exhaust the broker's memory). Thread-safe: gRPC's threads and the core's call in.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "broker/core/broker_core.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"
#include "rocketmq/v2/definition.pb.h"
#include "rocketmq/v2/service.grpc.pb.h"

namespace tidemq::rocketmq {

namespace v2 = ::apache::rocketmq::v2;

struct ServiceOptions {
  // Where this endpoint listens (with the port): routes name it when a client names no
  // endpoints of its own, and delivered messages carry it as their store host.
  std::string host = "127.0.0.1";
  int32_t max_body_bytes = 4 << 20;
  // Bytes of messages all receive replies in flight may hold, and one reply.
  int64_t max_reply_bytes = 256 << 20;
  int64_t max_reply_bytes_per_call = 8 << 20;
  // Check-backs queued on one client's Telemetry stream beyond which more are dropped (the
  // broker checks again later).
  size_t max_queued_commands = 1024;
};

// The producer group of the transactional messages RocketMQ clients send to `topic`: RocketMQ 5
// has no producer groups, so every client publishing the topic may answer its check-backs.
std::string TxnProducerGroup(const std::string& topic);

// A transaction's id as clients see it: "<half log offset>" (a send's result) or
// "<half log offset>.<check request id>" (a check-back's command).
std::string TxnId(int64_t half_offset, uint64_t request_id = 0);
struct ParsedTxnId {
  int64_t half_offset = -1;
  uint64_t request_id = 0;  // 0: none
};
std::optional<ParsedTxnId> ParseTxnId(const std::string& id);

class TelemetryChannel;

class ServiceContext {
 public:
  ServiceContext(broker::BrokerCore* core, ServiceOptions options)
      : core_(core), options_(std::move(options)) {}

  broker::BrokerCore& core() const { return *core_; }
  const ServiceOptions& options() const { return options_; }
  uint16_t port() const { return port_.load(); }
  void set_port(uint16_t port) { port_.store(port); }
  // "host:port" of this endpoint.
  std::string address() const;

  // A signed request (an `authorization` header: a client configured with credentials).
  static bool Signed(const grpc::CallbackServerContext* ctx);
  // The client's id (the x-mq-client-id header; "" when absent).
  static std::string ClientId(const grpc::CallbackServerContext* ctx);
  // Why the call is refused before it is looked at (a signed request: no ACL yet; a replica:
  // not serving), or nullopt.
  std::optional<v2::Status> Refusal(const grpc::CallbackServerContext* ctx) const;

  // A replica's way to its group's master (routes are asked there: a replica serves nothing):
  // a stub for the master's RocketMQ 5 endpoint, or nullptr when it is unknown, is this
  // broker, or the call was forwarded here already (no forwarding loops).
  std::shared_ptr<v2::MessagingService::Stub> MasterStub(const grpc::CallbackServerContext* ctx);
  // Marks a call as forwarded by a replica.
  static void MarkForwarded(grpc::ClientContext* ctx);

  // Telemetry channels by client id (a client's newest stream wins).
  void AddChannel(const std::string& client_id, const std::shared_ptr<TelemetryChannel>& channel);
  void RemoveChannel(const std::string& client_id, const TelemetryChannel* channel);
  std::shared_ptr<TelemetryChannel> FindChannel(const std::string& client_id);

  // Receive replies: the room one may take now (<= 0: none), and charging / releasing it.
  int64_t ReplyRoom() const;
  void ChargeReply(int64_t bytes) { reply_bytes_.fetch_add(bytes); }
  void ReleaseReply(int64_t bytes) { reply_bytes_.fetch_sub(bytes); }

 private:
  broker::BrokerCore* core_;
  const ServiceOptions options_;
  std::atomic<uint16_t> port_{0};
  std::atomic<int64_t> reply_bytes_{0};
  Mutex mu_;
  std::unordered_map<std::string, std::weak_ptr<TelemetryChannel>> channels_ GUARDED_BY(mu_);
  std::string master_address_ GUARDED_BY(mu_);  // of master_stub_
  std::shared_ptr<v2::MessagingService::Stub> master_stub_ GUARDED_BY(mu_);
};

}  // namespace tidemq::rocketmq
