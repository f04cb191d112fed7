// SEND and SEND_HALF: decode the batch, MessageService::Send (admission and classification:
// broker/core/message_service.h), reply when the store has the messages durable.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {
namespace {

void Send(BrokerContext& ctx, const Request& req, bool half) {
  if (!req.header().has_send_request()) return req.ReplyError(MissingPayload(req));
  const wire::SendRequest& sr = req.header().send_request();
  std::vector<std::string_view> bodies;
  if (Status st = wire::SplitBodies(sr.messages(), req.frame->body, &bodies); !st.ok()) {
    return req.ReplyError(InvalidArgument(st.message()));
  }
  SendCommand command;
  command.half = half;
  command.producer_group = sr.producer_group();
  command.messages.reserve(sr.messages_size());
  for (int i = 0; i < sr.messages_size(); ++i) {
    const wire::Message& w = sr.messages(i);
    SendMessage& m = command.messages.emplace_back();
    m.topic = w.topic();
    m.queue_id = w.queue_id();
    m.message_id = w.message_id();
    m.tag = w.tag();
    m.message_group = w.message_group();
    m.keys.assign(w.keys().begin(), w.keys().end());
    m.properties.assign(w.properties().begin(), w.properties().end());
    m.born_ms = w.born_ms();
    m.deliver_at_ms = w.deliver_at_ms();
    m.delay_ms = w.delay_ms();
    m.txn_check_timeout_ms = w.txn_check_timeout_ms();
    m.body.assign(bodies[i]);
  }
  ctx.messages()->Send(std::move(command), [req](const Status& st, const SendReceipts& sent) {
    if (!st.ok()) return req.ReplyError(st);
    wire::Header h;
    auto* resp = h.mutable_send_response();
    const auto& msgs = req.header().send_request().messages();
    for (size_t i = 0; i < sent.appended.size(); ++i) {
      auto* r = resp->add_results();
      r->set_message_id(msgs[static_cast<int>(i)].message_id());
      r->set_queue_id(static_cast<int32_t>(sent.queues[i]));
      r->set_queue_offset(sent.appended[i].queue_offset);  // -1: scheduled or half message
      r->set_log_offset(sent.appended[i].log_offset.value());
    }
    req.Reply(std::move(h));
  });
}

}  // namespace

void HandleSend(BrokerContext& ctx, const Request& req) { Send(ctx, req, /*half=*/false); }
void HandleSendHalf(BrokerContext& ctx, const Request& req) { Send(ctx, req, /*half=*/true); }

}  // namespace tidemq::broker
