// NACK: gives deliveries back for redelivery after delay_ms; wakes long-polling receivers
// when they are due at once.
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio/post.hpp>

#include "broker/error_mapping.h"
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleNack(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_nack_request()) return req.ReplyError(MissingPayload(req));
  const auto& nr = req.header().nack_request();
  wire::Header h;
  auto* resp = h.mutable_nack_response();
  bool any = false;
  for (const auto& handle : nr.receipt_handles()) {
    Status st = ctx.consumers->Nack(nr.group(), handle, nr.delay_ms());
    any |= st.ok();
    auto* r = resp->add_results();
    r->set_code(ToWireCode(st.code()));
    r->set_error_message(st.message());
  }
  req.Reply(std::move(h));
  if (any && nr.delay_ms() == 0) {
    for (auto& retry : ctx.polls->Notify(nr.topic())) retry();
  }
}

}  // namespace tidemq::broker
