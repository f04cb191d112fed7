#include "console/api.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <cctype>
#include <memory>
#include <string>
#include <vector>

#include "broker/core/retry_copies.h"
#include "common/names.h"
#include "common/retry_policy.h"

namespace tidemq::console {

using nlohmann::json;
using namespace tidemq::broker;

namespace {

// Bodies shown in JSON are cut here (the page says so and how big the body is).
constexpr size_t kMaxBodyShown = 64 << 10;
constexpr int kMaxJsonDepth = 32;
// Topics listed per page (a broker may hold thousands).
constexpr size_t kDefaultTopicPage = 500;
constexpr size_t kMaxTopicPage = 10'000;

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    if (slash != 0) out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

// Nesting deeper than kMaxJsonDepth is refused before it is parsed.
bool TooDeep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;
      else if (c == '"') in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

Result<json> ParseBody(const HttpRequest& req) {
  if (req.body.empty()) return json::object();
  if (TooDeep(req.body)) return InvalidArgument("request body nests deeper than 32 levels");
  json j = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return InvalidArgument("request body must be a JSON object");
  }
  return j;
}

// Typed field access: a field of the wrong type is an error, an absent one the default.
template <typename T>
Result<T> Field(const json& j, const char* name, T fallback) {
  auto it = j.find(name);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return InvalidArgument(std::string("field '") + name + "' has the wrong type");
  }
}

Result<int64_t> IntParam(const HttpRequest& req, std::string_view name, int64_t fallback) {
  const std::string v = req.Param(name);
  if (v.empty()) return fallback;
  try {
    size_t used = 0;
    const int64_t n = std::stoll(v, &used);
    if (used == v.size()) return n;
  } catch (const std::exception&) {
  }
  return InvalidArgument("query parameter '" + std::string(name) + "' must be an integer");
}

bool IsUtf8Text(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    if (n == 1 && c < 0x20 && c != '\n' && c != '\r' && c != '\t') return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += n;
  }
  return true;
}

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const uint32_t v = (static_cast<uint8_t>(in[i]) << 16) | (static_cast<uint8_t>(in[i + 1]) << 8) |
                       static_cast<uint8_t>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6) out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = static_cast<uint8_t>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint8_t>(in[i + 1]) << 8;
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

const char* RecordKind(store::RecordType t) {
  switch (t) {
    case store::RecordType::kMessage: return "message";
    case store::RecordType::kScheduled: return "scheduled";
    case store::RecordType::kTimerCancel: return "timer_cancel";
    case store::RecordType::kTxnHalf: return "half";
    case store::RecordType::kTxnEnd: return "txn_end";
    case store::RecordType::kTxnCheck: return "txn_check";
    case store::RecordType::kControl: return "control";
    case store::RecordType::kTrace: return "trace";
  }
  return "unknown";
}

json MessageJson(const store::Record& r, int64_t log_offset, bool with_body) {
  json m = {{"message_id", r.message_id},   {"topic", r.topic},
            {"queue_id", r.queue_id},       {"queue_offset", r.queue_offset},
            {"log_offset", log_offset},     {"kind", RecordKind(r.type)},
            {"tag", r.tag},                 {"keys", r.keys},
            {"message_group", r.message_group}, {"born_ms", r.born_ms},
            {"store_ms", r.store_ms},       {"deliver_at_ms", r.deliver_at_ms},
            {"body_size", r.body.size()}};
  const bool copy = IsRetryOrDlqCopy(r);
  json props = json::object();
  for (const auto& [k, v] : r.properties) {
    if (!IsBrokerProperty(k, copy)) props[k] = v;
  }
  m["properties"] = std::move(props);
  if (copy) {
    const RetryInfo info = ReadRetryInfo(r);
    m["original_topic"] = info.original_topic;
    m["attempts"] = info.attempts;
    m["first_failure_ms"] = info.first_failure_ms;
    if (!info.dead_letter_reason.empty()) m["dead_letter_reason"] = info.dead_letter_reason;
  }
  if (with_body) {
    const std::string_view shown = std::string_view(r.body).substr(0, kMaxBodyShown);
    const bool text = IsUtf8Text(shown);
    m["body"] = text ? std::string(shown) : Base64(shown);
    m["body_encoding"] = text ? "text" : "base64";
    m["body_truncated"] = shown.size() < r.body.size();
  }
  return m;
}

