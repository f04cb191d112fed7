// tidemq group create | list | status | reset-offset | delete
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <memory>

#include "tools/cli/commands.h"

namespace tidemq::tools {

namespace {

struct GroupArgs {
  std::string name;
  GroupOptions group;
  std::string retry_backoff;  // RetryPolicy text; empty: the broker's default
  std::string topic;          // reset-offset
  std::string time;           // reset-offset: ParseTime's forms
  int32_t queue_id = -1;      // reset-offset
  bool json = false;
};

const char* ModeName(const GroupInfo& gi) { return gi.broadcast ? "broadcasting" : "clustering"; }

nlohmann::json GroupJson(const GroupInfo& gi) {
  nlohmann::json j;
  j["name"] = gi.name;
  j["mode"] = ModeName(gi);
  j["fifo"] = gi.fifo;
  j["fifo_block"] = gi.fifo_block;
  j["max_attempts"] = gi.max_attempts;
  j["retry_backoff"] = gi.retry.ToString();
  j["total_lag"] = gi.total_lag;
  j["lost_to_retention"] = gi.lost_to_retention;
  j["retried"] = gi.retried;
  j["dead_lettered"] = gi.dead_lettered;
  j["dlq_messages"] = gi.dlq_messages;
  j["clients"] = gi.clients;
  j["queues"] = nlohmann::json::array();
  for (const auto& q : gi.queues) {
    nlohmann::json jq = {{"topic", q.topic},
                         {"queue_id", q.queue_id},
                         {"committed_offset", q.committed_offset},
                         {"max_offset", q.max_offset},
                         {"lag", q.lag},
                         {"inflight", q.inflight},
                         {"lost_to_retention", q.lost_to_retention}};
    if (!q.client_id.empty()) jq["client_id"] = q.client_id;
    if (!q.group.empty()) jq["group"] = q.group;
    j["queues"].push_back(std::move(jq));
  }
  if (!gi.group_errors.empty()) j["group_errors"] = gi.group_errors;
  return j;
}

void PrintGroupLine(const GroupInfo& gi) {
  std::printf("%-40s %-12s %-5s %12lld %8zu\n", gi.name.c_str(), ModeName(gi),
              gi.fifo ? "yes" : "no", static_cast<long long>(gi.total_lag), gi.clients.size());
}

int GroupCreate(const Globals& g, GroupArgs a) {
  if (!a.retry_backoff.empty()) {
    auto policy = RetryPolicy::Parse(a.retry_backoff);
    if (!policy.ok()) return Usage("--retry-backoff: " + policy.status().message());
    a.group.retry = std::move(*policy);
  }
  if (a.group.fifo_block && !a.group.fifo) return Usage("--fifo-block needs --fifo");
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->CreateGroup(a.name, a.group);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    PrintJson(GroupJson(*r));
    return kExitOk;
  }
  std::cout << "created group " << r->name << " (" << ModeName(*r) << (r->fifo ? ", fifo" : "")
            << (r->fifo_block ? ", fifo-block" : "");
  if (r->max_attempts) std::cout << ", max attempts " << r->max_attempts;
  std::cout << ", retry back-off " << r->retry.ToString() << ")\n";
  return kExitOk;
}

int GroupList(const Globals& g, const GroupArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListGroups();
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    nlohmann::json j;
    j["groups"] = nlohmann::json::array();
    for (const auto& gi : *r) j["groups"].push_back(GroupJson(gi));
    PrintJson(j);
    return kExitOk;
  }
  std::printf("%-40s %-12s %-5s %12s %8s\n", "GROUP", "MODE", "FIFO", "LAG", "CLIENTS");
  for (const auto& gi : *r) PrintGroupLine(gi);
  return kExitOk;
}

