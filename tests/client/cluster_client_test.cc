// Producers, consumers and the admin client in a cluster of broker groups, against scripted
// groups (tests/client/fake_cluster.h): sends spread over the groups' queues, a group that dies
// or is drained is gone around with the same message ids, a route revision announced in any
// response brings a new group, message groups (FIFO) stay on one queue, receipt handles name
// their group, and admin views are merged over the groups. Outside a cluster the existing
// fake-broker tests (client_fake_broker_test.cc, failover_test.cc) hold unchanged.
#include "client/src/cluster_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <set>

#include "client/src/client_core.h"
#include "tests/client/fake_cluster.h"
#include "tidemq/admin.h"
#include "tidemq/producer.h"
#include "tidemq/push_consumer.h"
#include "tidemq/simple_consumer.h"

namespace tidemq {
namespace {

using client::testing::FakeCluster;
using client::testing::FakeGroup;
using client::testing::Reply;

Message Msg(const std::string& body, const std::string& message_group = "") {
  auto b = Message::NewBuilder().Topic("orders").Body(body);
  if (!message_group.empty()) b.MessageGroup(message_group);
  return *b.Build();
}

Reply Error(wire::ErrorCode code, const std::string& why) {
  Reply r;
  r.header.set_code(code);
  r.header.set_error_message(why);
  return r;
}

// Routes' groups by name, the rest as a route answer without them would leave it.
std::vector<BrokerGroupRoute> Groups(std::initializer_list<const char*> names) {
  std::vector<BrokerGroupRoute> out;
  for (const char* n : names) {
    BrokerGroupRoute g;
    g.name = n;
    out.push_back(std::move(g));
  }
  return out;
}

// Where the cluster's hash puts a message group of "orders", two queues on g1 and two on g2.
auto TargetOnTwoGroups(const std::string& message_group) {
  ClusterRoutes routes;
  routes.clustered = true;
  routes.groups = Groups({"g1", "g2"});
  routes.topics = {{"orders", {{"g1", 2}, {"g2", 2}}}};
  return client::FifoTarget(routes, "orders", message_group);
}

// Every SEND a group received, by message id.
std::set<std::string> SentIds(FakeGroup& g) {
  std::set<std::string> out;
  for (const auto& f : g.Received(wire::SEND)) {
    for (const auto& m : f.header.send_request().messages()) out.insert(m.message_id());
  }
  return out;
}

// A producer bootstrapped from g1 whose cores to every group are connected.
Producer ConnectedProducer(FakeCluster& c, int groups,
                           Producer::Builder b = Producer::NewBuilder()) {
  auto p = b.Endpoint(c.group("g1").endpoint()).Build();
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  // The first send waits for the routes; its answer proves the cluster was seen.
  auto first = p->Send(Msg("warm-up"));
  EXPECT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(c.WaitFor([&] {
    bool all = c.group("g1").connections() >= 2;  // bootstrap + the group's core
    for (int i = 2; i <= groups; ++i)
      all = all && c.group("g" + std::to_string(i)).connections() >= 1;
    return all;
  }));
  return std::move(p).value();
}

TEST(ReceiptHandleTest, APrefixedHandleRoundTrips) {
  const std::string h = client::PrefixHandle("group-1.a_b", "raw:handle:with:colons");
  EXPECT_EQ(h, "group-1.a_b:raw:handle:with:colons");
  auto split = client::SplitHandle(h);
  ASSERT_TRUE(split.ok()) << split.status().ToString();
  EXPECT_EQ(split->first, "group-1.a_b");
  EXPECT_EQ(split->second, "raw:handle:with:colons");
}

TEST(ReceiptHandleTest, AHandleWithoutAGroupIsInvalid) {
  for (const char* bad : {"plainhandle", ":h", "g1:", "bad group:h", "g/1:h"}) {
    EXPECT_EQ(client::SplitHandle(bad).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(FifoTargetTest, AMessageGroupHashesToOneQueueOfTheActiveGroups) {
  EXPECT_EQ(client::StableHash(""), 14695981039346656037ull);  // FNV-1a's offset basis
  ClusterRoutes routes;
  routes.clustered = true;
  routes.groups = Groups({"g1", "g2", "g3"});
  routes.groups[2].state = BrokerGroupState::kDraining;
  routes.topics = {{"orders", {{"g1", 2}, {"g3", 4}, {"g2", 1}}}};
  std::map<std::string, int> per_group;
  for (int i = 0; i < 200; ++i) {
    const std::string key = "order-" + std::to_string(i);
    auto t = client::FifoTarget(routes, "orders", key);
    ASSERT_TRUE(t.has_value());
    EXPECT_NE(t->group, "g3");  // draining: takes no sends
    auto again = client::FifoTarget(routes, "orders", key);
    EXPECT_EQ(again->group, t->group);
    EXPECT_EQ(again->queue, t->queue);
    per_group[t->group]++;
    if (t->group == "g1") EXPECT_LT(t->queue, 2);
    if (t->group == "g2") EXPECT_EQ(t->queue, 0);
  }
  EXPECT_GT(per_group["g1"], 0);
  EXPECT_GT(per_group["g2"], 0);
  // A group without a master keeps its queues: a failover does not move message groups.
  ClusterRoutes no_master = routes;
  no_master.groups[0].master_address.clear();
  for (int i = 0; i < 50; ++i) {
    const std::string key = "order-" + std::to_string(i);
    EXPECT_EQ(client::FifoTarget(no_master, "orders", key)->group,
              client::FifoTarget(routes, "orders", key)->group);
  }
}

TEST(ClusterProducerTest, SpreadsSendsOverTheQueuesOfEveryGroup) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 2}, {"g2", 2}});
  Producer p = ConnectedProducer(c, 2);
  std::map<std::string, std::set<int>> used;
  for (int i = 0; i < 16; ++i) {
    auto r = p.Send(Msg("m" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    used[r->group].insert(r->queue_id);
  }
  EXPECT_EQ(used.size(), 2u);
  for (const char* g : {"g1", "g2"}) {
    for (const auto& f : c.group(g).Received(wire::SEND)) {
      const int q = f.header.send_request().messages(0).queue_id();
      EXPECT_GE(q, 0) << g;  // the queue is chosen by the client, per group
      EXPECT_LT(q, 2) << g;
    }
  }
}

TEST(ClusterProducerTest, AGroupThatDiesLosesItsSendsToTheOtherWithTheSameIds) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 1}, {"g2", 1}});
  FakeGroup& g2 = c.group("g2");
  Producer p = ConnectedProducer(c, 2);
  g2.SetHook([](const wire::Frame& f) -> std::optional<Reply> {
    if (f.header.kind() != wire::SEND) return std::nullopt;
    Reply hold;
    hold.hold = true;  // stored or not, the answer never comes: the group dies first
    return hold;
  });
  const size_t before = g2.Received(wire::SEND).size();
  std::future<Result<SendReceipt>> held;
  for (int i = 0; i < 20 && !held.valid(); ++i) {
    auto f = p.SendFuture(Msg("m" + std::to_string(i)));
    ASSERT_TRUE(c.WaitFor([&] {
      return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready ||
             g2.Received(wire::SEND).size() > before;
    }));
    if (f.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      auto r = f.get();
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->group, "g1");
    } else {
      held = std::move(f);
    }
  }
  ASSERT_TRUE(held.valid()) << "round robin never chose g2";
  const std::string held_id =
      g2.Received(wire::SEND)[before].header.send_request().messages(0).message_id();
  g2.Kill();
  auto r = held.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->group, "g1");
  EXPECT_EQ(r->message_id, held_id);
  EXPECT_EQ(SentIds(c.group("g1")).count(held_id), 1u);  // resent as the same message
  for (int i = 0; i < 6; ++i) {
    auto next = p.Send(Msg("after"));
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(next->group, "g1");
  }
}

