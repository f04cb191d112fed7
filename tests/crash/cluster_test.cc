// A cluster of broker groups as a user runs it (issue 16, docs/cluster.md): a real etcd
// (Debian's binary) and real `tidemq-broker` processes in two groups. A whole group killed
// with SIGKILL under produce + consume load and brought back; a topic extended onto another
// group while a producer sends; a group drained; the routes reaching clients that are mid-send,
// without a restart; RocketMQ 5's QueryRoute answering the cluster's queues from any broker;
// consumer groups configured through one broker reaching every group's master.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "rocketmq/v2/service.grpc.pb.h"
#include "tests/broker/wire_client.h"
#include "tests/common/etcd_server.h"
#include "tests/common/eventually.h"
#include "tests/crash/broker_process.h"
#include "tidemq/tidemq.h"

namespace tidemq::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Node {
  std::string id;
  std::string group;
  uint16_t port = 0;
  uint16_t repl_port = 0;
  uint16_t grpc_port = 0;
  std::string dir;
  pid_t pid = -1;
  std::vector<std::string> args;
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

// What a producer saw of one acknowledged send.
struct Acked {
  std::string body;
  std::string message_group;
  std::string group;  // the broker group that stored it
  int32_t queue = -1;
  int64_t offset = -1;
};

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status st = etcd_.Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
    char tmpl[] = "/tmp/tidemq-cluster-XXXXXX";
    root_ = mkdtemp(tmpl);
    nodes_.reserve(8);  // references stay valid
  }
  void TearDown() override {
    for (auto& n : nodes_) Kill(n);
    std::filesystem::remove_all(root_);
  }

  // A group of `size` brokers; a send is acknowledged once every one of them holds it.
  void AddGroup(const std::string& group, int size) {
    const std::string first = "b" + std::to_string(nodes_.size() + 1);
    for (int i = 0; i < size; ++i) {
      Node n;
      n.id = "b" + std::to_string(nodes_.size() + 1);
      n.group = group;
      n.port = FreeLoopbackPort();
      n.repl_port = FreeLoopbackPort();
      n.grpc_port = FreeLoopbackPort();
      n.dir = root_ + "/" + n.id;
      n.args = {TIDEMQ_BROKER_BIN, "--host", "127.0.0.1", "--port", std::to_string(n.port),
                "--repl-port", std::to_string(n.repl_port), "--data-dir", n.dir + "/data",
                "--group", group, "--broker-id", n.id, "--etcd", etcd_.endpoint(),
                "--lease-ttl-s", "1", "--min-copies", std::to_string(size),
                "--bootstrap-master", first, "--segment-mb", "1", "--log-level", "info",
                "--grpc-port", std::to_string(n.grpc_port), "--http-port", "0"};
      nodes_.push_back(n);
      Start(nodes_.back());
    }
  }

  void Start(Node& n) {
    std::filesystem::create_directories(n.dir);
    n.pid = Spawn(n.args, n.dir + "/broker.log", n.dir + "/broker.log");
    ASSERT_GT(n.pid, 0);
  }

  void Kill(Node& n) {
    if (n.pid <= 0) return;
    ::kill(n.pid, SIGKILL);
    int status = 0;
    waitpid(n.pid, &status, 0);
    n.pid = -1;
  }

  std::vector<Node*> GroupNodes(const std::string& group) {
    std::vector<Node*> out;
    for (auto& n : nodes_) {
      if (n.group == group) out.push_back(&n);
    }
    return out;
  }

  // QUERY_ROUTE of one broker (an empty response when it does not answer).
  wire::QueryRouteResponse Routes(const Node& n) {
    try {
      WireClient c(n.port);
      c.SetTimeout(1000);
      wire::Header h;
      h.set_kind(wire::QUERY_ROUTE);
      h.mutable_query_route_request();
      wire::Frame f = c.Call(std::move(h));
      if (f.header.code() != wire::OK) return {};
      return f.header.query_route_response();
    } catch (...) {
      return {};
    }
  }

  // Waits until `n`'s routes show every group in `groups` with a master whose in-sync set is
  // complete enough to take sends (a send is tried on each).
  void WaitForGroups(const Node& n, const std::vector<std::string>& groups) {
    ASSERT_TRUE(Eventually([&] {
      wire::QueryRouteResponse r = Routes(n);
      if (!r.clustered()) return false;
      for (const auto& name : groups) {
        bool ok = false;
        for (const auto& g : r.groups()) ok = ok || (g.name() == name && !g.master_address().empty());
        if (!ok) return false;
      }
      return true;
    })) << Logs();
  }

  Status GroupAction(const Node& n, wire::ClusterGroupRequest::Action action,
                     const std::string& group) {
    WireClient c(n.port);
    wire::Header h;
    h.set_kind(wire::CLUSTER_GROUP);
    h.mutable_cluster_group_request()->set_action(action);
    h.mutable_cluster_group_request()->set_group(group);
    wire::Frame f = c.Call(std::move(h));
    if (f.header.code() != wire::OK) {
      return Status(Code::kInternal, "CLUSTER_GROUP: " + f.header.error_message());
    }
    return Status::Ok();
  }

  // One request to one broker (an empty frame with code INTERNAL when it does not answer).
  wire::Frame Ask(const Node& n, wire::Header h) {
    try {
      WireClient c(n.port);
      c.SetTimeout(3000);
      return c.Call(std::move(h));
    } catch (...) {
      wire::Frame f;
      f.header.set_code(wire::INTERNAL);
      return f;
    }
  }
  wire::Frame CreateGroup(const Node& n, const std::string& name, bool fifo, bool broadcast,
                          uint32_t max_attempts) {
    wire::Header h;
    h.set_kind(wire::CREATE_GROUP);
    auto* c = h.mutable_create_group_request()->mutable_config();
    c->set_name(name);
    c->set_fifo(fifo);
    c->set_mode(broadcast ? wire::BROADCASTING : wire::CLUSTERING);
    c->set_max_attempts(max_attempts);
    return Ask(n, std::move(h));
  }
  wire::Frame DescribeGroup(const Node& n, const std::string& name) {
    wire::Header h;
    h.set_kind(wire::DESCRIBE_GROUP);
    h.mutable_describe_group_request()->set_group(name);
    return Ask(n, std::move(h));
  }
  // The broker holds the consumer group with these settings.
  bool HasGroup(const Node& n, const std::string& name, bool fifo, uint32_t max_attempts) {
    wire::Frame f = DescribeGroup(n, name);
    if (f.header.code() != wire::OK) return false;
    const auto& c = f.header.describe_group_response().group().config();
    return c.fifo() == fifo && c.max_attempts() == max_attempts;
  }
  bool LacksGroup(const Node& n, const std::string& name) {
    return DescribeGroup(n, name).header.code() == wire::GROUP_NOT_FOUND;
  }

  std::string Logs() {
    std::string out;
    for (auto& n : nodes_) {
      std::string log = ReadFile(n.dir + "/broker.log");
      if (log.size() > 6000) log = "..." + log.substr(log.size() - 6000);
      out += "--- " + n.id + " (" + n.group + ")\n" + log;
    }
    return out;
  }

  // A consumer of `topic` on a thread: receives and acks until stopped, counting bodies and
  // the broker groups they came from.
  class Reader {
   public:
    Reader(const std::string& address, const std::string& topic) {
      auto c = SimpleConsumer::NewBuilder()
                   .Endpoint(address)
                   .Group("checker")
                   .Topic(topic)
                   .FailoverDeadline(2000)
                   .Build();
      EXPECT_TRUE(c.ok()) << c.status().ToString();
      if (!c.ok()) return;
      consumer_ = std::make_unique<SimpleConsumer>(std::move(c).value());
      thread_ = std::thread([this] { Run(); });
    }
    ~Reader() { Stop(); }
    void Stop() {
      stop_ = true;
      if (thread_.joinable()) thread_.join();
    }
    std::map<std::string, int> seen() {
      std::lock_guard lock(mu_);
      return seen_;
    }
    size_t from_group(const std::string& group) {
      std::lock_guard lock(mu_);
      return by_group_[group];
    }
    bool SawAll(const std::vector<Acked>& acked) {
      std::lock_guard lock(mu_);
      for (const auto& a : acked) {
        if (!seen_.count(a.body)) return false;
      }
      return true;
    }

   private:
    void Run() {
      while (!stop_) {
        auto got = consumer_->Receive(64, 200);
        if (!got.ok() || got->empty()) continue;
        {
          std::lock_guard lock(mu_);
          for (const auto& m : *got) {
            ++seen_[m.body()];
            ++by_group_[m.broker_group()];
          }
        }
        (void)consumer_->Ack(*got);  // an ack lost to a dying group is redelivered later
      }
    }
    std::unique_ptr<SimpleConsumer> consumer_;
    std::thread thread_;
    std::atomic<bool> stop_{false};
    std::mutex mu_;
    std::map<std::string, int> seen_;
    std::map<std::string, size_t> by_group_;
  };

  EtcdServer etcd_;
  std::string root_;
  std::vector<Node> nodes_;
};

