// tidemq stats | cluster status
#include <cstdio>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <sstream>

#include "tools/cli/commands.h"
#include "tools/cluster_status.h"

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

// "a, b,c" -> {"a", "b", "c"}; empty entries are dropped (the client reports a bad list).
std::vector<std::string> SplitAddresses(const std::string& list) {
  std::vector<std::string> out;
  std::stringstream in(list);
  std::string part;
  while (std::getline(in, part, ',')) {
    size_t b = part.find_first_not_of(' ');
    size_t e = part.find_last_not_of(' ');
    if (b != std::string::npos) out.push_back(part.substr(b, e - b + 1));
  }
  return out;
}

// Asks every address given (and a master a replica names, when it was not given) for its
// view of its group; prints each group once, from its master's answer when there is one.
// --json prints the broker's own document, one line per group.
int ClusterStatusCommand(const Globals& g, bool json) {
  struct Answer {
    std::string address;
    std::string json;
    ClusterStatus status;
  };
  std::vector<Answer> answers;
  std::set<std::string> asked;
  Status last_error;
  auto ask = [&](const std::string& address) {
    if (!asked.insert(address).second) return;
    // This address only: the point is what each broker says, not to follow the master.
    auto admin = Admin::NewBuilder()
                     .Endpoint(address)
                     .RequestTimeout(g.timeout_ms)
                     .FailoverDeadline(0)
                     .Build();
    Result<std::string> doc =
        admin.ok() ? admin->ClusterStatus() : Result<std::string>(admin.status());
    if (!doc.ok()) {
      std::fprintf(stderr, "%s: %s\n", address.c_str(), doc.status().message().c_str());
      last_error = doc.status();
      return;
    }
    auto parsed = ParseClusterStatus(*doc);
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s: %s\n", address.c_str(), parsed.status().message().c_str());
      last_error = parsed.status();
      return;
    }
    answers.push_back(Answer{address, std::move(*doc), std::move(*parsed)});
  };
  for (const std::string& address : SplitAddresses(g.addr)) ask(address);
  for (size_t i = 0; i < answers.size(); ++i) {  // grows while masters are asked
    const auto& st = answers[i].status;
    if (st.role == "replica" && !st.master_address.empty()) ask(st.master_address);
  }
  if (answers.empty())
    return Fail(last_error.ok() ? Status(Code::kInvalidArgument, "no address given") : last_error);
  // One answer per group: the master's, else the first; standalone brokers each.
  std::vector<const Answer*> shown;
  std::map<std::string, size_t> by_group;
  for (const Answer& a : answers) {
    if (a.status.group.empty() || a.status.role == "standalone") {
      shown.push_back(&a);
      continue;
    }
    auto [it, fresh] = by_group.emplace(a.status.group, shown.size());
    if (fresh) {
      shown.push_back(&a);
    } else if (a.status.role == "master" && shown[it->second]->status.role != "master") {
      shown[it->second] = &a;
    }
  }
  for (const Answer* a : shown) {
    if (json) {
      std::cout << a->json << "\n";
    } else {
      std::cout << FormatClusterStatus(a->status, a->address);
    }
  }
  return kExitOk;
}

}  // namespace

void AddBrokerCommands(CLI::App& app, const Globals& g, Action& action) {
  auto json = std::make_shared<bool>(false);

  auto* stats = app.add_subcommand("stats", "broker counters and information");
  AddJsonFlag(stats, *json);
  OnChosen(stats, action, [&g, json] { return Stats(g, *json); });

  auto* cluster = app.add_subcommand("cluster", "broker groups: members, roles, replication");
  cluster->require_subcommand(1);
  auto* status = cluster->add_subcommand(
      "status",
      "each group of the --addr brokers: epoch, master, in-sync set, and per member its\n"
      "address, role, log end, replication lag, in-sync and connection state");
  AddJsonFlag(status, *json, "the broker's JSON document (one per group)");
  OnChosen(status, action, [&g, json] { return ClusterStatusCommand(g, *json); });
}

}  // namespace tidemq::tools
