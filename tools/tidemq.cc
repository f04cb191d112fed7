// tidemq: the TideMQ admin and messaging command line.
//
// Exit codes: 0 ok, 1 the broker (or the client) refused the request, 2 usage error,
// 3 the broker cannot be reached.
#include "tidemq/tidemq.h"

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tools/cluster_status.h"

namespace {

using tidemq::Code;
using tidemq::Status;

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

std::atomic<bool> g_interrupted{false};

void OnSignal(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
  std::signal(SIGTERM, SIG_DFL);
}

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return st.code() == Code::kUnavailable ? kExitUnreachable : kExitError;
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "error: %s (see --help)\n", message.c_str());
  return kExitUsage;
}

struct Globals {
  std::string addr;
  int64_t timeout_ms = 5000;
};

std::string DefaultAddr() {
  const char* env = std::getenv("TIDEMQ_ADDR");
  return env && *env ? env : "127.0.0.1:9810";
}

std::string FormatTime(int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof(out), "%s.%03d", buf, static_cast<int>(ms % 1000));
  return out;
}

// Bodies are bytes: show text as text, escape the rest, and keep huge bodies short.
std::string Printable(const std::string& body, size_t limit = 2048) {
  std::string out;
  size_t n = std::min(body.size(), limit);
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(body[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (body.size() > limit) out += "... (" + std::to_string(body.size()) + " bytes)";
  return out;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

void PrintMessage(const tidemq::ReceivedMessage& m, bool json) {
  if (json) {
    nlohmann::json j;
    j["id"] = m.message_id();
    j["topic"] = m.topic();
    j["queue"] = m.queue_id();
    j["offset"] = m.queue_offset();
    j["log_offset"] = m.log_offset();
    j["tag"] = m.tag();
    j["keys"] = m.keys();
    j["properties"] = m.properties();
    if (!m.message_group().empty()) j["message_group"] = m.message_group();
    j["attempt"] = m.delivery_attempt();
    j["born_ms"] = m.born_ms();
    j["store_ms"] = m.store_ms();
    j["body"] = m.body();
    std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return;
  }
  std::cout << "id=" << m.message_id() << " topic=" << m.topic() << " queue=" << m.queue_id()
            << " offset=" << m.queue_offset() << " log_offset=" << m.log_offset();
  if (!m.tag().empty()) std::cout << " tag=" << m.tag();
  if (!m.keys().empty()) std::cout << " keys=" << Join(m.keys(), ",");
  if (!m.message_group().empty()) std::cout << " group=" << m.message_group();
  if (m.delivery_attempt() > 0) std::cout << " attempt=" << m.delivery_attempt();
  std::cout << " stored=" << FormatTime(m.store_ms()) << "\n";
  for (const auto& [k, v] : m.properties()) {
    std::cout << "  property " << k << "=" << Printable(v, 256) << "\n";
  }
  std::cout << "  body (" << m.body().size() << " bytes): " << Printable(m.body()) << "\n";
}

tidemq::Result<tidemq::Admin> ConnectAdmin(const Globals& g) {
  return tidemq::Admin::NewBuilder().Endpoint(g.addr).RequestTimeout(g.timeout_ms).Build();
}

// ---- topic -----------------------------------------------------------------------------

void PrintTopic(const tidemq::TopicInfo& t) {
  std::cout << "topic " << t.name << "  queues=" << t.queue_count << "\n";
  if (t.queues.empty()) return;
  std::printf("  %-6s %14s %14s %14s\n", "QUEUE", "MIN_OFFSET", "MAX_OFFSET", "MESSAGES");
  for (const auto& q : t.queues) {
    std::printf("  %-6d %14lld %14lld %14lld\n", q.queue_id, static_cast<long long>(q.min_offset),
                static_cast<long long>(q.max_offset),
                static_cast<long long>(q.max_offset - q.min_offset));
  }
}

int TopicCreate(const Globals& g, const std::string& name, uint32_t queues) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->CreateTopic(name, queues);
  if (!r.ok()) return Fail(r.status());
  std::cout << "created ";
  PrintTopic(*r);
  return kExitOk;
}

int TopicList(const Globals& g, bool all) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListTopics(all);
  if (!r.ok()) return Fail(r.status());
  std::printf("%-40s %7s %14s\n", "TOPIC", "QUEUES", "MESSAGES");
  for (const auto& t : *r) {
    long long messages = 0;
    for (const auto& q : t.queues) messages += q.max_offset - q.min_offset;
    std::printf("%-40s %7u %14lld\n", t.name.c_str(), t.queue_count, messages);
  }
  return kExitOk;
}

int TopicDescribe(const Globals& g, const std::string& name) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->DescribeTopic(name);
  if (!r.ok()) return Fail(r.status());
  PrintTopic(*r);
  return kExitOk;
}

int TopicDelete(const Globals& g, const std::string& name) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  Status st = admin->DeleteTopic(name);
  if (!st.ok()) return Fail(st);
  std::cout << "deleted topic " << name << "\n";
  return kExitOk;
}

// ---- group -----------------------------------------------------------------------------

void PrintGroupLine(const tidemq::GroupInfo& gi) {
  std::printf("%-40s %-12s %-5s %12lld %8zu\n", gi.name.c_str(),
              gi.broadcast ? "broadcasting" : "clustering", gi.fifo ? "yes" : "no",
              static_cast<long long>(gi.total_lag), gi.clients.size());
}

struct GroupCreateOptions {
  tidemq::GroupOptions group;
  std::string retry_backoff;  // RetryPolicy text; empty: the broker's default
};

int GroupCreate(const Globals& g, const std::string& name, GroupCreateOptions o) {
  if (!o.retry_backoff.empty()) {
    auto policy = tidemq::RetryPolicy::Parse(o.retry_backoff);
    if (!policy.ok()) return Usage("--retry-backoff: " + policy.status().message());
    o.group.retry = std::move(*policy);
  }
  if (o.group.fifo_block && !o.group.fifo) return Usage("--fifo-block needs --fifo");
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->CreateGroup(name, o.group);
  if (!r.ok()) return Fail(r.status());
  std::cout << "created group " << r->name << " (" << (r->broadcast ? "broadcasting" : "clustering")
            << (r->fifo ? ", fifo" : "") << (r->fifo_block ? ", fifo-block" : "");
  if (r->max_attempts) std::cout << ", max attempts " << r->max_attempts;
  std::cout << ", retry back-off " << r->retry.ToString() << ")\n";
  return kExitOk;
}

