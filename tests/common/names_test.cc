#include "common/names.h"

#include <gtest/gtest.h>

namespace tidemq {
namespace {

TEST(NamesTest, TopicNames) {
  EXPECT_TRUE(ValidateTopicName("orders").ok());
  EXPECT_TRUE(ValidateTopicName("Order_Events-v2.eu").ok());
  EXPECT_FALSE(ValidateTopicName("").ok());
  EXPECT_FALSE(ValidateTopicName("a b").ok());
  EXPECT_FALSE(ValidateTopicName("a/b").ok());
  EXPECT_FALSE(ValidateTopicName(std::string(128, 'x')).ok());
  EXPECT_TRUE(ValidateTopicName(std::string(127, 'x')).ok());
}

TEST(NamesTest, SystemTopicsOnlyWhenAllowed) {
  EXPECT_FALSE(ValidateTopicName("%RETRY%g1").ok());
  EXPECT_TRUE(ValidateTopicName("%RETRY%g1", /*allow_system=*/true).ok());
  EXPECT_TRUE(ValidateTopicName("%HALF%", /*allow_system=*/true).ok());
  EXPECT_FALSE(ValidateTopicName("%bad", /*allow_system=*/true).ok());
  EXPECT_FALSE(ValidateTopicName("%DLQ%a b", /*allow_system=*/true).ok());
}

TEST(NamesTest, NamesOfDotsOnlyAreRefused) {
  for (const char* name : {".", "..", "..."}) {
    EXPECT_EQ(ValidateTopicName(name).code(), Code::kInvalidArgument) << name;
    EXPECT_EQ(ValidateTopicName(name, /*allow_system=*/true).code(), Code::kInvalidArgument);
    EXPECT_EQ(ValidateGroupName(name).code(), Code::kInvalidArgument) << name;
  }
  EXPECT_FALSE(ValidateTopicName("%DLQ%..", /*allow_system=*/true).ok());
  EXPECT_TRUE(ValidateTopicName(".a").ok());
  EXPECT_TRUE(ValidateTopicName("a..b").ok());
  EXPECT_TRUE(ValidateGroupName("..g").ok());
}

// RocketMQ clients' namespaces: "namespace%name", each part a plain name.
TEST(NamesTest, OneNamespaceSeparator) {
  EXPECT_TRUE(ValidateTopicName("prod%orders").ok());
  EXPECT_TRUE(ValidateGroupName("prod%billing").ok());
  EXPECT_TRUE(ValidateTopicName("%RETRY%prod%billing", /*allow_system=*/true).ok());
  for (const char* bad : {"prod%", "a%b%c", "prod%a b", "..%x", "x%.."}) {
    EXPECT_EQ(ValidateTopicName(bad).code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(ValidateGroupName(bad).code(), Code::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ValidateGroupName("%g").code(), Code::kInvalidArgument);
}

TEST(NamesTest, GroupsAndTags) {
  EXPECT_TRUE(ValidateGroupName("billing").ok());
  EXPECT_FALSE(ValidateGroupName("%RETRY%x").ok());
  EXPECT_TRUE(ValidateTag("TagA").ok());
  EXPECT_FALSE(ValidateTag("a||b").ok());
  EXPECT_FALSE(ValidateTag(std::string(256, 't')).ok());
}

}  // namespace
}  // namespace tidemq
