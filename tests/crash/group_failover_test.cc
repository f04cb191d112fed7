// A broker group as a user runs it (issue 12): a real etcd (Debian's binary) and three real
// `tidemq-broker` processes with --etcd, killed with SIGKILL, hung with SIGSTOP, etcd restarted
// and hung under them (docs/replication.md, "Failure cases").
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
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

// One broker of the group: a process we spawn, kill, stop and continue by its PID.
struct Member {
  std::string id;
  uint16_t port = 0;
  uint16_t repl_port = 0;
  uint16_t grpc_port = 0;  // RocketMQ 5 clients
  std::string dir;
  pid_t pid = -1;
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};

class GroupFailoverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(etcd_.Start().ok());
    char tmpl[] = "/tmp/tidemq-group-XXXXXX";
    root_ = mkdtemp(tmpl);
    members_.reserve(8);  // Member references stay valid as members are added
  }
  void TearDown() override {
    for (auto& m : members_) Kill(m);
    std::filesystem::remove_all(root_);
  }

  Member& AddMember(const std::string& id) {
    Member m;
    m.id = id;
    m.port = FreeLoopbackPort();
    m.repl_port = FreeLoopbackPort();
    m.grpc_port = FreeLoopbackPort();
    m.dir = root_ + "/" + id;
    members_.push_back(m);
    return members_.back();
  }

  void Start(Member& m) {
    std::filesystem::create_directories(m.dir);
    std::vector<std::string> args = {TIDEMQ_BROKER_BIN, "--host", "127.0.0.1", "--port",
                                     std::to_string(m.port), "--repl-port",
                                     std::to_string(m.repl_port), "--data-dir", m.dir + "/data",
                                     "--group", "g1", "--broker-id", m.id, "--etcd",
                                     etcd_.endpoint(), "--lease-ttl-s", "2", "--min-copies",
                                     std::to_string(min_copies_), "--bootstrap-master", "b1",
                                     "--segment-mb", "1", "--log-level", "info",
                                     "--grpc-port", std::to_string(m.grpc_port),
                                     "--http-port", "0"};
    m.pid = Spawn(args, m.dir + "/broker.log", m.dir + "/broker.log");
    ASSERT_GT(m.pid, 0);
  }

  void Kill(Member& m) {
    if (m.pid <= 0) return;
    ::kill(m.pid, SIGCONT);
    ::kill(m.pid, SIGKILL);
    int status = 0;
    waitpid(m.pid, &status, 0);
    m.pid = -1;
  }

  // CLUSTER_STATUS of one member (an empty object when it does not answer).
  nlohmann::json GroupStatus(const Member& m) {
    try {
      WireClient c(m.port);
      c.SetTimeout(500);  // a hung (SIGSTOPped) broker does not answer
      wire::Header h;
      h.set_kind(wire::CLUSTER_STATUS);
      h.mutable_cluster_status_request();
      wire::Frame f = c.Call(std::move(h));
      if (f.header.code() != wire::OK) return nlohmann::json::object();
      return nlohmann::json::parse(f.header.cluster_status_response().json());
    } catch (...) {
      return nlohmann::json::object();
    }
  }

  // The member that says it is the master, among the running ones (nullptr: none yet).
  Member* Master() {
    for (auto& m : members_) {
      if (m.pid <= 0) continue;
      nlohmann::json s = GroupStatus(m);
      if (s.value("role", "") == "master") return &m;
    }
    return nullptr;
  }

  // Waits until a master is elected and every running member is in its in-sync set.
  Member* WaitForGroup(size_t in_sync) {
    Member* master = nullptr;
    EXPECT_TRUE(Eventually([&] {
      master = Master();
      if (master == nullptr) return false;
      nlohmann::json s = GroupStatus(*master);
      return s.contains("in_sync") && s["in_sync"].size() >= in_sync;
    })) << Logs();
    return master;
  }

  std::string Logs() {
    std::string out;
    for (auto& m : members_) out += "--- " + m.id + "\n" + ReadFile(m.dir + "/broker.log");
    return out;
  }

  // Sends bodies prefix-<i> one at a time to whoever is master, moving on when a send fails;
  // returns the bodies acknowledged. Never resends a body: every acknowledged one must be
  // stored exactly once.
  std::set<std::string> SendSome(const std::string& prefix, int count,
                                 const std::function<void(int)>& after = nullptr) {
    std::set<std::string> acked;
    std::unique_ptr<Producer> producer;
    for (int i = 0; i < count; ++i) {
      if (after) after(i);
      const std::string body = prefix + "-" + std::to_string(i);
      // The master is looked for only when there is no producer (at the start, after a failed
      // send): a hung broker costs its status timeout once per failover, not once per send.
      for (int attempt = 0; !producer && attempt < 400; ++attempt) {
        Member* master = Master();
        if (master == nullptr) {
          std::this_thread::sleep_for(std::chrono::milliseconds(25));
          continue;
        }
        auto p = Producer::NewBuilder()
                     .Endpoint(master->address())
                     .RequestTimeout(2000)
                     .MaxSendAttempts(1)
                     .FailoverDeadline(0)
                     .Build();
        if (p.ok()) producer = std::make_unique<Producer>(std::move(p).value());
      }
      if (!producer) continue;
      auto msg = Message::NewBuilder().Topic("orders").Body(body).Build();
      auto r = producer->Send(*msg);
      if (r.ok()) {
        acked.insert(body);
      } else {
        producer.reset();  // acknowledged or not, the next body goes to whoever is master
      }
    }
    return acked;
  }

  // Every message of "orders" on the master, by body, with how often it is there.
  std::map<std::string, int> ReadAll(Member& master, size_t at_least) {
    std::map<std::string, int> seen;
    auto consumer = SimpleConsumer::NewBuilder()
                        .Endpoint(master.address())
                        .Group("checker")
                        .Topic("orders")
                        .Build();
    EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
    if (!consumer.ok()) return seen;
    size_t total = 0;
    int empty_rounds = 0;
    while (empty_rounds < 3) {
      auto got = consumer->Receive(256, 500);
      if (!got.ok() || got->empty()) {
        if (total >= at_least) ++empty_rounds;
        if (!got.ok() || total < at_least) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (Clock::now() > deadline_) break;
        continue;
      }
      for (const auto& m : *got) {
        ++seen[m.body()];
        ++total;
      }
      EXPECT_TRUE(consumer->Ack(*got).ok());
    }
    return seen;
  }

  void CreateTopic(Member& master) {
    ASSERT_TRUE(Eventually([&] {
      auto admin = Admin::NewBuilder().Endpoint(master.address()).Build();
      return admin.ok() && admin->CreateTopic("orders", 4).ok();
    })) << Logs();
  }

  EtcdServer etcd_;
  std::string root_;
  std::vector<Member> members_;
  int min_copies_ = 2;
  Clock::time_point deadline_ = Clock::now() + std::chrono::seconds(120);
};