int GroupList(const Globals& g) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListGroups();
  if (!r.ok()) return Fail(r.status());
  std::printf("%-40s %-12s %-5s %12s %8s\n", "GROUP", "MODE", "FIFO", "LAG", "CLIENTS");
  for (const auto& gi : *r) PrintGroupLine(gi);
  return kExitOk;
}

int GroupStatus(const Globals& g, const std::string& name) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->DescribeGroup(name);
  if (!r.ok()) return Fail(r.status());
  const auto& gi = *r;
  std::cout << "group " << gi.name << "  mode=" << (gi.broadcast ? "broadcasting" : "clustering")
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
  if (gi.queues.empty()) {
    std::cout << "no queues consumed yet\n";
    return kExitOk;
  }
  std::printf("%-32s %6s %12s %12s %10s %9s %10s  %s\n", "TOPIC", "QUEUE", "COMMITTED", "MAX",
              "LAG", "INFLIGHT", "LOST", gi.broadcast ? "CLIENT" : "");
  for (const auto& q : gi.queues) {
    std::printf("%-32s %6d %12lld %12lld %10lld %9lld %10lld  %s\n", q.topic.c_str(), q.queue_id,
                static_cast<long long>(q.committed_offset), static_cast<long long>(q.max_offset),
                static_cast<long long>(q.lag), static_cast<long long>(q.inflight),
                static_cast<long long>(q.lost_to_retention), q.client_id.c_str());
  }
  return kExitOk;
}

int GroupDelete(const Globals& g, const std::string& name) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  Status st = admin->DeleteGroup(name);
  if (!st.ok()) return Fail(st);
  std::cout << "deleted group " << name << "\n";
  return kExitOk;
}

// ---- send ------------------------------------------------------------------------------

struct SendOptions {
  std::string topic;
  std::string body;
  bool has_body = false;
  std::string tag;
  std::vector<std::string> keys;
  std::vector<std::string> properties;
  std::string message_group;
  int count = 1;
  std::string file;
  bool from_stdin = false;
  int64_t delay_ms = 0;
  int64_t deliver_at_ms = 0;
};

int Send(const Globals& g, const SendOptions& o) {
  int sources = (o.has_body ? 1 : 0) + (o.file.empty() ? 0 : 1) + (o.from_stdin ? 1 : 0);
  if (sources > 1) return Usage("give only one of BODY, --file and --stdin");
  if (o.count < 1) return Usage("--count must be at least 1");
  std::vector<std::pair<std::string, std::string>> props;
  for (const auto& p : o.properties) {
    size_t eq = p.find('=');
    if (eq == std::string::npos || eq == 0)
      return Usage("--property expects KEY=VALUE, got '" + p + "'");
    props.emplace_back(p.substr(0, eq), p.substr(eq + 1));
  }
  std::string body = o.body;
  if (!o.file.empty()) {
    std::ifstream in(o.file, std::ios::binary);
    if (!in) return Fail(Status(Code::kIOError, "cannot read " + o.file));
    std::ostringstream ss;
    ss << in.rdbuf();
    body = ss.str();
  }
  auto make = [&](std::string b) {
    auto builder = tidemq::Message::NewBuilder();
    builder.Topic(o.topic).Body(std::move(b)).Tag(o.tag).Keys(o.keys).MessageGroup(o.message_group);
    for (const auto& [k, v] : props) builder.Property(k, v);
    if (o.delay_ms) builder.Delay(o.delay_ms);
    if (o.deliver_at_ms) builder.DeliverAt(o.deliver_at_ms);
    return builder.Build();
  };
  // Validate before connecting, so a bad message is a clear error even with no broker.
  if (!o.from_stdin) {
    auto probe = make(body);
    if (!probe.ok()) return Fail(probe.status());
  }

  auto producer =
      tidemq::Producer::NewBuilder().Endpoint(g.addr).RequestTimeout(g.timeout_ms).Build();
  if (!producer.ok()) return Fail(producer.status());

  // Pipelined: up to kWindow sends in flight, receipts printed in send order.
  constexpr size_t kWindow = 64;
  std::deque<std::future<tidemq::Result<tidemq::SendReceipt>>> inflight;
  int failures = 0;
  Status last_error;
  auto drain_one = [&] {
    auto r = inflight.front().get();
    inflight.pop_front();
    if (!r.ok()) {
      ++failures;
      last_error = r.status();
      std::fprintf(stderr, "error: %s\n", r.status().message().c_str());
      return;
    }
    if (r->queue_offset < 0) {  // scheduled: enters its queue when due
      std::cout << "scheduled id=" << r->message_id << " queue=" << r->queue_id
                << " log_offset=" << r->log_offset << "\n";
      return;
    }
    std::cout << "sent id=" << r->message_id << " queue=" << r->queue_id
              << " offset=" << r->queue_offset << " log_offset=" << r->log_offset << "\n";
  };
  auto submit = [&](std::string b) -> bool {
    auto m = make(std::move(b));
    if (!m.ok()) {
      ++failures;
      last_error = m.status();
      std::fprintf(stderr, "error: %s\n", m.status().message().c_str());
      return true;
    }
    if (inflight.size() >= kWindow) drain_one();
    inflight.push_back(producer->SendFuture(std::move(*m)));
    return !g_interrupted;
  };

  if (o.from_stdin) {
    std::string line;
    while (!g_interrupted && std::getline(std::cin, line)) {
      for (int i = 0; i < o.count; ++i) {
        if (!submit(line)) break;
      }
    }
  } else {
    for (int i = 0; i < o.count; ++i) {
      if (!submit(body)) break;
    }
  }
  while (!inflight.empty()) drain_one();
  if (failures > 0) {
    return last_error.code() == Code::kUnavailable ? kExitUnreachable : kExitError;
  }
  return kExitOk;
}

// ---- consume ---------------------------------------------------------------------------

