// CHANGE_LEASE: extends (or shortens) a delivery's invisibility; returns the new handle.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleChangeLease(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_change_lease_request()) return req.ReplyError(MissingPayload(req));
  const auto& cr = req.header().change_lease_request();
  auto handle = ctx.messages()->ChangeLease(cr.group(), cr.receipt_handle(), cr.lease_ms());
  if (!handle.ok()) return req.ReplyError(handle.status());
  wire::Header h;
  h.mutable_change_lease_response()->set_receipt_handle(*handle);
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
