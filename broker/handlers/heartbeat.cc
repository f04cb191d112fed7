// HEARTBEAT: a client says it is alive and which groups it serves.
#include "broker/handlers/handlers.h"
#include "broker/txn_coordinator.h"
#include "common/names.h"

namespace tidemq::broker {

void HandleHeartbeat(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_heartbeat_request()) return req.ReplyError(MissingPayload(req));
  const auto& hr = req.header().heartbeat_request();
  if (!hr.client_id().empty()) {
    if (Status st = ValidateClientId(hr.client_id()); !st.ok()) return req.ReplyError(st);
    for (const auto& g : hr.consumer_groups()) ctx.consumers->Touch(g, hr.client_id());
  }
  for (const auto& g : hr.producer_groups()) {
    if (Status st = ValidateGroupName(g); !st.ok()) return req.ReplyError(st);
  }
  // Check-backs for these groups may come over this connection.
  for (const auto& g : hr.producer_groups()) ctx.txn_coordinator->RegisterProducer(g, req.conn);
  wire::Header h;
  h.mutable_heartbeat_response()->set_broker_time_ms(ctx.clock->NowMs());
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
