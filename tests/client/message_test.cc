#include "tidemq/message.h"

#include <gtest/gtest.h>

#include "client/src/client_core.h"
#include "common/names.h"

namespace tidemq {
namespace {

TEST(MessageBuilderTest, BuildsWithAllFields) {
  auto m = Message::NewBuilder()
               .Topic("orders")
               .Body("hello")
               .Tag("created")
               .Keys({"k1"})
               .Key("k2")
               .Property("source", "web")
               .MessageGroup("customer-7")
               .Delay(1500)
               .Build();
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->topic(), "orders");
  EXPECT_EQ(m->body(), "hello");
  EXPECT_EQ(m->tag(), "created");
  EXPECT_EQ(m->keys(), (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(m->properties().at("source"), "web");
  EXPECT_EQ(m->message_group(), "customer-7");
  EXPECT_EQ(m->delay_ms(), 1500);
  EXPECT_EQ(m->deliver_at_ms(), 0);
}

TEST(MessageBuilderTest, RejectsBadTopic) {
  EXPECT_EQ(Message::NewBuilder().Body("x").Build().status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Message::NewBuilder().Topic("a b").Build().status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Message::NewBuilder()
                .Topic(std::string(kMaxTopicNameLength + 1, 'a'))
                .Build()
                .status()
                .code(),
            Code::kInvalidArgument);
  // System topics are the broker's to write.
  EXPECT_EQ(Message::NewBuilder().Topic("%DLQ%g").Build().status().code(), Code::kInvalidArgument);
}

TEST(MessageBuilderTest, RejectsTooLargeBody) {
  auto ok = Message::NewBuilder().Topic("t").Body(std::string(kMaxMessageBodyBytes, 'x')).Build();
  EXPECT_TRUE(ok.ok());
  auto big =
      Message::NewBuilder().Topic("t").Body(std::string(kMaxMessageBodyBytes + 1, 'x')).Build();
  EXPECT_EQ(big.status().code(), Code::kTooLarge);
}

TEST(MessageBuilderTest, RejectsBadTag) {
  EXPECT_EQ(Message::NewBuilder().Topic("t").Tag("a|b").Build().status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Message::NewBuilder().Topic("t").Tag("a\nb").Build().status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(Message::NewBuilder()
                .Topic("t")
                .Tag(std::string(kMaxTagLength + 1, 'a'))
                .Build()
                .status()
                .code(),
            Code::kInvalidArgument);
}

TEST(MessageBuilderTest, RejectsBadKeysAndProperties) {
  EXPECT_FALSE(Message::NewBuilder().Topic("t").Key("").Build().ok());
  EXPECT_FALSE(
      Message::NewBuilder().Topic("t").Key(std::string(kMaxKeyLength + 1, 'k')).Build().ok());
  auto builder = Message::NewBuilder().Topic("t");
  for (size_t i = 0; i <= kMaxKeysPerMessage; ++i) builder.Key("k" + std::to_string(i));
  EXPECT_FALSE(builder.Build().ok());
  EXPECT_FALSE(Message::NewBuilder().Topic("t").Property("", "v").Build().ok());
  EXPECT_FALSE(Message::NewBuilder()
                   .Topic("t")
                   .Property("k", std::string(kMaxPropertyValueLength + 1, 'v'))
                   .Build()
                   .ok());
  EXPECT_FALSE(Message::NewBuilder().Topic("t").Property("\xff\xfe", "v").Build().ok());
  EXPECT_TRUE(Message::NewBuilder().Topic("t").Property("caf\xc3\xa9", "\xff").Build().ok());
}

TEST(MessageBuilderTest, RejectsConflictingSchedule) {
  EXPECT_FALSE(Message::NewBuilder().Topic("t").Delay(5).DeliverAt(1'700'000'000'000).Build().ok());
  EXPECT_FALSE(Message::NewBuilder().Topic("t").Delay(-1).Build().ok());
}

TEST(TagFilterTest, AcceptsAndRejects) {
  EXPECT_TRUE(client::ValidateTagFilter("").ok());
  EXPECT_TRUE(client::ValidateTagFilter("*").ok());
  EXPECT_TRUE(client::ValidateTagFilter("a").ok());
  EXPECT_TRUE(client::ValidateTagFilter("a||b || c").ok());
  EXPECT_FALSE(client::ValidateTagFilter("a||").ok());
  EXPECT_FALSE(client::ValidateTagFilter("||a").ok());
  EXPECT_FALSE(client::ValidateTagFilter("a|b").ok());
}

}  // namespace
}  // namespace tidemq
