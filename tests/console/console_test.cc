// The HTTP front end (console/) over a real in-process broker: /metrics after a known workload
// read back through a strict exposition-format parser, the JSON admin API, access (tokens,
// sessions, CSRF, roles, Host) and hostile requests.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>

#include "console/console.h"
#include "tests/broker/broker_fixture.h"
#include "tests/common/eventually.h"
#include "tests/console/http_client.h"
#include "tests/console/prometheus_parser.h"

namespace tidemq::testing {
namespace {

using nlohmann::json;

class ConsoleTest : public BrokerTest {
 protected:
  void SetUp() override {
    config_.flush_policy = store::FlushPolicy::kSync;  // every append is fdatasynced
    BrokerTest::SetUp();
    StartConsole();
    auto c = Connect();
    ASSERT_EQ(c->Call(CreateTopic("orders", 2)).header.code(), wire::OK);
  }
  void TearDown() override {
    console_.reset();
    BrokerTest::TearDown();
  }

  void StartConsole(const std::string& admin = "", const std::string& read = "") {
    console::ConsoleOptions o;
    o.port = 0;
    o.data_dir = dir_;
    o.admin_token = admin;
    o.read_token = read;
    auto c = console::Console::Start(broker_->core(), o);
    ASSERT_TRUE(c.ok()) << c.status().ToString();
    console_ = std::move(*c);
    http_ = std::make_unique<HttpClient>(console_->port());
    std::ifstream in(dir_ + "/console.token");
    std::string role, token;
    while (in >> role >> token) (role == "admin" ? admin_ : read_) = token;
  }

  std::vector<std::pair<std::string, std::string>> Bearer(const std::string& token) {
    return {{"Authorization", "Bearer " + token}};
  }
  HttpResult Get(const std::string& target) { return http_->Request("GET", target, "", Bearer(admin_)); }
  HttpResult Post(const std::string& target, const json& body) {
    return http_->Request("POST", target, body.dump(), Bearer(admin_));
  }

  PromExposition Scrape() {
    HttpResult r = http_->Request("GET", "/metrics");
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    PromExposition e;
    const std::string error = ParsePrometheus(r.body, &e);
    EXPECT_EQ(error, "") << r.body;
    return e;
  }

