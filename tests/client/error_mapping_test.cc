#include "client/src/error_mapping.h"

#include <gtest/gtest.h>

namespace tidemq::client {
namespace {

TEST(ErrorMappingTest, EveryCodeRoundTrips) {
  for (int c = 0; c <= static_cast<int>(Code::kNotWritable); ++c) {
    Code code = static_cast<Code>(c);
    wire::ErrorCode w = ToWireCode(code);
    EXPECT_TRUE(wire::ErrorCode_IsValid(w)) << c;
    EXPECT_EQ(FromWireCode(w), code) << c;
  }
}

TEST(ErrorMappingTest, NamesMatch) {
  // The enums mirror each other by number; spot-check that they mean the same thing.
  EXPECT_EQ(FromWireCode(wire::TOPIC_NOT_FOUND), Code::kTopicNotFound);
  EXPECT_EQ(FromWireCode(wire::RECEIPT_INVALID), Code::kReceiptInvalid);
  EXPECT_EQ(FromWireCode(wire::UNAVAILABLE), Code::kUnavailable);
  EXPECT_EQ(FromWireCode(wire::OUT_OF_RANGE), Code::kOutOfRange);
  EXPECT_EQ(ToWireCode(Code::kUnsupported), wire::UNSUPPORTED);
}

TEST(ErrorMappingTest, UnknownCodeIsInternal) {
  EXPECT_EQ(FromWireCode(99), Code::kInternal);
  EXPECT_EQ(FromWireCode(-1), Code::kInternal);
  wire::Header h;
  h.set_code(static_cast<wire::ErrorCode>(77));
  h.set_error_message("future");
  Status st = StatusFromHeader(h);
  EXPECT_EQ(st.code(), Code::kInternal);
  EXPECT_NE(st.message().find("77"), std::string::npos);
  EXPECT_NE(st.message().find("future"), std::string::npos);
}

TEST(ErrorMappingTest, StatusFromHeader) {
  wire::Header h;
  EXPECT_TRUE(StatusFromHeader(h).ok());
  h.set_code(wire::GROUP_NOT_FOUND);
  h.set_error_message("group 'g' does not exist");
  Status st = StatusFromHeader(h);
  EXPECT_EQ(st.code(), Code::kGroupNotFound);
  EXPECT_EQ(st.message(), "group 'g' does not exist");
  h.clear_error_message();
  EXPECT_FALSE(StatusFromHeader(h).message().empty());
}

}  // namespace
}  // namespace tidemq::client
