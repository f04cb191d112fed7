// Tag filters of a receive (broker/core/tag_filter.h): parsing, the hash pre-filter on queue
// entries and the exact match on records.
#include "broker/core/tag_filter.h"

#include <gtest/gtest.h>

#include "store/record.h"

namespace tidemq::broker {
namespace {

TEST(TagFilterTest, EmptyAndStarTakeEverything) {
  for (const char* expr : {"", "*"}) {
    auto f = TagFilter::Parse(expr);
    ASSERT_TRUE(f.ok()) << expr;
    EXPECT_TRUE(f->all());
    EXPECT_TRUE(f->MayMatchHash(store::TagHash("x")));
    EXPECT_TRUE(f->Matches(""));
    EXPECT_TRUE(f->Matches("anything"));
  }
}

TEST(TagFilterTest, AlternativesWithSpaces) {
  auto f = TagFilter::Parse("a || b||c ");
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->tags(), (std::set<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(f->Matches("b"));
  EXPECT_FALSE(f->Matches("d"));
  EXPECT_FALSE(f->Matches(""));
  EXPECT_TRUE(f->MayMatchHash(store::TagHash("c")));
  EXPECT_FALSE(f->MayMatchHash(store::TagHash("d")));
}

TEST(TagFilterTest, EmptyOrStarAlternativeIsRefused) {
  for (const char* expr : {"a||", "||a", "a||*", "a|| ||b"}) {
    auto f = TagFilter::Parse(expr);
    ASSERT_FALSE(f.ok()) << expr;
    EXPECT_EQ(f.status().code(), Code::kInvalidArgument) << expr;
  }
}

TEST(TagFilterTest, ParseTagFilterGivesTheTags) {
  auto tags = ParseTagFilter("x||y");
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(*tags, (std::set<std::string>{"x", "y"}));
}

}  // namespace
}  // namespace tidemq::broker