json TopicJson(const TopicInfo& t) {
  json queues = json::array();
  int64_t messages = 0;
  for (const QueueRange& q : t.queues) {
    queues.push_back({{"queue_id", q.queue_id}, {"min_offset", q.min_offset}, {"max_offset", q.max_offset}});
    messages += std::max<int64_t>(0, q.max_offset - q.min_offset);
  }
  return {{"name", t.name}, {"queue_count", t.queue_count}, {"messages", messages},
          {"system", IsSystemTopic(t.name)}, {"queues", std::move(queues)}};
}

json GroupJson(const GroupInfo& g) {
  json queues = json::array();
  for (const QueueLagInfo& q : g.queues) {
    queues.push_back({{"topic", q.topic},         {"queue_id", q.queue_id},
                      {"client_id", q.client_id}, {"committed", q.committed},
                      {"max_offset", q.max_offset}, {"lag", q.lag},
                      {"inflight", q.inflight},   {"delivered", q.delivered},
                      {"lost_to_retention", q.lost_to_retention}});
  }
  const GroupConfig& c = g.config;
  return {{"name", c.name},
          {"mode", c.broadcast ? "broadcast" : "clustering"},
          {"fifo", c.fifo},
          {"fifo_block", c.fifo_block},
          {"max_attempts", c.max_attempts},
          {"retry_policy", c.retry.ToString()},
          {"created_ms", c.created_ms},
          {"clients", g.clients},
          {"total_lag", g.total_lag},
          {"dlq_messages", g.dlq_messages},
          {"retried", g.retried},
          {"dead_lettered", g.dead_lettered},
          {"lost_to_retention", g.lost_to_retention},
          {"queues", std::move(queues)}};
}

json TxnJson(const txn::TxnEntry& e) {
  return {{"message_id", e.message_id},
          {"topic", e.topic},
          {"producer_group", e.producer_group},
          {"half_offset", e.half_offset.value()},
          {"state", txn::ToString(e.state)},
          {"queue_id", e.queue_id},
          {"half_store_ms", e.half_store_ms},
          {"checks", e.checks},
          {"next_check_ms", e.next_check_ms},
          {"end_ms", e.end_ms},
          {"end_reason", txn::ToString(e.end_reason)},
          {"parked", e.parked}};
}

json HistogramJson(const HistogramSnapshot& h) {
  return {{"bounds", h.bounds}, {"counts", h.counts}, {"sum", h.sum}, {"count", h.count()}};
}

Result<DlqFilter> DlqFilterFrom(const HttpRequest& req, const json& body) {
  DlqFilter f;
  auto pick = [&](const char* name) -> std::string {
    auto it = body.find(name);
    if (it != body.end() && it->is_string()) return it->get<std::string>();
    return req.Param(name);
  };
  f.message_id = pick("id");
  f.tag = pick("tag");
  f.key = pick("key");
  f.original_topic = pick("topic");
  ASSIGN_OR_RETURN(f.dlq_offset, IntParam(req, "offset", -1));
  ASSIGN_OR_RETURN(f.dlq_offset, Field<int64_t>(body, "offset", f.dlq_offset));
  ASSIGN_OR_RETURN(f.from_ms, IntParam(req, "since", 0));
  ASSIGN_OR_RETURN(f.from_ms, Field<int64_t>(body, "since", f.from_ms));
  ASSIGN_OR_RETURN(f.to_ms, IntParam(req, "until", 0));
  ASSIGN_OR_RETURN(f.to_ms, Field<int64_t>(body, "until", f.to_ms));
  return f;
}

std::string Dump(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace); }

// The pieces of one request, for the handlers below.
struct Call {
  const HttpRequest& req;
  const std::vector<std::string_view>& parts;
  Reply& reply;
  BrokerCore* core;

  std::string Part(size_t i) const { return i < parts.size() ? std::string(parts[i]) : ""; }
  void Ok(const json& j, int status = 200) const { reply(JsonResponse(status, Dump(j))); }
  void Fail(const Status& st) const { reply(ErrorResponse(st)); }
  bool Is(std::string_view method) const { return req.method == method; }
};

// Runs `fn` (which returns Result<json> or Status) and answers with its result.
void Answer(const Call& c, Result<json> r) {
  if (!r.ok()) return c.Fail(r.status());
  c.Ok(*r);
}

// ---- overview ----

Result<json> Overview(const Call& c) {
  // A replica has no services until promoted: its overview is the process and its store.
  const StatsReport s = c.core->serving() ? c.core->admin().Stats() : c.core->Metrics().stats;
  json counters = json::object(), info = json::object();
  for (const auto& [k, v] : s.counters) counters[k] = v;
  for (const auto& [k, v] : s.info) info[k] = v;
  const ReplicationStatus repl = c.core->Replication();
  return json{{"broker_id", c.core->config().BrokerId()},
              {"address", c.core->config().ClientAddress()},
              {"role", repl.role},
              {"group", repl.group},
              {"epoch", repl.epoch},
              {"serving", c.core->serving()},
              {"now_ms", c.core->clock()->NowMs()},
              {"counters", std::move(counters)},
              {"info", std::move(info)}};
}