  std::unique_ptr<console::Console> console_;
  std::unique_ptr<HttpClient> http_;
  std::string admin_, read_;
};

TEST_F(ConsoleTest, MetricsAfterAKnownWorkload) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateGroup("billing", false, false)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "orders", {{"aaaaa"}, {"bbbbb"}, {"ccccc"}}).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "orders", {{.body = "0123456789", .group = "order-7"}}).header.code(), wire::OK);
  std::vector<Received> got;
  for (int round = 0; round < 10 && got.size() < 3; ++round) {
    for (auto& m : Receive(*c, "billing", "orders", 3 - static_cast<uint32_t>(got.size()), 0,
                           "client-1")) {
      got.push_back(std::move(m));
    }
  }
  ASSERT_EQ(got.size(), 3u);
  ASSERT_EQ(Ack(*c, "billing", "orders", got[0].meta.receipt_handle()), wire::OK);
  ASSERT_EQ(Ack(*c, "billing", "orders", got[1].meta.receipt_handle()), wire::OK);
  clock_.AdvanceMs(5'000);

  PromExposition e = Scrape();
  const std::map<std::string, std::string> orders = {{"topic", "orders"}};
  const std::map<std::string, std::string> billing = {{"topic", "orders"}, {"consumer_group", "billing"}};
  EXPECT_EQ(e.types["rocketmq_messages_in_total"], "counter");
  EXPECT_EQ(e.Value("rocketmq_messages_in_total", {{"topic", "orders"}, {"message_type", "normal"}}), 3);
  EXPECT_EQ(e.Value("rocketmq_messages_in_total", {{"topic", "orders"}, {"message_type", "fifo"}}), 1);
  EXPECT_EQ(e.Value("rocketmq_throughput_in_total", {{"topic", "orders"}, {"message_type", "normal"}}), 15);
  EXPECT_EQ(e.Value("rocketmq_throughput_in_total", {{"topic", "orders"}, {"message_type", "fifo"}}), 10);
  EXPECT_EQ(e.Value("tidemq_topic_stored_messages", orders), 4);
  EXPECT_EQ(e.Value("tidemq_topic_queues", orders), 2);
  EXPECT_EQ(e.Value("rocketmq_messages_out_total", billing), 3);
  EXPECT_EQ(e.Value("rocketmq_consumer_lag_messages", billing), 2);
  EXPECT_EQ(e.Value("rocketmq_consumer_inflight_messages", billing), 1);
  EXPECT_EQ(e.Value("rocketmq_consumer_ready_messages", billing), 1);
  // The oldest unacked message was stored 5 s (of the injected clock) ago.
  EXPECT_EQ(e.Value("rocketmq_consumer_lag_latency", billing), 5'000);
  EXPECT_EQ(e.Value("rocketmq_send_to_dlq_messages_total", billing), 0);
  EXPECT_EQ(e.Value("rocketmq_consumer_connections", {{"consumer_group", "billing"}}), 1);
  EXPECT_EQ(e.types["tidemq_send_latency_seconds"], "histogram");
  EXPECT_EQ(e.Value("tidemq_send_latency_seconds_count"), 2);  // two sends
  EXPECT_EQ(e.Value("rocketmq_message_size_count"), 4);        // four messages
  EXPECT_EQ(e.Value("rocketmq_message_size_sum"), 25);
  EXPECT_EQ(e.Value("rocketmq_message_size_bucket", {{"le", "1024"}}), 4);
  // Sync flushing: the topic, the group and the two sends were each fdatasynced.
  EXPECT_GE(*e.Value("tidemq_store_sync_latency_seconds_count"), 4);
  size_t topics = 0;
  for (const PromSample& s : e.samples) topics += s.name == "tidemq_topic_queues";
  EXPECT_EQ(e.Value("rocketmq_topic_number"), topics);  // the group's retry topic included
  EXPECT_EQ(e.Value("rocketmq_consumer_group_number"), 1);
  EXPECT_EQ(e.Value("tidemq_read_only"), 0);
  EXPECT_EQ(e.Value("tidemq_messages_acked_total"), 2);
  EXPECT_EQ(e.Value("tidemq_replication_is_master"), 1);
  // Every sample names the broker as RocketMQ's metrics do.
  for (const PromSample& s : e.samples) {
    ASSERT_EQ(s.labels.at("cluster"), "standalone") << s.name;
    ASSERT_EQ(s.labels.at("node_type"), "broker") << s.name;
  }
  // Every family is documented.
  std::ifstream doc(std::string(TIDEMQ_SOURCE_DIR) + "/docs/metrics.md");
  std::stringstream text;
  text << doc.rdbuf();
  for (const auto& [family, _] : e.types) {
    EXPECT_NE(text.str().find("`" + family + "`"), std::string::npos)
        << family << " is not documented in docs/metrics.md";
  }
}

TEST_F(ConsoleTest, TopicsGroupsAndMessagesThroughTheApi) {
  HttpResult r = Post("/api/v1/topics", {{"name", "payments"}, {"queues", 3}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(json::parse(r.body)["queue_count"], 3);
  r = Get("/api/v1/topics");
  ASSERT_EQ(r.status, 200);
  json list = json::parse(r.body);
  EXPECT_EQ(list["total"], 2);
  EXPECT_FALSE(list["truncated"]);
  r = Get("/api/v1/topics?prefix=pay&limit=1");
  list = json::parse(r.body);
  ASSERT_EQ(list["topics"].size(), 1u);
  EXPECT_EQ(list["topics"][0]["name"], "payments");

  r = Post("/api/v1/topics/payments/messages",
           {{"body", "order 42 paid"}, {"keys", {"order-42"}}, {"tag", "paid"}});
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string id = json::parse(r.body)["message_id"];
  r = Get("/api/v1/messages?topic=payments&key=order-42");
  ASSERT_EQ(r.status, 200) << r.body;
  json found = json::parse(r.body);
  ASSERT_EQ(found["messages"].size(), 1u);
  EXPECT_EQ(found["messages"][0]["message_id"], id);
  EXPECT_EQ(found["messages"][0]["body"], "order 42 paid");
  EXPECT_EQ(found["messages"][0]["tag"], "paid");
  r = Get("/api/v1/messages?id=" + id);
  EXPECT_EQ(json::parse(r.body)["messages"][0]["topic"], "payments");

  r = Post("/api/v1/groups", {{"name", "ledger"}, {"max_attempts", 3}, {"retry_policy", "1s,5s"}});
  ASSERT_EQ(r.status, 201) << r.body;
  r = Get("/api/v1/groups/ledger");
  json g = json::parse(r.body);
  EXPECT_EQ(g["max_attempts"], 3);
  EXPECT_EQ(g["retry_policy"], "1s,5s");

  // Typed errors with the HTTP status that fits.
  r = Get("/api/v1/topics/nope");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "TOPIC_NOT_FOUND");
  r = Post("/api/v1/topics", {{"name", "bad name!"}});
  EXPECT_EQ(r.status, 400);
  r = Post("/api/v1/topics", {{"name", 7}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(json::parse(r.body)["error"]["message"].get<std::string>().find("wrong type"),
            std::string::npos);
  r = Get("/api/v1/nothing-here");
  EXPECT_EQ(r.status, 404);

  r = http_->Request("DELETE", "/api/v1/topics/payments", "", Bearer(admin_));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Get("/api/v1/topics/payments").status, 404);
}

TEST_F(ConsoleTest, TokensRolesSessionsAndCsrf) {
  // No default password: a token was generated, kept readable by the owner only.
  struct stat st {};
  ASSERT_EQ(stat((dir_ + "/console.token").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(admin_.size(), 64u);
  ASSERT_NE(admin_, read_);
  EXPECT_FALSE(console_->new_admin_token().empty());

  EXPECT_EQ(http_->Request("GET", "/api/v1/topics").status, 401);
  EXPECT_EQ(http_->Request("GET", "/api/v1/topics", "", Bearer("wrong")).status, 401);
  EXPECT_EQ(http_->Request("GET", "/api/v1/topics", "", Bearer(read_)).status, 200);
  EXPECT_EQ(http_->Request("POST", "/api/v1/topics", R"({"name":"x"})", Bearer(read_)).status, 403);
  EXPECT_EQ(http_->Request("POST", "/api/v1/topics", R"({"name":"x"})", Bearer(admin_)).status, 201);

  // A session: cookie + CSRF token for changes.
  EXPECT_EQ(http_->Request("POST", "/api/v1/login", R"({"token":"wrong"})").status, 401);
  HttpResult login = http_->Request("POST", "/api/v1/login", json{{"token", admin_}}.dump());
  ASSERT_EQ(login.status, 200);
  const std::string cookie = login.headers["set-cookie"];
  EXPECT_NE(cookie.find("HttpOnly"), std::string::npos);
  EXPECT_NE(cookie.find("SameSite=Strict"), std::string::npos);
  const std::string session = cookie.substr(0, cookie.find(';'));
  const std::string csrf = json::parse(login.body)["csrf"];
  EXPECT_EQ(json::parse(login.body)["role"], "admin");
  EXPECT_EQ(http_->Request("GET", "/api/v1/topics", "", {{"Cookie", session}}).status, 200);
  EXPECT_EQ(http_->Request("POST", "/api/v1/topics", R"({"name":"y"})", {{"Cookie", session}}).status, 403);
  EXPECT_EQ(http_->Request("POST", "/api/v1/topics", R"({"name":"y"})",
                           {{"Cookie", session}, {"X-CSRF-Token", "not-it"}})
                .status,
            403);
  // Another site's page: right cookie and token would still need our origin.
  EXPECT_EQ(http_->Request("POST", "/api/v1/topics", R"({"name":"y"})",
                           {{"Cookie", session}, {"X-CSRF-Token", csrf}, {"Origin", "http://evil.example"}})
                .status,
            403);
  EXPECT_EQ(http_->Request("POST", "/api/v1/topics", R"({"name":"y"})",
                           {{"Cookie", session}, {"X-CSRF-Token", csrf}})
                .status,
            201);
  EXPECT_EQ(http_->Request("POST", "/api/v1/logout", "", {{"Cookie", session}, {"X-CSRF-Token", csrf}}).status,
            200);
  EXPECT_EQ(http_->Request("GET", "/api/v1/topics", "", {{"Cookie", session}}).status, 401);

  // A read session sees but cannot change.
  login = http_->Request("POST", "/api/v1/login", json{{"token", read_}}.dump());
  const std::string read_session = login.headers["set-cookie"].substr(0, login.headers["set-cookie"].find(';'));
  EXPECT_EQ(http_->Request("POST", "/api/v1/topics", R"({"name":"z"})",
                           {{"Cookie", read_session}, {"X-CSRF-Token", json::parse(login.body)["csrf"]}})
                .status,
            403);

  // The same tokens after a restart of the console; configured ones win.
  const std::string admin_before = admin_;
  console_.reset();
  StartConsole();
  EXPECT_EQ(admin_, admin_before);
  EXPECT_TRUE(console_->new_admin_token().empty());
  console_.reset();
  StartConsole("configured-admin-token", "configured-read-token");
  EXPECT_EQ(http_->Request("GET", "/api/v1/topics", "", Bearer(admin_before)).status, 401);
  EXPECT_EQ(http_->Request("GET", "/api/v1/topics", "", Bearer("configured-read-token")).status, 200);
}

TEST_F(ConsoleTest, HostileRequestsGetTypedErrorsAndTheBrokerKeepsServing) {
  // A name that is not this server's (DNS rebinding).
  EXPECT_EQ(http_->Request("GET", "/api/v1/topics", "", Bearer(admin_), "attacker.example:80").status, 421);
  // Too large, too deep, not JSON, not HTTP.
  EXPECT_NE(http_->Raw("POST /api/v1/topics HTTP/1.1\r\nHost: 127.0.0.1:" +
                       std::to_string(console_->port()) +
                       "\r\nContent-Length: 2097152\r\n\r\n" + std::string(1000, 'x'))
                .find("413"),
            std::string::npos);
  EXPECT_EQ(http_->Request("POST", "/api/v1/topics", std::string(10'000, '[') , Bearer(admin_)).status, 400);
  EXPECT_EQ(http_->Request("POST", "/api/v1/topics", "{not json", Bearer(admin_)).status, 400);
  EXPECT_NE(http_->Raw("\x16\x03\x01garbage\r\n\r\n").find("400"), std::string::npos);
  EXPECT_NE(http_->Raw("GET / HTTP/1.1\r\nX: " + std::string(64 << 10, 'a') + "\r\n\r\n").find("431"),
            std::string::npos);
  // Paths that try to leave the API or the assets.
  EXPECT_EQ(http_->Request("GET", "/../../etc/passwd").status, 404);
  EXPECT_EQ(http_->Request("GET", "/api/v1/topics/..%2F..%2Fx", "", Bearer(admin_)).status, 404);
  // Still serving.
  EXPECT_EQ(http_->Request("GET", "/healthz").status, 200);
  EXPECT_EQ(Get("/api/v1/topics").status, 200);
}

TEST_F(ConsoleTest, PagesAreServedWithAStrictPolicy) {
  HttpResult r = http_->Request("GET", "/");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.headers["content-type"], "text/html; charset=utf-8");
  EXPECT_NE(r.body.find("/app.js"), std::string::npos);
  EXPECT_NE(r.headers["content-security-policy"].find("default-src 'self'"), std::string::npos);
  EXPECT_EQ(r.headers["x-frame-options"], "DENY");
  EXPECT_EQ(http_->Request("GET", "/app.js").headers["content-type"], "text/javascript; charset=utf-8");
}

TEST_F(ConsoleTest, ResetOffsetSearchByTimeScheduledListAndTrace) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateGroup("billing", false, false)).header.code(), wire::OK);
  const int64_t t0 = clock_.NowMs();
  ASSERT_EQ(Send(*c, "orders", {{.body = "early", .key = "order-1"}}).header.code(), wire::OK);
  clock_.AdvanceMs(60'000);
  const int64_t t1 = clock_.NowMs();
  ASSERT_EQ(Send(*c, "orders", {{.body = "late-1", .key = "order-2"}, {.body = "late-2", .key = "order-3"}})
                .header.code(),
            wire::OK);

  // Search by time: [t1, now) holds the two later messages, oldest first; a limit of one says
  // that it truncated.
  HttpResult r = Get("/api/v1/messages?topic=orders&from=" + std::to_string(t1));
  ASSERT_EQ(r.status, 200) << r.body;
  json found = json::parse(r.body);
  ASSERT_EQ(found["messages"].size(), 2u);
  EXPECT_FALSE(found["truncated"]);
  std::set<std::string> bodies = {found["messages"][0]["body"], found["messages"][1]["body"]};
  EXPECT_EQ(bodies, (std::set<std::string>{"late-1", "late-2"}));
  r = Get("/api/v1/messages?topic=orders&from=" + std::to_string(t0) + "&to=" + std::to_string(t1));
  found = json::parse(r.body);
  ASSERT_EQ(found["messages"].size(), 1u);
  EXPECT_EQ(found["messages"][0]["body"], "early");
  r = Get("/api/v1/messages?topic=orders&from=" + std::to_string(t0) + "&limit=1");
  found = json::parse(r.body);
  ASSERT_EQ(found["messages"].size(), 1u);
  EXPECT_EQ(found["messages"][0]["body"], "early");
  EXPECT_TRUE(found["truncated"]);
  EXPECT_EQ(Get("/api/v1/messages?from=0").status, 400);  // a time range needs a topic

  // Consume everything, then reset the group to t1: the two later messages come again.
  std::vector<Received> got;
  for (int round = 0; round < 10 && got.size() < 3; ++round) {
    for (auto& m : Receive(*c, "billing", "orders", 3, 0, "client-1")) got.push_back(std::move(m));
  }
  ASSERT_EQ(got.size(), 3u);
  for (const auto& m : got) ASSERT_EQ(Ack(*c, "billing", "orders", m.meta.receipt_handle()), wire::OK);
  EXPECT_EQ(json::parse(Get("/api/v1/groups/billing").body)["total_lag"], 0);
  r = Post("/api/v1/groups/billing/reset-offset", {{"topic", "orders"}, {"time_ms", t1}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["queues"].size(), 2u);
  EXPECT_EQ(json::parse(Get("/api/v1/groups/billing").body)["total_lag"], 2);
  std::set<std::string> again;
  for (int round = 0; round < 10 && again.size() < 2; ++round) {
    for (auto& m : Receive(*c, "billing", "orders", 3, 0, "client-1")) again.insert(m.body);
  }
  EXPECT_EQ(again, (std::set<std::string>{"late-1", "late-2"}));
  EXPECT_EQ(Post("/api/v1/groups/billing/reset-offset", {{"topic", "nope"}, {"time_ms", t1}}).status, 404);
  EXPECT_EQ(Post("/api/v1/groups/nope/reset-offset", {{"topic", "orders"}, {"time_ms", t1}}).status, 404);
  EXPECT_EQ(Post("/api/v1/groups/billing/reset-offset", {{"topic", "orders"}}).status, 400);

  // Scheduled messages: pending, soonest first.
  ASSERT_EQ(Post("/api/v1/topics/orders/messages", {{"body", "later"}, {"delay_ms", 50'000}}).status, 201);
  ASSERT_EQ(Post("/api/v1/topics/orders/messages", {{"body", "sooner"}, {"delay_ms", 10'000}}).status, 201);
  r = Get("/api/v1/scheduled/pending");
  ASSERT_EQ(r.status, 200) << r.body;
  json pending = json::parse(r.body)["scheduled"];
  ASSERT_EQ(pending.size(), 2u);
  EXPECT_EQ(pending[0]["due_ms"], clock_.NowMs() + 10'000);
  EXPECT_EQ(pending[1]["due_ms"], clock_.NowMs() + 50'000);
  r = Get("/api/v1/scheduled/pending?limit=1&after_due=" + pending[0]["due_ms"].dump() +
          "&after_offset=" + pending[0]["log_offset"].dump());
  ASSERT_EQ(json::parse(r.body)["scheduled"].size(), 1u);
  EXPECT_EQ(json::parse(r.body)["scheduled"][0]["message_id"], pending[1]["message_id"]);

  // The trace by key, through the API.
  r = Get("/api/v1/trace?topic=orders&key=order-2");
  ASSERT_EQ(r.status, 200) << r.body;
  json traces = json::parse(r.body)["traces"];
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(traces[0]["events"][0]["kind"], "sent");
  EXPECT_EQ(Get("/api/v1/trace?topic=orders&key=nothing").status, 404);
  EXPECT_EQ(Get("/api/v1/trace").status, 400);
}

// A replica's console: /metrics, the overview and the cluster view answer (the process, the
// store, replication); what needs the services answers NOT_MASTER, and nothing crashes.
class ReplicaConsoleTest : public BrokerTest {
 protected:
  ReplicaConsoleTest() {
    config_.group = "g1";
    config_.broker_id = "b1";
  }
  void SetUp() override {
    BrokerTest::SetUp();
    char tmpl[] = "/tmp/tidemq-replica-console-XXXXXX";
    replica_dir_ = mkdtemp(tmpl);
    broker::BrokerConfig rc = config_;
    rc.data_dir = replica_dir_;
    rc.broker_id = "b2";
    rc.replica_of = "127.0.0.1:" + std::to_string(broker_->replication().repl_port);
    auto b = broker::Broker::Start(rc, &clock_);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    replica_ = std::move(b).value();
    console::ConsoleOptions o;
    o.port = 0;
    o.data_dir = replica_dir_;
    o.admin_token = "admin-token";
    auto con = console::Console::Start(replica_->core(), o);
    ASSERT_TRUE(con.ok()) << con.status().ToString();
    console_ = std::move(*con);
    http_ = std::make_unique<HttpClient>(console_->port());
  }
  void TearDown() override {
    console_.reset();
    replica_.reset();
    BrokerTest::TearDown();
    std::filesystem::remove_all(replica_dir_);
  }
  HttpResult Get(const std::string& target) {
    return http_->Request("GET", target, "", {{"Authorization", "Bearer admin-token"}});
  }

  std::string replica_dir_;
  std::unique_ptr<broker::Broker> replica_;
  std::unique_ptr<console::Console> console_;
  std::unique_ptr<HttpClient> http_;
};

TEST_F(ReplicaConsoleTest, AReplicaShowsItsMetricsOverviewAndCluster) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("orders", 2)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "orders", {{"x"}}).header.code(), wire::OK);

  HttpResult r = http_->Request("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  PromExposition e;
  ASSERT_EQ(ParsePrometheus(r.body, &e), "") << r.body;
  EXPECT_EQ(e.Value("tidemq_replication_is_master"), 0);
  EXPECT_TRUE(e.Value("tidemq_replication_epoch").has_value());
  EXPECT_TRUE(e.Value("tidemq_storage_log_end_offset").has_value());
  EXPECT_TRUE(e.Value("tidemq_replication_connected").has_value());
  for (const PromSample& s : e.samples) ASSERT_EQ(s.labels.at("cluster"), "g1") << s.name;

  r = Get("/api/v1/overview");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(json::parse(r.body)["role"], "replica");
  EXPECT_FALSE(json::parse(r.body)["serving"]);
  EXPECT_EQ(Get("/api/v1/metrics").status, 200);
  // The failover history reaches the replica with the log.
  ASSERT_TRUE(Eventually([&] {
    r = Get("/api/v1/cluster");
    return r.status == 200 && json::parse(r.body)["epochs"].size() == 1;
  })) << r.body;
  EXPECT_EQ(json::parse(r.body)["epochs"][0]["epoch"], 1);
  r = Get("/api/v1/topics");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(json::parse(r.body)["error"]["code"], "NOT_MASTER");
  EXPECT_EQ(http_->Request("GET", "/healthz").status, 503);  // not serving: not a target
}

}  // namespace
}  // namespace tidemq::testing
