// InflightBudget: the per-connection and broker-wide bounds on bytes in flight, the floor that
// keeps a light connection going when the broker is full, and the wake-up of those refused.
#include "broker/inflight_budget.h"

#include <gtest/gtest.h>

namespace tidemq::broker {
namespace {

using TakeResult = InflightBudget::TakeResult;

InflightLimits Limits() {
  InflightLimits l;
  l.per_connection = 1000;
  l.broker = 2500;
  l.floor = 100;
  return l;
}

TEST(InflightBudgetTest, PerConnectionLimit) {
  InflightBudget b(Limits());
  EXPECT_EQ(b.TryTake(0, 600, nullptr), TakeResult::kTaken);
  EXPECT_EQ(b.Room(600), 400);
  EXPECT_EQ(b.TryTake(600, 401, nullptr), TakeResult::kConnectionFull);
  EXPECT_EQ(b.TryTake(600, 400, nullptr), TakeResult::kTaken);
  EXPECT_EQ(b.used(), 1000);
}

TEST(InflightBudgetTest, AConnectionHoldingNothingMayTakeOneFrameOverItsLimit) {
  InflightBudget b(Limits());
  EXPECT_EQ(b.TryTake(0, 2000, nullptr), TakeResult::kTaken);
  EXPECT_EQ(b.TryTake(0, 600, nullptr), TakeResult::kBrokerFull);  // 2000 + 600 > 2500
}

TEST(InflightBudgetTest, BrokerLimitWithAFloorForLightConnections) {
  InflightBudget b(Limits());
  b.Take(2500);  // others hold everything
  EXPECT_EQ(b.Room(0), 100);
  EXPECT_EQ(b.Room(60), 40);
  EXPECT_LE(b.Room(1000), 0);
  EXPECT_EQ(b.TryTake(0, 100, nullptr), TakeResult::kTaken);   // within the floor
  EXPECT_EQ(b.TryTake(0, 101, nullptr), TakeResult::kBrokerFull);
  EXPECT_EQ(b.TryTake(900, 50, nullptr), TakeResult::kBrokerFull);
}

TEST(InflightBudgetTest, RefusedPartiesAreWokenWhenBytesComeBack) {
  InflightBudget b(Limits());
  b.Take(2500);
  int woken = 0;
  EXPECT_EQ(b.TryTake(0, 500, [&] { ++woken; }), TakeResult::kBrokerFull);
  EXPECT_EQ(b.TryTake(0, 500, [&] { ++woken; }), TakeResult::kBrokerFull);
  // A connection over its own limit waits for its own bytes: nothing is kept.
  EXPECT_EQ(b.TryTake(1000, 500, [&] { woken += 100; }), TakeResult::kConnectionFull);
  EXPECT_EQ(b.TryTake(0, 2000, [&] { woken += 10; }), TakeResult::kBrokerFull);
  b.Give(600);  // room for 600: the two asking 500 are woken, the one asking 2000 is not
  EXPECT_EQ(woken, 2);
  b.Give(10);  // each wake-up runs once
  EXPECT_EQ(woken, 2);
  EXPECT_EQ(b.TryTake(0, 500, nullptr), TakeResult::kTaken);
  b.Give(2390);  // all of it: now 2000 fit
  EXPECT_EQ(woken, 12);
  EXPECT_EQ(b.used(), 0);
}

}  // namespace
}  // namespace tidemq::broker