// ---- topics ----

void Topics(Call& c) {
  AdminService& admin = c.core->admin();
  const std::string name = c.Part(1);
  if (name.empty() && c.Is("GET")) {
    const bool system = c.req.Param("system") == "1" || c.req.Param("system") == "true";
    const std::string prefix = c.req.Param("prefix");
    auto limit = IntParam(c.req, "limit", kDefaultTopicPage);
    if (!limit.ok()) return c.Fail(limit.status());
    const size_t max = std::clamp<int64_t>(*limit, 1, kMaxTopicPage);
    json list = json::array();
    size_t matched = 0;
    for (const TopicInfo& t : admin.ListTopics(system)) {
      if (!t.name.starts_with(prefix)) continue;
      if (++matched <= max) list.push_back(TopicJson(t));
    }
    return c.Ok({{"topics", std::move(list)}, {"total", matched}, {"truncated", matched > max}});
  }
  if (name.empty() && c.Is("POST")) {
    auto body = ParseBody(c.req);
    if (!body.ok()) return c.Fail(body.status());
    auto topic = Field<std::string>(*body, "name", "");
    auto queues = Field<uint32_t>(*body, "queues", 0);
    if (!topic.ok()) return c.Fail(topic.status());
    if (!queues.ok()) return c.Fail(queues.status());
    if (c.core->clustered()) {
      // The cluster's topic: its queues spread over the broker groups (docs/cluster.md).
      return c.core->CreateTopicRoute(
          *topic, *queues, {}, [reply = c.reply](Result<TopicRouteInfo> r) {
            if (!r.ok()) return reply(ErrorResponse(r.status()));
            json groups = json::array();
            for (const auto& q : r->queues) groups.push_back({{"group", q.group}, {"queues", q.count}});
            reply(JsonResponse(201, Dump(json{{"name", r->topic},
                                              {"queue_count", r->total()},
                                              {"groups", std::move(groups)}})));
          });
    }
    return admin.CreateTopic(*topic, *queues, [reply = c.reply](Result<TopicInfo> t) {
      reply(t.ok() ? JsonResponse(201, Dump(TopicJson(*t))) : ErrorResponse(t.status()));
    });
  }
  if (c.parts.size() == 2 && c.Is("GET")) return Answer(c, [&]() -> Result<json> {
    ASSIGN_OR_RETURN(TopicInfo t, admin.DescribeTopic(name));
    return TopicJson(t);
  }());
  if (c.parts.size() == 2 && c.Is("DELETE")) {
    return c.core->DeleteTopicRoute(name, [reply = c.reply, name](const Status& st) {
      reply(st.ok() ? JsonResponse(200, Dump(json{{"deleted", name}})) : ErrorResponse(st));
    });
  }
  if (c.parts.size() == 3 && c.Part(2) == "messages" && c.Is("POST")) {
    // A test message, as a producer would send it.
    auto body = ParseBody(c.req);
    if (!body.ok()) return c.Fail(body.status());
    SendCommand command;
    SendMessage& m = command.messages.emplace_back();
    m.topic = name;
    m.message_id = RandomToken().substr(0, 32);
    m.born_ms = c.core->clock()->NowMs();
    auto text = Field<std::string>(*body, "body", "");
    auto tag = Field<std::string>(*body, "tag", "");
    auto keys = Field<std::vector<std::string>>(*body, "keys", {});
    auto group = Field<std::string>(*body, "message_group", "");
    auto delay = Field<int64_t>(*body, "delay_ms", 0);
    auto props = Field<std::map<std::string, std::string>>(*body, "properties", {});
    for (const Status& st : {text.status(), tag.status(), keys.status(), group.status(),
                             delay.status(), props.status()}) {
      if (!st.ok()) return c.Fail(st);
    }
    m.body = std::move(*text);
    m.tag = std::move(*tag);
    m.keys = std::move(*keys);
    m.message_group = std::move(*group);
    m.delay_ms = *delay;
    for (auto& [k, v] : *props) m.properties.emplace_back(k, v);
    const std::string id = m.message_id;
    return c.core->messages().Send(
        std::move(command), [reply = c.reply, id](const Status& st, SendReceipts receipts) {
          if (!st.ok()) return reply(ErrorResponse(st));
          const auto& a = receipts.appended.front();
          reply(JsonResponse(201, Dump(json{{"message_id", id},
                                            {"queue_id", receipts.queues.front()},
                                            {"queue_offset", a.queue_offset},
                                            {"log_offset", a.log_offset.value()}})));
        });
  }
  c.Fail(Status(Code::kNotFound, "no such topic resource"));
}