TEST(ClusterProducerTest, NotWritableMovesTheSendAndRefreshesTheRoutes) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 1}, {"g2", 1}});
  FakeGroup& g2 = c.group("g2");
  Producer p = ConnectedProducer(c, 2);
  const int queries_before = c.RouteQueries();
  // g2 is drained; this client does not know yet (no revision announced).
  c.SetDraining("g2", true);
  g2.SetHook([](const wire::Frame& f) -> std::optional<Reply> {
    if (f.header.kind() != wire::SEND) return std::nullopt;
    return Error(wire::NOT_WRITABLE, "broker group 'g2' is draining");
  });
  const size_t before = g2.Received(wire::SEND).size();
  for (int i = 0; i < 20 && g2.Received(wire::SEND).size() == before; ++i) {
    auto r = p.Send(Msg("m" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->group, "g1");
  }
  ASSERT_GT(g2.Received(wire::SEND).size(), before);
  const std::string refused =
      g2.Received(wire::SEND)[before].header.send_request().messages(0).message_id();
  EXPECT_EQ(SentIds(c.group("g1")).count(refused), 1u);
  EXPECT_TRUE(c.WaitFor([&] { return c.RouteQueries() > queries_before; }));
}

TEST(ClusterProducerTest, AnAnnouncedRouteRevisionBringsANewGroup) {
  FakeCluster c(1);
  c.SetTopic("orders", {{"g1", 1}});
  auto p = Producer::NewBuilder().Endpoint(c.group("g1").endpoint()).Build();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto first = p->Send(Msg("before"));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->group, "g1");

  FakeGroup& g2 = c.AddGroup("g2");
  c.SetTopic("orders", {{"g1", 1}, {"g2", 1}});
  c.BumpRevision();
  // The next answer from g1 announces the revision: the client asks the routes again, makes
  // a core for g2 and starts sending there.
  ASSERT_TRUE(p->Send(Msg("announces")).ok());
  ASSERT_TRUE(c.WaitFor([&] { return g2.connections() >= 1; }));
  EXPECT_TRUE(c.WaitFor([&] {
    auto r = p->Send(Msg("after"));
    return r.ok() && r->group == "g2";
  }));
}

