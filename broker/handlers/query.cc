// QUERY_MESSAGE: look a message up by id, by (topic, key) or by log offset.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleQueryMessage(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_query_message_request()) return req.ReplyError(MissingPayload(req));
  const auto& q = req.header().query_message_request();
  size_t max = q.max_messages() == 0 ? 32 : std::min<uint32_t>(q.max_messages(), 1024);
  std::vector<LogOffset> offsets;
  if (q.log_offset() > 0 || (q.message_id().empty() && q.key().empty())) {
    offsets.push_back(LogOffset(q.log_offset()));
  } else if (!q.message_id().empty()) {
    auto found = ctx.store->LookupMessageId(q.message_id(), max);
    if (!found.ok()) return req.ReplyError(found.status());
    offsets = std::move(found).value();
  } else {
    if (q.topic().empty()) return req.ReplyError(InvalidArgument("a key query needs a topic"));
    auto found = ctx.store->LookupKey(q.topic(), q.key(), max);
    if (!found.ok()) return req.ReplyError(found.status());
    offsets = std::move(found).value();
  }
  if (offsets.size() > max) offsets.resize(max);

  std::vector<store::Record> records;
  for (LogOffset off : offsets) {
    auto rec = ctx.store->Read(off);
    if (!rec.ok()) {
      if (!q.message_id().empty() || !q.key().empty()) continue;  // aged out meanwhile
      return req.ReplyError(rec.status());
    }
    if (!q.topic().empty() && rec->topic != q.topic()) continue;
    records.push_back(std::move(rec).value());
  }
  if (records.empty()) {
    return req.ReplyError(NotFound("no message matches the query"));
  }
  wire::Header h;
  auto* resp = h.mutable_query_message_response();
  std::vector<std::string_view> bodies;
  for (size_t i = 0; i < records.size(); ++i) {
    wire::Message* m = resp->add_messages();
    ToWireMessage(records[i], m);
    m->set_log_offset(offsets[i].value());
    bodies.push_back(records[i].body);
  }
  req.Reply(std::move(h), bodies);
}

}  // namespace tidemq::broker
