// QUERY_MESSAGE: look a message up by id, by (topic, key) or by log offset
// (AdminService::Query: what is gone is left out, what is damaged is reported as such).
#include "broker/handlers/handlers.h"
#include "broker/message_codec.h"

namespace tidemq::broker {

void HandleQueryMessage(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_query_message_request()) return req.ReplyError(MissingPayload(req));
  const auto& q = req.header().query_message_request();
  QueryCommand command;
  command.message_id = q.message_id();
  command.topic = q.topic();
  command.key = q.key();
  command.log_offset = q.log_offset();
  command.max_messages = q.max_messages();
  auto result = ctx.admin()->Query(command);
  if (!result.ok()) return req.ReplyError(result.status());
  wire::Header h;
  auto* resp = h.mutable_query_message_response();
  std::vector<std::string_view> bodies;
  for (const auto& [off, record] : result->found) {
    wire::Message* m = resp->add_messages();
    ToWireMessage(record, m);
    m->set_log_offset(off.value());
    bodies.push_back(record.body);
  }
  for (LogOffset off : result->damaged) resp->add_damaged_log_offsets(off.value());
  req.Reply(std::move(h), bodies);
}

}  // namespace tidemq::broker
