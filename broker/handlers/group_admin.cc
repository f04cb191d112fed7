// CREATE_GROUP, LIST_GROUPS, DESCRIBE_GROUP, DELETE_GROUP.
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio/post.hpp>

#include "broker/dead_letters.h"
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
  RETURN_IF_ERROR(p.Validate());
  return p;
}

void FillGroupInfo(BrokerContext& ctx, const GroupInfo& info, wire::GroupInfo* out) {
  FillGroupConfig(info.config, out->mutable_config());
  out->set_retried(info.retried);
  out->set_dead_lettered(info.dead_lettered);
  out->set_dlq_messages(ctx.dead_letters->Count(info.config.name));
  int64_t total = 0;
  for (const QueueLagInfo& q : info.queues) {
    auto* l = out->add_queues();
    l->set_topic(q.topic);
    l->set_queue_id(static_cast<int32_t>(q.queue_id));
    l->set_committed_offset(q.committed);
    l->set_max_offset(q.max_offset);
    l->set_lag(std::max<int64_t>(0, q.max_offset - q.committed));
    l->set_inflight(q.inflight);
    l->set_client_id(q.client_id);
    l->set_lost_to_retention(q.lost_to_retention);
    total += l->lag();
  }
  for (const auto& c : info.clients) out->add_clients(c);
  out->set_total_lag(total);
  out->set_lost_to_retention(info.lost_to_retention);
}

}  // namespace

void HandleCreateGroup(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_create_group_request()) return req.ReplyError(MissingPayload(req));
  const auto& c = req.header().create_group_request().config();
  GroupConfig config;
  config.name = c.name();
  config.broadcast = c.mode() == wire::BROADCASTING;
  config.fifo = c.fifo();
  config.max_attempts = c.max_attempts();
  config.fifo_block = c.fifo_block();
  // Unset retry settings keep the group's own (update) or take the broker's defaults (create).
  auto existing = ctx.consumers->DescribeGroup(c.name());
  if (c.has_retry()) {
    auto policy = PolicyFromWire(c.retry());
    if (!policy.ok()) return req.ReplyError(policy.status());
    config.retry = *policy;
  } else {
    config.retry = existing.ok() ? existing->config.retry : ctx.config.default_retry;
  }
  if (config.max_attempts == 0) {
    config.max_attempts =
        existing.ok() ? existing->config.max_attempts : ctx.config.default_max_attempts;
  }
  if (config.fifo_block && !config.fifo) {
    return req.ReplyError(InvalidArgument("fifo_block applies to FIFO groups only"));
  }
  if (config.broadcast && config.fifo) {
    return req.ReplyError(InvalidArgument("a group is either broadcasting or FIFO, not both"));
  }
  // Answered once the group's record is durable: from the store's writer thread, back to the
  // network threads.
  const std::string name = config.name;
  auto created = ctx.consumers->CreateGroup(config, [&ctx, req, name](const Status& st) {
    boost::asio::post(*ctx.io, [&ctx, req, name, st] {
      if (!st.ok()) return req.ReplyError(st);
      auto info = ctx.consumers->DescribeGroup(name);
      if (!info.ok()) return req.ReplyError(info.status());
      wire::Header h;
      FillGroupInfo(ctx, *info, h.mutable_create_group_response()->mutable_group());
      req.Reply(std::move(h));
    });
  });
  if (!created.ok()) return req.ReplyError(created.status());
}

void HandleListGroups(BrokerContext& ctx, const Request& req) {
  wire::Header h;
  auto* resp = h.mutable_list_groups_response();
  for (const GroupConfig& c : ctx.consumers->ListGroups()) {
    auto info = ctx.consumers->DescribeGroup(c.name);
    if (info.ok()) FillGroupInfo(ctx, *info, resp->add_groups());
  }
  req.Reply(std::move(h));
}

void HandleDescribeGroup(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_describe_group_request()) return req.ReplyError(MissingPayload(req));
  auto info = ctx.consumers->DescribeGroup(req.header().describe_group_request().group());
  if (!info.ok()) return req.ReplyError(info.status());
  wire::Header h;
  FillGroupInfo(ctx, *info, h.mutable_describe_group_response()->mutable_group());
  req.Reply(std::move(h));
}

void HandleDeleteGroup(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_delete_group_request()) return req.ReplyError(MissingPayload(req));
  Status st = ctx.consumers->DeleteGroup(
      req.header().delete_group_request().group(), [req](const Status& durable) {
        if (!durable.ok()) return req.ReplyError(durable);
        wire::Header h;
        h.mutable_delete_group_response();
        req.Reply(std::move(h));
      });
  if (!st.ok()) return req.ReplyError(st);
}

}  // namespace tidemq::broker
