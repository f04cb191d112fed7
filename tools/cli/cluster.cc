// tidemq cluster status | add-group | drain | remove-group
#include <algorithm>
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

struct ClusterArgs {
  std::string name;
  bool force = false;
  bool json = false;
};

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

// Outside a cluster: asks every address given (and a master a replica names, when it was not
// given) for its view of its group; prints each group once, from its master's answer when
// there is one. --json prints the broker's own document, one line per group.
int GroupMembersByAddress(const Globals& g, bool json) {
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

// Queues each group holds, summed over the topics.
std::map<std::string, uint32_t> QueuesPerGroup(const ClusterRoutes& r) {
  std::map<std::string, uint32_t> out;
  for (const auto& t : r.topics) {
    for (const auto& q : t.queues) out[q.group] += q.queue_count;
  }
  return out;
}

nlohmann::json GroupRouteJson(const BrokerGroupRoute& b) {
  return {{"name", b.name},           {"state", ToString(b.state)},
          {"master_id", b.master_id}, {"master_address", b.master_address},
          {"addresses", b.addresses}, {"master_grpc_address", b.master_grpc_address},
          {"epoch", b.epoch}};
}

// In a cluster: every group from the routes (state, master, epoch, queues), then each group's
// members as its master reports them. Outside one: GroupMembersByAddress.
int ClusterStatusCommand(const Globals& g, bool json) {
  // A status shows a dead group at once instead of waiting out a failover for it.
  auto admin = Admin::NewBuilder()
                   .Endpoint(g.addr)
                   .RequestTimeout(g.timeout_ms)
                   .FailoverDeadline(std::min<int64_t>(g.timeout_ms, 2000))
                   .Build();
  Result<ClusterRoutes> routes = admin.ok() ? admin->QueryRoute() : admin.status();
  if (!routes.ok() || !routes->clustered) return GroupMembersByAddress(g, json);
  const auto queues = QueuesPerGroup(*routes);
  auto queues_of = [&](const std::string& name) {
    auto it = queues.find(name);
    return it == queues.end() ? 0u : it->second;
  };
  nlohmann::json out;
  if (json) {
    out["revision"] = routes->revision;
    out["clustered"] = true;
    out["groups"] = nlohmann::json::array();
  } else {
    std::printf("cluster: %zu broker group(s), %zu topic(s), route revision %lld\n",
                routes->groups.size(), routes->topics.size(),
                static_cast<long long>(routes->revision));
    std::printf("  %-20s %-9s %6s %-20s %-24s %7s\n", "GROUP", "STATE", "EPOCH", "MASTER",
                "ADDRESS", "QUEUES");
    for (const auto& b : routes->groups) {
      std::printf("  %-20s %-9s %6lld %-20s %-24s %7u\n", b.name.c_str(), ToString(b.state),
                  static_cast<long long>(b.epoch), b.master_id.empty() ? "-" : b.master_id.c_str(),
                  b.master_address.empty() ? "(no master)" : b.master_address.c_str(),
                  queues_of(b.name));
    }
  }
  int rc = kExitOk;
  for (const auto& b : routes->groups) {
    Result<std::string> doc =
        b.addresses.empty()
            ? Result<std::string>(Status(Code::kUnavailable, "no live broker (every broker of "
                                                             "the group is down)"))
            : admin->ClusterStatus(b.name);
    Result<ClusterStatus> parsed = doc.ok() ? ParseClusterStatus(*doc) : doc.status();
    if (json) {
      nlohmann::json j = GroupRouteJson(b);
      j["queues"] = queues_of(b.name);
      if (parsed.ok()) {
        j["status"] = nlohmann::json::parse(*doc, nullptr, /*allow_exceptions=*/false);
      } else {
        j["error"] = parsed.status().message();
      }
      out["groups"].push_back(std::move(j));
      continue;
    }
    std::cout << "\n";
    if (!parsed.ok()) {
      std::fprintf(stderr, "%s: %s\n", b.name.c_str(), parsed.status().message().c_str());
      rc = kExitError;
      continue;
    }
    std::cout << FormatClusterStatus(*parsed, b.master_address);
  }
  if (json) PrintJson(out);
  return rc;
}

int ChangeGroup(const Globals& g, const ClusterArgs& a, const char* verb) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  const std::string v = verb;
  Result<BrokerGroupRoute> r = v == "added"     ? admin->AddBrokerGroup(a.name)
                               : v == "drained" ? admin->DrainBrokerGroup(a.name)
                                                : admin->RemoveBrokerGroup(a.name, a.force);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    nlohmann::json j = GroupRouteJson(*r);
    j["action"] = v;
    PrintJson(j);
    return kExitOk;
  }
  std::cout << v << " broker group " << a.name;
  if (v != "removed") {
    std::cout << " (" << ToString(r->state) << ", master "
              << (r->master_address.empty() ? "none yet" : r->master_address) << ")";
  }
  std::cout << "\n";
  return kExitOk;
}

}  // namespace

void AddClusterCommands(CLI::App& app, const Globals& g, Action& action) {
  auto a = std::make_shared<ClusterArgs>();
  auto* cluster = app.add_subcommand(
      "cluster", "broker groups: the cluster's groups, their members, adding and draining them");
  cluster->require_subcommand(1);

  auto* status = cluster->add_subcommand(
      "status",
      "in a cluster: every broker group (state, master, epoch, queues held) from the routes,\n"
      "then each group's members; outside one, each group of the --addr brokers. Per member:\n"
      "address, role, log end, replication lag, in-sync and connection state");
  AddJsonFlag(status, a->json,
              "JSON: in a cluster one document {revision, groups: [{..., status}]}; outside one "
              "the broker's document, one line per group");
  OnChosen(status, action, [&g, a] { return ClusterStatusCommand(g, a->json); });

  auto* add = cluster->add_subcommand(
      "add-group",
      "register a broker group in the cluster (its brokers then serve it), or make\n"
      "a drained group writable again");
  add->add_option("NAME", a->name, "broker group name")->required();
  AddJsonFlag(add, a->json);
  OnChosen(add, action, [&g, a] { return ChangeGroup(g, *a, "added"); });

  auto* drain = cluster->add_subcommand(
      "drain", "mark a broker group read-only: no new sends nor queues; consumers empty it");
  drain->add_option("NAME", a->name, "broker group name")->required();
  AddJsonFlag(drain, a->json);
  OnChosen(drain, action, [&g, a] { return ChangeGroup(g, *a, "drained"); });

  auto* remove = cluster->add_subcommand(
      "remove-group", "forget a drained broker group whose queues hold nothing unconsumed");
  remove->add_option("NAME", a->name, "broker group name")->required();
  remove->add_flag("--force", a->force,
                   "remove it even with unconsumed messages (consumers lose them)");
  AddJsonFlag(remove, a->json);
  OnChosen(remove, action, [&g, a] { return ChangeGroup(g, *a, "removed"); });
}

}  // namespace tidemq::tools
