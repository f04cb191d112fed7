// QueueState (broker/core/queue_state.h): acked-prefix tracking, holes, what retention took,
// delivery counts. Plain data under its group's mutex: no store, no thread, no socket.
#include "broker/core/queue_state.h"

#include <gtest/gtest.h>

namespace tidemq::broker {
namespace {

QueueState At(int64_t committed) {
  QueueState st;
  st.key = QueueKey{"orders", 0, ""};
  st.committed = st.next = committed;
  return st;
}

TEST(QueueStateTest, InOrderAcksMoveTheCommittedOffset) {
  QueueState st = At(10);
  st.MarkAcked(10);
  st.MarkAcked(11);
  EXPECT_EQ(st.committed, 12);
  EXPECT_TRUE(st.acked.empty());
  EXPECT_TRUE(st.dirty);
}

TEST(QueueStateTest, OutOfOrderAcksWaitForTheGapThenCommitTogether) {
  QueueState st = At(0);
  st.MarkAcked(2);
  st.MarkAcked(1);
  EXPECT_EQ(st.committed, 0);  // offset 0 is still in a consumer's hands
  EXPECT_EQ(st.acked, (std::set<int64_t>{1, 2}));
  EXPECT_TRUE(st.IsAcked(1));
  EXPECT_FALSE(st.IsAcked(0));
  EXPECT_FALSE(st.IsAcked(3));
  st.MarkAcked(0);
  EXPECT_EQ(st.committed, 3);
  EXPECT_TRUE(st.acked.empty());
}

TEST(QueueStateTest, AckBelowCommittedIsIgnored) {
  QueueState st = At(5);
  st.MarkAcked(3);
  EXPECT_EQ(st.committed, 5);
  EXPECT_TRUE(st.acked.empty());
  EXPECT_TRUE(st.IsAcked(3));
}

TEST(QueueStateTest, HoleAtTheCommittedOffsetIsSettledAtOnce) {
  QueueState st = At(4);
  st.acked = {9, 12};
  st.MarkRangeAcked(4, 9);  // no message was ever stored at 4..8
  EXPECT_EQ(st.committed, 10);
  EXPECT_EQ(st.acked, (std::set<int64_t>{12}));
}

TEST(QueueStateTest, HoleAboveAGapIsRememberedUntilTheGapIsAcked) {
  QueueState st = At(0);
  st.MarkRangeAcked(2, 5);
  EXPECT_EQ(st.committed, 0);
  EXPECT_EQ(st.acked, (std::set<int64_t>{2, 3, 4}));
  st.MarkAcked(1);
  st.MarkAcked(0);
  EXPECT_EQ(st.committed, 5);
  EXPECT_TRUE(st.acked.empty());
}

TEST(QueueStateTest, RangePartlyBelowCommittedStartsAtCommitted) {
  QueueState st = At(6);
  st.MarkRangeAcked(2, 8);
  EXPECT_EQ(st.committed, 8);
  st.MarkRangeAcked(3, 5);  // entirely settled already
  EXPECT_EQ(st.committed, 8);
  EXPECT_TRUE(st.acked.empty());
}

TEST(QueueStateTest, SkipToCountsOnlyWhatNobodyHeld) {
  // 0..9 deleted by retention. 2 and 3 were acked, 4 is leased, 5 is being moved, 6 waits for
  // an in-place retry (not in anyone's hands: lost), the rest were never delivered.
  QueueState st = At(0);
  st.next = 7;
  st.acked = {2, 3};
  st.inflight[4] = Lease{100, 1, 1, LogOffset(40)};
  st.moving.insert(5);
  st.retry[6] = 50;
  st.retry[12] = 60;
  st.attempts = {{4, 1}, {5, 2}, {6, 1}, {12, 1}};
  EXPECT_EQ(st.SkipTo(10), 10 - 2 - 1 - 1);
  EXPECT_EQ(st.committed, 10);
  EXPECT_EQ(st.next, 10);
  EXPECT_TRUE(st.acked.empty());
  // A lease and a move below the new start stay: the consumer may still ack it.
  EXPECT_EQ(st.inflight.count(4), 1u);
  EXPECT_EQ(st.moving.count(5), 1u);
  EXPECT_EQ(st.retry, (std::map<int64_t, int64_t>{{12, 60}}));
  EXPECT_EQ(st.attempts, (std::unordered_map<int64_t, uint32_t>{{4, 1}, {5, 2}, {12, 1}}));
}

TEST(QueueStateTest, SkipToBelowCommittedOnlyRaisesNext) {
  QueueState st = At(20);
  st.next = 15;
  EXPECT_EQ(st.SkipTo(18), 0);
  EXPECT_EQ(st.committed, 20);
  EXPECT_EQ(st.next, 18);
}

TEST(QueueStateTest, SkipToNeverCountsBelowZero) {
  // Acks above the new start do not make the count negative.
  QueueState st = At(0);
  st.acked = {1, 2, 3};
  st.inflight[0] = Lease{};
  EXPECT_EQ(st.SkipTo(1), 0);
  EXPECT_EQ(st.committed, 4);
}

TEST(QueueStateTest, DeliveryCountsGoOnAcrossARestart) {
  QueueState st = At(10);
  st.delivered_before = 12;  // 10 and 11 were delivered before the restart
  st.dirty = false;
  EXPECT_EQ(st.CountDelivery(10), 2u);
  EXPECT_EQ(st.CountDelivery(10), 3u);
  EXPECT_EQ(st.CountDelivery(12), 1u);
  EXPECT_TRUE(st.dirty);
  st.attempts[11] = 4;  // a stored count wins over the restart's one
  EXPECT_EQ(st.CountDelivery(11), 5u);
}

TEST(QueueStateTest, ReleaseGivesTheCountBack) {
  QueueState st = At(0);
  EXPECT_EQ(st.CountDelivery(0), 1u);
  st.UncountDelivery(0);
  EXPECT_EQ(st.attempts[0], 0u);
  st.UncountDelivery(0);  // never below zero
  EXPECT_EQ(st.attempts[0], 0u);
  st.UncountDelivery(7);  // unknown: nothing
  EXPECT_EQ(st.attempts.count(7), 0u);
  EXPECT_EQ(st.CountDelivery(0), 1u);
}

}  // namespace
}  // namespace tidemq::broker
