// apache.rocketmq.v2.MessagingService over the broker core (the callback API of grpc++: each
// handler returns at once and finishes its reactor when the core answers).
//
// Served so far: QueryRoute, Heartbeat, SendMessage (normal, FIFO by message group, delayed by
// delivery timestamp), Telemetry (the settings handshake), NotifyClientTermination. Every other
// RPC answers NOT_IMPLEMENTED with a message naming it, so a client fails clearly instead of
// hanging (docs/rocketmq_compat.md).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "broker/core/broker_core.h"
#include "rocketmq/v2/service.grpc.pb.h"

namespace tidemq::rocketmq {

namespace v2 = ::apache::rocketmq::v2;

struct ServiceOptions {
  // Where this endpoint listens (with set_port): the route's endpoints when a client names
  // none of its own.
  std::string host;
  int32_t max_body_bytes = 4 << 20;
};

// A resource's TideMQ name: "namespace%name" inside a namespace, else the name.
std::string ResourceName(const v2::Resource& resource);

class MessagingService final : public v2::MessagingService::CallbackService {
 public:
  MessagingService(broker::BrokerCore* core, ServiceOptions options)
      : core_(core), options_(std::move(options)) {}

  // The port bound (known once listening; any thread).
  void set_port(uint16_t port) { port_.store(port); }

  grpc::ServerUnaryReactor* QueryRoute(grpc::CallbackServerContext* ctx,
                                       const v2::QueryRouteRequest* request,
                                       v2::QueryRouteResponse* response) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx,
                                      const v2::HeartbeatRequest* request,
                                      v2::HeartbeatResponse* response) override;
  grpc::ServerUnaryReactor* SendMessage(grpc::CallbackServerContext* ctx,
                                        const v2::SendMessageRequest* request,
                                        v2::SendMessageResponse* response) override;
  grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand>* Telemetry(
      grpc::CallbackServerContext* ctx) override;
  grpc::ServerUnaryReactor* NotifyClientTermination(
      grpc::CallbackServerContext* ctx, const v2::NotifyClientTerminationRequest* request,
      v2::NotifyClientTerminationResponse* response) override;

  // Not served yet: NOT_IMPLEMENTED.
  grpc::ServerUnaryReactor* QueryAssignment(grpc::CallbackServerContext* ctx,
                                            const v2::QueryAssignmentRequest* request,
                                            v2::QueryAssignmentResponse* response) override;
  grpc::ServerWriteReactor<v2::ReceiveMessageResponse>* ReceiveMessage(
      grpc::CallbackServerContext* ctx, const v2::ReceiveMessageRequest* request) override;
  grpc::ServerUnaryReactor* AckMessage(grpc::CallbackServerContext* ctx,
                                       const v2::AckMessageRequest* request,
                                       v2::AckMessageResponse* response) override;
  grpc::ServerUnaryReactor* ForwardMessageToDeadLetterQueue(
      grpc::CallbackServerContext* ctx, const v2::ForwardMessageToDeadLetterQueueRequest* request,
      v2::ForwardMessageToDeadLetterQueueResponse* response) override;
  grpc::ServerWriteReactor<v2::PullMessageResponse>* PullMessage(
      grpc::CallbackServerContext* ctx, const v2::PullMessageRequest* request) override;
  grpc::ServerUnaryReactor* UpdateOffset(grpc::CallbackServerContext* ctx,
                                         const v2::UpdateOffsetRequest* request,
                                         v2::UpdateOffsetResponse* response) override;
  grpc::ServerUnaryReactor* GetOffset(grpc::CallbackServerContext* ctx,
                                      const v2::GetOffsetRequest* request,
                                      v2::GetOffsetResponse* response) override;
  grpc::ServerUnaryReactor* QueryOffset(grpc::CallbackServerContext* ctx,
                                        const v2::QueryOffsetRequest* request,
                                        v2::QueryOffsetResponse* response) override;
  grpc::ServerUnaryReactor* EndTransaction(grpc::CallbackServerContext* ctx,
                                           const v2::EndTransactionRequest* request,
                                           v2::EndTransactionResponse* response) override;
  grpc::ServerUnaryReactor* ChangeInvisibleDuration(
      grpc::CallbackServerContext* ctx, const v2::ChangeInvisibleDurationRequest* request,
      v2::ChangeInvisibleDurationResponse* response) override;
  grpc::ServerUnaryReactor* RecallMessage(grpc::CallbackServerContext* ctx,
                                          const v2::RecallMessageRequest* request,
                                          v2::RecallMessageResponse* response) override;
  grpc::ServerUnaryReactor* SyncLiteSubscription(
      grpc::CallbackServerContext* ctx, const v2::SyncLiteSubscriptionRequest* request,
      v2::SyncLiteSubscriptionResponse* response) override;

 private:
  // The endpoints a route names: the ones the client reached us through, else ours.
  v2::Endpoints RouteEndpoints(const v2::QueryRouteRequest& request) const;

  broker::BrokerCore* core_;
  ServiceOptions options_;
  std::atomic<uint16_t> port_{0};
};

}  // namespace tidemq::rocketmq