TEST_F(GroupFailoverTest, KillingTheMasterUnderSyncLoadLosesNoAcknowledgedMessage) {
  for (const char* id : {"b1", "b2", "b3"}) Start(AddMember(id));
  Member* first = WaitForGroup(3);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->id, "b1");  // --bootstrap-master
  CreateTopic(*first);

  Clock::time_point killed, recovered;
  std::string new_master;
  std::set<std::string> acked = SendSome("m", 600, [&](int i) {
    if (i == 300) {
      killed = Clock::now();
      Kill(members_[0]);
    }
  });
  Member* master = Master();
  ASSERT_NE(master, nullptr) << Logs();
  EXPECT_NE(master->id, "b1");
  EXPECT_GE(GroupStatus(*master).value("epoch", 0), 2);
  EXPECT_GT(acked.size(), 500u) << Logs();  // the failover costs a few sends, not hundreds

  std::map<std::string, int> seen = ReadAll(*master, acked.size());
  for (const std::string& body : acked) {
    ASSERT_EQ(seen.count(body), 1u) << body << " was acknowledged and is lost\n" << Logs();
    EXPECT_EQ(seen[body], 1) << body << " is stored twice";
  }
}

// RocketMQ 5 clients: a replica asked for a route asks its master, so the route names the
// master's gRPC endpoint (and a replica refuses the rest, naming it); after the master dies, a
// survivor's route names the new master, where sends are served.
TEST_F(GroupFailoverTest, RocketMqClientsAreRoutedToTheMasterAndFollowAFailover) {
  namespace v2 = ::apache::rocketmq::v2;
  for (const char* id : {"b1", "b2", "b3"}) Start(AddMember(id));
  Member* first = WaitForGroup(3);
  ASSERT_NE(first, nullptr);
  ASSERT_EQ(first->id, "b1");
  CreateTopic(*first);
  auto stub = [](const Member& m) {
    return v2::MessagingService::NewStub(grpc::CreateChannel(
        "127.0.0.1:" + std::to_string(m.grpc_port), grpc::InsecureChannelCredentials()));
  };
  // The port the route of `m` names (0: no route).
  auto routed_port = [&](const Member& m) -> int {
    v2::QueryRouteRequest req;
    req.mutable_topic()->set_name("orders");
    auto* a = req.mutable_endpoints()->add_addresses();  // the client's access point: m
    a->set_host("127.0.0.1");
    a->set_port(m.grpc_port);
    v2::QueryRouteResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!stub(m)->QueryRoute(&ctx, req, &resp).ok() || resp.status().code() != v2::OK ||
        resp.message_queues_size() == 0) {
      return 0;
    }
    return resp.message_queues(0).broker().endpoints().addresses(0).port();
  };
  auto send = [&](const Member& m, const std::string& id) {
    v2::SendMessageRequest req;
    v2::Message* msg = req.add_messages();
    msg->mutable_topic()->set_name("orders");
    msg->mutable_system_properties()->set_message_id(id);
    msg->set_body("via gRPC");
    v2::SendMessageResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    EXPECT_TRUE(stub(m)->SendMessage(&ctx, req, &resp).ok());
    return resp.status();
  };

  Member& b2 = members_[1];
  const auto poll = std::chrono::milliseconds(100);  // each look opens a gRPC channel
  ASSERT_TRUE(Eventually([&] { return routed_port(b2) == first->grpc_port; },
                         std::chrono::seconds(30), poll))
      << Logs();
  EXPECT_EQ(routed_port(*first), first->grpc_port);
  const v2::Status refused = send(b2, "01GF1");
  EXPECT_EQ(refused.code(), v2::FORBIDDEN);
  EXPECT_NE(refused.message().find("127.0.0.1:" + std::to_string(first->grpc_port)),
            std::string::npos)
      << refused.message();
  EXPECT_EQ(send(*first, "01GF2").code(), v2::OK);

  Kill(members_[0]);
  Member* next = nullptr;
  ASSERT_TRUE(Eventually([&] { return (next = Master()) != nullptr && next->id != "b1"; }))
      << Logs();
  const Member& other = next->id == "b2" ? members_[2] : members_[1];
  ASSERT_TRUE(Eventually([&] { return routed_port(other) == next->grpc_port; },
                         std::chrono::seconds(30), poll))
      << Logs();
  EXPECT_TRUE(Eventually([&] { return send(*next, "01GF3").code() == v2::OK; },
                         std::chrono::seconds(30), poll))
      << Logs();
}