TEST_F(ClusterTest, AWholeGroupDiesUnderLoadAndComesBack) {
  AddGroup("g1", 2);
  AddGroup("g2", 2);
  WaitForGroups(nodes_[0], {"g1", "g2"});
  auto admin = Admin::NewBuilder().Endpoint(nodes_[0].address()).Build();
  ASSERT_TRUE(admin.ok()) << admin.status().ToString() << "\n" << Logs();
  ASSERT_TRUE(Eventually([&] { return admin->CreateTopic("orders", 8).ok(); })) << Logs();

  // The producer knows one address; the routes tell it the rest.
  auto producer = Producer::NewBuilder()
                      .Endpoint(nodes_[2].address())
                      .RequestTimeout(2000)
                      .FailoverDeadline(3000)
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString() << "\n" << Logs();
  // Under load a group may fail over while it starts (lease TTL 1 s), and its deposed master
  // restarts: the measured sends begin once one went through.
  ASSERT_TRUE(Eventually([&] {
    return producer->Send(*Message::NewBuilder().Topic("orders").Body("warm-up").Build()).ok();
  })) << Logs();
  Reader reader(nodes_[1].address(), "orders");

  std::vector<Acked> acked;
  int failed_normal = 0, failed_fifo = 0;
  Clock::time_point killed{}, first_ack_after_kill{};
  size_t acked_during_outage = 0;
  bool outage = false;
  std::set<std::string> groups_during_outage;
  // i odd and fifo: the message's group is mg-<i % 16>.
  auto send = [&](int i, bool fifo) {
    const std::string body = "m-" + std::to_string(i);
    auto b = Message::NewBuilder().Topic("orders").Body(body);
    const std::string mg = fifo ? "mg-" + std::to_string(i % 16) : "";
    if (fifo) b.MessageGroup(mg);
    auto msg = b.Build();
    auto r = producer->Send(*msg);
    if (!r.ok()) {
      ++(fifo ? failed_fifo : failed_normal);
      return;
    }
    acked.push_back({body, mg, r->group, r->queue_id, r->queue_offset});
    if (outage) {
      ++acked_during_outage;
      groups_during_outage.insert(r->group);
      if (first_ack_after_kill == Clock::time_point{} && !fifo) first_ack_after_kill = Clock::now();
    }
  };
  int i = 0;
  for (; i < 300; ++i) send(i, i % 2 == 1);
  EXPECT_EQ(failed_normal + failed_fifo, 0);
  // Every broker of g2, at once.
  for (Node* n : GroupNodes("g2")) Kill(*n);
  killed = Clock::now();
  outage = true;
  for (; i < 600; ++i) send(i, false);
  // FIFO: a message group whose queue is on g2 waits for it (and fails at the deadline) rather
  // than go to g1 and break its order. Two such sends (each costs the 3 s deadline).
  std::set<int> mgs_on_g2;
  for (const auto& a : acked) {
    if (!a.message_group.empty() && a.group == "g2") {
      mgs_on_g2.insert(std::stoi(a.message_group.substr(3)));
    }
  }
  ASSERT_FALSE(mgs_on_g2.empty()) << "no FIFO message group hashed to g2\n" << Logs();
  for (int k = 0; k < 2; ++k) {
    const int mg = *std::next(mgs_on_g2.begin(), k % mgs_on_g2.size());  // odd: FIFO groups are odd i
    while (i % 16 != mg) ++i;  // the next index of that message group
    const int before = failed_fifo;
    send(i++, true);
    EXPECT_EQ(failed_fifo, before + 1) << "a FIFO send left its group";
  }
  outage = false;
  const auto to_first_ack =
      std::chrono::duration_cast<milliseconds>(first_ack_after_kill - killed).count();
  std::printf("whole group killed: first normal send acknowledged %lld ms after the kill; "
              "%zu acknowledged during the outage, %d normal and %d FIFO sends failed\n",
              static_cast<long long>(to_first_ack), acked_during_outage, failed_normal, failed_fifo);
  // Normal sends went on to g1; FIFO sends of message groups on g2 waited and failed.
  EXPECT_EQ(groups_during_outage, std::set<std::string>{"g1"});
  EXPECT_GT(acked_during_outage, 150u) << Logs();
  EXPECT_LE(failed_normal, 5) << Logs();

  // g2 comes back: its brokers restart on their data; sends reach it again.
  for (Node* n : GroupNodes("g2")) Start(*n);
  WaitForGroups(nodes_[0], {"g1", "g2"});
  size_t on_g2 = 0;
  for (int end = i + 300; i < end; ++i) {
    send(i, i % 2 == 1);
    if (!acked.empty() && acked.back().group == "g2") ++on_g2;
  }
  EXPECT_GT(on_g2, 0u) << "no send reached g2 after it returned\n" << Logs();

  // Nothing acknowledged is lost: g2's backlog (from before the kill) is consumed too.
  EXPECT_TRUE(Eventually([&] { return reader.SawAll(acked); }, std::chrono::seconds(60)))
      << Logs();
  reader.Stop();
  std::map<std::string, int> seen = reader.seen();
  for (const auto& a : acked) ASSERT_TRUE(seen.count(a.body)) << a.body << " lost\n" << Logs();
  EXPECT_GT(reader.from_group("g2"), 0u);
  // FIFO: each message group stayed on one (group, queue), in the order it was sent.
  std::map<std::string, std::vector<const Acked*>> by_mg;
  for (const auto& a : acked) {
    if (!a.message_group.empty()) by_mg[a.message_group].push_back(&a);
  }
  for (const auto& [mg, list] : by_mg) {
    for (size_t k = 1; k < list.size(); ++k) {
      EXPECT_EQ(list[k]->group, list[0]->group) << mg;
      EXPECT_EQ(list[k]->queue, list[0]->queue) << mg;
      EXPECT_GT(list[k]->offset, list[k - 1]->offset) << mg;
    }
  }
}

