// The cluster's routes as etcd holds them (cluster/routes.h): the records' JSON, the key
// layout, the view a broker builds from events (and what counts as a change of routes), and
// where new queues go.
#include "cluster/routes.h"

#include <gtest/gtest.h>

namespace tidemq::cluster {
namespace {

KeyValue Kv(std::string key, std::string value, int64_t rev = 1) {
  KeyValue kv;
  kv.key = std::move(key);
  kv.value = std::move(value);
  kv.mod_revision = rev;
  return kv;
}

MemberRecord Member(const std::string& id, const std::string& address, int64_t log_end = 0) {
  MemberRecord m;
  m.broker_id = id;
  m.address = address;
  m.log_end = log_end;
  return m;
}

// A view with groups that have a master each (a leader key naming a live member).
RouteView ViewWith(const std::vector<std::string>& groups) {
  ClusterKeys keys("/t");
  RouteView view;
  int port = 9000;
  for (const auto& g : groups) {
    std::string id = g + "-m";
    EXPECT_TRUE(ApplyKey(keys, Kv("/t/groups/" + g + "/members/" + id,
                                  EncodeMember(Member(id, "127.0.0.1:" + std::to_string(port++)))),
                         false, &view)
                    .ok());
    EXPECT_TRUE(ApplyKey(keys, Kv("/t/groups/" + g + "/leader", id), false, &view).ok());
  }
  return view;
}

TEST(RoutesTest, RecordsRoundTrip) {
  GroupEntry e{GroupMode::kDraining, 5, 7};
  GroupEntry e2;
  ASSERT_TRUE(DecodeGroupEntry(EncodeGroupEntry(e), &e2).ok());
  EXPECT_EQ(e2, e);

  TopicEntry t;
  t.queues = {{"g1", 4}, {"g2", 3}};
  t.created_ms = 11;
  t.changed_ms = 12;
  TopicEntry t2;
  ASSERT_TRUE(DecodeTopicEntry(EncodeTopicEntry(t), &t2).ok());
  EXPECT_EQ(t2, t);
  EXPECT_EQ(t2.total(), 7u);
  EXPECT_EQ(t2.CountOn("g2"), 3u);
  EXPECT_EQ(t2.CountOn("g3"), 0u);
}

TEST(RoutesTest, BadRecordsAreCorruption) {
  GroupEntry e;
  for (const char* bad : {"", "[]", "{}", R"({"state":"gone"})", R"({"state":1})",
                          R"({"state":"active","added_ms":"x"})"}) {
    EXPECT_EQ(DecodeGroupEntry(bad, &e).code(), Code::kCorruption) << bad;
  }
  TopicEntry t;
  for (const char* bad : {"{}", R"({"queues":[]})", R"({"queues":[{"group":"g1"}]})",
                          R"({"queues":[{"group":"g1","count":0}]})",
                          R"({"queues":[{"group":"g 1","count":1}]})",
                          R"({"queues":[{"group":"g1","count":1},{"group":"g1","count":2}]})",
                          R"({"queues":[{"group":"g1","count":1000},{"group":"g2","count":100}]})",
                          R"({"queues":[{"group":"g1","count":-1}]})", R"({"queues":"g1"})"}) {
    EXPECT_EQ(DecodeTopicEntry(bad, &t).code(), Code::kCorruption) << bad;
  }
}

TEST(RoutesTest, KeysParse) {
  ClusterKeys keys("/tidemq/");
  EXPECT_EQ(keys.Root(), "/tidemq/");
  EXPECT_EQ(keys.Topic("orders"), "/tidemq/topics/orders");
  EXPECT_EQ(keys.GroupEntry("g1"), "/tidemq/cluster/groups/g1");
  using Kind = ClusterKeys::Parsed::Kind;
  EXPECT_EQ(keys.Parse("/tidemq/topics/orders").kind, Kind::kTopic);
  EXPECT_EQ(keys.Parse("/tidemq/topics/orders").topic, "orders");
  EXPECT_EQ(keys.Parse("/tidemq/cluster/groups/g1").kind, Kind::kGroupEntry);
  EXPECT_EQ(keys.Parse("/tidemq/groups/g1/state").kind, Kind::kGroupState);
  EXPECT_EQ(keys.Parse("/tidemq/groups/g1/leader").kind, Kind::kGroupLeader);
  auto m = keys.Parse("/tidemq/groups/g1/members/b2");
  EXPECT_EQ(m.kind, Kind::kMember);
  EXPECT_EQ(m.group, "g1");
  EXPECT_EQ(m.broker_id, "b2");
  EXPECT_EQ(keys.ConsumerGroup("checkout"), "/tidemq/consumer-groups/checkout");
  auto cg = keys.Parse("/tidemq/consumer-groups/checkout");
  EXPECT_EQ(cg.kind, Kind::kConsumerGroup);
  EXPECT_EQ(cg.consumer_group, "checkout");
  for (const char* other : {"/tidemq/topics/", "/tidemq/topics/%RETRY%x", "/other/topics/a",
                            "/tidemq/consumer-groups/", "/tidemq/consumer-groups/a b",
                            "/tidemq/groups/g1", "/tidemq/groups/g 1/state",
                            "/tidemq/groups/g1/members/", "/tidemq/whatever"}) {
    EXPECT_EQ(keys.Parse(other).kind, Kind::kOther) << other;
  }
}

TEST(RoutesTest, ViewFollowsKeysAndKnowsWhatChangesRoutes) {
  ClusterKeys keys("/t");
  RouteView view;
  bool changed = false;
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/groups/g1/members/b1", EncodeMember(Member("b1", "h:1", 10))),
                       false, &view, &changed)
                  .ok());
  EXPECT_TRUE(changed);
  // Progress only (every keepalive): not a change of routes.
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/groups/g1/members/b1", EncodeMember(Member("b1", "h:1", 99))),
                       false, &view, &changed)
                  .ok());
  EXPECT_FALSE(changed);
  EXPECT_EQ(view.Group("g1")->members.at("b1").log_end, 99);
  EXPECT_EQ(view.Group("g1")->Master(), nullptr);
  EXPECT_FALSE(view.Group("g1")->Writable());
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/groups/g1/members/b2", EncodeMember(Member("b2", "h:2"))),
                       false, &view, &changed)
                  .ok());
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/groups/g1/leader", "b2"), false, &view, &changed).ok());
  EXPECT_TRUE(changed);
  ASSERT_NE(view.Group("g1")->Master(), nullptr);
  EXPECT_EQ(view.Group("g1")->Master()->address, "h:2");
  EXPECT_EQ(view.Group("g1")->Addresses(), (std::vector<std::string>{"h:2", "h:1"}));
  EXPECT_TRUE(view.Group("g1")->Writable());  // not registered yet: writable with a master
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/cluster/groups/g1", EncodeGroupEntry({GroupMode::kDraining})),
                       false, &view, &changed)
                  .ok());
  EXPECT_TRUE(changed);
  EXPECT_FALSE(view.Group("g1")->Writable());
  // A topic, then a record that does not parse: reported, and the view keeps the last good one.
  TopicEntry t;
  t.queues = {{"g1", 2}};
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/topics/a", EncodeTopicEntry(t)), false, &view).ok());
  EXPECT_FALSE(ApplyKey(keys, Kv("/t/topics/a", "{not json"), false, &view).ok());
  ASSERT_NE(view.Topic("a"), nullptr);
  EXPECT_EQ(view.Topic("a")->CountOn("g1"), 2u);
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/topics/a", ""), true, &view, &changed).ok());
  EXPECT_TRUE(changed);
  EXPECT_EQ(view.Topic("a"), nullptr);
  // The group goes once nothing of it is left.
  for (const char* k : {"/t/groups/g1/members/b1", "/t/groups/g1/members/b2", "/t/groups/g1/leader",
                        "/t/cluster/groups/g1"}) {
    ASSERT_TRUE(ApplyKey(keys, Kv(k, ""), true, &view).ok());
  }
  EXPECT_EQ(view.Group("g1"), nullptr);
  // A consumer group's configuration is kept as text: a change for brokers, not of routes.
  // One that is not a JSON object is reported and the last good one stays.
  bool config = false;
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/consumer-groups/c1", R"({"fifo":true})"), false, &view,
                       &changed, &config)
                  .ok());
  EXPECT_FALSE(changed);
  EXPECT_TRUE(config);
  ASSERT_NE(view.ConsumerGroup("c1"), nullptr);
  EXPECT_EQ(*view.ConsumerGroup("c1"), R"({"fifo":true})");
  EXPECT_EQ(ApplyKey(keys, Kv("/t/consumer-groups/c1", "[1]"), false, &view).code(),
            Code::kCorruption);
  EXPECT_EQ(*view.ConsumerGroup("c1"), R"({"fifo":true})");
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/consumer-groups/c1", ""), true, &view, &changed, &config).ok());
  EXPECT_FALSE(changed);
  EXPECT_TRUE(config);
  EXPECT_EQ(view.ConsumerGroup("c1"), nullptr);
  // Keys that are not the cluster's change nothing.
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/other", "x"), false, &view, &changed).ok());
  EXPECT_FALSE(changed);
}

