// ACK: settles deliveries; each receipt handle gets its own result.
#include "broker/error_mapping.h"
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleAck(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_ack_request()) return req.ReplyError(MissingPayload(req));
  const auto& ar = req.header().ack_request();
  wire::Header h;
  auto* resp = h.mutable_ack_response();
  for (const auto& handle : ar.receipt_handles()) {
    Status st = ctx.messages()->Ack(ar.group(), handle);
    auto* r = resp->add_results();
    r->set_code(ToWireCode(st.code()));
    r->set_error_message(st.message());
  }
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