TEST(ClusterProducerTest, AMessageGroupStaysOnItsQueueAndIsNotRerouted) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 2}, {"g2", 2}});
  Producer p = ConnectedProducer(c, 2, Producer::NewBuilder().FailoverDeadline(300));
  const auto target = TargetOnTwoGroups("order-42");
  ASSERT_TRUE(target.has_value());
  for (int i = 0; i < 6; ++i) {
    auto r = p.Send(Msg("step" + std::to_string(i), "order-42"));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->group, target->group);
    EXPECT_EQ(r->queue_id, target->queue);
  }
  // Its group fails: the message waits for it (here: up to the failover deadline) and fails
  // rather than going elsewhere, where it could overtake earlier ones.
  const std::string other = target->group == "g1" ? "g2" : "g1";
  c.group(target->group).SetHook([](const wire::Frame& f) -> std::optional<Reply> {
    if (f.header.kind() != wire::SEND) return std::nullopt;
    return Error(wire::UNAVAILABLE, "electing a master");
  });
  const size_t other_sends = c.group(other).Received(wire::SEND).size();
  auto r = p.Send(Msg("stuck", "order-42"));
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  for (size_t i = other_sends; i < c.group(other).Received(wire::SEND).size(); ++i) {
    EXPECT_NE(
        c.group(other).Received(wire::SEND)[i].header.send_request().messages(0).message_group(),
        "order-42");
  }
}