struct ConsumeOptions {
  std::string topic;
  std::string group;
  std::string tag = "*";
  int count = 0;
  int64_t wait_ms = 3000;
  int64_t lease_ms = 30000;
  bool follow = false;
  bool no_ack = false;
  bool json = false;
};

constexpr int64_t kWaitSliceMs = 500;

int Consume(const Globals& g, const ConsumeOptions& o) {
  if (o.count < 0) return Usage("--count must not be negative");
  auto consumer = tidemq::SimpleConsumer::NewBuilder()
                      .Endpoint(g.addr)
                      .RequestTimeout(g.timeout_ms)
                      .Group(o.group)
                      .Topic(o.topic)
                      .TagFilter(o.tag)
                      .AwaitDuration(o.wait_ms)
                      .LeaseDuration(o.lease_ms)
                      .Build();
  if (!consumer.ok()) return Fail(consumer.status());
  int received = 0;
  while (!g_interrupted && (o.count == 0 || received < o.count)) {
    uint32_t want = o.count == 0 ? 32u : static_cast<uint32_t>(std::min(32, o.count - received));
    // The wait is sliced so Ctrl-C is noticed promptly; a slice that finds nothing costs a
    // round trip, nothing more.
    tidemq::Result<std::vector<tidemq::ReceivedMessage>> batch{
        std::vector<tidemq::ReceivedMessage>{}};
    for (int64_t waited = 0; !g_interrupted && batch.ok() && batch->empty() &&
                             (o.follow || waited < o.wait_ms || waited == 0);) {
      int64_t slice = std::min<int64_t>(kWaitSliceMs, o.follow ? kWaitSliceMs : o.wait_ms - waited);
      batch = consumer->Receive(want, std::max<int64_t>(slice, 0));
      waited += std::max<int64_t>(slice, 1);
    }
    if (!batch.ok()) return Fail(batch.status());
    if (batch->empty()) break;  // nothing within --wait, or interrupted
    for (const auto& m : *batch) {
      PrintMessage(m, o.json);
      ++received;
      if (!o.no_ack) {
        Status st = consumer->Ack(m);
        if (!st.ok())
          std::fprintf(stderr, "error: ack of %s failed: %s\n", m.message_id().c_str(),
                       st.message().c_str());
      }
    }
    std::cout.flush();
  }
  if (!o.json) std::fprintf(stderr, "%d message(s) received\n", received);
  return kExitOk;
}

// ---- query and stats -------------------------------------------------------------------

int Query(const Globals& g, const std::string& id, const std::string& topic, const std::string& key,
          int64_t offset, bool json) {
  int modes = (id.empty() ? 0 : 1) + (key.empty() ? 0 : 1) + (offset >= 0 ? 1 : 0);
  if (modes != 1) return Usage("query needs exactly one of --id, --topic T --key K, --offset N");
  if (!key.empty() && topic.empty()) return Usage("--key needs --topic");
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  tidemq::Result<std::vector<tidemq::ReceivedMessage>> r = !id.empty() ? admin->QueryById(id, topic)
                                                           : !key.empty()
                                                               ? admin->QueryByKey(topic, key)
                                                               : admin->QueryByOffset(offset);
  if (!r.ok()) return Fail(r.status());
  if (r->empty()) {
    std::fprintf(stderr, "no message found\n");
    return kExitError;
  }
  for (const auto& m : *r) PrintMessage(m, json);
  return kExitOk;
}

int Stats(const Globals& g, bool json) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->Stats();
  if (!r.ok()) return Fail(r.status());
  if (json) {
    nlohmann::json j;
    j["counters"] = r->counters;
    j["info"] = r->info;
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
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
int ClusterStatusCommand(const Globals& g, bool json) {
  struct Answer {
    std::string address;
    std::string json;
    tidemq::tools::ClusterStatus status;
  };
  std::vector<Answer> answers;
  std::set<std::string> asked;
  Status last_error;
  auto ask = [&](const std::string& address) {
    if (!asked.insert(address).second) return;
    // This address only: the point is what each broker says, not to follow the master.
    auto admin = tidemq::Admin::NewBuilder()
                     .Endpoint(address)
                     .RequestTimeout(g.timeout_ms)
                     .FailoverDeadline(0)
                     .Build();
    tidemq::Result<std::string> doc =
        admin.ok() ? admin->ClusterStatus() : tidemq::Result<std::string>(admin.status());
    if (!doc.ok()) {
      std::fprintf(stderr, "%s: %s\n", address.c_str(), doc.status().message().c_str());
      last_error = doc.status();
      return;
    }
    auto parsed = tidemq::tools::ParseClusterStatus(*doc);
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
      std::cout << tidemq::tools::FormatClusterStatus(a->status, a->address);
    }
  }
  return kExitOk;
}

int CancelScheduled(const Globals& g, const std::string& id) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->CancelScheduled(id);
  if (!r.ok()) return Fail(r.status());
  std::printf("%s\n", r->cancelled ? "cancelled" : "already fired");
  return kExitOk;
}

int TimerStats(const Globals& g, bool json) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->TimerStats();
  if (!r.ok()) return Fail(r.status());
  auto bucket_name = [](const tidemq::TimerStatsInfo::Bucket& b, int64_t prev) {
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
    std::cout << j.dump(2) << "\n";
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

int TimerShow(const Globals& g, const std::string& id) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ShowTimer(id);
  if (!r.ok()) return Fail(r.status());
  std::printf("%-12s %s\n", "message id", r->message_id.c_str());
  std::printf("%-12s %s (%lld)\n", "due", FormatTime(r->due_ms).c_str(),
              static_cast<long long>(r->due_ms));
  std::printf("%-12s %s\n", "topic", r->topic.c_str());
  std::printf("%-12s %d\n", "queue", r->queue_id);
  std::printf("%-12s %s\n", "state", r->firing ? "firing" : "pending");
  std::printf("%-12s %lld\n", "log offset", static_cast<long long>(r->log_offset));
  return kExitOk;
}

