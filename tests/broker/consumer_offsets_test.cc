// The per-queue offsets record a consumer group persists (broker/consumer_manager.h,
// docs/storage_format.md "Consumer offsets"): round trip, the older bare-decimal form, and
// what is refused.
#include <gtest/gtest.h>

#include "broker/core/consumer_manager.h"

namespace tidemq::broker {
namespace {

TEST(ConsumerOffsetsTest, RoundTrip) {
  StoredQueueOffsets v;
  v.committed = 200;
  v.next = 240;
  v.attempts = {{200, 3}, {201, 0}, {239, 1}};
  v.lost_to_retention = 1020;
  auto back = DecodeQueueOffsets(EncodeQueueOffsets(v));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->committed, 200);
  EXPECT_EQ(back->next, 240);
  EXPECT_EQ(back->attempts, v.attempts);
  EXPECT_EQ(back->lost_to_retention, 1020);
}

TEST(ConsumerOffsetsTest, BareDecimalIsTheCommittedOffsetOfOlderBrokers) {
  auto v = DecodeQueueOffsets("29");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->committed, 29);
  EXPECT_EQ(v->next, 29);
  EXPECT_TRUE(v->attempts.empty());
  EXPECT_EQ(v->lost_to_retention, 0);
}

TEST(ConsumerOffsetsTest, MalformedIsRefused) {
  for (const char* bad :
       {"", "-1", "12x", "{}", "[]", "null", R"({"committed":1,"next":1,"lost":0})",
        R"({"committed":-1,"next":1,"attempts":[],"lost":0})",
        R"({"committed":1,"next":1,"attempts":[[1]],"lost":0})",
        R"({"committed":1,"next":1,"attempts":[[1,-2]],"lost":0})",
        R"({"committed":1,"next":1,"attempts":[[-1,2]],"lost":0})",
        R"({"committed":1,"next":1,"attempts":[[1,2000000]],"lost":0})",
        R"({"committed":"1","next":1,"attempts":[],"lost":0})", "{\"committed\":1"}) {
    auto v = DecodeQueueOffsets(bad);
    EXPECT_FALSE(v.ok()) << bad;
    if (!v.ok()) {
      EXPECT_EQ(v.status().code(), Code::kCorruption);
    }
  }
}

}  // namespace
}  // namespace tidemq::broker
