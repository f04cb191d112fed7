#include <gtest/gtest.h>

#include <mutex>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::AppendOne;
using testing::MakeMessage;
using testing::SmallOptions;
using testing::TempDir;

class RecordingObserver : public Observer {
 public:
  struct Seen {
    LogOffset offset;
    std::string body;
    bool replay;
    int batch_ends_before;  // OnBatchEnd calls seen before this record
  };
  explicit RecordingObserver(LogOffset checkpoint) : checkpoint_(checkpoint) {}
  LogOffset Checkpoint() const override { return checkpoint_; }
  void OnRecord(const Record& record, LogOffset offset, bool replay) override {
    std::lock_guard lock(mu_);
    seen_.push_back({offset, record.body, replay, batch_ends_});
  }
  void OnBatchEnd(bool /*replay*/) override {
    std::lock_guard lock(mu_);
    ++batch_ends_;
  }
  int batch_ends() const {
    std::lock_guard lock(mu_);
    return batch_ends_;
  }
  std::vector<Seen> seen() const {
    std::lock_guard lock(mu_);
    return seen_;
  }

 private:
  LogOffset checkpoint_;
  mutable std::mutex mu_;
  std::vector<Seen> seen_;
  int batch_ends_ = 0;
};

TEST(ObserverTest, SeesLiveRecordsInOrderAndReplaysFromItsCheckpoint) {
  TempDir dir;
  std::vector<AppendResult> written;
  {
    RecordingObserver live(kNoLogOffset);
    auto store = Store::Open(SmallOptions(dir.path()), {&live});
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 40; ++i) {
      Record r = MakeMessage("t", i % 3, "m" + std::to_string(i));
      if (i % 4 == 0) r.type = RecordType::kScheduled;  // observers see every type
      written.push_back(AppendOne(store->get(), std::move(r)));
    }
    auto seen = live.seen();
    ASSERT_EQ(seen.size(), 40u);
    for (int i = 0; i < 40; ++i) {
      EXPECT_EQ(seen[i].offset, written[i].log_offset);
      EXPECT_EQ(seen[i].body, "m" + std::to_string(i));
      EXPECT_FALSE(seen[i].replay);
      // One record per AppendOne: its batch ended before the append returned.
      EXPECT_EQ(seen[i].batch_ends_before, i);
    }
    EXPECT_EQ(live.batch_ends(), 40);
  }
  RecordingObserver behind(written[25].log_offset);
  RecordingObserver fresh(kNoLogOffset);
  auto store = Store::Open(SmallOptions(dir.path()), {&behind, &fresh});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto replayed = behind.seen();
  ASSERT_EQ(replayed.size(), 15u);
  for (int i = 0; i < 15; ++i) {
    EXPECT_EQ(replayed[i].offset, written[25 + i].log_offset);
    EXPECT_EQ(replayed[i].body, "m" + std::to_string(25 + i));
    EXPECT_TRUE(replayed[i].replay);
  }
  EXPECT_GE(behind.batch_ends(), 1);  // the replay ended with a batch end
  EXPECT_TRUE(fresh.seen().empty());  // no checkpoint: live records only
  AppendResult next = AppendOne(store->get(), MakeMessage("t", 0, "live"));
  ASSERT_EQ(behind.seen().size(), 16u);
  EXPECT_FALSE(behind.seen().back().replay);
  EXPECT_EQ(behind.seen().back().offset, next.log_offset);
  ASSERT_EQ(fresh.seen().size(), 1u);
  EXPECT_EQ(behind.seen().back().batch_ends_before, behind.batch_ends() - 1);
  // Replay for an observer must not duplicate queue entries: queue 0 got i = 0, 3, ..., 39
  // except the scheduled ones (i % 12 == 0), then "live".
  EXPECT_EQ((*store)->MaxQueueOffset("t", 0), 14 - 4 + 1);
  EXPECT_EQ(next.queue_offset, 10);
}

}  // namespace
}  // namespace tidemq::store

#include "store/staged_batch.h"

namespace tidemq::store {
namespace {

TEST(StagedBatchTest, TakesEachBatchOnceAndCountsRecordsUntilTheCheckpoint) {
  StagedBatch<int> staged;
  EXPECT_FALSE(staged.Take(3).has_value());  // no record since the last take
  staged.Skip(LogOffset(10));
  staged.Add(LogOffset(20), 7);
  staged.Add(LogOffset(30), 8);
  auto b = staged.Take(3);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->end, LogOffset(30));
  EXPECT_EQ(b->ops, (std::vector<int>{7, 8}));
  EXPECT_FALSE(b->persist_checkpoint);  // applied with its ops
  EXPECT_FALSE(staged.Take(3).has_value());
  // Batches with nothing for the observer: the checkpoint is due every third record.
  staged.Skip(LogOffset(40));
  staged.Skip(LogOffset(50));
  b = staged.Take(3);
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(b->ops.empty());
  EXPECT_FALSE(b->persist_checkpoint);
  staged.Skip(LogOffset(60));
  b = staged.Take(3);
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->end, LogOffset(60));
  EXPECT_TRUE(b->persist_checkpoint);
  staged.Skip(LogOffset(70));
  EXPECT_FALSE(staged.Take(3)->persist_checkpoint);  // the count started again
}

}  // namespace
}  // namespace tidemq::store
