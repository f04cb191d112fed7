// RECEIVE: decode, MessageService::Receive (which may park the receive until a message
// arrives, a redelivery falls due, or the wait runs out), encode the deliveries.
//
// The reply is bounded by the room this connection has in flight (broker/inflight_budget.h):
// with no room at all the receive gets RESOURCE_EXHAUSTED. A reply that never reached the
// socket (the connection closed first) gives its messages back (MessageService::ReleaseUnsent).
#include "broker/handlers/handlers.h"
#include "broker/message_codec.h"

namespace tidemq::broker {
namespace {

// The receive's way back to its connection (a transport-neutral waiter of the core).
class NativeReceive final : public ReceiveWaiter {
 public:
  NativeReceive(BrokerContext& ctx, const Request& req, const wire::ReceiveRequest& rr)
      : ctx_(ctx), req_(req), group_(&rr.group()), topic_(&rr.topic()) {}

  // The parked copy lives on its own; the request's frame (and so rr) lives as long as it.
  std::shared_ptr<ReceiveWaiter> Park() override {
    return std::make_shared<NativeReceive>(std::move(*this));
  }

  Result<size_t> ReplyRoom() override {
    const int64_t room = req_.conn->ReplyRoom();
    if (room <= 0) {
      return Status(Code::kResourceExhausted,
                    "no room for a receive reply: this connection holds " +
                        std::to_string(req_.conn->held_bytes()) +
                        " bytes of requests and unread replies (or the broker its limit of "
                        "bytes in flight); read the replies, then receive again");
    }
    return static_cast<size_t>(room);
  }

  void Complete(Result<std::vector<Delivery>> got) override {
    if (!got.ok()) return req_.ReplyError(got.status());
    const std::vector<Delivery>& deliveries = *got;
    wire::Header h;
    auto* resp = h.mutable_receive_response();
    std::vector<std::string_view> bodies;
    bodies.reserve(deliveries.size());
    for (const Delivery& d : deliveries) {
      wire::Message* m = resp->add_messages();
      ToWireMessage(d.record, m);
      // A retry copy is delivered as a message of the topic it was sent to.
      if (!m->original_topic().empty()) m->set_topic(m->original_topic());
      m->set_queue_id(static_cast<int32_t>(d.queue_id));
      m->set_delivered_queue_id(static_cast<int32_t>(d.queue_id));
      m->set_queue_offset(d.queue_offset);
      m->set_log_offset(d.log_offset.value());
      m->set_delivery_attempt(d.attempt);
      m->set_receipt_handle(d.receipt);
      bodies.push_back(d.record.body);
    }
    Connection::Written written;
    if (!deliveries.empty()) {
      std::vector<std::string> receipts;
      receipts.reserve(deliveries.size());
      for (const Delivery& d : deliveries) receipts.push_back(d.receipt);
      written = [messages = ctx_.messages(), group = *group_, topic = *topic_,
                 receipts = std::move(receipts)](bool ok) {
        if (!ok) messages->ReleaseUnsent(group, topic, receipts);
      };
    }
    req_.Reply(std::move(h), bodies, std::move(written));
  }

 private:
  BrokerContext& ctx_;
  Request req_;
  // Point into req_'s frame, which req_ keeps alive.
  const std::string* group_;
  const std::string* topic_;
};

}  // namespace

void HandleReceive(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_receive_request()) return req.ReplyError(MissingPayload(req));
  const wire::ReceiveRequest& rr = req.header().receive_request();
  ReceiveCommand command;
  command.args.group = rr.group();
  command.args.topic = rr.topic();
  command.args.tag_filter = rr.tag_filter();
  command.args.max_messages = rr.max_messages();
  command.args.lease_ms = rr.lease_ms();
  command.args.client_id = rr.client_id();
  command.wait_ms = rr.wait_ms();
  NativeReceive waiter(ctx, req, rr);
  ctx.messages()->Receive(std::move(command), waiter);
}

}  // namespace tidemq::broker
