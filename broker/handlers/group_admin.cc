// CREATE_GROUP, LIST_GROUPS, DESCRIBE_GROUP, DELETE_GROUP.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {
namespace {

void FillGroupConfig(const GroupConfig& c, wire::GroupConfig* out) {
  out->set_name(c.name);
  out->set_mode(c.broadcast ? wire::BROADCASTING : wire::CLUSTERING);
  out->set_fifo(c.fifo);
  out->set_max_attempts(c.max_attempts);
  out->set_fifo_block(c.fifo_block);
  auto* r = out->mutable_retry();
  switch (c.retry.kind) {
    case RetryPolicy::Kind::kLadder: r->set_kind(wire::RetryPolicy::LADDER); break;
    case RetryPolicy::Kind::kCustom: r->set_kind(wire::RetryPolicy::CUSTOM); break;
    case RetryPolicy::Kind::kExponential: r->set_kind(wire::RetryPolicy::EXPONENTIAL); break;
  }
  for (int64_t d : c.retry.delays_ms) r->add_delays_ms(d);
  r->set_initial_ms(c.retry.initial_ms);
  r->set_multiplier(c.retry.multiplier);
  r->set_max_ms(c.retry.max_ms);
}

Result<RetryPolicy> PolicyFromWire(const wire::RetryPolicy& w) {
  RetryPolicy p;
  switch (w.kind()) {
    case wire::RetryPolicy::LADDER:
      return p;
    case wire::RetryPolicy::CUSTOM:
      p.kind = RetryPolicy::Kind::kCustom;
      p.delays_ms.assign(w.delays_ms().begin(), w.delays_ms().end());
      break;
    case wire::RetryPolicy::EXPONENTIAL:
      p.kind = RetryPolicy::Kind::kExponential;
      p.initial_ms = w.initial_ms();
      p.multiplier = w.multiplier();
      p.max_ms = w.max_ms();
      break;
    default:
      return InvalidArgument("unknown retry policy kind " + std::to_string(w.kind()));
  }
  return p;
}

void FillGroupInfo(const GroupInfo& info, wire::GroupInfo* out) {
  FillGroupConfig(info.config, out->mutable_config());
  out->set_retried(info.retried);
  out->set_dead_lettered(info.dead_lettered);
  out->set_dlq_messages(info.dlq_messages);
  for (const QueueLagInfo& q : info.queues) {
    auto* l = out->add_queues();
    l->set_topic(q.topic);
    l->set_queue_id(static_cast<int32_t>(q.queue_id));
    l->set_committed_offset(q.committed);
    l->set_max_offset(q.max_offset);
    l->set_lag(q.lag);
    l->set_inflight(q.inflight);
    l->set_client_id(q.client_id);
    l->set_lost_to_retention(q.lost_to_retention);
  }
  for (const auto& c : info.clients) out->add_clients(c);
  out->set_total_lag(info.total_lag);
  out->set_lost_to_retention(info.lost_to_retention);
}

}  // namespace

void HandleCreateGroup(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_create_group_request()) return req.ReplyError(MissingPayload(req));
  const auto& c = req.header().create_group_request().config();
  GroupSpec spec;
  spec.config.name = c.name();
  spec.config.broadcast = c.mode() == wire::BROADCASTING;
  spec.config.fifo = c.fifo();
  spec.config.max_attempts = c.max_attempts();
  spec.config.fifo_block = c.fifo_block();
  if (c.has_retry()) {
    auto policy = PolicyFromWire(c.retry());
    if (!policy.ok()) return req.ReplyError(policy.status());
    spec.retry = *policy;
  }
  ctx.core->CreateConsumerGroup(std::move(spec), [req](Result<GroupInfo> info) {
    if (!info.ok()) return req.ReplyError(info.status());
    wire::Header h;
    FillGroupInfo(*info, h.mutable_create_group_response()->mutable_group());
    req.Reply(std::move(h));
  });
}

void HandleListGroups(BrokerContext& ctx, const Request& req) {
  wire::Header h;
  auto* resp = h.mutable_list_groups_response();
  for (const GroupInfo& info : ctx.admin()->ListGroups()) FillGroupInfo(info, resp->add_groups());
  req.Reply(std::move(h));
}

void HandleDescribeGroup(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_describe_group_request()) return req.ReplyError(MissingPayload(req));
  auto info = ctx.admin()->DescribeGroup(req.header().describe_group_request().group());
  if (!info.ok()) return req.ReplyError(info.status());
  wire::Header h;
  FillGroupInfo(*info, h.mutable_describe_group_response()->mutable_group());
  req.Reply(std::move(h));
}

void HandleDeleteGroup(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_delete_group_request()) return req.ReplyError(MissingPayload(req));
  ctx.core->DeleteConsumerGroup(req.header().delete_group_request().group(), [req](const Status& st) {
    if (!st.ok()) return req.ReplyError(st);
    wire::Header h;
    h.mutable_delete_group_response();
    req.Reply(std::move(h));
  });
}

void HandleResetOffset(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_reset_offset_request()) return req.ReplyError(MissingPayload(req));
  const auto& q = req.header().reset_offset_request();
  auto moved = ctx.admin()->ResetOffset(q.group(), q.topic(), q.time_ms(), q.queue_id());
  if (!moved.ok()) return req.ReplyError(moved.status());
  wire::Header h;
  auto* resp = h.mutable_reset_offset_response();
  for (const OffsetMove& m : *moved) {
    auto* w = resp->add_queues();
    w->set_queue_id(static_cast<int32_t>(m.queue_id));
    w->set_from_offset(m.from);
    w->set_to_offset(m.to);
  }
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
