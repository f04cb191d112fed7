#include "common/retry_policy.h"

#include <gtest/gtest.h>

namespace tidemq {
namespace {

constexpr int64_t kS = 1000, kM = 60 * kS, kH = 60 * kM;

TEST(RetryPolicyTest, LadderIsRocketMqsLevelsFromTenSeconds) {
  RetryPolicy p;
  EXPECT_EQ(p.DelayMs(1), 10 * kS);
  EXPECT_EQ(p.DelayMs(2), 30 * kS);
  EXPECT_EQ(p.DelayMs(3), 1 * kM);
  EXPECT_EQ(p.DelayMs(4), 2 * kM);
  EXPECT_EQ(p.DelayMs(12), 10 * kM);
  EXPECT_EQ(p.DelayMs(13), 20 * kM);
  EXPECT_EQ(p.DelayMs(15), 1 * kH);
  EXPECT_EQ(p.DelayMs(16), 2 * kH);
  EXPECT_EQ(p.DelayMs(40), 2 * kH);  // the last level repeats
  EXPECT_EQ(p.DelayMs(0), 10 * kS);
  EXPECT_EQ(LadderDelaysMs().size(), 16u);
}

TEST(RetryPolicyTest, CustomListRepeatsItsLastDelay) {
  auto p = RetryPolicy::Parse("1s, 5s,250ms");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->kind, RetryPolicy::Kind::kCustom);
  EXPECT_EQ(p->DelayMs(1), 1000);
  EXPECT_EQ(p->DelayMs(2), 5000);
  EXPECT_EQ(p->DelayMs(3), 250);
  EXPECT_EQ(p->DelayMs(9), 250);
  EXPECT_EQ(p->ToString(), "1s,5s,250ms");
}

TEST(RetryPolicyTest, ExponentialGrowsUpToItsCap) {
  auto p = RetryPolicy::Parse("exponential:1s,2,10s");
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->DelayMs(1), 1000);
  EXPECT_EQ(p->DelayMs(2), 2000);
  EXPECT_EQ(p->DelayMs(3), 4000);
  EXPECT_EQ(p->DelayMs(4), 8000);
  EXPECT_EQ(p->DelayMs(5), 10000);
  EXPECT_EQ(p->DelayMs(4000), 10000);  // no overflow far out
  EXPECT_EQ(p->ToString(), "exponential:1s,2,10s");
  auto back = RetryPolicy::Parse(p->ToString());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, *p);
}

TEST(RetryPolicyTest, BadTextIsRefusedWithTheReason) {
  for (const char* bad : {"1x", "-5s", "exponential:1s,2", "exponential:1s,zero,1m",
                          "exponential:10m,2,1s", "exponential:1s,0.5,1m", "2d", "1s,,2s"}) {
    auto p = RetryPolicy::Parse(bad);
    EXPECT_FALSE(p.ok()) << bad;
    EXPECT_EQ(p.status().code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_TRUE(RetryPolicy::Parse("ladder").ok());
  EXPECT_TRUE(RetryPolicy::Parse("").ok());
}

TEST(RetryPolicyTest, DurationsParseAndFormat) {
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("1500"), 1500);
  EXPECT_EQ(*ParseDurationMs("3m"), 180000);
  EXPECT_EQ(*ParseDurationMs("1d"), 86400000);
  EXPECT_FALSE(ParseDurationMs("").ok());
  EXPECT_FALSE(ParseDurationMs("s").ok());
  EXPECT_FALSE(ParseDurationMs("99999999999999999999").ok());
  EXPECT_EQ(FormatDurationMs(90000), "90s");
  EXPECT_EQ(FormatDurationMs(120000), "2m");
  EXPECT_EQ(FormatDurationMs(0), "0ms");
  EXPECT_EQ(FormatDurationMs(1500), "1500ms");
}

}  // namespace
}  // namespace tidemq
