#include "broker/core/receipt.h"

#include <gtest/gtest.h>

namespace tidemq::broker {
namespace {

TEST(ReceiptTest, RoundTrip) {
  Receipt r{17, "orders", 3, 123456789, 42, "host-1@77"};
  const std::string encoded = EncodeReceipt(r);
  EXPECT_EQ(encoded, "2|17|orders|3|123456789|42|host-1@77");
  auto back = DecodeReceipt(encoded);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->epoch, 17u);
  EXPECT_EQ(back->topic, "orders");
  EXPECT_EQ(back->queue_id, 3u);
  EXPECT_EQ(back->queue_offset, 123456789);
  EXPECT_EQ(back->lease_id, 42u);
  EXPECT_EQ(back->client_id, "host-1@77");
}

TEST(ReceiptTest, EmptyClientRoundTrips) {
  auto back = DecodeReceipt(EncodeReceipt(Receipt{1, "%RETRY%g", 0, 0, 1, ""}));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->topic, "%RETRY%g");
  EXPECT_EQ(back->client_id, "");
}

TEST(ReceiptTest, MalformedIsRejected) {
  for (const char* bad :
       {"", "2", "3|1|t|0|0|1|", "2|1||0|0|1|", "2|1|t|x|0|1|", "2|1|t|0|-5|1|", "2|1|t|0|0|",
        "2|1|t|0|0|1", "2|1|t|99999999999|0|1|", "2|-1|t|0|0|1|", "2|x|t|0|0|1|", "2||t|0|0|1|"}) {
    auto r = DecodeReceipt(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kReceiptInvalid);
      EXPECT_EQ(r.status().message(), "malformed receipt handle") << bad;
    }
  }
}

TEST(ReceiptTest, VersionOneHandlesAreFromAnEarlierRun) {
  // What brokers before the start epoch gave out: lease ids restarted at 1 with every run.
  auto r = DecodeReceipt("1|orders|0|5|1|");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kReceiptInvalid);
  EXPECT_NE(r.status().message().find("earlier broker run"), std::string::npos);
}

TEST(ReceiptTest, ClientIds) {
  EXPECT_TRUE(ValidateClientId("host@1234#7").ok());
  EXPECT_FALSE(ValidateClientId("").ok());
  EXPECT_FALSE(ValidateClientId("a|b").ok());
  EXPECT_FALSE(ValidateClientId("a/b").ok());
  EXPECT_FALSE(ValidateClientId("a b").ok());
}

}  // namespace
}  // namespace tidemq::broker
