// tidemq topic create | extend | route | list | describe | delete
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>
#include <set>

#include "tools/cli/commands.h"

namespace tidemq::tools {

namespace {

struct TopicArgs {
  std::string name;
  uint32_t queues = 4;
  std::vector<std::string> groups;  // broker groups (cluster)
  bool all = false;
  bool json = false;
};

// In a cluster every queue names its broker group.
bool Clustered(const TopicInfo& t) {
  return !t.route.empty() || std::any_of(t.queues.begin(), t.queues.end(),
                                         [](const auto& q) { return !q.group.empty(); });
}

nlohmann::json RouteJson(const std::vector<QueueRange>& route) {
  nlohmann::json j = nlohmann::json::array();
  for (const auto& r : route) j.push_back({{"group", r.group}, {"queue_count", r.queue_count}});
  return j;
}

// "g1: 0-3, g2: 0-1" — where the queues are.
std::string RouteText(const std::vector<QueueRange>& route) {
  std::string out;
  for (const auto& r : route) {
    if (!out.empty()) out += ", ";
    out += r.group + ": " + std::to_string(r.queue_count) + " queue" +
           (r.queue_count == 1 ? "" : "s") +
           (r.queue_count > 0 ? " (0-" + std::to_string(r.queue_count - 1) + ")" : "");
  }
  return out;
}

void PrintGroupErrors(const std::vector<std::string>& errors) {
  for (const auto& e : errors) std::fprintf(stderr, "warning: broker group %s\n", e.c_str());
}

int64_t MessageCount(const TopicInfo& t) {
  int64_t messages = 0;
  for (const auto& q : t.queues) messages += q.max_offset - q.min_offset;
  return messages;
}

nlohmann::json TopicJson(const TopicInfo& t) {
  nlohmann::json j;
  j["name"] = t.name;
  j["queue_count"] = t.queue_count;
  j["messages"] = MessageCount(t);
  j["queues"] = nlohmann::json::array();
  for (const auto& q : t.queues) {
    nlohmann::json jq = {{"queue_id", q.queue_id},
                         {"min_offset", q.min_offset},
                         {"max_offset", q.max_offset},
                         {"messages", q.max_offset - q.min_offset}};
    if (!q.group.empty()) jq["group"] = q.group;
    j["queues"].push_back(std::move(jq));
  }
  if (!t.route.empty()) j["route"] = RouteJson(t.route);
  if (!t.group_errors.empty()) j["group_errors"] = t.group_errors;
  return j;
}

void PrintTopic(const TopicInfo& t) {
  std::cout << "topic " << t.name << "  queues=" << t.queue_count;
  if (!t.route.empty()) std::cout << "  on " << RouteText(t.route);
  std::cout << "\n";
  PrintGroupErrors(t.group_errors);
  if (t.queues.empty()) return;
  if (Clustered(t)) {
    std::printf("  %-20s %-6s %14s %14s %14s\n", "GROUP", "QUEUE", "MIN_OFFSET", "MAX_OFFSET",
                "MESSAGES");
  } else {
    std::printf("  %-6s %14s %14s %14s\n", "QUEUE", "MIN_OFFSET", "MAX_OFFSET", "MESSAGES");
  }
  for (const auto& q : t.queues) {
    if (Clustered(t)) std::printf("  %-20s", q.group.c_str());
    std::printf("%s%-6d %14lld %14lld %14lld\n", Clustered(t) ? " " : "  ", q.queue_id,
                static_cast<long long>(q.min_offset), static_cast<long long>(q.max_offset),
                static_cast<long long>(q.max_offset - q.min_offset));
  }
}

int TopicCreate(const Globals& g, const TopicArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->CreateTopic(a.name, a.queues, a.groups);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    PrintJson(TopicJson(*r));
    return kExitOk;
  }
  if (!r->route.empty()) {  // a cluster: where the queues went, not a table of empty queues
    std::cout << "created topic " << r->name << "  queues=" << r->queue_count << "  on "
              << RouteText(r->route) << "\n";
    return kExitOk;
  }
  std::cout << "created ";
  PrintTopic(*r);
  return kExitOk;
}

int TopicExtend(const Globals& g, const TopicArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ExtendTopic(a.name, a.queues, a.groups);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    PrintJson(
        {{"topic", r->topic}, {"queue_count", r->queue_count()}, {"route", RouteJson(r->queues)}});
    return kExitOk;
  }
  std::cout << "extended topic " << r->topic << "  queues=" << r->queue_count() << "  on "
            << RouteText(r->queues) << "\n";
  return kExitOk;
}

