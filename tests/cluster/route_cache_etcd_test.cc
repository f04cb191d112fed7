// The cluster's routes on a real etcd (tests/common/etcd_server.h): two brokers' RouteCaches
// fed by their watches, and ClusterAdmin's compare-and-set changes made through one of them.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "cluster/cluster_admin.h"
#include "cluster/etcd_client.h"
#include "cluster/route_cache.h"
#include "tests/common/etcd_server.h"
#include "tests/common/eventually.h"

namespace tidemq::cluster {
namespace {

using ::tidemq::testing::Eventually;

class RouteCacheEtcdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    etcd_ = new tidemq::testing::EtcdServer();
    Status st = etcd_->Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  static void TearDownTestSuite() {
    delete etcd_;
    etcd_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(etcd_->pid(), -1) << "etcd did not start (see SetUpTestSuite)";
    prefix_ = "/test-" +
              std::string(::testing::UnitTest::GetInstance()->current_test_info()->name());
    client_ = std::make_unique<EtcdClient>(EtcdClientOptions{{etcd_->endpoint()}, 5000, 2000});
  }

  std::unique_ptr<RouteCache> NewCache(std::atomic<int>* changes = nullptr) {
    RouteCacheOptions o;
    o.prefix = prefix_;
    o.watch_endpoints = {etcd_->endpoint()};
    auto cache = std::make_unique<RouteCache>(client_.get(), o,
                                              [changes](std::shared_ptr<const RouteView>) {
                                                if (changes != nullptr) ++*changes;
                                              });
    EXPECT_TRUE(cache->Start().ok());
    return cache;
  }

  // A live group: a member key and a leader key naming it (what a coordinator writes).
  void LiveGroup(const std::string& group, const std::string& id, const std::string& address) {
    MemberRecord m;
    m.broker_id = id;
    m.address = address;
    ASSERT_TRUE(client_->Put(prefix_ + "/groups/" + group + "/members/" + id, EncodeMember(m)).ok());
    ASSERT_TRUE(client_->Put(prefix_ + "/groups/" + group + "/leader", id).ok());
  }

  static tidemq::testing::EtcdServer* etcd_;
  std::unique_ptr<EtcdClient> client_;
  std::string prefix_;
};
tidemq::testing::EtcdServer* RouteCacheEtcdTest::etcd_ = nullptr;

TEST_F(RouteCacheEtcdTest, TopicsSpreadAndEveryCacheSeesThem) {
  LiveGroup("g1", "b1", "127.0.0.1:1");
  LiveGroup("g2", "b4", "127.0.0.1:4");
  auto a = NewCache();
  auto b = NewCache();
  ClusterAdmin admin(client_.get(), a.get(), SystemClock::Get());
  auto joined = admin.Register("g1");
  ASSERT_TRUE(joined.ok());
  EXPECT_TRUE(*joined);
  EXPECT_FALSE(*admin.Register("g1"));  // already registered: left as it is
  ASSERT_TRUE(admin.Register("g2").ok());

  auto created = admin.CreateTopic("orders", 8, {});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->CountOn("g1"), 4u);
  EXPECT_EQ(created->CountOn("g2"), 4u);
  // The writer's own cache shows it when the call returns; the other one shortly.
  ASSERT_NE(a->View()->Topic("orders"), nullptr);
  ASSERT_TRUE(Eventually([&] { return b->View()->Topic("orders") != nullptr; }));
  EXPECT_EQ(*b->View()->Topic("orders"), *created);
  EXPECT_GT(a->revision(), 0);

  // Creating it again with the same count is fine; with another count it is not.
  EXPECT_TRUE(admin.CreateTopic("orders", 8, {}).ok());
  EXPECT_EQ(admin.CreateTopic("orders", 6, {}).status().code(), Code::kAlreadyExists);
  EXPECT_EQ(admin.ExtendTopic("nope", 2, {}).status().code(), Code::kTopicNotFound);

  // A new group, then the topic extended onto it.
  LiveGroup("g3", "b7", "127.0.0.1:7");
  // Its member and leader keys are two writes: writable once the cache has both.
  ASSERT_TRUE(Eventually([&] {
    const GroupView* g3 = a->View()->Group("g3");
    return g3 != nullptr && g3->Writable();
  }));
  auto extended = admin.ExtendTopic("orders", 4, {});
  ASSERT_TRUE(extended.ok()) << extended.status().ToString();
  EXPECT_EQ(extended->CountOn("g3"), 4u);
  EXPECT_EQ(extended->total(), 12u);
  ASSERT_TRUE(Eventually([&] { return b->View()->Topic("orders")->total() == 12u; }));

