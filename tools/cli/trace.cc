// tidemq trace: a message's life, from the broker's log (docs/console.md, "Trace").
#include <cstdio>
#include <memory>

#include "tools/cli/commands.h"

namespace tidemq::tools {

namespace {

struct TraceArgs {
  std::string message_id;
  std::string topic;
  std::string key;
  uint32_t max_messages = 8;
  bool json = false;
};

nlohmann::json TraceJson(const MessageTrace& t) {
  nlohmann::json j = {{"message_id", t.message_id}, {"truncated", t.truncated}};
  j["steps"] = nlohmann::json::array();
  for (const TraceStep& s : t.steps) {
    nlohmann::json detail = nlohmann::json::object();
    for (const auto& [k, v] : s.detail) detail[k] = v;
    j["steps"].push_back({{"time_ms", s.time_ms},
                          {"kind", s.kind},
                          {"log_offset", s.log_offset},
                          {"detail", std::move(detail)}});
  }
  j["damaged_log_offsets"] = t.damaged_log_offsets;
  return j;
}

void PrintTrace(const MessageTrace& t) {
  std::printf("message %s\n", t.message_id.c_str());
  for (const TraceStep& s : t.steps) {
    std::string detail;
    for (const auto& [k, v] : s.detail) {
      detail += (detail.empty() ? "" : " ") + k + "=" + Printable(v, 256);
    }
    std::printf("  %s  %-16s %s\n", FormatTime(s.time_ms).c_str(), s.kind.c_str(),
                detail.c_str());
  }
  if (t.truncated) {
    std::printf("  (more records than one trace reads: the oldest steps are shown)\n");
  }
  for (int64_t at : t.damaged_log_offsets) {
    std::printf("  damaged record at log offset %lld: a step may be missing\n",
                static_cast<long long>(at));
  }
}

int Trace(const Globals& g, const TraceArgs& a) {
  if (a.message_id.empty() == a.key.empty()) {
    return Usage("name a MESSAGE_ID, or --topic and --key");
  }
  if (!a.key.empty() && a.topic.empty()) return Usage("--key needs --topic");
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = a.message_id.empty() ? admin->TraceByKey(a.topic, a.key, a.max_messages)
                                : admin->Trace(a.message_id);
  if (!r.ok()) return Fail(r.status());
  if (a.json) {
    nlohmann::json j = {{"consumption_traced", r->consumption_traced},
                        {"events_dropped", r->events_dropped},
                        {"truncated", r->truncated}};
    j["traces"] = nlohmann::json::array();
    for (const MessageTrace& t : r->traces) j["traces"].push_back(TraceJson(t));
    PrintJson(j);
    return kExitOk;
  }
  for (size_t i = 0; i < r->traces.size(); ++i) {
    if (i > 0) std::printf("\n");
    PrintTrace(r->traces[i]);
  }
  if (r->truncated) {
    std::printf("\nmore messages are stored under this key: --max %u shows more\n",
                a.max_messages);
  }
  if (!r->consumption_traced) {
    std::printf("\nnote: the broker runs with --trace-consumption=false: deliveries, acks and "
                "nacks are not recorded\n");
  } else if (r->events_dropped > 0) {
    std::printf("\nnote: the broker dropped %lld consumption events under load: some "
                "deliveries or acks may be missing\n",
                static_cast<long long>(r->events_dropped));
  }
  return kExitOk;
}

}  // namespace

void AddTraceCommands(CLI::App& app, const Globals& g, Action& action) {
  auto a = std::make_shared<TraceArgs>();
  auto* trace = app.add_subcommand(
      "trace", "a message's life: sent, scheduled, fired, committed, each delivery, ack, nack,\n"
               "lapsed lease, retry, dead letter and redrive, in time order");
  trace->footer(
      "For example:\n"
      "  tidemq trace 0A0B0C...            by the id `send` printed\n"
      "  tidemq trace --topic orders --key order-42");
  trace->add_option("MESSAGE_ID", a->message_id, "message id");
  trace->add_option("--topic", a->topic, "with --key: the topic the message was sent to");
  trace->add_option("--key", a->key, "trace the messages sent with this key");
  trace->add_option("--max", a->max_messages, "with --key: at most this many messages, 1..64")
      ->capture_default_str()
      ->check(CLI::Range(1u, 64u));
  AddJsonFlag(trace, a->json);
  OnChosen(trace, action, [&g, a] { return Trace(g, *a); });
}

}  // namespace tidemq::tools
