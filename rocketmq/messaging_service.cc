#include "rocketmq/messaging_service.h"

#include <spdlog/spdlog.h>

#include <deque>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "rocketmq/codes.h"

namespace tidemq::rocketmq {
namespace {

int64_t ToMs(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1'000'000;
}

// Answers a unary call at once with `status` in its response.
template <typename Response>
grpc::ServerUnaryReactor* AnswerNow(grpc::CallbackServerContext* ctx, Response* response,
                                    v2::Status status) {
  *response->mutable_status() = std::move(status);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

v2::Status NotYet(const char* rpc) {
  return MakeStatus(v2::NOT_IMPLEMENTED,
                    std::string(rpc) + " is not served by this TideMQ broker yet "
                                       "(docs/rocketmq_compat.md)");
}

// A server stream that answers one status and ends.
template <typename Response>
class StatusOnlyStream final : public grpc::ServerWriteReactor<Response> {
 public:
  explicit StatusOnlyStream(v2::Status status) {
    *response_.mutable_status() = std::move(status);
    this->StartWriteAndFinish(&response_, grpc::WriteOptions(), grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  Response response_;
};

// One message of a SendMessage as the core's SendMessage; the type checked against what the
// message carries (a FIFO message needs its group, a delayed one its delivery time).
Status ToSendMessage(v2::Message& in, broker::SendMessage* out) {
  v2::SystemProperties& sp = *in.mutable_system_properties();
  const bool has_group = sp.has_message_group() && !sp.message_group().empty();
  const bool has_delivery = sp.has_delivery_timestamp();
  switch (sp.message_type()) {
    case v2::MESSAGE_TYPE_UNSPECIFIED:
    case v2::NORMAL:
      if (sp.message_type() == v2::NORMAL && (has_group || has_delivery)) {
        return InvalidArgument("a NORMAL message carries neither a message group nor a delivery "
                               "timestamp");
      }
      break;
    case v2::FIFO:
      if (!has_group) return InvalidArgument("a FIFO message needs a message group");
      if (has_delivery) return InvalidArgument("a FIFO message carries no delivery timestamp");
      break;
    case v2::DELAY:
      if (!has_delivery) return InvalidArgument("a DELAY message needs a delivery timestamp");
      if (has_group) return InvalidArgument("a DELAY message carries no message group");
      break;
    case v2::TRANSACTION:
      return Status(Code::kUnsupported,
                    "transactional messages are not served by the gRPC endpoint yet");
    default:
      return Status(Code::kUnsupported, "message type " + v2::MessageType_Name(sp.message_type()) +
                                            " is not supported");
  }
  if (sp.message_id().empty()) return InvalidArgument("the message has no message_id");
  out->topic = ResourceName(in.topic());
  out->message_id = std::move(*sp.mutable_message_id());
  if (sp.has_tag()) out->tag = std::move(*sp.mutable_tag());
  if (has_group) out->message_group = std::move(*sp.mutable_message_group());
  out->keys.assign(std::make_move_iterator(sp.mutable_keys()->begin()),
                   std::make_move_iterator(sp.mutable_keys()->end()));
  for (auto& [k, v] : *in.mutable_user_properties()) out->properties.emplace_back(k, v);
  if (sp.has_born_timestamp()) out->born_ms = ToMs(sp.born_timestamp());
  if (has_delivery) out->deliver_at_ms = ToMs(sp.delivery_timestamp());
  out->body = std::move(*in.mutable_body());
  return Status::Ok();
}

// Telemetry: the client opens it first and blocks its start-up on the answer to its settings;
// the broker answers with the settings it will apply (its body limit, the client's own retry
// policy for a producer). Later, check-backs of transactions go down this stream.
class TelemetryStream final
    : public grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand> {
 public:
  explicit TelemetryStream(const ServiceOptions& options) : options_(options) {
    StartRead(&in_);
  }

  // Finish and the reactions it leads to (OnDone deletes this) run outside mu_.
  void OnReadDone(bool ok) override {
    if (!ok) {  // the client closed its side (or the call was cancelled)
      bool finish;
      {
        std::lock_guard<std::mutex> lock(mu_);
        closing_ = true;
        finish = !writing_;
      }
      if (finish) Finish(grpc::Status::OK);
      return;
    }
    Handle(in_);
    in_.Clear();
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    bool finish;
    {
      std::lock_guard<std::mutex> lock(mu_);
      writing_ = false;
      if (ok && !queue_.empty()) return WriteNextLocked();
      finish = closing_;
    }
    if (finish) Finish(grpc::Status::OK);
  }

  void OnDone() override { delete this; }

 private:
  void Handle(const v2::TelemetryCommand& command) {
    if (command.has_settings()) {
      v2::TelemetryCommand reply;
      *reply.mutable_status() = OkStatus();
      *reply.mutable_settings() = ServerSettings(command.settings());
      Queue(std::move(reply));
    }
    // thread_stack_trace and verify_message_result answer commands this broker does not send
    // yet: nothing to do with them.
  }

  v2::Settings ServerSettings(const v2::Settings& client) const {
    v2::Settings s = client;
    if (s.has_publishing()) {
      s.mutable_publishing()->set_max_body_size(options_.max_body_bytes);
      s.mutable_publishing()->set_validate_message_type(true);
    }
    return s;
  }

  void Queue(v2::TelemetryCommand command) {
    std::lock_guard<std::mutex> lock(mu_);
    if (closing_) return;
    queue_.push_back(std::move(command));
    if (!writing_) WriteNextLocked();
  }

  void WriteNextLocked() {
    out_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    StartWrite(&out_);
  }

  const ServiceOptions& options_;
  v2::TelemetryCommand in_;  // the read under way fills it
  std::mutex mu_;
  std::deque<v2::TelemetryCommand> queue_;  // under mu_
  v2::TelemetryCommand out_;                // the write under way
  bool writing_ = false;                    // under mu_
  bool closing_ = false;                    // under mu_
};

}  // namespace

std::string ResourceName(const v2::Resource& resource) {
  if (resource.resource_namespace().empty()) return resource.name();
  return resource.resource_namespace() + "%" + resource.name();
}

v2::Endpoints MessagingService::RouteEndpoints(const v2::QueryRouteRequest& request) const {
  if (request.has_endpoints() && request.endpoints().addresses_size() > 0) {
    return request.endpoints();
  }
  v2::Endpoints e;
  e.set_scheme(options_.host.find(':') != std::string::npos ? v2::IPv6 : v2::IPv4);
  v2::Address* a = e.add_addresses();
  a->set_host(options_.host);
  a->set_port(port_.load());
  return e;
}

grpc::ServerUnaryReactor* MessagingService::QueryRoute(grpc::CallbackServerContext* ctx,
                                                       const v2::QueryRouteRequest* request,
                                                       v2::QueryRouteResponse* response) {
  Result<broker::TopicInfo> topic = core_->admin().DescribeTopic(ResourceName(request->topic()));
  if (!topic.ok()) return AnswerNow(ctx, response, ToRocketMqStatus(topic.status()));
  v2::Broker broker;
  broker.set_name(core_->config().group.empty() ? core_->config().BrokerId()
                                                : core_->config().group);
  broker.set_id(0);  // the master
  *broker.mutable_endpoints() = RouteEndpoints(*request);
  for (uint32_t i = 0; i < topic->queue_count; ++i) {
    v2::MessageQueue* q = response->add_message_queues();
    *q->mutable_topic() = request->topic();
    q->set_id(static_cast<int32_t>(i));
    q->set_permission(v2::READ_WRITE);
    *q->mutable_broker() = broker;
    for (v2::MessageType t : {v2::NORMAL, v2::FIFO, v2::DELAY, v2::TRANSACTION}) {
      q->add_accept_message_types(t);
    }
  }
  return AnswerNow(ctx, response, OkStatus());
}

grpc::ServerUnaryReactor* MessagingService::Heartbeat(grpc::CallbackServerContext* ctx,
                                                      const v2::HeartbeatRequest*,
                                                      v2::HeartbeatResponse* response) {
  return AnswerNow(ctx, response, OkStatus());
}

grpc::ServerUnaryReactor* MessagingService::SendMessage(grpc::CallbackServerContext* ctx,
                                                        const v2::SendMessageRequest* request,
                                                        v2::SendMessageResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // One entry per message, in order; the request and response live until Finish (gRPC's
  // callback API), so the answer reads the message ids from the request itself.
  auto answer = [request, response, reactor](const Status& st,
                                             const broker::SendReceipts* sent) {
    const v2::Status status = ToRocketMqStatus(st);
    for (int i = 0; i < request->messages_size(); ++i) {
      v2::SendResultEntry* e = response->add_entries();
      *e->mutable_status() = status;
      e->set_message_id(request->messages(i).system_properties().message_id());
      if (sent != nullptr) e->set_offset(sent->appended[static_cast<size_t>(i)].queue_offset);
    }
    *response->mutable_status() = status;
    reactor->Finish(grpc::Status::OK);
    return reactor;
  };
  if (request->messages_size() == 0) return answer(InvalidArgument("no message to send"), nullptr);
  if (request->messages_size() > broker::kMaxSendBatch) {
    return answer(InvalidArgument("more than " + std::to_string(broker::kMaxSendBatch) +
                                  " messages in one send"),
                  nullptr);
  }
  broker::SendCommand command;
  for (const v2::Message& m : request->messages()) {
    v2::Message copy = m;  // the request is const: the core takes its strings by move
    if (Status st = ToSendMessage(copy, &command.messages.emplace_back()); !st.ok()) {
      return answer(st, nullptr);
    }
  }
  core_->messages().Send(std::move(command),
                         [answer](const Status& st, const broker::SendReceipts& sent) {
                           answer(st, st.ok() ? &sent : nullptr);
                         });
  return reactor;
}

grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand>* MessagingService::Telemetry(
    grpc::CallbackServerContext*) {
  return new TelemetryStream(options_);
}

grpc::ServerUnaryReactor* MessagingService::NotifyClientTermination(
    grpc::CallbackServerContext* ctx, const v2::NotifyClientTerminationRequest*,
    v2::NotifyClientTerminationResponse* response) {
  return AnswerNow(ctx, response, OkStatus());
}

grpc::ServerUnaryReactor* MessagingService::QueryAssignment(grpc::CallbackServerContext* ctx,
                                                            const v2::QueryAssignmentRequest*,
                                                            v2::QueryAssignmentResponse* response) {
  return AnswerNow(ctx, response, NotYet("QueryAssignment"));
}

grpc::ServerWriteReactor<v2::ReceiveMessageResponse>* MessagingService::ReceiveMessage(
    grpc::CallbackServerContext*, const v2::ReceiveMessageRequest*) {
  return new StatusOnlyStream<v2::ReceiveMessageResponse>(NotYet("ReceiveMessage"));
}

grpc::ServerUnaryReactor* MessagingService::AckMessage(grpc::CallbackServerContext* ctx,
                                                       const v2::AckMessageRequest*,
                                                       v2::AckMessageResponse* response) {
  return AnswerNow(ctx, response, NotYet("AckMessage"));
}

grpc::ServerUnaryReactor* MessagingService::ForwardMessageToDeadLetterQueue(
    grpc::CallbackServerContext* ctx, const v2::ForwardMessageToDeadLetterQueueRequest*,
    v2::ForwardMessageToDeadLetterQueueResponse* response) {
  return AnswerNow(ctx, response, NotYet("ForwardMessageToDeadLetterQueue"));
}

grpc::ServerWriteReactor<v2::PullMessageResponse>* MessagingService::PullMessage(
    grpc::CallbackServerContext*, const v2::PullMessageRequest*) {
  return new StatusOnlyStream<v2::PullMessageResponse>(NotYet("PullMessage"));
}

grpc::ServerUnaryReactor* MessagingService::UpdateOffset(grpc::CallbackServerContext* ctx,
                                                         const v2::UpdateOffsetRequest*,
                                                         v2::UpdateOffsetResponse* response) {
  return AnswerNow(ctx, response, NotYet("UpdateOffset"));
}

grpc::ServerUnaryReactor* MessagingService::GetOffset(grpc::CallbackServerContext* ctx,
                                                      const v2::GetOffsetRequest*,
                                                      v2::GetOffsetResponse* response) {
  return AnswerNow(ctx, response, NotYet("GetOffset"));
}

grpc::ServerUnaryReactor* MessagingService::QueryOffset(grpc::CallbackServerContext* ctx,
                                                        const v2::QueryOffsetRequest*,
                                                        v2::QueryOffsetResponse* response) {
  return AnswerNow(ctx, response, NotYet("QueryOffset"));
}

grpc::ServerUnaryReactor* MessagingService::EndTransaction(grpc::CallbackServerContext* ctx,
                                                           const v2::EndTransactionRequest*,
                                                           v2::EndTransactionResponse* response) {
  return AnswerNow(ctx, response, NotYet("EndTransaction"));
}

grpc::ServerUnaryReactor* MessagingService::ChangeInvisibleDuration(
    grpc::CallbackServerContext* ctx, const v2::ChangeInvisibleDurationRequest*,
    v2::ChangeInvisibleDurationResponse* response) {
  return AnswerNow(ctx, response, NotYet("ChangeInvisibleDuration"));
}

grpc::ServerUnaryReactor* MessagingService::RecallMessage(grpc::CallbackServerContext* ctx,
                                                          const v2::RecallMessageRequest*,
                                                          v2::RecallMessageResponse* response) {
  return AnswerNow(ctx, response, NotYet("RecallMessage"));
}

grpc::ServerUnaryReactor* MessagingService::SyncLiteSubscription(
    grpc::CallbackServerContext* ctx, const v2::SyncLiteSubscriptionRequest*,
    v2::SyncLiteSubscriptionResponse* response) {
  return AnswerNow(ctx, response, NotYet("SyncLiteSubscription"));
}

}  // namespace tidemq::rocketmq
