#include "rocketmq/messaging_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "rocketmq/codes.h"
#include "rocketmq/receive.h"
#include "rocketmq/telemetry.h"

namespace tidemq::rocketmq {
namespace {

// Answers a unary call at once with `status` in its response.
template <typename Response>
grpc::ServerUnaryReactor* AnswerNow(grpc::CallbackServerContext* ctx, Response* response,
                                    v2::Status status) {
  *response->mutable_status() = std::move(status);
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

v2::Status NotServed(const char* rpc) {
  return MakeStatus(v2::NOT_IMPLEMENTED,
                    std::string(rpc) + " is not served by this TideMQ broker "
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

// A Telemetry stream refused before it starts.
class RefusedTelemetry final
    : public grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand> {
 public:
  explicit RefusedTelemetry(v2::Status status) {
    *reply_.mutable_status() = std::move(status);
    StartWriteAndFinish(&reply_, grpc::WriteOptions(), grpc::Status::OK);
  }
  void OnDone() override { delete this; }

 private:
  v2::TelemetryCommand reply_;
};

// One status for many entries: theirs when they agree, MULTIPLE_RESULTS otherwise.
template <typename Entries>
v2::Status Overall(const Entries& entries) {
  if (entries.empty()) return OkStatus();
  const v2::Code first = entries[0].status().code();
  for (const auto& e : entries) {
    if (e.status().code() != first) {
      return MakeStatus(v2::MULTIPLE_RESULTS, "the entries' results differ");
    }
  }
  return entries[0].status();
}

// A replica serves nothing, but a route or an assignment asked of it is asked of its group's
// master instead (the request without the client's endpoints, so that the master names its
// own): the answer sends the client to the master. `call(async_stub, ctx, request, response,
// done)` makes the call; `refusal` answers when the master cannot be asked.
template <typename Request, typename Response, typename Call>
grpc::ServerUnaryReactor* AskMaster(grpc::CallbackServerContext* ctx, const Request& request,
                                    Response* response,
                                    std::shared_ptr<v2::MessagingService::Stub> master, Call call,
                                    v2::Status refusal) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  struct Forwarded {
    grpc::ClientContext ctx;
    Request request;
    std::shared_ptr<v2::MessagingService::Stub> master;
  };
  auto f = std::make_shared<Forwarded>();
  ServiceContext::MarkForwarded(&f->ctx);
  f->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  f->request = request;
  f->request.clear_endpoints();
  f->master = std::move(master);
  call(f->master->async(), &f->ctx, &f->request, response,
       [f, reactor, response, refusal = std::move(refusal)](grpc::Status st) {
         if (!st.ok()) {
           *response = Response();
           *response->mutable_status() = refusal;
           response->mutable_status()->set_message(refusal.message() + " (asked there: " +
                                                   st.error_message() + ")");
         }
         reactor->Finish(grpc::Status::OK);
       });
  return reactor;
}

}  // namespace

template <typename Request, typename Response, typename Call>
grpc::ServerUnaryReactor* MessagingService::RefuseOrAskMaster(grpc::CallbackServerContext* ctx,
                                                              const Request* request,
                                                              Response* response,
                                                              v2::Status refusal, Call call) {
  // Only a replica asks (a signed request is refused, whoever would serve it).
  if (!cx_.core().serving() && !ServiceContext::Signed(ctx)) {
    if (auto master = cx_.MasterStub(ctx)) {
      return AskMaster(ctx, *request, response, std::move(master), call, std::move(refusal));
    }
  }
  return AnswerNow(ctx, response, std::move(refusal));
}

v2::Broker MessagingService::RouteBroker(const v2::Endpoints* client_endpoints) const {
  const broker::BrokerConfig& config = cx_.core().config();
  v2::Broker broker;
  broker.set_name(config.group.empty() ? config.BrokerId() : config.group);
  broker.set_id(0);  // the master
  if (client_endpoints != nullptr && client_endpoints->addresses_size() > 0) {
    *broker.mutable_endpoints() = *client_endpoints;
  } else {
    v2::Endpoints* e = broker.mutable_endpoints();
    e->set_scheme(cx_.options().host.find(':') != std::string::npos ? v2::IPv6 : v2::IPv4);
    v2::Address* a = e->add_addresses();
    a->set_host(cx_.options().host);
    a->set_port(cx_.port());
  }
  return broker;
}

namespace {

// "host:port" as RocketMQ's Endpoints; false when it does not split.
bool ToEndpoints(const std::string& address, v2::Endpoints* out) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  int port = 0;
  try {
    port = std::stoi(address.substr(colon + 1));
  } catch (...) {
    return false;
  }
  std::string host = address.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  out->set_scheme(host.find(':') != std::string::npos ? v2::IPv6 : v2::IPv4);
  v2::Address* a = out->add_addresses();
  a->set_host(host);
  a->set_port(port);
  return true;
}

// A group of the cluster as RocketMQ's Broker: its name, and its master's RocketMQ 5 endpoint
// (false when it has none now).
bool ClusterBroker(const broker::GroupRouteInfo& g, v2::Broker* out) {
  out->set_name(g.name);
  out->set_id(0);
  return !g.master_grpc_address.empty() &&
         ToEndpoints(g.master_grpc_address, out->mutable_endpoints());
}

void AcceptAllTypes(v2::MessageQueue* q) {
  for (v2::MessageType t : {v2::NORMAL, v2::FIFO, v2::DELAY, v2::TRANSACTION}) {
    q->add_accept_message_types(t);
  }
}

}  // namespace

// In a cluster of broker groups (docs/cluster.md) any broker answers from its routes: each
// group's queues with the group's master as their broker, so that clients send to and
// receive from every group's master directly. A drained group's queues are readable only;
// a group with no master now is left out until it has one.
v2::Status MessagingService::ClusterRoute(const std::string& topic, const v2::Resource& resource,
                                          v2::QueryRouteResponse* response) const {
  const broker::RoutesInfo routes = cx_.core().Routes({topic});
  if (routes.topics.empty()) {
    return MakeStatus(v2::TOPIC_NOT_FOUND, "topic '" + topic + "' does not exist in the cluster");
  }
  for (const broker::QueueSetInfo& set : routes.topics.front().queues) {
    auto g = std::find_if(routes.groups.begin(), routes.groups.end(),
                          [&](const broker::GroupRouteInfo& x) { return x.name == set.group; });
    v2::Broker b;
    if (g == routes.groups.end() || !ClusterBroker(*g, &b)) continue;
    for (uint32_t i = 0; i < set.count; ++i) {
      v2::MessageQueue* q = response->add_message_queues();
      *q->mutable_topic() = resource;
      q->set_id(static_cast<int32_t>(i));
      q->set_permission(g->draining ? v2::READ : v2::READ_WRITE);
      *q->mutable_broker() = b;
      AcceptAllTypes(q);
    }
  }
  return OkStatus();
}

grpc::ServerUnaryReactor* MessagingService::QueryRoute(grpc::CallbackServerContext* ctx,
                                                       const v2::QueryRouteRequest* request,
                                                       v2::QueryRouteResponse* response) {
  if (cx_.core().clustered() && !ServiceContext::Signed(ctx)) {
    return AnswerNow(ctx, response,
                     ClusterRoute(ResourceName(request->topic()), request->topic(), response));
  }
  if (auto refused = cx_.Refusal(ctx)) {
    return RefuseOrAskMaster(ctx, request, response, std::move(*refused),
                             [](auto* stub, auto... args) { stub->QueryRoute(args...); });
  }
  Result<broker::TopicInfo> topic =
      cx_.core().admin().DescribeTopic(ResourceName(request->topic()));
  if (!topic.ok()) return AnswerNow(ctx, response, ToRocketMqStatus(topic.status()));
  const v2::Broker broker = RouteBroker(request->has_endpoints() ? &request->endpoints() : nullptr);
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

// The broker hands out messages from every queue of a topic to whichever member asks (it keeps
// the leases), so a consumer is assigned the whole topic: one queue standing for all of them.
grpc::ServerUnaryReactor* MessagingService::QueryAssignment(
    grpc::CallbackServerContext* ctx, const v2::QueryAssignmentRequest* request,
    v2::QueryAssignmentResponse* response) {
  if (cx_.core().clustered() && !ServiceContext::Signed(ctx)) {
    // One assignment per group holding queues of the topic (its master's endpoint).
    v2::QueryRouteResponse route;
    v2::Status st = ClusterRoute(ResourceName(request->topic()), request->topic(), &route);
    if (st.code() != v2::OK) return AnswerNow(ctx, response, std::move(st));
    std::string last;
    for (const v2::MessageQueue& queue : route.message_queues()) {
      if (queue.broker().name() == last) continue;
      last = queue.broker().name();
      v2::MessageQueue* q = response->add_assignments()->mutable_message_queue();
      *q = queue;
      q->set_id(-1);
    }
    return AnswerNow(ctx, response, OkStatus());
  }
  if (auto refused = cx_.Refusal(ctx)) {
    return RefuseOrAskMaster(ctx, request, response, std::move(*refused),
                             [](auto* stub, auto... args) { stub->QueryAssignment(args...); });
  }
  Result<broker::TopicInfo> topic =
      cx_.core().admin().DescribeTopic(ResourceName(request->topic()));
  if (!topic.ok()) return AnswerNow(ctx, response, ToRocketMqStatus(topic.status()));
  v2::MessageQueue* q = response->add_assignments()->mutable_message_queue();
  *q->mutable_topic() = request->topic();
  q->set_id(-1);
  q->set_permission(v2::READ_WRITE);
  *q->mutable_broker() = RouteBroker(request->has_endpoints() ? &request->endpoints() : nullptr);
  for (v2::MessageType t : {v2::NORMAL, v2::FIFO, v2::DELAY, v2::TRANSACTION}) {
    q->add_accept_message_types(t);
  }
  return AnswerNow(ctx, response, OkStatus());
}

grpc::ServerUnaryReactor* MessagingService::Heartbeat(grpc::CallbackServerContext* ctx,
                                                      const v2::HeartbeatRequest* request,
                                                      v2::HeartbeatResponse* response) {
  if (auto refused = cx_.Refusal(ctx)) return AnswerNow(ctx, response, std::move(*refused));
  broker::HeartbeatCommand hb;
  hb.client_id = ServiceContext::ClientId(ctx);
  if (request->has_group() && request->client_type() != v2::PRODUCER) {
    hb.consumer_groups.push_back(ResourceName(request->group()));
  }
  Result<int64_t> r = cx_.core().messages().Heartbeat(hb, nullptr);
  return AnswerNow(ctx, response, r.ok() ? OkStatus() : ToRocketMqStatus(r.status()));
}

grpc::ServerUnaryReactor* MessagingService::SendMessage(grpc::CallbackServerContext* ctx,
                                                        const v2::SendMessageRequest* request,
                                                        v2::SendMessageResponse* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  const bool transactional =
      request->messages_size() > 0 &&
      request->messages(0).system_properties().message_type() == v2::TRANSACTION;
  // One entry per message, in order; the request and response live until Finish (gRPC's
  // callback API), so the answer reads the message ids from the request itself.
  auto answer = [request, response, reactor, transactional](const v2::Status& status,
                                                            const broker::SendReceipts* sent) {
    for (int i = 0; i < request->messages_size(); ++i) {
      const v2::SystemProperties& sp = request->messages(i).system_properties();
      v2::SendResultEntry* e = response->add_entries();
      *e->mutable_status() = status;
      e->set_message_id(sp.message_id());
      if (sent == nullptr) continue;
      const store::AppendResult& a = sent->appended[static_cast<size_t>(i)];
      e->set_offset(a.queue_offset);
      if (transactional) e->set_transaction_id(TxnId(a.log_offset.value()));
      // A scheduled message is recalled by its id (AdminService::CancelScheduled).
      if (sp.has_delivery_timestamp()) e->set_recall_handle(sp.message_id());
    }
    *response->mutable_status() = status;
    reactor->Finish(grpc::Status::OK);
    return reactor;
  };
  if (auto refused = cx_.Refusal(ctx)) return answer(*refused, nullptr);
  if (request->messages_size() == 0) {
    return answer(ToRocketMqStatus(InvalidArgument("no message to send")), nullptr);
  }
  if (request->messages_size() > broker::kMaxSendBatch) {
    return answer(ToRocketMqStatus(InvalidArgument(
                      "more than " + std::to_string(broker::kMaxSendBatch) +
                      " messages in one send")),
                  nullptr);
  }
  broker::SendCommand command;
  // The core takes the messages' strings by move. gRPC hands the request over as const but owns
  // it (not a const object) until Finish; the answer reads only ids and timestamps from it, which
  // stay.
  auto* mutable_request = const_cast<v2::SendMessageRequest*>(request);
  for (v2::Message& m : *mutable_request->mutable_messages()) {
    if (Status st = ToSendMessage(m, transactional,
                                  static_cast<size_t>(cx_.options().max_body_bytes),
                                  &command.messages.emplace_back());
        !st.ok()) {
      return answer(ToRocketMqStatus(st), nullptr);
    }
  }
  if (transactional) {
    // Check-backs go to the clients that publish the topic (telemetry.h).
    const std::string& topic = command.messages[0].topic;
    for (const broker::SendMessage& m : command.messages) {
      if (m.topic != topic) {
        return answer(ToRocketMqStatus(InvalidArgument(
                          "the messages of one transactional send go to one topic")),
                      nullptr);
      }
    }
    command.half = true;
    command.producer_group = TxnProducerGroup(topic);
  }
  cx_.core().messages().Send(std::move(command),
                             [answer](const Status& st, const broker::SendReceipts& sent) {
                               answer(ToRocketMqStatus(st), st.ok() ? &sent : nullptr);
                             });
  return reactor;
}

grpc::ServerBidiReactor<v2::TelemetryCommand, v2::TelemetryCommand>* MessagingService::Telemetry(
    grpc::CallbackServerContext* ctx) {
  if (auto refused = cx_.Refusal(ctx)) return new RefusedTelemetry(std::move(*refused));
  return new TelemetryStream(&cx_, ServiceContext::ClientId(ctx));
}

grpc::ServerUnaryReactor* MessagingService::NotifyClientTermination(
    grpc::CallbackServerContext* ctx, const v2::NotifyClientTerminationRequest*,
    v2::NotifyClientTerminationResponse* response) {
  // Its leases lapse as usual; its Telemetry stream closing ends its check-backs.
  return AnswerNow(ctx, response, OkStatus());
}

grpc::ServerWriteReactor<v2::ReceiveMessageResponse>* MessagingService::ReceiveMessage(
    grpc::CallbackServerContext* ctx, const v2::ReceiveMessageRequest* request) {
  if (auto refused = cx_.Refusal(ctx)) {
    return new StatusOnlyStream<v2::ReceiveMessageResponse>(std::move(*refused));
  }
  auto* call = new ReceiveCall(&cx_, ctx, request);
  call->Begin();
  return call;
}

grpc::ServerUnaryReactor* MessagingService::AckMessage(grpc::CallbackServerContext* ctx,
                                                       const v2::AckMessageRequest* request,
                                                       v2::AckMessageResponse* response) {
  if (auto refused = cx_.Refusal(ctx)) return AnswerNow(ctx, response, std::move(*refused));
  const std::string group = ResourceName(request->group());
  for (const v2::AckMessageEntry& e : request->entries()) {
    v2::AckMessageResultEntry* out = response->add_entries();
    out->set_message_id(e.message_id());
    out->set_receipt_handle(e.receipt_handle());
    *out->mutable_status() = ToRocketMqStatus(cx_.core().messages().Ack(group, e.receipt_handle()));
  }
  return AnswerNow(ctx, response, Overall(response->entries()));
}

grpc::ServerUnaryReactor* MessagingService::ChangeInvisibleDuration(
    grpc::CallbackServerContext* ctx, const v2::ChangeInvisibleDurationRequest* request,
    v2::ChangeInvisibleDurationResponse* response) {
  if (auto refused = cx_.Refusal(ctx)) return AnswerNow(ctx, response, std::move(*refused));
  const int64_t ms = ToMs(request->invisible_duration());
  if (ms < 0) {
    return AnswerNow(ctx, response,
                     MakeStatus(v2::ILLEGAL_INVISIBLE_TIME, "the invisible duration is negative"));
  }
  // The shortest lease the broker keeps is a second: shorter durations (a push consumer's
  // "retry now") become one; the lapse then retries after the group's back-off.
  Result<std::string> receipt = cx_.core().messages().ChangeLease(
      ResourceName(request->group()), request->receipt_handle(), std::max<int64_t>(ms, 1000));
  if (!receipt.ok()) return AnswerNow(ctx, response, ToRocketMqStatus(receipt.status()));
  response->set_receipt_handle(std::move(*receipt));
  return AnswerNow(ctx, response, OkStatus());
}

grpc::ServerUnaryReactor* MessagingService::ForwardMessageToDeadLetterQueue(
    grpc::CallbackServerContext* ctx, const v2::ForwardMessageToDeadLetterQueueRequest* request,
    v2::ForwardMessageToDeadLetterQueueResponse* response) {
  if (auto refused = cx_.Refusal(ctx)) return AnswerNow(ctx, response, std::move(*refused));
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  cx_.core().messages().Nack(ResourceName(request->group()), ResourceName(request->topic()),
                             {request->receipt_handle()}, 0, broker::NackKind::kDeadLetter,
                             [response, reactor](std::vector<Status> results) {
                               *response->mutable_status() = ToRocketMqStatus(results.at(0));
                               reactor->Finish(grpc::Status::OK);
                             });
  return reactor;
}

grpc::ServerUnaryReactor* MessagingService::EndTransaction(grpc::CallbackServerContext* ctx,
                                                           const v2::EndTransactionRequest* request,
                                                           v2::EndTransactionResponse* response) {
  if (auto refused = cx_.Refusal(ctx)) return AnswerNow(ctx, response, std::move(*refused));
  std::optional<ParsedTxnId> id = ParseTxnId(request->transaction_id());
  if (!id) {
    return AnswerNow(ctx, response,
                     MakeStatus(v2::INVALID_TRANSACTION_ID,
                                "transaction id '" + request->transaction_id() +
                                    "' is not one this broker gave out"));
  }
  std::optional<txn::TxnAction> action;
  if (request->resolution() == v2::COMMIT) action = txn::TxnAction::kCommit;
  if (request->resolution() == v2::ROLLBACK) action = txn::TxnAction::kRollback;
  const std::string topic = ResourceName(request->topic());

  if (request->source() == v2::SOURCE_SERVER_CHECK) {
    // The answer to a check-back sent down this client's Telemetry stream: the coordinator
    // matches it to its check (and applies it even when the check was forgotten meanwhile).
    std::shared_ptr<TelemetryChannel> channel = cx_.FindChannel(ServiceContext::ClientId(ctx));
    if (channel != nullptr) {
      broker::CheckAnswer answer;
      answer.request_id = id->request_id;
      answer.answered = true;
      answer.action = action;
      answer.names_half = true;
      answer.half_offset = id->half_offset;
      answer.message_id = request->message_id();
      cx_.core().messages().CheckAnswered(*channel, answer);
      return AnswerNow(ctx, response, OkStatus());
    }
  }
  if (!action) return AnswerNow(ctx, response, OkStatus());  // UNKNOWN: asked again later
  broker::EndTxnCommand command;
  command.resolution = *action == txn::TxnAction::kCommit ? broker::TxnResolution::kCommit
                                                          : broker::TxnResolution::kRollback;
  command.half_offset = id->half_offset;
  command.message_id = request->message_id();
  command.producer_group = TxnProducerGroup(topic);
  command.reason = request->source() == v2::SOURCE_SERVER_CHECK ? txn::EndReason::kCheck
                                                               : txn::EndReason::kProducer;
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  cx_.core().messages().EndTxn(command, [response, reactor](Result<broker::EndOutcome> r) {
    *response->mutable_status() = r.ok() ? OkStatus() : ToRocketMqStatus(r.status());
    reactor->Finish(grpc::Status::OK);
  });
  return reactor;
}

grpc::ServerUnaryReactor* MessagingService::RecallMessage(grpc::CallbackServerContext* ctx,
                                                          const v2::RecallMessageRequest* request,
                                                          v2::RecallMessageResponse* response) {
  if (auto refused = cx_.Refusal(ctx)) return AnswerNow(ctx, response, std::move(*refused));
  if (request->recall_handle().empty()) {
    return AnswerNow(ctx, response, MakeStatus(v2::BAD_REQUEST, "the recall handle is empty"));
  }
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  cx_.core().admin().CancelScheduled(
      request->recall_handle(), [request, response, reactor](Result<broker::CancelResult> r) {
        if (!r.ok()) {
          *response->mutable_status() = ToRocketMqStatus(r.status());
        } else if (!r->cancelled) {
          *response->mutable_status() =
              MakeStatus(v2::NOT_FOUND, "the message was delivered already: too late to recall");
        } else {
          *response->mutable_status() = OkStatus();
          response->set_message_id(request->recall_handle());
        }
        reactor->Finish(grpc::Status::OK);
      });
  return reactor;
}

grpc::ServerWriteReactor<v2::PullMessageResponse>* MessagingService::PullMessage(
    grpc::CallbackServerContext*, const v2::PullMessageRequest*) {
  return new StatusOnlyStream<v2::PullMessageResponse>(NotServed("PullMessage"));
}

grpc::ServerUnaryReactor* MessagingService::UpdateOffset(grpc::CallbackServerContext* ctx,
                                                         const v2::UpdateOffsetRequest*,
                                                         v2::UpdateOffsetResponse* response) {
  return AnswerNow(ctx, response, NotServed("UpdateOffset"));
}

grpc::ServerUnaryReactor* MessagingService::GetOffset(grpc::CallbackServerContext* ctx,
                                                      const v2::GetOffsetRequest*,
                                                      v2::GetOffsetResponse* response) {
  return AnswerNow(ctx, response, NotServed("GetOffset"));
}

grpc::ServerUnaryReactor* MessagingService::QueryOffset(grpc::CallbackServerContext* ctx,
                                                        const v2::QueryOffsetRequest*,
                                                        v2::QueryOffsetResponse* response) {
  return AnswerNow(ctx, response, NotServed("QueryOffset"));
}

grpc::ServerUnaryReactor* MessagingService::SyncLiteSubscription(
    grpc::CallbackServerContext* ctx, const v2::SyncLiteSubscriptionRequest*,
    v2::SyncLiteSubscriptionResponse* response) {
  return AnswerNow(ctx, response, NotServed("SyncLiteSubscription"));
}

}  // namespace tidemq::rocketmq
