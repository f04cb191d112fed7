// CANCEL_SCHEDULED: cancels a pending scheduled message by id (race-free against its firing;
// docs/timer.md), or says it already fired. NOT_FOUND when nothing with the id is pending or
// was delivered.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleCancelScheduled(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_cancel_scheduled_request()) return req.ReplyError(MissingPayload(req));
  const std::string& id = req.header().cancel_scheduled_request().message_id();
  ctx.admin()->CancelScheduled(id, [req](Result<CancelResult> result) {
    if (!result.ok()) return req.ReplyError(result.status());
    wire::Header h;
    auto* resp = h.mutable_cancel_scheduled_response();
    resp->set_outcome(result->cancelled ? wire::CancelScheduledResponse::CANCELLED
                                        : wire::CancelScheduledResponse::ALREADY_FIRED);
    resp->set_due_ms(result->due_ms);
    req.Reply(std::move(h));
  });
}

}  // namespace tidemq::broker
