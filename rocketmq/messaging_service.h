// apache.rocketmq.v2.MessagingService over the broker core (the callback API of grpc++: each
// handler returns at once and finishes its reactor when the core answers).
//
// Every RPC the official clients use is served (docs/rocketmq_compat.md): routes and
// assignments, heartbeats, Telemetry (settings, check-backs: telemetry.h), sends of every
// message type, receive (receive.h), ack, invisible-duration changes, dead-letter forwards,
// transaction ends and recalls. PullMessage, the offset RPCs and SyncLiteSubscription (lite
// topics) answer NOT_IMPLEMENTED naming themselves, so a client fails clearly instead of
// hanging.
#pragma once

#include <cstdint>
#include <string>

#include "broker/core/broker_core.h"
#include "rocketmq/context.h"
#include "rocketmq/convert.h"
#include "rocketmq/v2/service.grpc.pb.h"

namespace tidemq::rocketmq {

class MessagingService final : public v2::MessagingService::CallbackService {
 public:
  MessagingService(broker::BrokerCore* core, ServiceOptions options)
      : cx_(core, std::move(options)) {}

  // The port bound (known once listening; any thread).
  void set_port(uint16_t port) { cx_.set_port(port); }

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
  grpc::ServerUnaryReactor* EndTransaction(grpc::CallbackServerContext* ctx,
                                           const v2::EndTransactionRequest* request,
                                           v2::EndTransactionResponse* response) override;
  grpc::ServerUnaryReactor* ChangeInvisibleDuration(
      grpc::CallbackServerContext* ctx, const v2::ChangeInvisibleDurationRequest* request,
      v2::ChangeInvisibleDurationResponse* response) override;
  grpc::ServerUnaryReactor* RecallMessage(grpc::CallbackServerContext* ctx,
                                          const v2::RecallMessageRequest* request,
                                          v2::RecallMessageResponse* response) override;

  // Not served: NOT_IMPLEMENTED.
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
  grpc::ServerUnaryReactor* SyncLiteSubscription(
      grpc::CallbackServerContext* ctx, const v2::SyncLiteSubscriptionRequest* request,
      v2::SyncLiteSubscriptionResponse* response) override;

 private:
  // The broker a route or an assignment names: this one, at the endpoints the client reached
  // it through (else its own).
  v2::Broker RouteBroker(const v2::Endpoints* client_endpoints) const;
  // The topic's queues over the cluster's groups (docs/cluster.md).
  v2::Status ClusterRoute(const std::string& topic, const v2::Resource& resource,
                          v2::QueryRouteResponse* response) const;
  // Answers `refusal`, unless this is a replica that can ask its master instead (routes and
  // assignments): then `call` asks it and the master's answer is passed on.
  template <typename Request, typename Response, typename Call>
  grpc::ServerUnaryReactor* RefuseOrAskMaster(grpc::CallbackServerContext* ctx,
                                              const Request* request, Response* response,
                                              v2::Status refusal, Call call);

  ServiceContext cx_;
};

}  // namespace tidemq::rocketmq