TEST(ClusterProducerTest, AMessageGroupWaitsForTheRoutesWhenNoBrokerAnsweredThemYet) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 2}, {"g2", 2}});
  // The bootstrap broker (g1) cannot answer routes for a while (restarting, say) but takes
  // sends: a FIFO send must not go there with the broker's queue choice, which the cluster's
  // hash would later contradict.
  std::atomic<bool> refuse{true};
  c.group("g1").SetHook([&](const wire::Frame& f) -> std::optional<Reply> {
    if (f.header.kind() == wire::QUERY_ROUTE && refuse) return Error(wire::UNAVAILABLE, "starting");
    return std::nullopt;
  });
  auto p = Producer::NewBuilder()
               .Endpoint(c.group("g1").endpoint())
               .RequestTimeout(200)
               .FailoverDeadline(200)
               .Build();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto early = p->Send(Msg("early", "order-42"));
  EXPECT_EQ(early.status().code(), Code::kUnavailable) << early.status().ToString();
  for (const auto& f : c.group("g1").Received(wire::SEND)) {
    EXPECT_NE(f.header.send_request().messages(0).message_group(), "order-42");
  }

  refuse = false;
  const auto target = TargetOnTwoGroups("order-42");
  ASSERT_TRUE(target.has_value());
  Result<SendReceipt> r = Status(Code::kUnavailable, "not sent");
  ASSERT_TRUE(c.WaitFor([&] {
    r = p->Send(Msg("later", "order-42"));
    return r.ok();
  }));
  EXPECT_EQ(r->group, target->group);
  EXPECT_EQ(r->queue_id, target->queue);
}

TEST(ClusterProducerTest, ATransactionEndsOnTheGroupThatHoldsTheHalf) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g2", 1}});  // only g2 holds the topic
  c.group("g2").SetHook([](const wire::Frame& f) -> std::optional<Reply> {
    if (f.header.kind() != wire::END_TXN) return std::nullopt;
    Reply ok;
    ok.header.mutable_end_txn_response();
    return ok;
  });
  auto p =
      Producer::NewBuilder()
          .Endpoint(c.group("g1").endpoint())
          .Group("pg")
          .TransactionChecker([](const ReceivedMessage&) { return TransactionResolution::kCommit; })
          .Build();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  auto txn = p->BeginTransaction();
  ASSERT_TRUE(txn.ok());
  auto half = txn->Send(Msg("half"));
  ASSERT_TRUE(half.ok()) << half.status().ToString();
  EXPECT_EQ(half->group, "g2");
  ASSERT_TRUE(txn->Commit().ok());
  EXPECT_EQ(c.group("g2").Received(wire::END_TXN).size(), 1u);
  EXPECT_TRUE(c.group("g1").Received(wire::END_TXN).empty());
  // Check-backs may come from any group: each one heard the producer group's heartbeat.
  for (const char* g : {"g1", "g2"}) {
    EXPECT_TRUE(c.WaitFor([&] {
      for (const auto& hb : c.group(g).Received(wire::HEARTBEAT)) {
        const auto& groups = hb.header.heartbeat_request().producer_groups();
        if (std::find(groups.begin(), groups.end(), "pg") != groups.end()) return true;
      }
      return false;
    })) << g;
  }
}

TEST(ClusterConsumerTest, ReceivesFromEveryGroupAndAcksEachHandleToItsGroup) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 1}, {"g2", 1}});
  c.group("g1").QueueMessage("orders", "m1");
  c.group("g1").QueueMessage("orders", "m2");
  c.group("g2").QueueMessage("orders", "m3");
  auto consumer = SimpleConsumer::NewBuilder()
                      .Endpoint(c.group("g1").endpoint())
                      .Group("cg")
                      .Topic("orders")
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  std::map<std::string, ReceivedMessage> got;
  for (int i = 0; i < 200 && got.size() < 3; ++i) {
    auto batch = consumer->Receive(32, 0);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    for (auto& m : *batch) got.emplace(m.message_id(), m);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got["m1"].receipt_handle(), "g1:h-m1");
  EXPECT_EQ(got["m1"].broker_group(), "g1");
  EXPECT_EQ(got["m3"].receipt_handle(), "g2:h-m3");
  EXPECT_EQ(got["m3"].broker_group(), "g2");
  EXPECT_EQ(got["m3"].body(), "m3");

  ASSERT_TRUE(consumer->Ack(std::vector<ReceivedMessage>{got["m1"], got["m3"], got["m2"]}).ok());
  auto acks1 = c.group("g1").Received(wire::ACK);
  auto acks2 = c.group("g2").Received(wire::ACK);
  ASSERT_EQ(acks1.size(), 1u);
  ASSERT_EQ(acks2.size(), 1u);
  const auto& h1 = acks1[0].header.ack_request().receipt_handles();
  EXPECT_EQ(std::set<std::string>(h1.begin(), h1.end()), (std::set<std::string>{"h-m1", "h-m2"}));
  ASSERT_EQ(acks2[0].header.ack_request().receipt_handles_size(), 1);
  EXPECT_EQ(acks2[0].header.ack_request().receipt_handles(0), "h-m3");

  ReceivedMessage unprefixed = got["m1"];
  ReceivedMessageAccess::SetReceiptHandle(&unprefixed, "h-m1");
  EXPECT_EQ(consumer->Ack(unprefixed).code(), Code::kInvalidArgument);
}

