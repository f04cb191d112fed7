// The gateway JSON codec and the group records, without an etcd: answers as etcd 3.4 writes
// them (int64 as strings, zero fields left out, base64 bytes) and answers it never writes.
#include "cluster/etcd_json.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster/group_state.h"

namespace tidemq::cluster {
namespace {

using namespace etcd_json;  // NOLINT

TEST(EtcdJsonTest, Base64RoundTripsEveryLengthAndRefusesForeignBytes) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (size_t n = 0; n < 40; ++n) {
    std::string in = all.substr(n * 5 % 200, n);
    std::string out;
    ASSERT_TRUE(Base64Decode(Base64Encode(in), &out));
    EXPECT_EQ(out, in);
  }
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  std::string out;
  EXPECT_TRUE(Base64Decode("Zm8", &out));  // padding optional
  EXPECT_EQ(out, "fo");
  EXPECT_FALSE(Base64Decode("Zm9v!", &out));
  EXPECT_FALSE(Base64Decode("Z", &out));
}

TEST(EtcdJsonTest, PrefixEndIncrementsTheLastByteBelow0xff) {
  EXPECT_EQ(PrefixEnd("/a/"), "/a0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(PrefixEnd(std::string("\xff", 1)), std::string(1, '\0'));
}

TEST(EtcdJsonTest, DecodesARangeAnswerAsEtcdWritesIt) {
  std::string body =
      R"({"header":{"cluster_id":"14841639068965178418","member_id":"10276657743932975437",
    "revision":"7","raft_term":"2"},"kvs":[{"key":"Zm9v","create_revision":"5","mod_revision":"7",
    "version":"3","value":"YmFy","lease":"7587862372117250308"},{"key":"Zm9vMg==","create_revision":"6",
    "mod_revision":"6","version":"1"}],"count":"2"})";
  auto r = DecodeRange(200, body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->revision, 7);
  EXPECT_EQ(r->count, 2);
  ASSERT_EQ(r->kvs.size(), 2u);
  EXPECT_EQ(r->kvs[0], (KeyValue{"foo", "bar", 5, 7, 3, 7587862372117250308}));
  EXPECT_EQ(r->kvs[1], (KeyValue{"foo2", "", 6, 6, 1, 0}));  // empty value left out
  auto empty = DecodeRange(200, R"({"header":{"revision":"9"}})");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->kvs.empty());
}

TEST(EtcdJsonTest, DecodesATxnAnswerWithEveryKindOfResponse) {
  std::string body = R"({"header":{"revision":"12"},"succeeded":true,"responses":[
    {"response_put":{"header":{"revision":"12"}}},
    {"response_range":{"header":{"revision":"12"},"kvs":[{"key":"YQ==","value":"Yg==",
      "create_revision":"3","mod_revision":"12","version":"2"}],"count":"1"}},
    {"response_delete_range":{"header":{"revision":"12"},"deleted":"1"}}]})";
  auto r = DecodeTxn(200, body);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, 12);
  ASSERT_EQ(r->results.size(), 3u);
  EXPECT_EQ(r->results[0].kind, TxnOp::Kind::kPut);
  EXPECT_EQ(r->results[1].kvs.at(0).value, "b");
  EXPECT_EQ(r->results[2].deleted, 1);
  auto failed = DecodeTxn(200, R"({"header":{"revision":"12"}})");  // succeeded false: left out
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->succeeded);
}