TEST_F(ClusterTest, ExtendDrainAndRoutesReachAClientMidSend) {
  AddGroup("g1", 1);
  AddGroup("g2", 1);
  WaitForGroups(nodes_[1], {"g1", "g2"});
  auto admin = Admin::NewBuilder().Endpoint(nodes_[1].address()).Build();
  ASSERT_TRUE(admin.ok());
  auto created = admin->CreateTopic("t", 4, {"g1"});
  ASSERT_TRUE(created.ok()) << created.status().ToString();

  // RocketMQ 5 clients: any broker answers the route; here only g1 holds queues.
  namespace v2 = ::apache::rocketmq::v2;
  auto route_ports = [&](const Node& asked) {
    auto stub = v2::MessagingService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(asked.grpc_port), grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    v2::QueryRouteRequest req;
    req.mutable_topic()->set_name("t");
    v2::QueryRouteResponse resp;
    std::map<std::string, std::set<int>> out;  // broker name -> endpoint ports
    if (!stub->QueryRoute(&ctx, req, &resp).ok() || resp.status().code() != v2::OK) return out;
    for (const auto& q : resp.message_queues()) {
      for (const auto& a : q.broker().endpoints().addresses()) out[q.broker().name()].insert(a.port());
    }
    return out;
  };
  EXPECT_EQ(route_ports(nodes_[1]), (std::map<std::string, std::set<int>>{{"g1", {nodes_[0].grpc_port}}}));

  // One producer sends all along; nothing it sends may fail.
  auto producer = Producer::NewBuilder().Endpoint(nodes_[0].address()).Build();
  ASSERT_TRUE(producer.ok());
  Reader reader(nodes_[0].address(), "t");
  std::mutex mu;
  std::vector<Acked> acked;
  std::vector<std::string> failures;
  std::atomic<bool> stop{false};
  std::thread sender([&] {
    for (int i = 0; !stop && i < 20000; ++i) {
      auto msg = Message::NewBuilder().Topic("t").Body("e-" + std::to_string(i)).Build();
      auto r = producer->Send(*msg);
      std::lock_guard lock(mu);
      if (r.ok()) {
        acked.push_back({"e-" + std::to_string(i), "", r->group, r->queue_id, r->queue_offset});
      } else {
        failures.push_back(r.status().ToString());
      }
    }
  });
  auto count_where = [&](const std::function<bool(const Acked&)>& pred, size_t from = 0) {
    std::lock_guard lock(mu);
    size_t n = 0;
    for (size_t k = from; k < acked.size(); ++k) n += pred(acked[k]) ? 1 : 0;
    return n;
  };
  auto acked_now = [&] {
    std::lock_guard lock(mu);
    return acked.size();
  };
  ASSERT_TRUE(Eventually([&] { return acked_now() >= 200; })) << Logs();
  EXPECT_EQ(count_where([](const Acked& a) { return a.group != "g1"; }), 0u);

  // Extended onto g2 while sending: the producer picks the new queues up without a restart.
  auto extended = admin->ExtendTopic("t", 4, {"g2"});
  ASSERT_TRUE(extended.ok()) << extended.status().ToString();
  EXPECT_EQ(extended->queue_count(), 8u);
  ASSERT_TRUE(Eventually([&] { return count_where([](const Acked& a) { return a.group == "g2"; }) > 50; }))
      << Logs();
  ASSERT_TRUE(Eventually([&] { return reader.from_group("g2") > 0; })) << Logs();
  EXPECT_EQ(route_ports(nodes_[0]),
            (std::map<std::string, std::set<int>>{{"g1", {nodes_[0].grpc_port}},
                                                  {"g2", {nodes_[1].grpc_port}}}));

  // g1 drained: new sends all go to g2; g1 refuses a send aimed at it.
  ASSERT_TRUE(GroupAction(nodes_[1], wire::ClusterGroupRequest::DRAIN, "g1").ok());
  size_t mark = acked_now();
  ASSERT_TRUE(Eventually([&] { return acked_now() > mark + 300; })) << Logs();
  mark = acked_now();
  ASSERT_TRUE(Eventually([&] { return acked_now() > mark + 200; })) << Logs();
  EXPECT_EQ(count_where([](const Acked& a) { return a.group != "g2"; }, mark), 0u)
      << "a drained group still takes sends";
  {
    WireClient c(nodes_[0].port);
    wire::Header h;
    h.set_kind(wire::SEND);
    auto* m = h.mutable_send_request()->add_messages();
    m->set_topic("t");
    m->set_queue_id(-1);
    m->set_message_id("direct-to-g1");
    m->set_body_size(1);
    wire::Frame f = c.Call(std::move(h), {"x"});
    EXPECT_EQ(f.header.code(), wire::NOT_WRITABLE) << f.header.error_message();
  }
  stop = true;
  sender.join();
  {
    std::lock_guard lock(mu);
    EXPECT_TRUE(failures.empty()) << failures.size() << " sends failed, the first: " << failures[0];
  }
  // Everything is consumed, g1's backlog included.
  std::vector<Acked> all;
  {
    std::lock_guard lock(mu);
    all = acked;
  }
  EXPECT_TRUE(Eventually([&] { return reader.SawAll(all); }, std::chrono::seconds(60))) << Logs();
  reader.Stop();
  auto lag = admin->DescribeGroup("checker");
  ASSERT_TRUE(lag.ok()) << lag.status().ToString();
  for (const auto& q : lag->queues) {
    if (q.topic == "t") EXPECT_EQ(q.lag, 0) << q.group << " queue " << q.queue_id;
  }

  // Active again: g1 takes sends once more.
  ASSERT_TRUE(GroupAction(nodes_[1], wire::ClusterGroupRequest::ADD, "g1").ok());
  ASSERT_TRUE(Eventually([&] {
    std::set<std::string> used;
    for (int k = 0; k < 8; ++k) {
      auto msg = Message::NewBuilder().Topic("t").Body("after").Build();
      auto r = producer->Send(*msg);
      if (r.ok()) used.insert(r->group);
    }
    return used.count("g1") > 0;
  })) << Logs();
}

