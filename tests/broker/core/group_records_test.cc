// The durable form of a consumer group (broker/core/group_records.h): the group config record
// and the offsets record keys, and how a create-or-update request completes a configuration. (The offsets value itself: tests/broker/consumer_offsets_test.cc.)
#include "broker/core/group_records.h"

#include <gtest/gtest.h>

namespace tidemq::broker {
namespace {

TEST(GroupRecordsTest, GroupConfigRoundTrip) {
  GroupConfig c;
  c.name = "billing";
  c.broadcast = false;
  c.fifo = true;
  c.fifo_block = true;
  c.max_attempts = 7;
  c.retry = *RetryPolicy::Parse("exponential:1s,2,10m");
  c.created_ms = 1'700'000'000'123;
  auto back = DecodeGroupConfig("billing", EncodeGroupConfig(c));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->name, "billing");
  EXPECT_EQ(back->fifo, true);
  EXPECT_EQ(back->fifo_block, true);
  EXPECT_EQ(back->broadcast, false);
  EXPECT_EQ(back->max_attempts, 7u);
  EXPECT_EQ(back->retry, c.retry);
  EXPECT_EQ(back->created_ms, c.created_ms);
}

TEST(GroupRecordsTest, AbsentFieldsKeepTheirDefaults) {
  auto c = DecodeGroupConfig("g", "{}");
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(c->broadcast);
  EXPECT_FALSE(c->fifo);
  EXPECT_EQ(c->max_attempts, GroupConfig().max_attempts);
  EXPECT_EQ(c->retry, RetryPolicy());
}

TEST(GroupRecordsTest, UnreadableRetryPolicyKeepsTheLadder) {
  Status why;
  auto c = DecodeGroupConfig("g", R"({"retry":"every now and then"})", &why);
  ASSERT_TRUE(c.ok());
  EXPECT_FALSE(why.ok());
  EXPECT_EQ(c->retry, RetryPolicy());
}

TEST(GroupRecordsTest, MalformedGroupRecordIsCorruptionNotAThrow) {
  for (const char* bad :
       {"", "not json", "[]", "42", R"({"fifo":"yes"})", R"({"broadcast":1})",
        R"({"max_attempts":0})", R"({"max_attempts":1001})", R"({"max_attempts":-3})",
        R"({"max_attempts":"16"})", R"({"created_ms":1.5})", R"({"retry":5})"}) {
    auto c = DecodeGroupConfig("g", bad);
    ASSERT_FALSE(c.ok()) << bad;
    EXPECT_EQ(c.status().code(), Code::kCorruption) << bad;
  }
  EXPECT_FALSE(DecodeGroupConfig("", "{}").ok());  // a record without a name
}

TEST(GroupRecordsTest, SpecIsCompletedFromTheExistingGroupOrTheDefaults) {
  const RetryPolicy defaults = *RetryPolicy::Parse("5s,30s");
  GroupSpec spec;
  spec.config.name = "billing";
  spec.config.fifo = true;
  spec.config.max_attempts = 0;  // unset, as a request without it
  auto fresh = ResolveGroupSpec(spec, nullptr, defaults, 16);
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(fresh->max_attempts, 16u);
  EXPECT_EQ(fresh->retry, defaults);
  EXPECT_TRUE(fresh->fifo);

  GroupConfig existing = *fresh;
  existing.max_attempts = 4;
  existing.retry = *RetryPolicy::Parse("exponential:1s,2,10m");
  existing.created_ms = 42;
  auto kept = ResolveGroupSpec(spec, &existing, defaults, 16);
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(kept->max_attempts, 4u);  // unset: the group's own
  EXPECT_EQ(kept->retry, existing.retry);
  EXPECT_EQ(kept->created_ms, 42);
  EXPECT_TRUE(SameSettings(*kept, existing));

  spec.config.max_attempts = 9;
  spec.retry = defaults;
  auto changed = ResolveGroupSpec(spec, &existing, defaults, 16);
  ASSERT_TRUE(changed.ok());
  EXPECT_EQ(changed->max_attempts, 9u);
  EXPECT_FALSE(SameSettings(*changed, existing));

  // Another mode is refused; bad settings are invalid.
  GroupSpec broadcast;
  broadcast.config.name = "billing";
  broadcast.config.broadcast = true;
  EXPECT_EQ(ResolveGroupSpec(broadcast, &existing, defaults, 16).status().code(),
            Code::kFailedPrecondition);
  GroupSpec bad = spec;
  bad.config.max_attempts = kMaxGroupAttempts + 1;
  EXPECT_EQ(ResolveGroupSpec(bad, nullptr, defaults, 16).status().code(), Code::kInvalidArgument);
  bad = spec;
  bad.config.fifo = false;
  bad.config.fifo_block = true;
  EXPECT_EQ(ResolveGroupSpec(bad, nullptr, defaults, 16).status().code(), Code::kInvalidArgument);
  bad = broadcast;
  bad.config.fifo = true;
  EXPECT_EQ(ResolveGroupSpec(bad, nullptr, defaults, 16).status().code(), Code::kInvalidArgument);
  bad = spec;
  bad.config.name = "no spaces";
  EXPECT_EQ(ResolveGroupSpec(bad, nullptr, defaults, 16).status().code(), Code::kInvalidArgument);
}

TEST(GroupRecordsTest, OffsetKeyRoundTrip) {
  for (const QueueKey& key : {QueueKey{"orders", 3, ""}, QueueKey{"orders", 0, "client-7"},
                              QueueKey{"%RETRY%billing", 0, "orders"}}) {
    const std::string k = OffsetKey("billing", key);
    auto back = ParseOffsetKey(k);
    ASSERT_TRUE(back.ok()) << k;
    EXPECT_EQ(back->first, "billing");
    EXPECT_EQ(back->second, key) << k;
  }
  EXPECT_EQ(OffsetKey("g", QueueKey{"t", 12, "c"}), "offset/g/t/12/c");
}

TEST(GroupRecordsTest, MalformedOffsetKeyIsRefused) {
  for (const char* bad : {"offset/", "offset/g", "offset/g/t", "offset/g/t/1", "offset/g/t/x/c",
                          "group/g/t/1/c", "offset/g/t//c"}) {
    auto k = ParseOffsetKey(bad);
    ASSERT_FALSE(k.ok()) << bad;
    EXPECT_EQ(k.status().code(), Code::kCorruption) << bad;
  }
}

}  // namespace
}  // namespace tidemq::broker