TEST_F(GroupFailoverTest, ScheduledAndTransactionalMessagesPendingAtAFailoverTakeEffectOnce) {
  for (const char* id : {"b1", "b2", "b3"}) Start(AddMember(id));
  Member* first = WaitForGroup(3);
  ASSERT_NE(first, nullptr);
  CreateTopic(*first);
  const std::string all = members_[0].address() + "," + members_[1].address() + "," +
                          members_[2].address();
  std::atomic<int> checks{0};
  auto producer =
      Producer::NewBuilder()
          .Endpoint(all)
          .Group("orders-tx")
          .TransactionChecker([&checks](const ReceivedMessage&) {
            ++checks;
            return TransactionResolution::kCommit;
          })
          .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  // Scheduled messages due after the failover, and halves whose outcome only a check-back
  // (by the new master) will learn.
  const int64_t due = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count() +
                      5000;
  for (int i = 0; i < 10; ++i) {
    auto m = Message::NewBuilder().Topic("orders").Body("sched-" + std::to_string(i)).DeliverAt(due).Build();
    ASSERT_TRUE(producer->Send(*m).ok());
  }
  for (int i = 0; i < 5; ++i) {
    auto m = Message::NewBuilder()
                 .Topic("orders")
                 .Body("txn-" + std::to_string(i))
                 .TransactionCheckTimeout(3000)
                 .Build();
    auto r = producer->SendInTransaction(
        *m, [](const SendReceipt&) { return TransactionResolution::kUnknown; });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  Kill(members_[0]);  // the master dies with all of them pending (acknowledged: 2 copies)
  Member* master = nullptr;
  ASSERT_TRUE(Eventually([&] { return (master = Master()) != nullptr; })) << Logs();

  std::map<std::string, int> seen;
  ASSERT_TRUE(Eventually(
      [&] {
        for (auto& [body, n] : ReadAll(*master, 0)) seen[body] += n;
        return seen.size() >= 15;
      },
      std::chrono::seconds(60)))
      << Logs();
  for (int i = 0; i < 10; ++i) EXPECT_EQ(seen["sched-" + std::to_string(i)], 1) << i;
  for (int i = 0; i < 5; ++i) EXPECT_EQ(seen["txn-" + std::to_string(i)], 1) << i;
  EXPECT_GE(checks.load(), 5);
  // And no second delivery later.
  std::this_thread::sleep_for(std::chrono::seconds(2));
  for (auto& [body, n] : ReadAll(*master, 0)) seen[body] += n;
  EXPECT_EQ(seen.size(), 15u);
  for (auto& [body, n] : seen) EXPECT_EQ(n, 1) << body;
}

TEST_F(GroupFailoverTest, AHungMasterIsFencedAndRejoinsAsAReplica) {
  for (const char* id : {"b1", "b2", "b3"}) Start(AddMember(id));
  Member* first = WaitForGroup(3);
  ASSERT_NE(first, nullptr);
  CreateTopic(*first);
  Member& hung = members_[0];

  std::set<std::string> acked = SendSome("h", 400, [&](int i) {
    if (i == 150) ::kill(hung.pid, SIGSTOP);
    if (i == 300) ::kill(hung.pid, SIGCONT);
  });
  // The old master comes back, sees another master, restarts itself and follows it (same pid).
  ASSERT_TRUE(Eventually([&] {
    nlohmann::json s = GroupStatus(hung);
    return s.value("role", "") == "replica";
  })) << Logs();
  Member* master = Master();
  ASSERT_NE(master, nullptr);
  EXPECT_NE(master->id, hung.id);
  // It holds the master's log again (after truncating what it may have written alone).
  ASSERT_TRUE(Eventually([&] {
    nlohmann::json s = GroupStatus(*master);
    for (const auto& m : s["members"]) {
      if (m.value("broker_id", "") == hung.id) {
        return m.value("log_end", -1) == s["members"][0].value("log_end", -2) ||
               m.value("lag_bytes", 1) == 0;
      }
    }
    return false;
  })) << Logs();
  // Nothing it acknowledged before or after the hang is lost or doubled.
  std::map<std::string, int> seen = ReadAll(*master, acked.size());
  for (const std::string& body : acked) {
    ASSERT_EQ(seen.count(body), 1u) << body << " was acknowledged and is lost\n" << Logs();
    EXPECT_EQ(seen[body], 1) << body;
  }
}

TEST_F(GroupFailoverTest, AnEmptyReplicaCatchesUpWhileTheMasterServes) {
  min_copies_ = 1;
  for (const char* id : {"b1", "b2"}) Start(AddMember(id));
  Member* master = WaitForGroup(2);
  ASSERT_NE(master, nullptr);
  CreateTopic(*master);
  std::set<std::string> before = SendSome("e", 300);
  Member& late = AddMember("b3");
  master = Master();  // members_ grew: pointers moved
  Start(late);
  std::set<std::string> during = SendSome("f", 200);
  master = Master();
  ASSERT_NE(master, nullptr);
  ASSERT_TRUE(Eventually([&] {
    nlohmann::json s = GroupStatus(*master);
    for (const auto& m : s["members"]) {
      if (m.value("broker_id", "") == "b3" && m.value("in_sync", false)) return true;
    }
    return false;
  })) << Logs();
  EXPECT_EQ(before.size() + during.size(), 500u);
}

TEST_F(GroupFailoverTest, RestartingEtcdNeedsNoElection) {
  for (const char* id : {"b1", "b2", "b3"}) Start(AddMember(id));
  Member* master = WaitForGroup(3);
  ASSERT_NE(master, nullptr);
  CreateTopic(*master);
  const std::string master_id = master->id;
  const int64_t epoch = GroupStatus(*master).value("epoch", 0);
  std::set<std::string> acked = SendSome("r", 300, [&](int i) {
    if (i == 100) ASSERT_TRUE(etcd_.Restart().ok());
  });
  master = Master();
  ASSERT_NE(master, nullptr);
  EXPECT_EQ(master->id, master_id);
  EXPECT_EQ(GroupStatus(*master).value("epoch", 0), epoch);
  EXPECT_GT(acked.size(), 250u);
}

TEST_F(GroupFailoverTest, WithoutEtcdTheMasterStopsWritingAndResumesWhenItIsBack) {
  for (const char* id : {"b1", "b2", "b3"}) Start(AddMember(id));
  Member* master = WaitForGroup(3);
  ASSERT_NE(master, nullptr);
  CreateTopic(*master);
  // One attempt per send, to the master: its own refusal is what is checked (with failover the
  // client would go round the replicas, and the last answer would be a replica's redirect).
  auto producer = Producer::NewBuilder()
                      .Endpoint(master->address())
                      .MaxSendAttempts(1)
                      .FailoverDeadline(0)
                      .Build();
  ASSERT_TRUE(producer.ok());
  auto msg = Message::NewBuilder().Topic("orders").Body("before").Build();
  ASSERT_TRUE(producer->Send(*msg).ok());

  ASSERT_TRUE(etcd_.Pause().ok());  // unreachable, longer than the lease
  tidemq::Status refused;
  ASSERT_TRUE(Eventually([&] {
    auto r = producer->Send(*Message::NewBuilder().Topic("orders").Body("during").Build());
    if (r.ok()) return false;
    refused = r.status();
    return r.status().code() == Code::kNotMaster;
  })) << Logs();
  EXPECT_NE(refused.message().find("may not write"), std::string::npos) << refused.ToString();
  ASSERT_TRUE(etcd_.Resume().ok());
  // Back: a master (the same or another) takes writes again.
  std::set<std::string> after = SendSome("a", 20);
  EXPECT_EQ(after.size(), 20u) << Logs();
}

}  // namespace
}  // namespace tidemq::testing