// ---- consumer groups ----

void Groups(Call& c) {
  AdminService& admin = c.core->admin();
  const std::string name = c.Part(1);
  if (name.empty() && c.Is("GET")) {
    json list = json::array();
    for (const GroupInfo& g : admin.ListGroups()) {
      json j = GroupJson(g);
      j.erase("queues");  // the list stays small; describe a group for its queues
      list.push_back(std::move(j));
    }
    return c.Ok({{"groups", std::move(list)}});
  }
  if (name.empty() && c.Is("POST")) {
    auto body = ParseBody(c.req);
    if (!body.ok()) return c.Fail(body.status());
    GroupSpec spec;
    auto n = Field<std::string>(*body, "name", "");
    auto mode = Field<std::string>(*body, "mode", "clustering");
    auto fifo = Field<bool>(*body, "fifo", false);
    auto block = Field<bool>(*body, "fifo_block", false);
    auto attempts = Field<uint32_t>(*body, "max_attempts", 0);
    auto retry = Field<std::string>(*body, "retry_policy", "");
    for (const Status& st : {n.status(), mode.status(), fifo.status(), block.status(),
                             attempts.status(), retry.status()}) {
      if (!st.ok()) return c.Fail(st);
    }
    if (*mode != "clustering" && *mode != "broadcast") {
      return c.Fail(InvalidArgument("mode must be clustering or broadcast"));
    }
    spec.config.name = *n;
    spec.config.broadcast = *mode == "broadcast";
    spec.config.fifo = *fifo;
    spec.config.fifo_block = *block;
    spec.config.max_attempts = *attempts;
    if (!retry->empty()) {
      auto policy = RetryPolicy::Parse(*retry);
      if (!policy.ok()) return c.Fail(policy.status());
      spec.retry = *policy;
    }
    return c.core->CreateConsumerGroup(std::move(spec), [reply = c.reply](Result<GroupInfo> g) {
      reply(g.ok() ? JsonResponse(201, Dump(GroupJson(*g))) : ErrorResponse(g.status()));
    });
  }
  if (c.parts.size() == 2 && c.Is("GET")) return Answer(c, [&]() -> Result<json> {
    ASSIGN_OR_RETURN(GroupInfo g, admin.DescribeGroup(name));
    return GroupJson(g);
  }());
  if (c.parts.size() == 3 && c.Part(2) == "reset-offset" && c.Is("POST")) {
    return Answer(c, [&]() -> Result<json> {
      ASSIGN_OR_RETURN(json body, ParseBody(c.req));
      ASSIGN_OR_RETURN(std::string topic, Field<std::string>(body, "topic", ""));
      ASSIGN_OR_RETURN(int64_t time_ms, Field<int64_t>(body, "time_ms", -1));
      ASSIGN_OR_RETURN(int32_t queue_id, Field<int32_t>(body, "queue_id", -1));
      if (topic.empty()) return InvalidArgument("field 'topic' is required");
      ASSIGN_OR_RETURN(std::vector<OffsetMove> moved,
                       admin.ResetOffset(name, topic, time_ms, queue_id));
      json queues = json::array();
      for (const OffsetMove& m : moved) {
        queues.push_back({{"queue_id", m.queue_id}, {"client_id", m.client_id},
                          {"from_offset", m.from}, {"to_offset", m.to}});
      }
      return json{{"group", name}, {"topic", topic}, {"time_ms", time_ms},
                  {"queues", std::move(queues)}};
    }());
  }
  if (c.parts.size() == 2 && c.Is("DELETE")) {
    return c.core->DeleteConsumerGroup(name, [reply = c.reply, name](const Status& st) {
      reply(st.ok() ? JsonResponse(200, Dump(json{{"deleted", name}})) : ErrorResponse(st));
    });
  }
  c.Fail(Status(Code::kNotFound, "no such group resource"));
}

// ---- messages ----

