// CLUSTER_STATUS: the broker group as this broker sees it (BrokerCore::ClusterStatusJson), and
// the NOT_MASTER answer of a broker that is not its group's master.
#include "broker/error_mapping.h"
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleClusterStatus(BrokerContext& ctx, const Request& req) {
  wire::Header h;
  h.mutable_cluster_status_response()->set_json(ctx.core->ClusterStatusJson());
  req.Reply(std::move(h));
}

void ReplyNotServing(BrokerContext& ctx, const Request& req) {
  wire::Header h;
  SetResponseStatus(ctx.core->NotServing(), &h);
  h.set_master_address(ctx.core->MasterAddress());
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
