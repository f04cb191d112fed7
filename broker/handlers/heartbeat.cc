// HEARTBEAT: a client says it is alive and which groups it serves; check-backs for its
// producer groups may come over this connection (a ProducerChannel).
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleHeartbeat(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_heartbeat_request()) return req.ReplyError(MissingPayload(req));
  const auto& hr = req.header().heartbeat_request();
  HeartbeatCommand command;
  command.client_id = hr.client_id();
  command.consumer_groups.assign(hr.consumer_groups().begin(), hr.consumer_groups().end());
  command.producer_groups.assign(hr.producer_groups().begin(), hr.producer_groups().end());
  auto now = ctx.messages()->Heartbeat(command, req.conn);
  if (!now.ok()) return req.ReplyError(now.status());
  wire::Header h;
  h.mutable_heartbeat_response()->set_broker_time_ms(*now);
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
