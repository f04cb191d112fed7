// TIMER_SHOW: one pending scheduled message by id; NOT_FOUND once it fired or was cancelled.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleTimerShow(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_timer_show_request()) return req.ReplyError(MissingPayload(req));
  const std::string& id = req.header().timer_show_request().message_id();
  Result<ScheduledInfo> info = ctx.admin()->ShowScheduled(id);
  if (!info.ok()) return req.ReplyError(info.status());
  const timer::IndexEntry& e = info->entry;
  wire::Header h;
  auto* resp = h.mutable_timer_show_response();
  resp->set_message_id(e.message_id);
  resp->set_due_ms(e.due_ms);
  resp->set_topic(e.topic);
  resp->set_queue_id(static_cast<int32_t>(e.queue_id));
  resp->set_firing(info->firing);
  resp->set_log_offset(e.offset.value());
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
