// Retention that deletes messages a consumer group has not consumed is visible (issue 10,
// item 12): through a real in-process broker in virtual time, the periodic retention that
// deletes old segments is followed at once by a count per group and queue (in group status,
// persisted across restarts) and a broker counter; with --retention-keep-unconsumed,
// retention deletes nothing a group still needs.
#include <map>

#include "tests/broker/consumer_test_util.h"

namespace tidemq::testing {
namespace {

constexpr int kMessages = 600;  // of 4000 bytes: three 1 MiB segments

class RetentionVisibilityTest : public ConsumerTest {
 protected:
  void SetUp() override {
    config_.retention_hours = 1;
    config_.retention_keep_unconsumed = KeepUnconsumed();
    ConsumerTest::SetUp();
    c_ = Connect();
    ASSERT_EQ(c_->Call(CreateTopic("t", 2)).header.code(), wire::OK);
    for (int batch = 0; batch < kMessages / 100; ++batch) {
      ASSERT_EQ(Send(*c_, "t", std::vector<Msg>(100, Msg{std::string(4000, 'x')})).header.code(),
                wire::OK);
    }
    ASSERT_GE(StatOf(*c_, "log_segments"), 3);
    // The group consumes a little of each queue, then stops.
    auto got = Receive(*c_, "g", "t", 20, 0);
    ASSERT_EQ(got.size(), 20u);
    for (const Received& r : got) ASSERT_EQ(Ack(*c_, "g", "t", r.meta.receipt_handle()), wire::OK);
  }
  void TearDown() override {
    c_.reset();
    ConsumerTest::TearDown();
  }
  virtual bool KeepUnconsumed() const { return false; }

  std::map<uint32_t, int64_t> Committed() {
    std::map<uint32_t, int64_t> out;
    const wire::GroupInfo info = DescribeGroupOf(*c_, "g");
    for (const auto& q : info.queues()) out[q.queue_id()] = q.committed_offset();
    return out;
  }

  // Moves the clock past the retention period and waits until the next retention run is
  // over (a broker without the retention_runs counter: until segments went).
  void AgeOutAndRunRetention() {
    const auto before = StatsOf(*c_);
    clock_.AdvanceMs(3600'000 + 60'000);
    ASSERT_TRUE(WaitUntil([&] {
      const auto now = StatsOf(*c_);
      if (!now.count("retention_runs")) return now.at("log_segments") < before.at("log_segments");
      return now.at("retention_runs") > before.at("retention_runs");
    }));
  }

  std::unique_ptr<WireClient> c_;
};

TEST_F(RetentionVisibilityTest, UnconsumedMessagesDeletedByRetentionAreCountedPerGroupAndQueue) {
  const std::map<uint32_t, int64_t> committed = Committed();
  ASSERT_EQ(committed.size(), 2u);
  AgeOutAndRunRetention();
  ASSERT_EQ(StatOf(*c_, "log_segments"), 1);

  // Counted when retention ran, not at the group's next receive.
  wire::TopicInfo topic = DescribeTopicOf(*c_, "t");
  wire::GroupInfo info = DescribeGroupOf(*c_, "g");
  int64_t total = 0;
  ASSERT_EQ(info.queues_size(), 2);
  for (const auto& q : info.queues()) {
    const int64_t min = topic.queues(q.queue_id()).min_offset();
    const int64_t lost = min - committed.at(q.queue_id());
    ASSERT_GT(lost, 0) << "queue " << q.queue_id();
    EXPECT_EQ(q.lost_to_retention(), lost) << "queue " << q.queue_id();
    EXPECT_EQ(q.committed_offset(), min);
    total += lost;
  }
  EXPECT_EQ(info.lost_to_retention(), total);
  EXPECT_EQ(StatOf(*c_, "messages_lost_to_retention"), total);

  // The count is persisted with the offsets; the group goes on with what is left.
  c_.reset();
  RestartBroker();
  c_ = Connect();
  EXPECT_EQ(DescribeGroupOf(*c_, "g").lost_to_retention(), total);
  EXPECT_EQ(static_cast<int64_t>(Drain(*c_, "g", "t").size()), kMessages - 20 - total);
  EXPECT_EQ(DescribeGroupOf(*c_, "g").lost_to_retention(), total);
}

class KeepUnconsumedTest : public RetentionVisibilityTest {
 protected:
  bool KeepUnconsumed() const override { return true; }
};

TEST_F(KeepUnconsumedTest, RetentionKeepsWhatAGroupHasNotConsumed) {
  AgeOutAndRunRetention();
  EXPECT_GE(StatOf(*c_, "log_segments"), 3) << "retention deleted unconsumed messages";
  EXPECT_EQ(DescribeGroupOf(*c_, "g").lost_to_retention(), 0);
  EXPECT_EQ(static_cast<int64_t>(Drain(*c_, "g", "t").size()), kMessages - 20);

  // Once the group has consumed everything, retention goes ahead.
  AgeOutAndRunRetention();
  EXPECT_EQ(StatOf(*c_, "log_segments"), 1);
  EXPECT_EQ(DescribeGroupOf(*c_, "g").lost_to_retention(), 0);
  EXPECT_EQ(StatOf(*c_, "messages_lost_to_retention"), 0);
}

}  // namespace
}  // namespace tidemq::testing