Result<json> Messages(const Call& c) {
  ASSIGN_OR_RETURN(int64_t limit, IntParam(c.req, "limit", 32));
  limit = std::clamp<int64_t>(limit, 1, 1000);
  ASSIGN_OR_RETURN(int64_t from_ms, IntParam(c.req, "from", -1));
  ASSIGN_OR_RETURN(int64_t to_ms, IntParam(c.req, "to", 0));
  QueryResult r;
  if (from_ms >= 0) {
    // A time range: the topic's messages stored in [from, to), oldest first.
    TimeRangeQuery q;
    q.topic = c.req.Param("topic");
    if (q.topic.empty()) return InvalidArgument("a search by time needs a topic");
    q.from_ms = from_ms;
    q.to_ms = to_ms;
    q.max_messages = static_cast<uint32_t>(limit);
    ASSIGN_OR_RETURN(r, c.core->admin().QueryByTime(q));
  } else {
    QueryCommand q;
    q.message_id = c.req.Param("id");
    q.topic = c.req.Param("topic");
    q.key = c.req.Param("key");
    ASSIGN_OR_RETURN(q.log_offset, IntParam(c.req, "offset", 0));
    q.max_messages = static_cast<uint32_t>(limit);
    if (q.message_id.empty() && q.key.empty() && q.log_offset <= 0) {
      return InvalidArgument("search by id, by key (with topic), by time (topic, from, to) or by offset");
    }
    ASSIGN_OR_RETURN(r, c.core->admin().Query(q));
  }
  json list = json::array();
  for (const auto& [off, record] : r.found) list.push_back(MessageJson(record, off.value(), true));
  json damaged = json::array();
  for (LogOffset off : r.damaged) damaged.push_back(off.value());
  return json{{"messages", std::move(list)}, {"damaged", std::move(damaged)}, {"truncated", r.truncated}};
}

// ---- lifecycle trace ----

json TraceJson(const MessageTrace& t) {
  json events = json::array();
  for (const TraceStep& s : t.steps) {
    json detail = json::object();
    for (const auto& [k, v] : s.detail) detail[k] = v;
    events.push_back({{"time_ms", s.time_ms}, {"kind", s.kind}, {"log_offset", s.log_offset},
                      {"detail", std::move(detail)}});
  }
  json damaged = json::array();
  for (LogOffset off : t.damaged) damaged.push_back(off.value());
  return json{{"message_id", t.message_id},
              {"events", std::move(events)},
              {"truncated", t.truncated},
              {"damaged", std::move(damaged)},
              {"consumption_traced", t.consumption_traced},
              {"events_dropped", t.events_dropped}};
}

// ?id=<message id>: that message's trace. ?topic=&key=: {"traces": [...], "truncated"}, one
// trace per message stored under the key.
Result<json> Trace(const Call& c) {
  const std::string id = c.req.Param("id");
  if (!id.empty()) {
    ASSIGN_OR_RETURN(MessageTrace t, c.core->admin().Trace(id));
    return TraceJson(t);
  }
  const std::string topic = c.req.Param("topic"), key = c.req.Param("key");
  if (topic.empty() || key.empty()) {
    return InvalidArgument("name the message: /api/v1/trace?id=<message id>, or ?topic=&key=");
  }
  ASSIGN_OR_RETURN(int64_t limit, IntParam(c.req, "limit", 8));
  bool truncated = false;
  ASSIGN_OR_RETURN(std::vector<MessageTrace> traces,
                   c.core->admin().TraceByKey(topic, key,
                                              static_cast<uint32_t>(std::clamp<int64_t>(limit, 1, 64)),
                                              &truncated));
  json list = json::array();
  for (const MessageTrace& t : traces) list.push_back(TraceJson(t));
  return json{{"traces", std::move(list)}, {"truncated", truncated}};
}

// ---- dead letters ----

