// NACK: MessageService::Nack retries the deliveries after the group's back-off (or the
// nack's delay) or dead-letters them; `release` gives them back unprocessed instead
// (consumer shutting down). The reply goes out once every retry / DLQ copy is durable.
#include "broker/error_mapping.h"
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleNack(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_nack_request()) return req.ReplyError(MissingPayload(req));
  const auto& nr = req.header().nack_request();
  std::vector<std::string> handles(nr.receipt_handles().begin(), nr.receipt_handles().end());
  ctx.messages()->Nack(nr.group(), nr.topic(), std::move(handles), nr.delay_ms(),
                       nr.release() ? NackKind::kRelease : NackKind::kRetry,
                     [req](std::vector<Status> results) {
                       wire::Header h;
                       auto* resp = h.mutable_nack_response();
                       for (const Status& s : results) {
                         auto* r = resp->add_results();
                         r->set_code(ToWireCode(s.code()));
                         r->set_error_message(s.message());
                       }
                       req.Reply(std::move(h));
                     });
}

}  // namespace tidemq::broker
