// TRACE: a message's life read back from the log (AdminService::Trace), by message id or by
// (topic, key).
#include "broker/handlers/handlers.h"

namespace tidemq::broker {
namespace {

void ToWire(const MessageTrace& t, wire::MessageTrace* out) {
  out->set_message_id(t.message_id);
  out->set_truncated(t.truncated);
  for (const TraceStep& s : t.steps) {
    wire::TraceStep* w = out->add_steps();
    w->set_time_ms(s.time_ms);
    w->set_kind(s.kind);
    w->set_log_offset(s.log_offset);
    for (const auto& [key, value] : s.detail) {
      wire::TraceStep::Detail* d = w->add_detail();
      d->set_key(key);
      d->set_value(value);
    }
  }
  for (LogOffset at : t.damaged) out->add_damaged_log_offsets(at.value());
}

}  // namespace

void HandleTrace(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_trace_request()) return req.ReplyError(MissingPayload(req));
  const auto& q = req.header().trace_request();
  std::vector<MessageTrace> traces;
  bool truncated = false;
  if (!q.message_id().empty()) {
    auto t = ctx.admin()->Trace(q.message_id());
    if (!t.ok()) return req.ReplyError(t.status());
    traces.push_back(std::move(t).value());
  } else {
    auto t = ctx.admin()->TraceByKey(q.topic(), q.key(), q.max_messages(), &truncated);
    if (!t.ok()) return req.ReplyError(t.status());
    traces = std::move(t).value();
  }
  wire::Header h;
  auto* resp = h.mutable_trace_response();
  for (const MessageTrace& t : traces) ToWire(t, resp->add_traces());
  resp->set_truncated(truncated);
  resp->set_consumption_traced(ctx.core->config().trace_consumption);
  if (!traces.empty()) resp->set_events_dropped(traces.front().events_dropped);
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
