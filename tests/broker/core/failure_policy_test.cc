// The failure policy (broker/core/failure_policy.h): retry copy, retry in place or dead
// letter, and the delay, for each kind of group. A pure function: no store, no socket.
#include "broker/core/failure_policy.h"

#include <gtest/gtest.h>

namespace tidemq::broker {
namespace {

GroupConfig Group(bool fifo = false, bool broadcast = false, bool fifo_block = false) {
  GroupConfig c;
  c.name = "g";
  c.fifo = fifo;
  c.broadcast = broadcast;
  c.fifo_block = fifo_block;
  c.max_attempts = 3;
  c.retry = *RetryPolicy::Parse("1s,5s,30s");
  return c;
}

TEST(FailurePolicyTest, ClusteringGroupRetriesThroughACopyAfterItsBackOff) {
  auto d = DecideFailure(Group(), 1, 0);
  EXPECT_EQ(d.kind, FailureDecision::kRetryCopy);
  EXPECT_EQ(d.delay_ms, 1000);
  d = DecideFailure(Group(), 2, 0);
  EXPECT_EQ(d.kind, FailureDecision::kRetryCopy);
  EXPECT_EQ(d.delay_ms, 5000);
}

TEST(FailurePolicyTest, NackDelayWinsOverTheBackOff) {
  auto d = DecideFailure(Group(), 1, 250);
  EXPECT_EQ(d.kind, FailureDecision::kRetryCopy);
  EXPECT_EQ(d.delay_ms, 250);
}

TEST(FailurePolicyTest, LapsedLeaseIsDueAtOnce) {
  auto d = DecideFailure(Group(), 2, kDueNow);
  EXPECT_EQ(d.kind, FailureDecision::kRetryCopy);
  EXPECT_EQ(d.delay_ms, 0);
}

TEST(FailurePolicyTest, MaxAttemptsDeadLetters) {
  EXPECT_EQ(DecideFailure(Group(), 2, 0).kind, FailureDecision::kRetryCopy);
  auto d = DecideFailure(Group(), 3, 0);
  EXPECT_EQ(d.kind, FailureDecision::kDeadLetter);
  EXPECT_EQ(d.delay_ms, 0);
  EXPECT_EQ(DecideFailure(Group(), 9, kDueNow).kind, FailureDecision::kDeadLetter);
  EXPECT_EQ(DecideFailure(Group(/*fifo=*/true), 3, 0).kind, FailureDecision::kDeadLetter);
  EXPECT_EQ(DecideFailure(Group(false, /*broadcast=*/true), 3, 0).kind,
            FailureDecision::kDeadLetter);
}

TEST(FailurePolicyTest, FifoAndBroadcastingRetryInPlace) {
  auto d = DecideFailure(Group(/*fifo=*/true), 1, 0);
  EXPECT_EQ(d.kind, FailureDecision::kRetryInPlace);
  EXPECT_EQ(d.delay_ms, 1000);
  d = DecideFailure(Group(false, /*broadcast=*/true), 2, 700);
  EXPECT_EQ(d.kind, FailureDecision::kRetryInPlace);
  EXPECT_EQ(d.delay_ms, 700);
}

TEST(FailurePolicyTest, FifoBlockKeepsRetryingPastMaxAttempts) {
  auto d = DecideFailure(Group(/*fifo=*/true, false, /*fifo_block=*/true), 10, 0);
  EXPECT_EQ(d.kind, FailureDecision::kRetryInPlace);
  EXPECT_EQ(d.delay_ms, 30'000);  // the last delay repeats
  // fifo_block means nothing to a group that is not FIFO.
  EXPECT_EQ(DecideFailure(Group(false, false, /*fifo_block=*/true), 3, 0).kind,
            FailureDecision::kDeadLetter);
}

}  // namespace
}  // namespace tidemq::broker
