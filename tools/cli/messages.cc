// tidemq send | consume | query
#include <algorithm>
#include <cstdio>
#include <deque>
#include <fstream>
#include <future>
#include <iostream>
#include <memory>
#include <sstream>
#include <utility>

#include "tools/cli/commands.h"

namespace tidemq::tools {

namespace {

// ---- send ------------------------------------------------------------------------------

struct SendArgs {
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
  bool json = false;
};

// One receipt: a line of text, or a JSON object on one line (a send may print many).
void PrintReceipt(const SendReceipt& r, bool json) {
  const bool scheduled = r.queue_offset < 0;  // enters its queue when due
  if (json) {
    nlohmann::json j;
    j["message_id"] = r.message_id;
    j["queue_id"] = r.queue_id;
    if (!scheduled) j["queue_offset"] = r.queue_offset;
    j["log_offset"] = r.log_offset;
    j["scheduled"] = scheduled;
    PrintJsonLine(j);
    return;
  }
  if (scheduled) {
    std::cout << "scheduled id=" << r.message_id << " queue=" << r.queue_id
              << " log_offset=" << r.log_offset << "\n";
    return;
  }
  std::cout << "sent id=" << r.message_id;
  if (!r.group.empty()) std::cout << " broker_group=" << r.group;
  std::cout << " queue=" << r.queue_id << " offset=" << r.queue_offset
            << " log_offset=" << r.log_offset << "\n";
}

int Send(const Globals& g, const SendArgs& o) {
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
    auto builder = Message::NewBuilder();
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

  auto producer = Producer::NewBuilder().Endpoint(g.addr).RequestTimeout(g.timeout_ms).Build();
  if (!producer.ok()) return Fail(producer.status());

  // Pipelined: up to kWindow sends in flight, receipts printed in send order.
  constexpr size_t kWindow = 64;
  std::deque<std::future<Result<SendReceipt>>> inflight;
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
    PrintReceipt(*r, o.json);
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
    return !Interrupted();
  };

  if (o.from_stdin) {
    std::string line;
    while (!Interrupted() && std::getline(std::cin, line)) {
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
  return failures > 0 ? ExitCodeOf(last_error) : kExitOk;
}

// ---- consume ---------------------------------------------------------------------------

struct ConsumeArgs {
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

int Consume(const Globals& g, const ConsumeArgs& o) {
  if (o.count < 0) return Usage("--count must not be negative");
  auto consumer = SimpleConsumer::NewBuilder()
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
  while (!Interrupted() && (o.count == 0 || received < o.count)) {
    uint32_t want = o.count == 0 ? 32u : static_cast<uint32_t>(std::min(32, o.count - received));
    // The wait is sliced so Ctrl-C is noticed promptly; a slice that finds nothing costs a
    // round trip, nothing more.
    Result<std::vector<ReceivedMessage>> batch{std::vector<ReceivedMessage>{}};
    for (int64_t waited = 0; !Interrupted() && batch.ok() && batch->empty() &&
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
  std::cout.flush();  // the messages before the count, also when stderr is the same terminal
  if (!o.json) std::fprintf(stderr, "%d message(s) received\n", received);
  return kExitOk;
}

// ---- query -----------------------------------------------------------------------------

struct QueryArgs {
  std::string id;
  std::string topic;
  std::string key;
  int64_t offset = -1;
  bool json = false;
};

int Query(const Globals& g, const QueryArgs& o) {
  int modes = (o.id.empty() ? 0 : 1) + (o.key.empty() ? 0 : 1) + (o.offset >= 0 ? 1 : 0);
  if (modes != 1) return Usage("query needs exactly one of --id, --topic T --key K, --offset N");
  if (!o.key.empty() && o.topic.empty()) return Usage("--key needs --topic");
  auto admin = ConnectAdmin(g);
  if (!admin.ok()) return Fail(admin.status());
  Result<std::vector<ReceivedMessage>> r = !o.id.empty()    ? admin->QueryById(o.id, o.topic)
                                           : !o.key.empty() ? admin->QueryByKey(o.topic, o.key)
                                                            : admin->QueryByOffset(o.offset);
  if (!r.ok()) return Fail(r.status());
  if (r->empty()) {
    std::fprintf(stderr, "no message found\n");
    return kExitError;
  }
  for (const auto& m : *r) PrintMessage(m, o.json);
  return kExitOk;
}

}  // namespace

void AddMessageCommands(CLI::App& app, const Globals& g, Action& action) {
  auto so = std::make_shared<SendArgs>();
  auto* send = app.add_subcommand("send", "send messages (prints id, queue and offset of each)");
  send->add_option("TOPIC", so->topic, "topic")->required();
  auto* body_opt = send->add_option("BODY", so->body, "message body");
  send->add_option("--tag", so->tag, "tag");
  send->add_option("--key", so->keys, "key (repeatable)")->allow_extra_args(false);
  send->add_option("--property", so->properties, "user property KEY=VALUE (repeatable)")
      ->allow_extra_args(false);
  send->add_option("--group", so->message_group, "message group (FIFO ordering key)");
  send->add_option("--count", so->count, "send each body this many times")->capture_default_str();
  send->add_option("--file", so->file, "read the body from this file");
  send->add_flag("--stdin", so->from_stdin, "send one message per line of standard input");
  send->add_option("--delay", so->delay_ms, "deliver after this many milliseconds");
  send->add_option("--deliver-at", so->deliver_at_ms, "deliver at this time (ms since the epoch)");
  AddJsonFlag(send, so->json, "one JSON object per message sent");
  send->callback([&g, &action, so, body_opt] {
    so->has_body = body_opt->count() > 0;
    action = [&g, so] { return Send(g, *so); };
  });

  auto co = std::make_shared<ConsumeArgs>();
  auto* consume = app.add_subcommand("consume", "receive messages as a consumer group member");
  consume->add_option("TOPIC", co->topic, "topic")->required();
  consume->add_option("--group", co->group, "consumer group")->required();
  consume->add_option("--tag", co->tag, "tag filter: '*' or 'a||b'")->capture_default_str();
  consume->add_option("--count", co->count, "stop after N messages (0: no limit)")
      ->capture_default_str();
  consume->add_option("--wait", co->wait_ms, "long-poll wait per receive, ms")
      ->capture_default_str();
  consume->add_option("--lease", co->lease_ms, "invisible duration of received messages, ms")
      ->capture_default_str();
  consume->add_flag("--follow,-f", co->follow,
                    "keep waiting for new messages (default: stop at the first empty poll)");
  consume->add_flag("--no-ack", co->no_ack, "do not ack (messages come back after the lease)");
  AddJsonFlag(consume, co->json, "one JSON object per message");
  OnChosen(consume, action, [&g, co] { return Consume(g, *co); });

  auto qo = std::make_shared<QueryArgs>();
  auto* query = app.add_subcommand("query", "look a message up by id, by key or by log offset");
  query->add_option("--id", qo->id, "message id");
  query->add_option("--topic", qo->topic, "topic (required with --key)");
  query->add_option("--key", qo->key, "message key");
  query->add_option("--offset", qo->offset, "log offset");
  AddJsonFlag(query, qo->json);
  OnChosen(query, action, [&g, qo] { return Query(g, *qo); });
}

}  // namespace tidemq::tools