  // A joining group's own topics come along, except a name the cluster already has.
  auto imported = admin.ImportTopics("g3", {{"legacy", 2}, {"orders", 9}});
  ASSERT_TRUE(imported.ok());
  EXPECT_EQ(*imported, 1);
  ASSERT_NE(a->View()->Topic("legacy"), nullptr);
  EXPECT_EQ(a->View()->Topic("legacy")->CountOn("g3"), 2u);
  EXPECT_EQ(a->View()->Topic("orders")->total(), 12u);

  ASSERT_TRUE(admin.DeleteTopic("orders").ok());
  EXPECT_EQ(a->View()->Topic("orders"), nullptr);
  EXPECT_EQ(admin.DeleteTopic("orders").code(), Code::kTopicNotFound);
}

TEST_F(RouteCacheEtcdTest, ProgressIsNotARouteChangeButAMasterIs) {
  LiveGroup("g1", "b1", "127.0.0.1:1");
  std::atomic<int> changes{0};
  auto cache = NewCache(&changes);
  const int64_t before = cache->revision();
  const int changes_before = changes.load();
  MemberRecord m;
  m.broker_id = "b1";
  m.address = "127.0.0.1:1";
  for (int i = 1; i <= 5; ++i) {
    m.log_end = i * 100;
    ASSERT_TRUE(client_->Put(prefix_ + "/groups/g1/members/b1", EncodeMember(m)).ok());
  }
  // A later change of routes, so that every progress event before it was applied.
  MemberRecord m2;
  m2.broker_id = "b2";
  m2.address = "127.0.0.1:2";
  auto put = client_->Put(prefix_ + "/groups/g1/members/b2", EncodeMember(m2));
  ASSERT_TRUE(put.ok());
  ASSERT_TRUE(cache->WaitForRevision(*put, 5000));
  EXPECT_EQ(cache->View()->Group("g1")->members.at("b1").log_end, 500);
  EXPECT_EQ(cache->revision(), *put);  // the progress puts did not move it
  EXPECT_GT(cache->revision(), before);
  // on_change runs on the watch thread after the view is published; the progress events came
  // before the member's, so once its call is counted every earlier one would have been too.
  ASSERT_TRUE(Eventually([&] { return changes.load() > changes_before; }));
  EXPECT_EQ(changes.load(), changes_before + 1);
  // The master moves: a change.
  auto leader = client_->Put(prefix_ + "/groups/g1/leader", "b2");
  ASSERT_TRUE(leader.ok());
  ASSERT_TRUE(cache->WaitForRevision(*leader, 5000));
  EXPECT_EQ(cache->View()->Group("g1")->Master()->address, "127.0.0.1:2");
  EXPECT_EQ(cache->revision(), *leader);
}

TEST_F(RouteCacheEtcdTest, ConsumerGroupsAreWrittenByCompareAndSet) {
  auto a = NewCache();
  auto b = NewCache();
  ClusterAdmin admin(client_.get(), a.get(), SystemClock::Get());
  const int64_t routes_before = a->revision();
  // `make` sees what etcd holds: nothing, then the first write.
  std::vector<std::string> seen;
  auto put = [&](const std::string& value) {
    return admin.PutConsumerGroup("checkout", [&](const std::string* current) -> Result<std::string> {
      seen.push_back(current != nullptr ? *current : "<none>");
      return value;
    });
  };
  auto first = put(R"({"fifo":true})");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, R"({"fifo":true})");
  ASSERT_NE(a->View()->ConsumerGroup("checkout"), nullptr);  // the writer's cache, at once
  ASSERT_TRUE(Eventually([&] { return b->View()->ConsumerGroup("checkout") != nullptr; }));
  // Clients do not route by it: the route revision stays.
  EXPECT_EQ(a->revision(), routes_before);
  const std::string key = prefix_ + "/consumer-groups/checkout";
  const int64_t written_at = (*client_->Get(key))->mod_revision;
  ASSERT_TRUE(put(R"({"fifo":true})").ok());  // the same text: nothing written
  EXPECT_EQ((*client_->Get(key))->mod_revision, written_at);
  ASSERT_TRUE(put(R"({"fifo":true,"max_attempts":3})").ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"<none>", R"({"fifo":true})", R"({"fifo":true})"}));
  ASSERT_TRUE(Eventually([&] {
    const std::string* c = b->View()->ConsumerGroup("checkout");
    return c != nullptr && *c == R"({"fifo":true,"max_attempts":3})";
  }));
  // `make`'s refusal is the answer, and nothing changes.
  auto refused = admin.PutConsumerGroup("checkout", [](const std::string*) -> Result<std::string> {
    return Status(Code::kFailedPrecondition, "no");
  });
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(admin.PutConsumerGroup("bad name", [](const std::string*) -> Result<std::string> {
              return std::string("{}");
            }).status().code(),
            Code::kInvalidArgument);

  ASSERT_TRUE(admin.DeleteConsumerGroup("checkout").ok());
  EXPECT_EQ(a->View()->ConsumerGroup("checkout"), nullptr);
  ASSERT_TRUE(Eventually([&] { return b->View()->ConsumerGroup("checkout") == nullptr; }));
  EXPECT_EQ(admin.DeleteConsumerGroup("checkout").code(), Code::kGroupNotFound);
}

