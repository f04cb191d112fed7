// LeaseTable and Wakeup (broker/core/lease_table.h): leases kept in deadline order beside
// their queue state, expiry in that order, lease changes, and the one wake-up armed at the
// earliest time. No store, no timer engine, no socket: the clock is a number.
#include "broker/core/lease_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace tidemq::broker {
namespace {

Lease LeaseUntil(int64_t deadline, uint64_t id, uint32_t attempt = 1) {
  return Lease{deadline, id, attempt, LogOffset(static_cast<int64_t>(id) * 100)};
}

TEST(LeaseTableTest, ExpiresInDeadlineOrderAcrossQueues) {
  QueueState a, b;
  LeaseTable t;
  t.Grant(a, 1, LeaseUntil(300, 1));
  t.Grant(b, 7, LeaseUntil(100, 2));
  t.Grant(a, 2, LeaseUntil(200, 3));
  EXPECT_EQ(t.Earliest(), 100);
  EXPECT_EQ(t.size(), 3u);

  QueueState* st = nullptr;
  int64_t off = 0;
  Lease lease;
  EXPECT_FALSE(t.EndFirstDue(99, &st, &off, &lease));
  ASSERT_TRUE(t.EndFirstDue(250, &st, &off, &lease));
  EXPECT_EQ(st, &b);
  EXPECT_EQ(off, 7);
  EXPECT_EQ(lease.lease_id, 2u);
  EXPECT_TRUE(b.inflight.empty());
  ASSERT_TRUE(t.EndFirstDue(250, &st, &off, &lease));
  EXPECT_EQ(st, &a);
  EXPECT_EQ(off, 2);
  EXPECT_FALSE(t.EndFirstDue(250, &st, &off, &lease));  // offset 1 is due at 300
  EXPECT_EQ(t.Earliest(), 300);
  EXPECT_EQ(a.inflight.count(1), 1u);
}

TEST(LeaseTableTest, EndedLeaseNeverExpires) {
  QueueState a;
  LeaseTable t;
  t.Grant(a, 5, LeaseUntil(100, 1, 3));
  Lease ended = t.End(a, a.inflight.find(5));
  EXPECT_EQ(ended.attempt, 3u);
  EXPECT_EQ(ended.log_offset, LogOffset(100));
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.Earliest(), INT64_MAX);
  QueueState* st = nullptr;
  int64_t off = 0;
  Lease lease;
  EXPECT_FALSE(t.EndFirstDue(1000, &st, &off, &lease));
}

TEST(LeaseTableTest, ExtendMovesTheDeadlineAndTheLeaseId) {
  QueueState a;
  LeaseTable t;
  t.Grant(a, 5, LeaseUntil(100, 1));
  t.Extend(a, 5, 500, 9);
  EXPECT_EQ(a.inflight[5].deadline_ms, 500);
  EXPECT_EQ(a.inflight[5].lease_id, 9u);
  EXPECT_EQ(a.inflight[5].attempt, 1u);  // a lease change is not a delivery
  EXPECT_EQ(t.size(), 1u);
  QueueState* st = nullptr;
  int64_t off = 0;
  Lease lease;
  EXPECT_FALSE(t.EndFirstDue(499, &st, &off, &lease));  // the old deadline is gone
  ASSERT_TRUE(t.EndFirstDue(500, &st, &off, &lease));
  EXPECT_EQ(lease.lease_id, 9u);
}

TEST(LeaseTableTest, GrantOverAnExistingLeaseReplacesItsDeadline) {
  QueueState a;
  LeaseTable t;
  t.Grant(a, 5, LeaseUntil(100, 1));
  t.Grant(a, 5, LeaseUntil(400, 2));
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Earliest(), 400);
}

TEST(LeaseTableTest, RemoveQueueForgetsOnlyThatQueue) {
  QueueState a, b;
  LeaseTable t;
  t.Grant(a, 1, LeaseUntil(100, 1));
  t.Grant(b, 1, LeaseUntil(200, 2));
  t.Grant(a, 2, LeaseUntil(300, 3));
  t.RemoveQueue(&a);
  EXPECT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Earliest(), 200);
}

TEST(LeaseTableTest, ADeadlineWithoutItsLeaseIsSkipped) {
  // Cannot happen through the table; if a lease left its queue state some other way, expiry
  // must neither loop nor hand it out.
  QueueState a;
  LeaseTable t;
  t.Grant(a, 1, LeaseUntil(100, 1));
  t.Grant(a, 2, LeaseUntil(200, 2));
  a.inflight.erase(1);
  QueueState* st = nullptr;
  int64_t off = 0;
  Lease lease;
  ASSERT_TRUE(t.EndFirstDue(1000, &st, &off, &lease));
  EXPECT_EQ(off, 2);
  EXPECT_FALSE(t.EndFirstDue(1000, &st, &off, &lease));
  EXPECT_EQ(t.size(), 0u);
}

TEST(WakeupTest, ArmsOnlyWhenEarlierThanWhatIsArmed) {
  Wakeup w;
  std::vector<int64_t> armed;
  w.SetArm([&](int64_t at) { armed.push_back(at); });
  w.Note(500);
  w.Note(700);  // later: the wake-up at 500 comes first anyway
  w.Note(300);
  w.Note(300);
  EXPECT_EQ(armed, (std::vector<int64_t>{500, 300}));
  EXPECT_EQ(w.armed(), 300);
}

TEST(WakeupTest, AfterFiringAnyTimeArmsAgain) {
  Wakeup w;
  std::vector<int64_t> armed;
  w.SetArm([&](int64_t at) { armed.push_back(at); });
  w.Note(300);
  w.Fired();
  EXPECT_EQ(w.armed(), INT64_MAX);
  w.Note(900);
  EXPECT_EQ(armed, (std::vector<int64_t>{300, 900}));
}

}  // namespace
}  // namespace tidemq::broker