TEST(RoutesTest, PlacementSpreadsEvenlyOverWritableGroups) {
  RouteView view = ViewWith({"g1", "g2"});
  auto t = PlaceQueues(view, {}, 8, {}, 100);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->CountOn("g1"), 4u);
  EXPECT_EQ(t->CountOn("g2"), 4u);
  EXPECT_EQ(t->created_ms, 100);
  // A third group joins; extending by 4 fills it first.
  RouteView three = ViewWith({"g1", "g2", "g3"});
  auto ext = PlaceQueues(three, *t, 4, {}, 200);
  ASSERT_TRUE(ext.ok()) << ext.status().ToString();
  EXPECT_EQ(ext->CountOn("g1"), 4u);
  EXPECT_EQ(ext->CountOn("g2"), 4u);
  EXPECT_EQ(ext->CountOn("g3"), 4u);
  EXPECT_EQ(ext->queues.back().group, "g3");  // existing groups keep their order
  EXPECT_EQ(ext->created_ms, 100);
  EXPECT_EQ(ext->changed_ms, 200);
  // Odd counts: the earlier group in order gets the extra one.
  auto odd = PlaceQueues(view, {}, 3, {"g2", "g1"}, 1);
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->CountOn("g2"), 2u);
  EXPECT_EQ(odd->CountOn("g1"), 1u);
  EXPECT_EQ(odd->queues.front().group, "g2");
}