void PrintTransaction(const tidemq::TransactionInfo& t) {
  std::printf("%-14s %s\n", "message id", t.message_id.c_str());
  std::printf("%-14s %s%s\n", "state", tidemq::ToString(t.state), t.parked ? " (parked)" : "");
  std::printf("%-14s %s\n", "producer group", t.producer_group.c_str());
  std::printf("%-14s %s (queue %d)\n", "topic", t.topic.c_str(), t.queue_id);
  std::printf("%-14s %s\n", "half stored", FormatTime(t.half_store_ms).c_str());
  std::printf("%-14s %lld ms\n", "check timeout", static_cast<long long>(t.timeout_ms));
  std::printf("%-14s %u\n", "checks sent", t.checks);
  if (t.state == tidemq::TransactionState::kPending) {
    std::printf("%-14s %s\n", "next check", FormatTime(t.next_check_ms).c_str());
  } else {
    std::printf("%-14s %s by %s\n", "ended", FormatTime(t.end_ms).c_str(), t.end_reason.c_str());
  }
  std::printf("%-14s %lld\n", "half offset", static_cast<long long>(t.half_offset));
}

int TxnList(const Globals& g, const std::string& state, bool parked, uint32_t limit, bool json) {
  tidemq::TransactionFilter filter;
  if (state == "pending") {
    filter.state = tidemq::TransactionState::kPending;
  } else if (state == "committed") {
    filter.state = tidemq::TransactionState::kCommitted;
  } else if (state == "rolled-back") {
    filter.state = tidemq::TransactionState::kRolledBack;
  }
  filter.parked_only = parked;
  filter.limit = limit;
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListTransactions(filter);
  if (!r.ok()) return Fail(r.status());
  if (json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& t : *r) {
      j.push_back({{"message_id", t.message_id},
                   {"state", tidemq::ToString(t.state)},
                   {"parked", t.parked},
                   {"producer_group", t.producer_group},
                   {"topic", t.topic},
                   {"checks", t.checks},
                   {"half_store_ms", t.half_store_ms},
                   {"next_check_ms", t.next_check_ms},
                   {"end_ms", t.end_ms},
                   {"end_reason", t.end_reason},
                   {"half_offset", t.half_offset}});
    }
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (r->empty()) {
    std::printf("no transactions\n");
    return kExitOk;
  }
  std::printf("%-34s %-12s %-16s %-20s %6s  %s\n", "MESSAGE ID", "STATE", "GROUP", "TOPIC",
              "CHECKS", "NEXT CHECK / ENDED");
  for (const auto& t : *r) {
    const bool pending = t.state == tidemq::TransactionState::kPending;
    std::string state = tidemq::ToString(t.state);
    if (t.parked) state = "parked";
    std::printf("%-34s %-12s %-16s %-20s %6u  %s\n", t.message_id.c_str(), state.c_str(),
                t.producer_group.c_str(), t.topic.c_str(), t.checks,
                pending ? FormatTime(t.next_check_ms).c_str()
                        : (FormatTime(t.end_ms) + " (" + t.end_reason + ")").c_str());
  }
  if (r->size() == limit) {
    std::printf("(first %u shown; use --limit for more)\n", limit);
  }
  return kExitOk;
}

int TxnShow(const Globals& g, const std::string& id) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ShowTransaction(id);
  if (!r.ok()) return Fail(r.status());
  PrintTransaction(*r);
  return kExitOk;
}

int TxnResolve(const Globals& g, const std::string& id, bool commit) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  Status st = admin->ResolveTransaction(id, commit);
  if (!st.ok()) return Fail(st);
  std::printf("%s\n", commit ? "committed" : "rolled back");
  return kExitOk;
}