int GroupStatus(const Globals& g, const GroupArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->DescribeGroup(a.name);
  if (!r.ok()) return Fail(r.status());
  const auto& gi = *r;
  if (a.json) {
    PrintJson(GroupJson(gi));
    return kExitOk;
  }
  std::cout << "group " << gi.name << "  mode=" << ModeName(gi)
            << " fifo=" << (gi.fifo ? "yes" : "no");
  std::cout << " total_lag=" << gi.total_lag;
  std::cout << " lost_to_retention=" << gi.lost_to_retention;
  if (gi.lost_to_retention > 0) std::cout << "  (deleted by retention before consumed)";
  std::cout << "\n";
  std::cout << "retry: back-off=" << gi.retry.ToString();
  if (gi.max_attempts) std::cout << " max_attempts=" << gi.max_attempts;
  if (gi.fifo_block) std::cout << " fifo_block=yes";
  std::cout << " retried=" << gi.retried << " dead_lettered=" << gi.dead_lettered
            << " dlq=" << gi.dlq_messages;
  if (gi.dlq_messages > 0) std::cout << "  (tidemq dlq list " << gi.name << ")";
  std::cout << "\n";
  std::cout << "clients: " << (gi.clients.empty() ? "(none)" : Join(gi.clients, ", ")) << "\n";
  for (const auto& e : gi.group_errors) {
    std::fprintf(stderr, "warning: broker group %s (its queues are not counted)\n", e.c_str());
  }
  if (gi.queues.empty()) {
    std::cout << "no queues consumed yet\n";
    return kExitOk;
  }
  // In a cluster each queue is a broker group's: the GROUP column says whose.
  const bool cluster = std::any_of(gi.queues.begin(), gi.queues.end(),
                                   [](const QueueLag& q) { return !q.group.empty(); });
  if (cluster) std::printf("%-16s ", "GROUP");
  std::printf("%-32s %6s %12s %12s %10s %9s %10s  %s\n", "TOPIC", "QUEUE", "COMMITTED", "MAX",
              "LAG", "INFLIGHT", "LOST", gi.broadcast ? "CLIENT" : "");
  for (const auto& q : gi.queues) {
    if (cluster) std::printf("%-16s ", q.group.c_str());
    std::printf("%-32s %6d %12lld %12lld %10lld %9lld %10lld  %s\n", q.topic.c_str(), q.queue_id,
                static_cast<long long>(q.committed_offset), static_cast<long long>(q.max_offset),
                static_cast<long long>(q.lag), static_cast<long long>(q.inflight),
                static_cast<long long>(q.lost_to_retention), q.client_id.c_str());
  }
  return kExitOk;
}

int GroupDelete(const Globals& g, const GroupArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  Status st = admin->DeleteGroup(a.name);
  if (!st.ok()) return Fail(st);
  if (a.json) {
    PrintJson({{"group", a.name}, {"deleted", true}});
    return kExitOk;
  }
  std::cout << "deleted group " << a.name << "\n";
  return kExitOk;
}

int GroupResetOffset(const Globals& g, const GroupArgs& a) {
  auto at = ParseTime(a.time, NowMs());
  if (!at.ok()) return Usage(at.status().message());
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto moved = admin->ResetOffset(a.name, a.topic, *at, a.queue_id);
  if (!moved.ok()) return Fail(moved.status());
  if (a.json) {
    nlohmann::json j = {{"group", a.name}, {"topic", a.topic}, {"time_ms", *at}};
    j["queues"] = nlohmann::json::array();
    for (const auto& m : *moved) {
      nlohmann::json jq = {
          {"queue_id", m.queue_id}, {"from_offset", m.from_offset}, {"to_offset", m.to_offset}};
      if (!m.group.empty()) jq["group"] = m.group;
      j["queues"].push_back(std::move(jq));
    }
    PrintJson(j);
    return kExitOk;
  }
  std::printf("group %s on topic %s reset to %s\n", a.name.c_str(), a.topic.c_str(),
              FormatTime(*at).c_str());
  const bool cluster = std::any_of(moved->begin(), moved->end(),
                                   [](const OffsetReset& m) { return !m.group.empty(); });
  if (cluster) std::printf("%-16s ", "GROUP");
  std::printf("%-6s %12s %12s\n", "QUEUE", "FROM", "TO");
  for (const auto& m : *moved) {
    if (cluster) std::printf("%-16s ", m.group.c_str());
    std::printf("%-6d %12lld %12lld\n", m.queue_id, static_cast<long long>(m.from_offset),
                static_cast<long long>(m.to_offset));
  }
  return kExitOk;
}

}  // namespace