TEST(EtcdJsonTest, TxnRequestSpellsComparesAndOpsAsTheGatewayExpects) {
  auto j = nlohmann::json::parse(TxnRequest(
      {Compare::Absent("k"), Compare::ValueEquals("l", "me"), Compare::ModRevisionEquals("s", 9)},
      {TxnOp::Put("k", "v", 42), TxnOp::GetPrefix("p/")}, {TxnOp::Delete("k")}));
  EXPECT_EQ(j["compare"][0]["target"], "CREATE");
  EXPECT_EQ(j["compare"][0]["create_revision"], "0");
  EXPECT_EQ(j["compare"][0]["result"], "EQUAL");
  EXPECT_EQ(j["compare"][1]["target"], "VALUE");
  EXPECT_EQ(j["compare"][1]["value"], Base64Encode("me"));
  EXPECT_EQ(j["compare"][2]["mod_revision"], "9");
  EXPECT_EQ(j["success"][0]["request_put"]["lease"], "42");
  EXPECT_EQ(j["success"][1]["request_range"]["range_end"], Base64Encode("p0"));
  EXPECT_EQ(j["failure"][0]["request_delete_range"]["key"], Base64Encode("k"));
}

TEST(EtcdJsonTest, LeaseAnswers) {
  auto g =
      DecodeLeaseGrant(200, R"({"header":{"revision":"3"},"ID":"7587862372117250310","TTL":"5"})");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->id, 7587862372117250310);
  EXPECT_EQ(g->ttl_s, 5);
  auto ka = DecodeKeepAlive(
      200, "{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"5\",\"TTL\":\"4\"}}\n");
  ASSERT_TRUE(ka.ok());
  EXPECT_EQ(*ka, 4);
  // A lease that is gone: etcd answers with TTL left out (0).
  auto gone = DecodeKeepAlive(200, R"({"result":{"header":{"revision":"3"},"ID":"5"}})");
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(*gone, 0);
  auto ttl = DecodeTimeToLive(200, R"({"header":{},"ID":"5","TTL":"-1"})");
  ASSERT_TRUE(ttl.ok());
  EXPECT_EQ(ttl->ttl_s, -1);
}

TEST(EtcdJsonTest, ErrorAnswersBecomeTheStatusTheirGrpcCodeMeans) {
  auto nf = DecodeHeaderRevision(404, R"({"error":"etcdserver: requested lease not found","code":5,
    "message":"etcdserver: requested lease not found"})");
  EXPECT_EQ(nf.status().code(), Code::kNotFound);
  EXPECT_NE(nf.status().message().find("lease not found"), std::string::npos);
  EXPECT_EQ(
      DecodeRange(400,
                  R"({"error":"etcdserver: mvcc: required revision has been compacted","code":11})")
          .status()
          .code(),
      Code::kOutOfRange);
  EXPECT_EQ(
      DecodeKeepAlive(200, R"({"error":{"grpc_code":14,"http_code":503,"message":"no leader"}})")
          .status()
          .code(),
      Code::kUnavailable);
}

TEST(EtcdJsonTest, AnswersThatAreNotEtcdsGiveInternalNotExceptions) {
  for (const char* body :
       {"", "not json", "[1,2]", R"({"kvs":"x"})", R"({"kvs":[1]})", R"({"kvs":[{"key":"!!"}]})",
        R"({"header":{"revision":"x"}})", R"({"header":{"revision":1e400}})",
        R"({"count":"99999999999999999999"})", R"({"header":[]})"}) {
    auto r = DecodeRange(200, body);
    ASSERT_FALSE(r.ok()) << body;
    EXPECT_EQ(r.status().code(), Code::kInternal) << body;
  }
  EXPECT_EQ(DecodeTxn(200, R"({"responses":[{}]})").status().code(), Code::kInternal);
  EXPECT_EQ(DecodeLeaseGrant(200, R"({"TTL":"5"})").status().code(), Code::kInternal);
  EXPECT_EQ(DecodeRange(502, "<html>bad gateway</html>").status().code(), Code::kInternal);
}