int TxnStats(const Globals& g, bool json) {
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->TransactionStats();
  if (!r.ok()) return Fail(r.status());
  const std::vector<std::pair<const char*, int64_t>> rows = {
      {"pending", r->pending},
      {"committed", r->committed},
      {"rolled_back", r->rolled_back},
      {"parked", r->parked},
      {"checks_sent", r->checks_sent},
      {"answers_commit", r->answers_commit},
      {"answers_rollback", r->answers_rollback},
      {"answers_unknown", r->answers_unknown},
      {"answers_failed", r->answers_failed},
      {"waiting_groups", r->waiting_groups},
      {"answers_unmatched", r->answers_unmatched},
      {"answers_late", r->answers_late},
      {"final_actions_deferred", r->final_actions_deferred},
      {"checks_in_flight", r->checks_in_flight},
      {"final_actions_waiting", r->final_actions_waiting}};
  if (json) {
    nlohmann::json j;
    for (const auto& [k, v] : rows) j[k] = v;
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  for (const auto& [k, v] : rows) std::printf("%-22s %lld\n", k, static_cast<long long>(v));
  return kExitOk;
}

// ---- dead letters ----------------------------------------------------------------------

// What selects dead letters on the command line: MESSAGE_ID, --offset and the filters.
struct DlqOptions {
  std::string group;
  std::string message_id;
  int64_t offset = -1;
  std::string tag;
  std::string key;
  std::string topic;
  std::string since;
  std::string until;
  bool all = false;
  uint32_t limit = 100;
  int64_t after = -1;
  std::string to = "original";
  bool json = false;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "-10m" (relative to now), "now", "2024-05-01", "2024-05-01 13:45[:30]" (local time) or
// milliseconds since the epoch.
tidemq::Result<int64_t> ParseTime(const std::string& text, int64_t now_ms) {
  const std::string forms =
      "use -DURATION (e.g. -10m, -2h), now, YYYY-MM-DD[ HH:MM[:SS]] (local time) or ms since "
      "the epoch";
  if (text == "now") return now_ms;
  if (!text.empty() && text[0] == '-') {
    auto d = tidemq::ParseDurationMs(text.substr(1));
    if (!d.ok()) {
      return tidemq::InvalidArgument("bad time '" + text + "': " + d.status().message());
    }
    return now_ms - *d;
  }
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() < 12) {  // before 1973: surely meant as something else
      return tidemq::InvalidArgument("bad time '" + text + "': too small for ms since the epoch; " +
                                     "for a relative time write -" + text + "s or similar");
    }
    return static_cast<int64_t>(std::stoll(text));
  }
  for (const char* fmt :
       {"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), fmt, &tm);
    if (end == nullptr || *end != '\0') continue;
    tm.tm_isdst = -1;
    std::time_t secs = std::mktime(&tm);
    if (secs == static_cast<std::time_t>(-1)) break;
    return static_cast<int64_t>(secs) * 1000;
  }
  return tidemq::InvalidArgument("bad time '" + text + "': " + forms);
}

// Builds the filter from the selectors; a usage problem comes back as InvalidArgument.
tidemq::Result<tidemq::DeadLetterFilter> DlqFilterFrom(const DlqOptions& o) {
  tidemq::DeadLetterFilter f;
  if (!o.message_id.empty() && o.offset >= 0) {
    return tidemq::InvalidArgument("give MESSAGE_ID or --offset, not both");
  }
  f.message_id = o.message_id;
  f.dlq_offset = o.offset;
  f.tag = o.tag;
  f.key = o.key;
  f.original_topic = o.topic;
  const int64_t now = NowMs();
  if (!o.since.empty()) {
    auto t = ParseTime(o.since, now);
    if (!t.ok()) return tidemq::InvalidArgument("--since: " + t.status().message());
    f.from_ms = *t;
  }
  if (!o.until.empty()) {
    auto t = ParseTime(o.until, now);
    if (!t.ok()) return tidemq::InvalidArgument("--until: " + t.status().message());
    f.to_ms = *t;
  }
  if (f.from_ms > 0 && f.to_ms > 0 && f.from_ms >= f.to_ms) {
    return tidemq::InvalidArgument("--since must be before --until");
  }
  return f;
}

// Redrive and purge: a selection, or --all, never both and never neither.
tidemq::Result<tidemq::DeadLetterFilter> DlqSelection(const DlqOptions& o, const char* verb) {
  auto f = DlqFilterFrom(o);
  if (!f.ok()) return f;
  if (o.all && !f->empty()) {
    return tidemq::InvalidArgument(
        "--all selects every dead letter; do not combine it with MESSAGE_ID, --offset or "
        "filters");
  }
  if (!o.all && f->empty()) {
    return tidemq::InvalidArgument(std::string("select what to ") + verb +
                                   ": MESSAGE_ID, --offset N, filters (--tag, --key, --topic, "
                                   "--since, --until) or --all");
  }
  return f;
}

// A body is shown as text when it is valid UTF-8 without control characters (other than
// newline, tab, carriage return); otherwise as a hex dump.
bool IsText(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t extra = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
    if (extra == 0 || c < 0xc2 || c > 0xf4 || i + extra >= s.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += 1 + extra;
  }
  return true;
}

std::string HexDump(const std::string& s) {
  std::string out;
  char line[96];
  for (size_t off = 0; off < s.size(); off += 16) {
    int n = std::snprintf(line, sizeof(line), "%08zx  ", off);
    std::string ascii;
    for (size_t i = 0; i < 16; ++i) {
      if (off + i < s.size()) {
        auto c = static_cast<unsigned char>(s[off + i]);
        n += std::snprintf(line + n, sizeof(line) - n, "%02x ", c);
        ascii.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.');
      } else {
        n += std::snprintf(line + n, sizeof(line) - n, "   ");
      }
      if (i == 7) n += std::snprintf(line + n, sizeof(line) - n, " ");
    }
    out += line;
    out += " |" + ascii + "|\n";
  }
  return out;
}

nlohmann::json DeadLetterJson(const tidemq::ReceivedMessage& m, bool with_body) {
  nlohmann::json j;
  j["dlq_offset"] = m.dlq_offset();
  j["message_id"] = m.message_id();
  j["original_topic"] = m.original_topic();
  j["tag"] = m.tag();
  j["keys"] = m.keys();
  j["properties"] = m.properties();
  if (!m.message_group().empty()) j["message_group"] = m.message_group();
  j["attempts"] = m.delivery_attempt();
  j["first_failure_ms"] = m.first_failure_ms();
  j["dead_lettered_ms"] = m.store_ms();
  j["reason"] = m.dead_letter_reason();
  j["born_ms"] = m.born_ms();
  if (with_body) j["body"] = m.body();
  return j;
}

int DlqList(const Globals& g, const DlqOptions& o) {
  auto filter = DlqFilterFrom(o);
  if (!filter.ok()) return Usage(filter.status().message());
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListDeadLetters(o.group, *filter, o.after, o.limit);
  if (!r.ok()) return Fail(r.status());
  if (o.json) {
    nlohmann::json j;
    j["total"] = r->total;
    j["messages"] = nlohmann::json::array();
    for (const auto& m : r->messages) j["messages"].push_back(DeadLetterJson(m, false));
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  if (r->messages.empty()) {
    std::printf("no dead letters%s (%lld in the DLQ of %s)\n",
                filter->empty() && o.after < 0 ? "" : " match", static_cast<long long>(r->total),
                o.group.c_str());
    return kExitOk;
  }
  std::printf("%10s  %-32s  %-20s  %-12s  %8s  %-23s  %-23s  %s\n", "DLQ_OFFSET", "MESSAGE ID",
              "ORIGINAL TOPIC", "TAG", "ATTEMPTS", "FIRST FAILURE", "DEAD-LETTERED", "REASON");
  for (const auto& m : r->messages) {
    std::printf("%10lld  %-32s  %-20s  %-12s  %8u  %-23s  %-23s  %s\n",
                static_cast<long long>(m.dlq_offset()), m.message_id().c_str(),
                m.original_topic().c_str(), m.tag().empty() ? "-" : m.tag().c_str(),
                m.delivery_attempt(), FormatTime(m.first_failure_ms()).c_str(),
                FormatTime(m.store_ms()).c_str(), m.dead_letter_reason().c_str());
  }
  std::printf("%zu shown, %lld in the DLQ of %s\n", r->messages.size(),
              static_cast<long long>(r->total), o.group.c_str());
  if (r->messages.size() == o.limit) {
    std::printf("more may follow: --after %lld\n",
                static_cast<long long>(r->messages.back().dlq_offset()));
  }
  return kExitOk;
}

void PrintDeadLetter(const tidemq::ReceivedMessage& m) {
  std::printf("%-16s %lld\n", "dlq offset", static_cast<long long>(m.dlq_offset()));
  std::printf("%-16s %s\n", "message id", m.message_id().c_str());
  std::printf("%-16s %s\n", "original topic", m.original_topic().c_str());
  std::printf("%-16s %s\n", "tag", m.tag().empty() ? "-" : m.tag().c_str());
  std::printf("%-16s %s\n", "keys", m.keys().empty() ? "-" : Join(m.keys(), ", ").c_str());
  if (!m.message_group().empty()) {
    std::printf("%-16s %s\n", "message group", m.message_group().c_str());
  }
  for (const auto& [k, v] : m.properties()) {
    std::printf("%-16s %s=%s\n", "property", k.c_str(), Printable(v, 256).c_str());
  }
  std::printf("%-16s %u\n", "attempts", m.delivery_attempt());
  std::printf("%-16s %s\n", "born", FormatTime(m.born_ms()).c_str());
  std::printf("%-16s %s\n", "first failure", FormatTime(m.first_failure_ms()).c_str());
  std::printf("%-16s %s\n", "dead-lettered", FormatTime(m.store_ms()).c_str());
  std::printf("%-16s %s\n", "reason", m.dead_letter_reason().c_str());
  const bool text = IsText(m.body());
  std::printf("body (%zu bytes, %s):\n", m.body().size(), text ? "text" : "hex");
  if (text) {
    std::cout << m.body();
    if (!m.body().empty() && m.body().back() != '\n') std::cout << "\n";
  } else {
    std::cout << HexDump(m.body());
  }
  std::cout.flush();
}

int DlqShow(const Globals& g, const DlqOptions& o) {
  if (o.message_id.empty() == (o.offset < 0)) return Usage("give MESSAGE_ID or --offset N");
  tidemq::DeadLetterFilter filter;
  filter.message_id = o.message_id;
  filter.dlq_offset = o.offset;
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->ListDeadLetters(o.group, filter, -1, o.limit, /*with_bodies=*/true);
  if (!r.ok()) return Fail(r.status());
  if (r->messages.empty()) {
    std::fprintf(stderr, "no such dead letter in the DLQ of %s\n", o.group.c_str());
    return kExitError;
  }
  if (o.json) {
    nlohmann::json j = nlohmann::json::array();
    for (const auto& m : r->messages) j.push_back(DeadLetterJson(m, true));
    std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
    return kExitOk;
  }
  for (size_t i = 0; i < r->messages.size(); ++i) {
    if (i) std::printf("\n");
    PrintDeadLetter(r->messages[i]);
  }
  return kExitOk;
}

int DlqRedrive(const Globals& g, const DlqOptions& o) {
  auto filter = DlqSelection(o, "redrive");
  if (!filter.ok()) return Usage(filter.status().message());
  const auto target =
      o.to == "retry" ? tidemq::RedriveTarget::kRetryQueue : tidemq::RedriveTarget::kOriginalTopic;
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->RedriveDeadLetters(o.group, *filter, o.all, target);
  if (!r.ok()) return Fail(r.status());
  if (*r == 0) {
    std::printf("no dead letter of %s matched; nothing redriven\n", o.group.c_str());
  } else if (target == tidemq::RedriveTarget::kRetryQueue) {
    std::printf(
        "redriven %lld message(s) to %%RETRY%%%s: group %s receives them again, "
        "attempts counted from 1\n",
        static_cast<long long>(*r), o.group.c_str(), o.group.c_str());
  } else {
    std::printf(
        "redriven %lld message(s) to their original topic: every group receives "
        "them again\n",
        static_cast<long long>(*r));
  }
  return kExitOk;
}

int DlqPurge(const Globals& g, const DlqOptions& o) {
  auto filter = DlqSelection(o, "purge");
  if (!filter.ok()) return Usage(filter.status().message());
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  auto r = admin->PurgeDeadLetters(o.group, *filter, o.all);
  if (!r.ok()) return Fail(r.status());
  std::printf("purged %lld dead letter(s) of %s\n", static_cast<long long>(*r), o.group.c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "tidemq: administer a TideMQ broker and send / consume messages.\n"
      "Exit codes: 0 ok, 1 request failed, 2 usage error, 3 broker unreachable."};
  app.require_subcommand(1);
  Globals g;
  g.addr = DefaultAddr();
  app.add_option("--addr", g.addr,
                 "broker address HOST:PORT, or a broker group's addresses\n"
                 "HOST:PORT,HOST:PORT,... (the master is found and followed; env TIDEMQ_ADDR)")
      ->capture_default_str();
  app.add_option("--timeout", g.timeout_ms, "request timeout in milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}));

  std::function<int()> action;

  // topic
  auto* topic = app.add_subcommand("topic", "create, list, describe and delete topics");
  topic->require_subcommand(1);
  std::string name;
  uint32_t queues = 4;
  bool all = false;
  auto* tc = topic->add_subcommand("create", "create a topic");
  tc->add_option("NAME", name, "topic name")->required();
  tc->add_option("--queues", queues, "number of queues")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  tc->callback([&] { action = [&] { return TopicCreate(g, name, queues); }; });
  auto* tl = topic->add_subcommand("list", "list topics");
  tl->add_flag("--all", all, "include system topics (%RETRY%, %DLQ%, ...)");
  tl->callback([&] { action = [&] { return TopicList(g, all); }; });
  auto* td = topic->add_subcommand("describe", "show a topic's queues and offsets");
  td->add_option("NAME", name, "topic name")->required();
  td->callback([&] { action = [&] { return TopicDescribe(g, name); }; });
  auto* tx = topic->add_subcommand("delete", "delete a topic");
  tx->add_option("NAME", name, "topic name")->required();
  tx->callback([&] { action = [&] { return TopicDelete(g, name); }; });

  // send
  SendOptions so;
  auto* send = app.add_subcommand("send", "send messages (prints id, queue and offset of each)");
  send->add_option("TOPIC", so.topic, "topic")->required();
  auto* body_opt = send->add_option("BODY", so.body, "message body");
  send->add_option("--tag", so.tag, "tag");
  send->add_option("--key", so.keys, "key (repeatable)")->allow_extra_args(false);
  send->add_option("--property", so.properties, "user property KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  send->add_option("--group", so.message_group, "message group (FIFO ordering key)");
  send->add_option("--count", so.count, "send each body this many times")->capture_default_str();
  send->add_option("--file", so.file, "read the body from this file");
  send->add_flag("--stdin", so.from_stdin, "send one message per line of standard input");
  send->add_option("--delay", so.delay_ms, "deliver after this many milliseconds");
  send->add_option("--deliver-at", so.deliver_at_ms, "deliver at this time (ms since the epoch)");
  send->callback([&] {
    so.has_body = body_opt->count() > 0;
    action = [&] { return Send(g, so); };
  });

  // consume
  ConsumeOptions co;
  auto* consume = app.add_subcommand("consume", "receive messages as a consumer group member");
  consume->add_option("TOPIC", co.topic, "topic")->required();
  consume->add_option("--group", co.group, "consumer group")->required();
  consume->add_option("--tag", co.tag, "tag filter: '*' or 'a||b'")->capture_default_str();
  consume->add_option("--count", co.count, "stop after N messages (0: no limit)")
      ->capture_default_str();
  consume->add_option("--wait", co.wait_ms, "long-poll wait per receive, ms")
      ->capture_default_str();
  consume->add_option("--lease", co.lease_ms, "invisible duration of received messages, ms")
      ->capture_default_str();
  consume->add_flag("--follow,-f", co.follow,
                    "keep waiting for new messages (default: stop at the first empty poll)");
  consume->add_flag("--no-ack", co.no_ack, "do not ack (messages come back after the lease)");
  consume->add_flag("--json", co.json, "one JSON object per message");
  consume->callback([&] { action = [&] { return Consume(g, co); }; });

  // query
  std::string q_id, q_topic, q_key;
  int64_t q_offset = -1;
  bool q_json = false;
  auto* query = app.add_subcommand("query", "look a message up by id, by key or by log offset");
  query->add_option("--id", q_id, "message id");
  query->add_option("--topic", q_topic, "topic (required with --key)");
  query->add_option("--key", q_key, "message key");
  query->add_option("--offset", q_offset, "log offset");
  query->add_flag("--json", q_json, "JSON output");
  query->callback(
      [&] { action = [&] { return Query(g, q_id, q_topic, q_key, q_offset, q_json); }; });

  // group
  auto* group = app.add_subcommand("group", "create, list, inspect and delete consumer groups");
  group->require_subcommand(1);
  GroupCreateOptions gco;
  auto* gc = group->add_subcommand("create", "create or update a consumer group");
  gc->footer(
      "A failed delivery (nack, lapsed lease) is retried after the back-off; after\n"
      "--max-attempts deliveries the message goes to the group's dead-letter queue\n"
      "(see `tidemq dlq`). For example:\n"
      "  tidemq group create billing --max-attempts 5 --retry-backoff exponential:1s,2,1m");
  gc->add_option("NAME", name, "group name")->required();
  gc->add_flag("--broadcast", gco.group.broadcast, "every consumer gets every message");
  gc->add_flag("--fifo", gco.group.fifo,
               "deliver a queue's next message only after the previous is acked");
  gc->add_flag("--fifo-block", gco.group.fifo_block,
               "FIFO: keep retrying a failing message past --max-attempts instead of\n"
               "dead-lettering it (its queue waits)");
  gc->add_option("--max-attempts", gco.group.max_attempts,
                 "deliveries before dead-lettering, 1..1000 (0: the broker's\n"
                 "--retry-max-attempts, 16 unless configured)")
      ->check(CLI::Range(0u, 1000u));
  gc->add_option("--retry-backoff", gco.retry_backoff,
                 "wait before the n-th retry:\n"
                 "  ladder                 10s 30s 1m 2m ... 30m 1h 2h (RocketMQ's levels)\n"
                 "  1s,5s,30s              these delays, the last one repeating\n"
                 "  exponential:1s,2,10m   1s, 2s, 4s, ... at most 10m\n"
                 "units: ms, s, m, h, d (a plain number is milliseconds);\n"
                 "default: the broker's --retry-backoff (ladder unless configured)");
  gc->callback([&] { action = [&] { return GroupCreate(g, name, gco); }; });
  auto* gl = group->add_subcommand("list", "list consumer groups");
  gl->callback([&] { action = [&] { return GroupList(g); }; });
  auto* gs = group->add_subcommand(
      "status",
      "retry policy, retried and dead-lettered counts, DLQ size, and per-queue "
      "committed offset, lag, inflight and messages lost to retention (LOST: deleted by "
      "retention before the group consumed them)");
  gs->add_option("NAME", name, "group name")->required();
  gs->callback([&] { action = [&] { return GroupStatus(g, name); }; });
  auto* gd = group->add_subcommand("delete", "delete a consumer group");
  gd->add_option("NAME", name, "group name")->required();
  gd->callback([&] { action = [&] { return GroupDelete(g, name); }; });

  // stats
  bool s_json = false;
  auto* stats = app.add_subcommand("stats", "broker counters and information");
  stats->add_flag("--json", s_json, "JSON output");
  stats->callback([&] { action = [&] { return Stats(g, s_json); }; });

  // broker groups
  bool c_json = false;
  auto* cluster = app.add_subcommand("cluster", "broker groups: members, roles, replication");
  cluster->require_subcommand(1);
  auto* cst = cluster->add_subcommand(
      "status",
      "each group of the --addr brokers: epoch, master, in-sync set, and per member its\n"
      "address, role, log end, replication lag, in-sync and connection state");
  cst->add_flag("--json", c_json, "the broker's JSON document (one per group)");
  cst->callback([&] { action = [&] { return ClusterStatusCommand(g, c_json); }; });

  // scheduled messages
  std::string m_id;
  auto* cancel = app.add_subcommand("cancel", "cancel a scheduled message before it fires");
  cancel->add_option("MESSAGE_ID", m_id, "id printed by `send --delay/--deliver-at`")->required();
  cancel->callback([&] { action = [&] { return CancelScheduled(g, m_id); }; });
  auto* timer = app.add_subcommand("timer", "scheduled messages: stats and look-up");
  timer->require_subcommand(1);
  bool t_json = false;
  auto* tst = timer->add_subcommand("stats", "pending, fired, cancelled, next due, lateness");
  tst->add_flag("--json", t_json, "JSON output");
  tst->callback([&] { action = [&] { return TimerStats(g, t_json); }; });
  auto* tsh = timer->add_subcommand("show", "one pending scheduled message");
  tsh->add_option("MESSAGE_ID", m_id, "message id")->required();
  tsh->callback([&] { action = [&] { return TimerShow(g, m_id); }; });

  // transactions
  auto* txn = app.add_subcommand("txn", "transactional messages: list, show, resolve, stats");
  txn->require_subcommand(1);
  std::string x_state = "any";
  bool x_parked = false, x_json = false;
  uint32_t x_limit = 100;
  auto* xl = txn->add_subcommand("list", "transactions, oldest half first");
  xl->add_option("--state", x_state, "pending, committed, rolled-back or any")
      ->check(CLI::IsMember({"pending", "committed", "rolled-back", "any"}))
      ->capture_default_str();
  xl->add_flag("--parked", x_parked, "only those parked after their last check-back");
  xl->add_option("--limit", x_limit, "at most this many")
      ->check(CLI::Range(1u, 10'000u))
      ->capture_default_str();
  xl->add_flag("--json", x_json, "JSON output");
  xl->callback([&] { action = [&] { return TxnList(g, x_state, x_parked, x_limit, x_json); }; });
  auto* xs = txn->add_subcommand("show", "one transaction by the id of its message");
  xs->add_option("MESSAGE_ID", m_id, "message id")->required();
  xs->callback([&] { action = [&] { return TxnShow(g, m_id); }; });
  auto* xc = txn->add_subcommand("commit", "resolve a pending transaction by hand: commit");
  xc->add_option("MESSAGE_ID", m_id, "message id")->required();
  xc->callback([&] { action = [&] { return TxnResolve(g, m_id, true); }; });
  auto* xr = txn->add_subcommand("rollback", "resolve a pending transaction by hand: roll back");
  xr->add_option("MESSAGE_ID", m_id, "message id")->required();
  xr->callback([&] { action = [&] { return TxnResolve(g, m_id, false); }; });
  auto* xst = txn->add_subcommand("stats", "pending, committed, rolled back, checks, answers");
  xst->add_flag("--json", x_json, "JSON output");
  xst->callback([&] { action = [&] { return TxnStats(g, x_json); }; });

  // dead letters
  DlqOptions dq;
  auto* dlq =
      app.add_subcommand("dlq", "dead letters of a consumer group: list, show, redrive, purge");
  dlq->footer(
      "A message whose deliveries failed --max-attempts times (see `tidemq group create`) is\n"
      "moved to its group's dead-letter queue %DLQ%<group>, where it waits to be inspected,\n"
      "sent back (redrive) or dropped (purge).\n"
      "  tidemq dlq list billing --since -1h\n"
      "  tidemq dlq show billing <MESSAGE_ID>\n"
      "  tidemq dlq redrive billing --tag created --to retry\n"
      "  tidemq dlq purge billing --all");
  dlq->require_subcommand(1);
  const std::string time_help =
      "-DURATION (e.g. -10m, -2h), now, YYYY-MM-DD[ HH:MM[:SS]] (local time), or ms since the "
      "epoch";
  // The filters every subcommand but show takes.
  auto add_filters = [&](CLI::App* sub) {
    sub->add_option("--tag", dq.tag, "only with this tag");
    sub->add_option("--key", dq.key, "only with this key");
    sub->add_option("--topic", dq.topic, "only those sent to this topic");
    sub->add_option("--since", dq.since, "dead-lettered at or after this time: " + time_help);
    sub->add_option("--until", dq.until, "dead-lettered before this time (same forms)");
  };
  auto add_selectors = [&](CLI::App* sub, const char* verb) {
    sub->add_option("GROUP", dq.group, "consumer group")->required();
    sub->add_option("MESSAGE_ID", dq.message_id, std::string("the message to ") + verb);
    sub->add_option(
           "--offset", dq.offset,
           std::string("the dead letter at this DLQ offset ") + "(first column of `dlq list`)")
        ->check(CLI::NonNegativeNumber);
    add_filters(sub);
    sub->add_flag("--all", dq.all,
                  std::string(verb) +
                      " every dead letter of the group (required when nothing "
                      "else is selected)");
  };
  auto* dll = dlq->add_subcommand("list", "dead letters, oldest first, with attempts and reason");
  dll->add_option("GROUP", dq.group, "consumer group")->required();
  add_filters(dll);
  dll->add_option("--limit", dq.limit, "at most this many")
      ->check(CLI::Range(1u, 10'000u))
      ->capture_default_str();
  dll->add_option("--after", dq.after, "paging: only DLQ offsets above this")
      ->check(CLI::NonNegativeNumber);
  dll->add_flag("--json", dq.json, "JSON output");
  dll->callback([&] { action = [&] { return DlqList(g, dq); }; });
  auto* dls = dlq->add_subcommand(
      "show", "one dead letter with every field and its body (text, or a hex dump)");
  dls->add_option("GROUP", dq.group, "consumer group")->required();
  dls->add_option("MESSAGE_ID", dq.message_id, "message id");
  dls->add_option("--offset", dq.offset, "DLQ offset (first column of `dlq list`)")
      ->check(CLI::NonNegativeNumber);
  dls->add_flag("--json", dq.json, "JSON output");
  dls->callback([&] { action = [&] { return DlqShow(g, dq); }; });
  auto* dlr = dlq->add_subcommand(
      "redrive", "send dead letters back to their original topic or to the group's retry queue");
  dlr->footer(
      "--to original: every group of the topic receives the message again, as a new message.\n"
      "--to retry: only this group receives it again, with its attempts counted from 1.");
  add_selectors(dlr, "redrive");
  dlr->add_option("--to", dq.to, "original: the topic it was sent to; retry: %RETRY%<group>")
      ->check(CLI::IsMember({"original", "retry"}))
      ->capture_default_str();
  dlr->callback([&] { action = [&] { return DlqRedrive(g, dq); }; });
  auto* dlp = dlq->add_subcommand("purge", "drop dead letters for good");
  add_selectors(dlp, "purge");
  dlp->callback([&] { action = [&] { return DlqPurge(g, dq); }; });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
  if (!action) return Usage("no command given");
  return action();
}
