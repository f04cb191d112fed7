// CREATE_GROUP, LIST_GROUPS, DESCRIBE_GROUP, DELETE_GROUP.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {
namespace {

void FillGroupConfig(const GroupConfig& c, wire::GroupConfig* out) {
  out->set_name(c.name);
  out->set_mode(c.broadcast ? wire::BROADCASTING : wire::CLUSTERING);
  out->set_fifo(c.fifo);
  out->set_max_attempts(c.max_attempts);
}

void FillGroupInfo(const GroupInfo& info, wire::GroupInfo* out) {
  FillGroupConfig(info.config, out->mutable_config());
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
    total += l->lag();
  }
  for (const auto& c : info.clients) out->add_clients(c);
  out->set_total_lag(total);
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
  if (config.broadcast && config.fifo) {
    return req.ReplyError(InvalidArgument("a group is either broadcasting or FIFO, not both"));
  }
  auto created = ctx.consumers->CreateGroup(config);
  if (!created.ok()) return req.ReplyError(created.status());
  auto info = ctx.consumers->DescribeGroup(created->name);
  if (!info.ok()) return req.ReplyError(info.status());
  wire::Header h;
  FillGroupInfo(*info, h.mutable_create_group_response()->mutable_group());
  req.Reply(std::move(h));
}

void HandleListGroups(BrokerContext& ctx, const Request& req) {
  wire::Header h;
  auto* resp = h.mutable_list_groups_response();
  for (const GroupConfig& c : ctx.consumers->ListGroups()) {
    auto info = ctx.consumers->DescribeGroup(c.name);
    if (info.ok()) FillGroupInfo(*info, resp->add_groups());
  }
  req.Reply(std::move(h));
}

void HandleDescribeGroup(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_describe_group_request()) return req.ReplyError(MissingPayload(req));
  auto info = ctx.consumers->DescribeGroup(req.header().describe_group_request().group());
  if (!info.ok()) return req.ReplyError(info.status());
  wire::Header h;
  FillGroupInfo(*info, h.mutable_describe_group_response()->mutable_group());
  req.Reply(std::move(h));
}

void HandleDeleteGroup(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_delete_group_request()) return req.ReplyError(MissingPayload(req));
  Status st = ctx.consumers->DeleteGroup(req.header().delete_group_request().group());
  if (!st.ok()) return req.ReplyError(st);
  wire::Header h;
  h.mutable_delete_group_response();
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