TEST(ClusterConsumerTest, AGroupThatIsDownDoesNotHoldUpTheOthers) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 1}, {"g2", 1}});
  // g2 takes receives and never answers them (a hung group).
  c.group("g2").SetHook([](const wire::Frame& f) -> std::optional<Reply> {
    if (f.header.kind() != wire::RECEIVE) return std::nullopt;
    Reply hold;
    hold.hold = true;
    return hold;
  });
  auto consumer = SimpleConsumer::NewBuilder()
                      .Endpoint(c.group("g1").endpoint())
                      .Group("cg")
                      .Topic("orders")
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  auto empty = consumer->Receive(8, 0);  // g1 answers at once; g2's poll stays open
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  EXPECT_TRUE(empty->empty());
  ASSERT_TRUE(c.WaitFor([&] { return !c.group("g2").Received(wire::RECEIVE).empty(); }));
  c.group("g1").QueueMessage("orders", "m1");
  std::vector<ReceivedMessage> got;
  for (int i = 0; i < 200 && got.empty(); ++i) {
    auto batch = consumer->Receive(8, 0);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    got = std::move(batch).value();
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].receipt_handle(), "g1:h-m1");
  EXPECT_EQ(c.group("g2").Received(wire::RECEIVE).size(), 1u);  // one poll, still open
}

TEST(ClusterConsumerTest, APushConsumerSettlesWithEachMessagesGroup) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 1}, {"g2", 1}});
  c.group("g1").QueueMessage("orders", "ok-1");
  c.group("g2").QueueMessage("orders", "retry-2");
  std::mutex mu;
  std::set<std::string> seen;
  auto consumer =
      PushConsumer::NewBuilder()
          .Endpoint(c.group("g1").endpoint())
          .Group("cg")
          .Topic("orders")
          .AwaitDuration(10)
          .Listener([&](const ReceivedMessage& m) {
            std::lock_guard<std::mutex> lock(mu);
            seen.insert(m.message_id());
            return m.message_id() == "ok-1" ? ConsumeResult::kSuccess : ConsumeResult::kRetryLater;
          })
          .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE(consumer->Start().ok());
  ASSERT_TRUE(c.WaitFor([&] {
    return !c.group("g1").Received(wire::ACK).empty() &&
           !c.group("g2").Received(wire::NACK).empty();
  }));
  consumer->Shutdown();
  EXPECT_EQ(c.group("g1").Received(wire::ACK)[0].header.ack_request().receipt_handles(0), "h-ok-1");
  EXPECT_EQ(c.group("g2").Received(wire::NACK)[0].header.nack_request().receipt_handles(0),
            "h-retry-2");
  EXPECT_TRUE(c.group("g1").Received(wire::NACK).empty());
  EXPECT_TRUE(c.group("g2").Received(wire::ACK).empty());
}

