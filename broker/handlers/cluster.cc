// CLUSTER_STATUS: the broker group as this broker sees it (BrokerCore::ClusterStatusJson);
// QUERY_ROUTE and CLUSTER_GROUP: the cluster's routes (docs/cluster.md); and the NOT_MASTER
// answer of a broker that is not its group's master.
#include "broker/error_mapping.h"
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleClusterStatus(BrokerContext& ctx, const Request& req) {
  wire::Header h;
  h.mutable_cluster_status_response()->set_json(ctx.core->ClusterStatusJson());
  req.Reply(std::move(h));
}

void HandleQueryRoute(BrokerContext& ctx, const Request& req) {
  std::vector<std::string> topics;
  if (req.header().has_query_route_request()) {
    const auto& asked = req.header().query_route_request().topics();
    topics.assign(asked.begin(), asked.end());
  }
  const RoutesInfo routes = ctx.core->Routes(topics);
  wire::Header h;
  auto* resp = h.mutable_query_route_response();
  resp->set_revision(routes.revision);
  resp->set_clustered(routes.clustered);
  for (const GroupRouteInfo& g : routes.groups) FillGroupRoute(g, resp->add_groups());
  for (const TopicRouteInfo& t : routes.topics) FillTopicRoute(t, resp->add_topics());
  req.Reply(std::move(h));
}

void HandleClusterGroup(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_cluster_group_request()) return req.ReplyError(MissingPayload(req));
  const auto& c = req.header().cluster_group_request();
  GroupAction action = GroupAction::kAdd;
  switch (c.action()) {
    case wire::ClusterGroupRequest::ADD: action = GroupAction::kAdd; break;
    case wire::ClusterGroupRequest::DRAIN: action = GroupAction::kDrain; break;
    case wire::ClusterGroupRequest::REMOVE: action = GroupAction::kRemove; break;
    default:
      return req.ReplyError(InvalidArgument("unknown cluster group action " +
                                            std::to_string(static_cast<int>(c.action()))));
  }
  ctx.core->ChangeGroup(action, c.group(), c.force(), [req](Result<GroupRouteInfo> g) {
    if (!g.ok()) return req.ReplyError(g.status());
    wire::Header h;
    FillGroupRoute(*g, h.mutable_cluster_group_response()->mutable_group());
    req.Reply(std::move(h));
  });
}

void ReplyNotServing(BrokerContext& ctx, const Request& req) {
  wire::Header h;
  SetResponseStatus(ctx.core->NotServing(), &h);
  h.set_master_address(ctx.core->MasterAddress());
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
