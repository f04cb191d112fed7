// tidemq topic create | list | describe | delete
#include <cstdio>
#include <iostream>
#include <memory>

#include "tools/cli/commands.h"

namespace tidemq::tools {

namespace {

struct TopicArgs {
  std::string name;
  uint32_t queues = 4;
  bool all = false;
  bool json = false;
};

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
    j["queues"].push_back({{"queue_id", q.queue_id},
                           {"min_offset", q.min_offset},
                           {"max_offset", q.max_offset},
                           {"messages", q.max_offset - q.min_offset}});
  }
  return j;
}

void PrintTopic(const TopicInfo& t) {
  std::cout << "topic " << t.name << "  queues=" << t.queue_count << "\n";
  if (t.queues.empty()) return;
  std::printf("  %-6s %14s %14s %14s\n", "QUEUE", "MIN_OFFSET", "MAX_OFFSET", "MESSAGES");
  for (const auto& q : t.queues) {
    std::printf("  %-6d %14lld %14lld %14lld\n", q.queue_id, static_cast<long long>(q.min_offset),
                static_cast<long long>(q.max_offset),
                static_cast<long long>(q.max_offset - q.min_offset));
  }
}

int TopicCreate(const Globals& g, const TopicArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->CreateTopic(a.name, a.queues);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    PrintJson(TopicJson(*r));
    return kExitOk;
  }
  std::cout << "created ";
  PrintTopic(*r);
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
  std::printf("%-40s %7s %14s\n", "TOPIC", "QUEUES", "MESSAGES");
  for (const auto& t : *r) {
    std::printf("%-40s %7u %14lld\n", t.name.c_str(), t.queue_count,
                static_cast<long long>(MessageCount(t)));
  }
  return kExitOk;
}

int TopicDescribe(const Globals& g, const TopicArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->DescribeTopic(a.name);
  if (!r.ok()) return Fail(r.status());
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
  create->add_option("--queues", a->queues, "number of queues")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  AddJsonFlag(create, a->json);
  OnChosen(create, action, [&g, a] { return TopicCreate(g, *a); });

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