// Consumer groups' configuration is the cluster's (etcd): created through any one broker, it
// reaches every group's master — one that was down when it was made, and a group added later —
// and so do its updates and its deletion; a group auto-created on a first receive joins it.
TEST_F(ClusterTest, ConsumerGroupsReachEveryBrokerGroup) {
  AddGroup("g1", 1);
  AddGroup("g2", 1);
  WaitForGroups(nodes_[0], {"g1", "g2"});
  Node& g1 = nodes_[0];
  Node& g2 = nodes_[1];

  // One CREATE_GROUP to g1's broker alone: g2's master gets it from etcd.
  wire::Frame made = CreateGroup(g1, "orders-fifo", /*fifo=*/true, false, 5);
  ASSERT_EQ(made.header.code(), wire::OK) << made.header.error_message();
  EXPECT_TRUE(made.header.create_group_response().group().config().fifo());
  ASSERT_TRUE(Eventually([&] { return HasGroup(g2, "orders-fifo", true, 5); })) << Logs();

  // An update through g2 reaches g1; a change of mode is refused through either.
  ASSERT_EQ(CreateGroup(g2, "orders-fifo", true, false, 7).header.code(), wire::OK);
  ASSERT_TRUE(Eventually([&] { return HasGroup(g1, "orders-fifo", true, 7); })) << Logs();
  wire::Frame refused = CreateGroup(g1, "orders-fifo", false, /*broadcast=*/true, 0);
  EXPECT_EQ(refused.header.code(), wire::FAILED_PRECONDITION) << refused.header.error_message();
  EXPECT_TRUE(HasGroup(g2, "orders-fifo", true, 7));

  // Made while g2 is down: g2 has it once it is back.
  Kill(g2);
  ASSERT_EQ(CreateGroup(g1, "made-while-down", false, false, 3).header.code(), wire::OK);
  Start(g2);
  ASSERT_TRUE(Eventually([&] { return HasGroup(g2, "made-while-down", false, 3); },
                         std::chrono::seconds(30)))
      << Logs();

  // A group added to the cluster later gets every consumer group.
  AddGroup("g3", 1);
  Node& g3 = nodes_[2];
  ASSERT_TRUE(Eventually([&] {
    return HasGroup(g3, "orders-fifo", true, 7) && HasGroup(g3, "made-while-down", false, 3);
  }, std::chrono::seconds(30))) << Logs();

  // A group auto-created by a first receive on g1 joins the configuration: g3 has it too.
  auto admin = Admin::NewBuilder().Endpoint(g1.address()).Build();
  ASSERT_TRUE(admin.ok());
  ASSERT_TRUE(Eventually([&] { return admin->CreateTopic("t", 3).ok(); })) << Logs();
  {
    wire::Header h;
    h.set_kind(wire::RECEIVE);
    h.mutable_receive_request()->set_group("auto-made");
    h.mutable_receive_request()->set_topic("t");
    wire::Frame f = Ask(g1, std::move(h));
    ASSERT_EQ(f.header.code(), wire::OK) << f.header.error_message();
  }
  ASSERT_TRUE(Eventually([&] { return HasGroup(g3, "auto-made", false, 16); })) << Logs();

  // Deleted through g3: gone from every broker group.
  wire::Header del;
  del.set_kind(wire::DELETE_GROUP);
  del.mutable_delete_group_request()->set_group("orders-fifo");
  wire::Frame deleted = Ask(g3, std::move(del));
  ASSERT_EQ(deleted.header.code(), wire::OK) << deleted.header.error_message();
  EXPECT_TRUE(LacksGroup(g3, "orders-fifo"));
  ASSERT_TRUE(Eventually([&] { return LacksGroup(g1, "orders-fifo") && LacksGroup(g2, "orders-fifo"); }))
      << Logs();
  wire::Header again;
  again.set_kind(wire::DELETE_GROUP);
  again.mutable_delete_group_request()->set_group("orders-fifo");
  EXPECT_EQ(Ask(g1, std::move(again)).header.code(), wire::GROUP_NOT_FOUND);
  // The others are untouched.
  EXPECT_TRUE(HasGroup(g1, "made-while-down", false, 3));
}

}  // namespace
}  // namespace tidemq::testing