void AddGroupCommands(CLI::App& app, const Globals& g, Action& action) {
  auto a = std::make_shared<GroupArgs>();
  auto* group = app.add_subcommand("group", "create, list, inspect and delete consumer groups");
  group->require_subcommand(1);

  auto* create = group->add_subcommand("create", "create or update a consumer group");
  create->footer(
      "A failed delivery (nack, lapsed lease) is retried after the back-off; after\n"
      "--max-attempts deliveries the message goes to the group's dead-letter queue\n"
      "(see `tidemq dlq`). For example:\n"
      "  tidemq group create billing --max-attempts 5 --retry-backoff exponential:1s,2,1m");
  create->add_option("NAME", a->name, "group name")->required();
  create->add_flag("--broadcast", a->group.broadcast, "every consumer gets every message");
  create->add_flag("--fifo", a->group.fifo,
                   "deliver a queue's next message only after the previous is acked");
  create->add_flag("--fifo-block", a->group.fifo_block,
                   "FIFO: keep retrying a failing message past --max-attempts instead of\n"
                   "dead-lettering it (its queue waits)");
  create
      ->add_option("--max-attempts", a->group.max_attempts,
                   "deliveries before dead-lettering, 1..1000 (0: the broker's\n"
                   "--retry-max-attempts, 16 unless configured)")
      ->check(CLI::Range(0u, 1000u));
  create->add_option("--retry-backoff", a->retry_backoff,
                     "wait before the n-th retry:\n"
                     "  ladder                 10s 30s 1m 2m ... 30m 1h 2h (RocketMQ's levels)\n"
                     "  1s,5s,30s              these delays, the last one repeating\n"
                     "  exponential:1s,2,10m   1s, 2s, 4s, ... at most 10m\n"
                     "units: ms, s, m, h, d (a plain number is milliseconds);\n"
                     "default: the broker's --retry-backoff (ladder unless configured)");
  AddJsonFlag(create, a->json);
  OnChosen(create, action, [&g, a] { return GroupCreate(g, *a); });

  auto* list = group->add_subcommand("list", "list consumer groups");
  AddJsonFlag(list, a->json);
  OnChosen(list, action, [&g, a] { return GroupList(g, *a); });

  auto* status = group->add_subcommand(
      "status",
      "retry policy, retried and dead-lettered counts, DLQ size, and per-queue "
      "committed offset, lag, inflight and messages lost to retention (LOST: deleted by "
      "retention before the group consumed them)");
  status->add_option("NAME", a->name, "group name")->required();
  AddJsonFlag(status, a->json);
  OnChosen(status, action, [&g, a] { return GroupStatus(g, *a); });

  auto* reset = group->add_subcommand(
      "reset-offset", "move the group's position on a topic to a point in time");
  reset->footer(
      "Messages stored at or after TIME are delivered (again); earlier ones are skipped.\n"
      "Messages in the group's hands on those queues are dropped from its view. For example:\n"
      "  tidemq group reset-offset billing --topic orders --time -1h\n"
      "  tidemq group reset-offset billing --topic orders --time '2026-12-01 09:00'");
  reset->add_option("NAME", a->name, "group name")->required();
  reset->add_option("--topic", a->topic, "the topic the group consumes")->required();
  reset->add_option("--time", a->time,
                    "-10m (ago), now, 2026-12-01, '2026-12-01 13:45[:30]' (local time) or ms\n"
                    "since the epoch")
      ->required();
  reset->add_option("--queue", a->queue_id, "one queue only (default: every queue)")
      ->check(CLI::Range(0, 65535));
  AddJsonFlag(reset, a->json);
  OnChosen(reset, action, [&g, a] { return GroupResetOffset(g, *a); });

  auto* remove = group->add_subcommand("delete", "delete a consumer group");
  remove->add_option("NAME", a->name, "group name")->required();
  AddJsonFlag(remove, a->json);
  OnChosen(remove, action, [&g, a] { return GroupDelete(g, *a); });
}

}  // namespace tidemq::tools