void DeadLetters(Call& c) {
  AdminService& admin = c.core->admin();
  const std::string group = c.Part(1);
  if (group.empty()) return c.Fail(InvalidArgument("name the group: /api/v1/dlq/<group>"));
  if (c.parts.size() == 2 && c.Is("GET")) return Answer(c, [&]() -> Result<json> {
    ASSIGN_OR_RETURN(DlqFilter f, DlqFilterFrom(c.req, json::object()));
    ASSIGN_OR_RETURN(int64_t after, IntParam(c.req, "after", -1));
    ASSIGN_OR_RETURN(int64_t limit, IntParam(c.req, "limit", 100));
    // One more than asked tells whether there are more (the list says "truncated").
    const auto max = static_cast<uint32_t>(std::clamp<int64_t>(limit, 1, 9'999));
    ASSIGN_OR_RETURN(DlqPage page, admin.ListDeadLetters(group, f, after, max + 1));
    const bool truncated = page.messages.size() > max;
    if (truncated) page.messages.resize(max);
    json list = json::array();
    for (const DeadLetter& d : page.messages) {
      list.push_back(MessageJson(d.record, d.log_offset.value(), c.req.Param("bodies") == "1"));
    }
    return json{{"messages", std::move(list)},
                {"total", page.total},
                {"truncated", truncated}};
  }());
  const std::string action = c.Part(2);
  if (c.parts.size() == 3 && c.Is("POST") && (action == "redrive" || action == "purge")) {
    auto body = ParseBody(c.req);
    if (!body.ok()) return c.Fail(body.status());
    auto filter = DlqFilterFrom(c.req, *body);
    auto all = Field<bool>(*body, "all", false);
    auto to = Field<std::string>(*body, "to", "original");
    for (const Status& st : {filter.status(), all.status(), to.status()}) {
      if (!st.ok()) return c.Fail(st);
    }
    auto done = [reply = c.reply, action](Result<int64_t> n) {
      reply(n.ok() ? JsonResponse(200, Dump(json{{action == "redrive" ? "redriven" : "purged", *n}}))
                   : ErrorResponse(n.status()));
    };
    if (action == "purge") return admin.PurgeDeadLetters(group, *filter, *all, done);
    if (*to != "original" && *to != "retry") {
      return c.Fail(InvalidArgument("`to` is original or retry"));
    }
    return admin.RedriveDeadLetters(
        group, *filter, *all,
        *to == "retry" ? RedriveTarget::kRetryQueue : RedriveTarget::kOriginalTopic, done);
  }
  c.Fail(Status(Code::kNotFound, "no such dead-letter resource"));
}

// ---- scheduled messages ----

json ScheduledJson(const ScheduledInfo& info) {
  return json{{"message_id", info.entry.message_id}, {"topic", info.entry.topic},
              {"queue_id", info.entry.queue_id},     {"due_ms", info.entry.due_ms},
              {"log_offset", info.entry.offset.value()}, {"firing", info.firing}};
}

void Scheduled(Call& c) {
  AdminService& admin = c.core->admin();
  const std::string id = c.Part(1);
  if (id == "pending" && c.parts.size() == 2 && c.Is("GET")) return Answer(c, [&]() -> Result<json> {
    // Soonest first; paging: after_due and after_offset of the last one seen.
    ASSIGN_OR_RETURN(int64_t after_due, IntParam(c.req, "after_due", 0));
    ASSIGN_OR_RETURN(int64_t after_offset, IntParam(c.req, "after_offset", -1));
    ASSIGN_OR_RETURN(int64_t limit, IntParam(c.req, "limit", 100));
    const auto n = static_cast<uint32_t>(std::clamp<int64_t>(limit, 1, 9'999));
    ASSIGN_OR_RETURN(std::vector<ScheduledInfo> list,
                     admin.ListScheduled(after_due, after_offset, n + 1));
    const bool truncated = list.size() > n;
    if (truncated) list.resize(n);
    json out = json::array();
    for (const ScheduledInfo& info : list) out.push_back(ScheduledJson(info));
    return json{{"scheduled", std::move(out)}, {"truncated", truncated}};
  }());
  if (id.empty() && c.Is("GET")) {
    const TimerReport t = admin.TimerStats();
    json lateness = json::array();
    for (size_t i = 0; i < t.lateness.size(); ++i) {
      lateness.push_back({{"below_ms", i < kLatenessBoundsMs.size() ? kLatenessBoundsMs[i] : -1},
                          {"count", t.lateness[i]}});
    }
    return c.Ok({{"pending", t.stats.pending},
                 {"fired", t.stats.fired},
                 {"cancelled", t.stats.cancelled},
                 {"next_due_ms", t.stats.next_due_ms.value_or(0)},
                 {"broker_time_ms", t.broker_time_ms},
                 {"lateness", std::move(lateness)}});
  }
  if (c.parts.size() == 2 && c.Is("GET")) return Answer(c, [&]() -> Result<json> {
    ASSIGN_OR_RETURN(ScheduledInfo info, admin.ShowScheduled(id));
    return ScheduledJson(info);
  }());
  if (c.parts.size() == 2 && c.Is("DELETE")) {
    return admin.CancelScheduled(id, [reply = c.reply](Result<CancelResult> r) {
      reply(r.ok() ? JsonResponse(200, Dump(json{{"cancelled", r->cancelled}, {"due_ms", r->due_ms}}))
                   : ErrorResponse(r.status()));
    });
  }
  c.Fail(Status(Code::kNotFound, "no such scheduled-message resource"));
}

// ---- transactions ----

void Transactions(Call& c) {
  AdminService& admin = c.core->admin();
  const std::string id = c.Part(1);
  if (id.empty() && c.Is("GET")) return Answer(c, [&]() -> Result<json> {
    TxnListQuery q;
    const std::string state = c.req.Param("state", "pending");
    if (state == "pending") q.state = txn::TxnState::kPending;
    else if (state == "committed") q.state = txn::TxnState::kCommitted;
    else if (state == "rolled_back") q.state = txn::TxnState::kRolledBack;
    else if (state != "all") return InvalidArgument("state: pending, committed, rolled_back or all");
    q.parked_only = c.req.Param("parked") == "1";
    ASSIGN_OR_RETURN(q.after_offset, IntParam(c.req, "after", -1));
    ASSIGN_OR_RETURN(int64_t limit, IntParam(c.req, "limit", 100));
    const auto n = static_cast<uint32_t>(std::clamp<int64_t>(limit, 1, 9'999));
    q.limit = n + 1;
    ASSIGN_OR_RETURN(auto entries, admin.ListTxns(q));
    const bool truncated = entries.size() > n;
    if (truncated) entries.resize(n);
    json list = json::array();
    for (const auto& e : entries) list.push_back(TxnJson(e));
    const TxnReport report = admin.TxnStats();
    return json{{"transactions", std::move(list)},
                {"truncated", truncated},
                {"pending", report.index.pending},
                {"committed", report.index.committed},
                {"rolled_back", report.index.rolled_back},
                {"parked", report.index.parked},
                {"checks_sent", report.index.checks_sent}};
  }());
  if (c.parts.size() == 2 && c.Is("GET")) return Answer(c, [&]() -> Result<json> {
    ASSIGN_OR_RETURN(txn::TxnEntry e, admin.ShowTxn(id, -1));
    return TxnJson(e);
  }());
  const std::string action = c.Part(2);
  if (c.parts.size() == 3 && c.Is("POST") && (action == "commit" || action == "rollback")) {
    EndTxnCommand command;
    command.message_id = id;
    command.resolution = action == "commit" ? TxnResolution::kCommit : TxnResolution::kRollback;
    command.reason = txn::EndReason::kOperator;
    return c.core->messages().EndTxn(command, [reply = c.reply, action](Result<EndOutcome> r) {
      reply(r.ok() ? JsonResponse(200, Dump(json{{"resolved", action}, {"already_done", r->already_done}}))
                   : ErrorResponse(r.status()));
    });
  }
  c.Fail(Status(Code::kNotFound, "no such transaction resource"));
}

// ---- cluster ----

Result<json> Cluster(const Call& c) {
  json status = json::parse(c.core->ClusterStatusJson(), nullptr, false);
  if (status.is_discarded()) return Status(Code::kInternal, "cluster status did not encode");
  // Failover history: where each epoch began in this broker's log.
  json epochs = json::array();
  for (const auto& [epoch, start] : c.core->EpochHistory()) {
    epochs.push_back({{"epoch", epoch}, {"start_offset", start}});
  }
  status["epochs"] = std::move(epochs);
  // In a cluster of broker groups: every group, from this broker's routes (docs/cluster.md).
  if (c.core->clustered()) {
    const broker::RoutesInfo routes = c.core->Routes({});
    std::map<std::string, int64_t> queues;
    for (const auto& t : routes.topics) {
      for (const auto& q : t.queues) queues[q.group] += q.count;
    }
    json groups = json::array();
    for (const auto& g : routes.groups) {
      groups.push_back({{"group", g.name},
                        {"state", g.draining ? "draining" : "active"},
                        {"master", g.master_id},
                        {"master_address", g.master_address},
                        {"members", g.addresses.size()},
                        {"queues", queues[g.name]},
                        {"epoch", g.epoch}});
    }
    status["cluster"] = {{"revision", routes.revision},
                         {"topics", routes.topics.size()},
                         {"groups", std::move(groups)}};
  }
  return status;
}

// ---- metrics as JSON (the overview page's charts) ----

Result<json> MetricsJson(const Call& c) {
  const MetricsReport r = c.core->Metrics();
  json topics = json::array();
  for (const auto& t : r.topics) {
    int64_t in = 0, bytes = 0;
    for (size_t k = 0; k < kMessageKinds; ++k) {
      in += t.messages_in[k];
      bytes += t.bytes_in[k];
    }
    topics.push_back({{"topic", t.name}, {"messages_in", in}, {"bytes_in", bytes},
                      {"stored_messages", t.stored_messages}});
  }
  json consumption = json::array();
  for (const auto& x : r.consumption) {
    consumption.push_back({{"group", x.group},          {"topic", x.topic},
                           {"lag", x.lag},              {"inflight", x.inflight},
                           {"ready", x.ready},          {"oldest_unacked_age_ms", x.oldest_unacked_age_ms},
                           {"delivered", x.delivered},  {"retried", x.retried},
                           {"dead_lettered", x.dead_lettered}});
  }
  return json{{"now_ms", r.now_ms},
              {"topics", std::move(topics)},
              {"consumption", std::move(consumption)},
              {"send_latency_us", HistogramJson(r.send_latency_us)},
              {"sync_latency_us", HistogramJson(r.sync_latency_us)},
              {"timer_lateness_ms", HistogramJson(r.timer_lateness_ms)},
              {"disk_free_bytes", r.store.disk_free_bytes},
              {"disk_reserve_bytes", r.store.disk_reserve_bytes},
              {"storage_bytes", r.store.max_log_offset - r.store.min_log_offset},
              {"read_only", r.store.read_only},
              {"refusing_reason", r.store.refusing_reason}};
}

}  // namespace

int HttpStatusOf(Code code) {
  switch (code) {
    case Code::kOk: return 200;
    case Code::kInvalidArgument:
    case Code::kTooLarge:
    case Code::kOutOfRange:
    case Code::kReceiptInvalid: return 400;
    case Code::kNotFound:
    case Code::kTopicNotFound:
    case Code::kGroupNotFound: return 404;
    case Code::kAlreadyExists:
    case Code::kFailedPrecondition:
    case Code::kTxnConflict: return 409;
    case Code::kResourceExhausted: return 429;
    case Code::kUnsupported: return 501;
    case Code::kReadOnly:
    case Code::kUnavailable:
    case Code::kNotMaster:
    case Code::kNotEnoughReplicas:
    case Code::kNotWritable:
    case Code::kTimeout: return 503;
    default: return 500;
  }
}

HttpResponse JsonResponse(int status, const std::string& json_text) {
  HttpResponse r;
  r.status = status;
  r.body = json_text;
  return r;
}

HttpResponse ErrorResponse(int http_status, std::string_view code, std::string_view message) {
  return JsonResponse(http_status, Dump(json{{"error", {{"code", code}, {"message", message}}}}));
}

HttpResponse ErrorResponse(const Status& st) {
  // "TopicNotFound" -> "TOPIC_NOT_FOUND", as the native protocol names its codes.
  const std::string_view name = CodeName(st.code());
  auto upper = [&](size_t i) { return std::isupper(static_cast<unsigned char>(name[i])) != 0; };
  std::string code;
  for (size_t i = 0; i < name.size(); ++i) {
    // A word starts at a capital after a small letter, or before one ("IOError": IO_ERROR).
    if (i > 0 && upper(i) && (!upper(i - 1) || (i + 1 < name.size() && !upper(i + 1)))) {
      code.push_back('_');
    }
    code.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(name[i]))));
  }
  return ErrorResponse(HttpStatusOf(st.code()), code, st.message());
}

void AdminApi::Handle(const HttpRequest& req, std::string_view path, Reply reply) {
  const std::vector<std::string_view> parts = Split(path);
  Call c{req, parts, reply, core_};
  if (parts.empty()) return c.Fail(Status(Code::kNotFound, "no such API resource"));
  // A replica serves nothing until promoted (its counters and cluster view excepted).
  const std::string_view what = parts[0];
  const bool replica_ok = what == "overview" || what == "cluster" || what == "metrics";
  if (!replica_ok && !core_->serving()) return c.Fail(core_->NotServing());
  try {
    if (what == "overview" && c.Is("GET")) return Answer(c, Overview(c));
    if (what == "metrics" && c.Is("GET")) return Answer(c, MetricsJson(c));
    if (what == "cluster" && c.Is("GET")) return Answer(c, Cluster(c));
    if (what == "topics") return Topics(c);
    if (what == "groups") return Groups(c);
    if (what == "messages" && c.Is("GET")) return Answer(c, Messages(c));
    if (what == "trace" && c.Is("GET")) return Answer(c, Trace(c));
    if (what == "dlq") return DeadLetters(c);
    if (what == "scheduled") return Scheduled(c);
    if (what == "transactions") return Transactions(c);
  } catch (const json::exception& e) {
    // Only encoding can throw here (a value that is not UTF-8 is replaced, not thrown).
    return c.Fail(Status(Code::kInternal, std::string("JSON: ") + e.what()));
  }
  c.Fail(Status(Code::kNotFound, "no API resource " + std::string(req.method) + " /api/v1/" +
                                     std::string(path)));
}

}  // namespace tidemq::console