TEST_F(RouteCacheEtcdTest, DrainAndRemoveAGroup) {
  LiveGroup("g1", "b1", "127.0.0.1:1");
  LiveGroup("g2", "b4", "127.0.0.1:4");
  auto cache = NewCache();
  ClusterAdmin admin(client_.get(), cache.get(), SystemClock::Get());
  ASSERT_TRUE(admin.CreateTopic("t", 4, {}).ok());
  // Not drained yet: refused.
  EXPECT_EQ(admin.RemoveGroup("g2", false).code(), Code::kFailedPrecondition);
  auto drained = admin.SetGroupMode("g2", GroupMode::kDraining);
  ASSERT_TRUE(drained.ok());
  EXPECT_FALSE(cache->View()->Group("g2")->Writable());
  // New topics avoid it; naming it is refused.
  auto only_g1 = admin.CreateTopic("u", 4, {});
  ASSERT_TRUE(only_g1.ok());
  EXPECT_EQ(only_g1->CountOn("g2"), 0u);
  EXPECT_EQ(admin.ExtendTopic("t", 2, {"g2"}).status().code(), Code::kFailedPrecondition);
  // Live brokers: refused without force.
  EXPECT_EQ(admin.RemoveGroup("g2", false).code(), Code::kFailedPrecondition);
  ASSERT_TRUE(client_->Delete(prefix_ + "/groups/g2/members/b4").ok());
  ASSERT_TRUE(client_->Delete(prefix_ + "/groups/g2/leader").ok());
  ASSERT_TRUE(Eventually([&] { return cache->View()->Group("g2")->members.empty(); }));
  ASSERT_TRUE(admin.RemoveGroup("g2", false).ok());
  EXPECT_EQ(cache->View()->Topic("t")->CountOn("g2"), 0u);
  EXPECT_EQ(cache->View()->Topic("t")->CountOn("g1"), 2u);
  ASSERT_TRUE(Eventually([&] { return cache->View()->Group("g2") == nullptr; }));
  // Active again after a drain: `add-group`.
  ASSERT_TRUE(admin.SetGroupMode("g1", GroupMode::kDraining).ok());
  ASSERT_TRUE(admin.SetGroupMode("g1", GroupMode::kActive).ok());
  EXPECT_TRUE(cache->View()->Group("g1")->Writable());
}

TEST_F(RouteCacheEtcdTest, StartsEmptyWhileEtcdIsDownAndFillsInLater) {
  LiveGroup("g1", "b1", "127.0.0.1:1");
  RouteCacheOptions o;
  o.prefix = prefix_;
  o.watch_endpoints = {etcd_->endpoint()};
  // A client whose only endpoint refuses, for the first read.
  EtcdClient down(EtcdClientOptions{{"127.0.0.1:1"}, 300, 200});
  RouteCache cache(&down, o);
  EXPECT_FALSE(cache.Start().ok());
  EXPECT_EQ(cache.View()->Group("g1"), nullptr);
  cache.Stop();  // prompt, with its retry thread running
  RouteCache later(client_.get(), o);
  ASSERT_TRUE(later.Start().ok());
  EXPECT_NE(later.View()->Group("g1"), nullptr);
}

}  // namespace
}  // namespace tidemq::cluster
