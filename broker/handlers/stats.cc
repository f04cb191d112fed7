// STATS: counters and facts about the broker and its store (AdminService::Stats), plus the
// address this adapter listens on.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleStats(BrokerContext& ctx, const Request& req) {
  const StatsReport report = ctx.admin()->Stats();
  wire::Header h;
  auto* resp = h.mutable_stats_response();
  auto& counters = *resp->mutable_counters();
  for (const auto& [name, value] : report.counters) counters[name] = value;
  auto& info = *resp->mutable_info();
  for (const auto& [name, value] : report.info) info[name] = value;
  info["listen"] = ctx.listen_address;
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