TEST(RoutesTest, PlacementRefusesWhatCannotTakeQueues) {
  RouteView view = ViewWith({"g1", "g2"});
  ClusterKeys keys("/t");
  ASSERT_TRUE(
      ApplyKey(keys, Kv("/t/cluster/groups/g2", EncodeGroupEntry({GroupMode::kDraining})), false,
               &view)
          .ok());
  // Spread: the drained group is left out.
  auto t = PlaceQueues(view, {}, 4, {}, 1);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->CountOn("g1"), 4u);
  EXPECT_EQ(t->CountOn("g2"), 0u);
  EXPECT_EQ(PlaceQueues(view, {}, 4, {"g2"}, 1).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(PlaceQueues(view, {}, 4, {"g9"}, 1).status().code(), Code::kNotFound);
  EXPECT_EQ(PlaceQueues(view, {}, 4, {"bad name"}, 1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(PlaceQueues(view, {}, 0, {}, 1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(PlaceQueues(view, {}, kMaxQueuesPerTopic + 1, {}, 1).status().code(),
            Code::kInvalidArgument);
  // No master anywhere: nothing is writable.
  ASSERT_TRUE(ApplyKey(keys, Kv("/t/groups/g1/leader", ""), true, &view).ok());
  EXPECT_EQ(PlaceQueues(view, {}, 4, {}, 1).status().code(), Code::kUnavailable);
  EXPECT_EQ(PlaceQueues(view, {}, 4, {"g1"}, 1).status().code(), Code::kUnavailable);
}

}  // namespace
}  // namespace tidemq::cluster