int TopicRouteCommand(const Globals& g, const TopicArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto routes = admin->QueryRoute({a.name});
  if (!routes.ok()) return Fail(routes.status());
  if (!routes->clustered) {
    return Fail(Status(Code::kFailedPrecondition,
                       "the broker is not in a cluster of broker groups: every queue of a topic "
                       "is on it (see topic describe)"));
  }
  if (routes->topics.empty()) {
    return Fail(
        Status(Code::kTopicNotFound, "topic '" + a.name + "' is not in the cluster's routes"));
  }
  const TopicRoute& t = routes->topics.front();
  if (a.json) {
    nlohmann::json j = {
        {"topic", t.topic}, {"queue_count", t.queue_count()}, {"revision", routes->revision}};
    j["route"] = nlohmann::json::array();
    for (const auto& r : t.queues) {
      const BrokerGroupRoute* b = routes->FindGroup(r.group);
      j["route"].push_back({{"group", r.group},
                            {"queue_count", r.queue_count},
                            {"state", b ? ToString(b->state) : "unknown"},
                            {"master_address", b ? b->master_address : ""}});
    }
    PrintJson(j);
    return kExitOk;
  }
  std::cout << "topic " << t.topic << "  queues=" << t.queue_count() << "  (route revision "
            << routes->revision << ")\n";
  std::printf("  %-20s %7s %-9s %s\n", "GROUP", "QUEUES", "STATE", "MASTER");
  for (const auto& r : t.queues) {
    const BrokerGroupRoute* b = routes->FindGroup(r.group);
    std::printf(
        "  %-20s %7u %-9s %s\n", r.group.c_str(), r.queue_count, b ? ToString(b->state) : "unknown",
        b == nullptr || b->master_address.empty() ? "(no master)" : b->master_address.c_str());
  }
  return kExitOk;
}

int TopicList(const Globals& g, const TopicArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListTopics(a.all);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    nlohmann::json j;
    j["topics"] = nlohmann::json::array();
    for (const auto& t : *r) j["topics"].push_back(TopicJson(t));
    PrintJson(j);
    return kExitOk;
  }
  const bool cluster = std::any_of(r->begin(), r->end(), Clustered);
  if (cluster) {
    std::printf("%-40s %7s %14s  %s\n", "TOPIC", "QUEUES", "MESSAGES", "GROUPS");
  } else {
    std::printf("%-40s %7s %14s\n", "TOPIC", "QUEUES", "MESSAGES");
  }
  std::set<std::string> errors;
  for (const auto& t : *r) {
    std::printf("%-40s %7u %14lld", t.name.c_str(), t.queue_count,
                static_cast<long long>(MessageCount(t)));
    if (cluster) std::printf("  %s", RouteText(t.route).c_str());
    std::printf("\n");
    errors.insert(t.group_errors.begin(), t.group_errors.end());
  }
  PrintGroupErrors({errors.begin(), errors.end()});
  return kExitOk;
}

int TopicDescribe(const Globals& g, const TopicArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->DescribeTopic(a.name);
  if (!r.ok()) return Fail(r.status());
  if (a.json) PrintGroupErrors(r->group_errors);
  if (a.json) {
    PrintJson(TopicJson(*r));
    return kExitOk;
  }
  PrintTopic(*r);
  return kExitOk;
}

int TopicDelete(const Globals& g, const TopicArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  Status st = admin->DeleteTopic(a.name);
  if (!st.ok()) return Fail(st);
  if (a.json) {
    PrintJson({{"topic", a.name}, {"deleted", true}});
    return kExitOk;
  }
  std::cout << "deleted topic " << a.name << "\n";
  return kExitOk;
}

}  // namespace

void AddTopicCommands(CLI::App& app, const Globals& g, Action& action) {
  auto a = std::make_shared<TopicArgs>();
  auto* topic = app.add_subcommand("topic", "create, list, describe and delete topics");
  topic->require_subcommand(1);

  auto* create = topic->add_subcommand("create", "create a topic");
  create->add_option("NAME", a->name, "topic name")->required();
  create->add_option("--queues", a->queues, "number of queues (in a cluster: over every group)")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  create
      ->add_option("--groups", a->groups,
                   "cluster: the broker groups to spread the queues over, in order (default:\n"
                   "every writable group)")
      ->delimiter(',');
  AddJsonFlag(create, a->json);
  OnChosen(create, action, [&g, a] { return TopicCreate(g, *a); });

  auto* extend = topic->add_subcommand(
      "extend",
      "add queues to a topic (cluster: e.g. onto a new broker group; messages stored\n"
      "so far stay where they are)");
  extend->add_option("NAME", a->name, "topic name")->required();
  extend->add_option("--queues", a->queues, "number of queues to add")
      ->required()
      ->check(CLI::Range(1u, 1024u));
  extend
      ->add_option("--groups", a->groups,
                   "the broker groups to put them on, in order (default: the writable groups\n"
                   "holding the fewest of the topic's queues)")
      ->delimiter(',');
  AddJsonFlag(extend, a->json);
  OnChosen(extend, action, [&g, a] { return TopicExtend(g, *a); });

  auto* route = topic->add_subcommand(
      "route", "cluster: which broker groups hold the topic's queues, and their masters");
  route->add_option("NAME", a->name, "topic name")->required();
  AddJsonFlag(route, a->json);
  OnChosen(route, action, [&g, a] { return TopicRouteCommand(g, *a); });

  auto* list = topic->add_subcommand("list", "list topics");
  list->add_flag("--all", a->all, "include system topics (%RETRY%, %DLQ%, ...)");
  AddJsonFlag(list, a->json);
  OnChosen(list, action, [&g, a] { return TopicList(g, *a); });

  auto* describe = topic->add_subcommand("describe", "show a topic's queues and offsets");
  describe->add_option("NAME", a->name, "topic name")->required();
  AddJsonFlag(describe, a->json);
  OnChosen(describe, action, [&g, a] { return TopicDescribe(g, *a); });

  auto* remove = topic->add_subcommand("delete", "delete a topic");
  remove->add_option("NAME", a->name, "topic name")->required();
  AddJsonFlag(remove, a->json);
  OnChosen(remove, action, [&g, a] { return TopicDelete(g, *a); });
}

}  // namespace tidemq::tools
