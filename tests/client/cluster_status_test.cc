// `tidemq cluster status`: the CLUSTER_STATUS document decoded and printed
// (tools/cluster_status.h).
#include "tools/cluster_status.h"

#include <gtest/gtest.h>

namespace tidemq::tools {
namespace {

constexpr char kGroup[] = R"({
  "group": "orders-a", "broker_id": "b1", "role": "master", "epoch": 3,
  "master": "b1", "master_address": "127.0.0.1:9810", "min_copies": 2,
  "in_sync": ["b1", "b2"],
  "members": [
    {"broker_id": "b1", "address": "127.0.0.1:9810", "role": "master", "log_end": 4096,
     "lag_bytes": 0, "lag_ms": 0, "in_sync": true, "connected": true},
    {"broker_id": "b2", "address": "127.0.0.1:9820", "role": "replica", "log_end": 4000,
     "lag_bytes": 96, "lag_ms": 12, "in_sync": true, "connected": true},
    {"broker_id": "b3", "address": "127.0.0.1:9830", "role": "replica", "log_end": 100,
     "lag_bytes": 3996, "lag_ms": 5000, "in_sync": false, "connected": false}],
  "last_failover_ms": 1764633600123, "note": "fields the client does not know are ignored"
})";

TEST(ClusterStatusTest, FormatsAGroupForAHuman) {
  auto st = ParseClusterStatus(kGroup);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(FormatClusterStatus(*st, "127.0.0.1:9810"),
            "group orders-a epoch 3 master b1 (127.0.0.1:9810) min-copies 2 in-sync [b1 b2]\n"
            "  b1  127.0.0.1:9810  master  log-end 4096  lag 0 bytes / 0 ms  in-sync  connected\n"
            "  b2  127.0.0.1:9820  replica  log-end 4000  lag 96 bytes / 12 ms  in-sync  "
            "connected\n"
            "  b3  127.0.0.1:9830  replica  log-end 100  lag 3996 bytes / 5000 ms  out-of-sync  "
            "disconnected\n"
            "  last failover 2025-12-02 00:00:00.123 UTC\n");
}

TEST(ClusterStatusTest, SaysWhenAReplicaAnsweredAndWhenThereIsNoMaster) {
  auto st =
      ParseClusterStatus(R"({"group":"g","broker_id":"b2","role":"replica","epoch":1,"master":"",)"
                         R"("min_copies":1,"in_sync":[],"members":[],"last_failover_ms":0})");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(FormatClusterStatus(*st, "127.0.0.1:9820"),
            "group g epoch 1 master - (-) min-copies 1 in-sync []\n"
            "  last failover never\n"
            "  (as seen by replica b2 at 127.0.0.1:9820)\n");
}

TEST(ClusterStatusTest, AStandaloneBrokerIsOneLine) {
  auto st = ParseClusterStatus(R"({"role":"standalone"})");
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  EXPECT_EQ(FormatClusterStatus(*st, "127.0.0.1:9810"),
            "127.0.0.1:9810 standalone (not in a broker group)\n");
}

TEST(ClusterStatusTest, BadDocumentsAreTypedErrors) {
  for (const char* bad :
       {"", "[]", "{", "42", R"({"epoch":"three"})", R"({"members":{}})", R"({"members":[1]})",
        R"({"in_sync":[true]})", R"({"members":[{"connected":"yes"}]})"}) {
    auto st = ParseClusterStatus(bad);
    EXPECT_EQ(st.status().code(), Code::kInvalidArgument) << bad;
  }
  // Numeric broker ids are shown as written.
  auto st = ParseClusterStatus(R"({"group":"g","master":7,"in_sync":[7]})");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->master, "7");
  EXPECT_EQ(st->in_sync, std::vector<std::string>{"7"});
}

}  // namespace
}  // namespace tidemq::tools