TEST(EtcdJsonTest, WatchMessages) {
  auto created = DecodeWatchMessage(R"({"result":{"header":{"revision":"41"},"created":true}})");
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(created->created);
  EXPECT_EQ(created->revision, 41);
  auto events = DecodeWatchMessage(
      R"({"result":{"header":{"revision":"43"},"events":[{"kv":{"key":"YQ==","create_revision":"42",
      "mod_revision":"42","version":"1","value":"MQ=="}},{"type":"DELETE","kv":{"key":"YQ==",
      "mod_revision":"43"}}]}})");
  ASSERT_TRUE(events.ok()) << events.status().ToString();
  ASSERT_EQ(events->events.size(), 2u);
  EXPECT_EQ(events->events[0].type, WatchEvent::Type::kPut);  // PUT is 0: left out
  EXPECT_EQ(events->events[0].kv.value, "1");
  EXPECT_EQ(events->events[1].type, WatchEvent::Type::kDelete);
  EXPECT_EQ(events->events[1].revision(), 43);
  auto compacted = DecodeWatchMessage(
      R"({"result":{"header":{"revision":"50"},"canceled":true,"compact_revision":"45"}})");
  ASSERT_TRUE(compacted.ok());
  EXPECT_EQ(compacted->compact_revision, 45);
  EXPECT_EQ(
      DecodeWatchMessage(R"({"result":{"events":[{"type":"BOOM","kv":{}}]}})").status().code(),
      Code::kInternal);
}

TEST(GroupStateTest, RecordsRoundTripAndGarbageIsCorruption) {
  MemberRecord m{"b-1", "127.0.0.1:9810", "127.0.0.1:9811", "127.0.0.1:9812",
                 4096,  3,                4000,             1700000000000};
  MemberRecord m2;
  ASSERT_TRUE(DecodeMember(EncodeMember(m), &m2).ok());
  EXPECT_EQ(m2, m);
  // A broker serving no RocketMQ 5 clients (or one from before they existed) writes none.
  m.grpc_address.clear();
  EXPECT_EQ(EncodeMember(m).find("grpc_address"), std::string::npos);
  ASSERT_TRUE(DecodeMember(EncodeMember(m), &m2).ok());
  EXPECT_EQ(m2, m);
  GroupState s{"b-1", "127.0.0.1:9811", 7, {"b-1", "b-2"}, 2, 11, 10, "b-3"};
  GroupState s2;
  ASSERT_TRUE(DecodeState(EncodeState(s), &s2).ok());
  EXPECT_EQ(s2, s);
  for (const char* bad : {"", "{", "[]", R"({"epoch":3})", R"({"master":1})",
                          R"({"master":"a","in_sync":"a"})", R"({"master":"a","in_sync":[1]})",
                          R"({"master":"a","epoch":"3"})", R"({"master":"a","epoch":-1})"}) {
    EXPECT_EQ(DecodeState(bad, &s2).code(), Code::kCorruption) << bad;
  }
  EXPECT_EQ(DecodeMember(R"({"address":"x"})", &m2).code(), Code::kCorruption);
}

TEST(GroupStateTest, KeyNamesAndTheirParser) {
  GroupKeys keys("/tidemq/", "orders");
  EXPECT_EQ(keys.Member("b1"), "/tidemq/groups/orders/members/b1");
  EXPECT_EQ(keys.Leader(), "/tidemq/groups/orders/leader");
  EXPECT_EQ(keys.State(), "/tidemq/groups/orders/state");
  EXPECT_EQ(keys.ParseMember(keys.Member("b1")), "b1");
  EXPECT_EQ(keys.ParseMember(keys.Leader()), std::nullopt);
  EXPECT_EQ(keys.ParseMember("/tidemq/groups/orders/members/"), std::nullopt);
  EXPECT_EQ(keys.ParseMember("/tidemq/groups/orders/members/a/b"), std::nullopt);
  EXPECT_FALSE(ValidateClusterId("group", "a/b").ok());
  EXPECT_FALSE(ValidateClusterId("group", "").ok());
  EXPECT_TRUE(ValidateClusterId("group", "orders-1.eu_west").ok());
}

}  // namespace
}  // namespace tidemq::cluster
