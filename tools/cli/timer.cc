// tidemq cancel | timer stats | timer show: scheduled messages (docs/timer.md).
#include <cstdio>
#include <memory>

#include "tools/cli/commands.h"

namespace tidemq::tools {

namespace {

struct TimerArgs {
  std::string message_id;
  bool json = false;
};

int CancelScheduled(const Globals& g, const TimerArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->CancelScheduled(a.message_id);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    PrintJson({{"message_id", a.message_id}, {"cancelled", r->cancelled}, {"due_ms", r->due_ms}});
    return kExitOk;
  }
  std::printf("%s\n", r->cancelled ? "cancelled" : "already fired");
  return kExitOk;
}

int TimerStats(const Globals& g, bool json) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->TimerStats();
  if (!r.ok()) return Fail(r.status());
  auto bucket_name = [](const TimerStatsInfo::Bucket& b, int64_t prev) {
    return b.below_ms > 0 ? "<" + std::to_string(b.below_ms) + " ms"
                          : ">=" + std::to_string(prev) + " ms";
  };
  if (json) {
    nlohmann::json j;
    j["pending"] = r->pending;
    j["fired"] = r->fired;
    j["cancelled"] = r->cancelled;
    j["next_due_ms"] = r->next_due_ms;
    j["loaded"] = r->loaded;
    j["firing"] = r->firing;
    int64_t prev = 0;
    for (const auto& b : r->lateness) {
      j["lateness"][bucket_name(b, prev)] = b.count;
      prev = b.below_ms;
    }
    PrintJson(j);
    return kExitOk;
  }
  std::printf("%-16s %lld\n", "pending", static_cast<long long>(r->pending));
  std::printf("%-16s %lld\n", "fired", static_cast<long long>(r->fired));
  std::printf("%-16s %lld\n", "cancelled", static_cast<long long>(r->cancelled));
  if (r->next_due_ms > 0) {
    std::printf("%-16s %s (in %lld ms)\n", "next due", FormatTime(r->next_due_ms).c_str(),
                static_cast<long long>(r->next_due_ms - r->broker_time_ms));
  } else {
    std::printf("%-16s -\n", "next due");
  }
  std::printf("%-16s %lld\n", "in memory", static_cast<long long>(r->loaded));
  std::printf("%-16s %lld\n", "firing", static_cast<long long>(r->firing));
  std::printf("lateness (fire time - due time) since the broker started:\n");
  int64_t prev = 0;
  for (const auto& b : r->lateness) {
    std::printf("  %-14s %lld\n", bucket_name(b, prev).c_str(), static_cast<long long>(b.count));
    prev = b.below_ms;
  }
  return kExitOk;
}

int TimerShow(const Globals& g, const TimerArgs& a) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ShowTimer(a.message_id);
  if (!r.ok()) return Fail(r.status());
  const char* state = r->firing ? "firing" : "pending";
  if (a.json) {
    PrintJson({{"message_id", r->message_id},
               {"due_ms", r->due_ms},
               {"topic", r->topic},
               {"queue_id", r->queue_id},
               {"state", state},
               {"log_offset", r->log_offset}});
    return kExitOk;
  }
  std::printf("%-12s %s\n", "message id", r->message_id.c_str());
  std::printf("%-12s %s (%lld)\n", "due", FormatTime(r->due_ms).c_str(),
              static_cast<long long>(r->due_ms));
  std::printf("%-12s %s\n", "topic", r->topic.c_str());
  std::printf("%-12s %d\n", "queue", r->queue_id);
  std::printf("%-12s %s\n", "state", state);
  std::printf("%-12s %lld\n", "log offset", static_cast<long long>(r->log_offset));
  return kExitOk;
}

}  // namespace

void AddTimerCommands(CLI::App& app, const Globals& g, Action& action) {
  auto a = std::make_shared<TimerArgs>();
  auto* cancel = app.add_subcommand("cancel", "cancel a scheduled message before it fires");
  cancel->add_option("MESSAGE_ID", a->message_id, "id printed by `send --delay/--deliver-at`")
      ->required();
  AddJsonFlag(cancel, a->json);
  OnChosen(cancel, action, [&g, a] { return CancelScheduled(g, *a); });

  auto* timer = app.add_subcommand("timer", "scheduled messages: stats and look-up");
  timer->require_subcommand(1);
  auto* stats = timer->add_subcommand("stats", "pending, fired, cancelled, next due, lateness");
  AddJsonFlag(stats, a->json);
  OnChosen(stats, action, [&g, a] { return TimerStats(g, a->json); });
  auto* show = timer->add_subcommand("show", "one pending scheduled message");
  show->add_option("MESSAGE_ID", a->message_id, "message id")->required();
  AddJsonFlag(show, a->json);
  OnChosen(show, action, [&g, a] { return TimerShow(g, *a); });
}

}  // namespace tidemq::tools
