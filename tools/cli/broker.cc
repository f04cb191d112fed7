// tidemq stats (`cluster ...` is in cluster.cc)
#include <cstdio>
#include <iostream>
#include <memory>

#include "tools/cli/commands.h"

namespace tidemq::tools {

namespace {

int Stats(const Globals& g, bool json) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->Stats();
  if (!r.ok()) return Fail(r.status());
  if (json) {
    nlohmann::json j;
    j["counters"] = r->counters;
    j["info"] = r->info;
    PrintJson(j);
    return kExitOk;
  }
  for (const auto& [k, v] : r->info) std::printf("%-32s %s\n", k.c_str(), v.c_str());
  if (!r->info.empty() && !r->counters.empty()) std::printf("\n");
  for (const auto& [k, v] : r->counters) {
    std::printf("%-32s %lld\n", k.c_str(), static_cast<long long>(v));
  }
  return kExitOk;
}

}  // namespace

void AddBrokerCommands(CLI::App& app, const Globals& g, Action& action) {
  auto json = std::make_shared<bool>(false);

  auto* stats = app.add_subcommand("stats", "broker counters and information");
  AddJsonFlag(stats, *json);
  OnChosen(stats, action, [&g, json] { return Stats(g, *json); });
}

}  // namespace tidemq::tools