TEST(ClusterAdminTest, MergesAConsumerGroupsLagOverTheGroups) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 2}, {"g2", 1}});
  auto lag_hook = [](int64_t lag, std::vector<std::string> clients) {
    return [lag, clients](const wire::Frame& f) -> std::optional<Reply> {
      if (f.header.kind() != wire::DESCRIBE_GROUP) return std::nullopt;
      Reply r;
      auto* g = r.header.mutable_describe_group_response()->mutable_group();
      g->mutable_config()->set_name(f.header.describe_group_request().group());
      auto* q = g->add_queues();
      q->set_topic("orders");
      q->set_queue_id(0);
      q->set_max_offset(lag);
      q->set_lag(lag);
      g->set_total_lag(lag);
      g->set_retried(1);
      for (const auto& cl : clients) g->add_clients(cl);
      return r;
    };
  };
  c.group("g1").SetHook(lag_hook(5, {"c1"}));
  c.group("g2").SetHook(lag_hook(7, {"c1", "c2"}));
  auto admin = Admin::NewBuilder().Endpoint(c.group("g1").endpoint()).Build();
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();

  auto g = admin->DescribeGroup("cg");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->name, "cg");
  EXPECT_EQ(g->total_lag, 12);
  EXPECT_EQ(g->retried, 2);
  ASSERT_EQ(g->queues.size(), 2u);
  std::map<std::string, int64_t> lag_by_group;
  for (const auto& q : g->queues) lag_by_group[q.group] = q.lag;
  EXPECT_EQ(lag_by_group, (std::map<std::string, int64_t>{{"g1", 5}, {"g2", 7}}));
  EXPECT_EQ(std::set<std::string>(g->clients.begin(), g->clients.end()),
            (std::set<std::string>{"c1", "c2"}));
  EXPECT_TRUE(g->group_errors.empty());

  // One group down: the others' answer, and which group is missing.
  c.group("g2").Kill();
  auto partial = Admin::NewBuilder()
                     .Endpoint(c.group("g1").endpoint())
                     .RequestTimeout(500)
                     .FailoverDeadline(0)
                     .Build();
  ASSERT_TRUE(partial.ok());
  auto g1_only = partial->DescribeGroup("cg");
  ASSERT_TRUE(g1_only.ok()) << g1_only.status().ToString();
  EXPECT_EQ(g1_only->total_lag, 5);
  ASSERT_EQ(g1_only->group_errors.size(), 1u);
  EXPECT_EQ(g1_only->group_errors[0].rfind("g2: ", 0), 0u) << g1_only->group_errors[0];
}

TEST(ClusterAdminTest, RoutesAndTopicsComeFromTheCluster) {
  FakeCluster c(2);
  c.SetTopic("orders", {{"g1", 2}, {"g2", 1}});
  c.SetDraining("g2", true);
  auto admin = Admin::NewBuilder().Endpoint(c.group("g2").endpoint()).Build();
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto routes = admin->QueryRoute();
  ASSERT_TRUE(routes.ok()) << routes.status().ToString();
  EXPECT_TRUE(routes->clustered);
  ASSERT_EQ(routes->groups.size(), 2u);
  EXPECT_EQ(routes->groups[1].name, "g2");
  EXPECT_EQ(routes->groups[1].state, BrokerGroupState::kDraining);
  EXPECT_FALSE(routes->groups[1].writable());
  EXPECT_EQ(routes->groups[0].master_address, c.group("g1").endpoint());
  ASSERT_EQ(routes->topics.size(), 1u);
  EXPECT_EQ(routes->topics[0].queue_count(), 3u);

  auto topics = admin->ListTopics();
  ASSERT_TRUE(topics.ok()) << topics.status().ToString();
  ASSERT_EQ(topics->size(), 1u);
  EXPECT_EQ((*topics)[0].name, "orders");
  EXPECT_EQ((*topics)[0].queue_count, 3u);
  ASSERT_EQ((*topics)[0].route.size(), 2u);
  EXPECT_EQ((*topics)[0].route[1].group, "g2");
}

}  // namespace
}  // namespace tidemq
