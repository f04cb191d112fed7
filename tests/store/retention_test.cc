#include <gtest/gtest.h>

#include <atomic>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::AppendOne;
using testing::MakeMessage;
using testing::SmallOptions;
using testing::TempDir;

constexpr int64_t kHour = 3600 * 1000;

class RetentionTest : public ::testing::Test {
 protected:
  StoreOptions Options() {
    StoreOptions o = SmallOptions(dir_.path());
    o.retention_ms = kHour;
    o.clock = &clock_;
    return o;
  }
  // Appends n messages of ~300 bytes to ("t", 0): about 12 per 4 KiB segment.
  std::vector<AppendResult> Fill(Store* store, int n) {
    std::vector<AppendResult> out;
    for (int i = 0; i < n; ++i)
      out.push_back(AppendOne(store, MakeMessage("t", 0, std::string(300, 'x'))));
    return out;
  }

  TempDir dir_;
  ManualClock clock_;
};

TEST_F(RetentionTest, DeletesExpiredSegmentsButKeepsGuardedAndActiveOnes) {
  auto store = Store::Open(Options());
  ASSERT_TRUE(store.ok());
  std::vector<AppendResult> old = Fill(store->get(), 60);
  ASSERT_GE((*store)->Stats().segments, 5);

  // Nothing is old enough yet.
  EXPECT_EQ(*(*store)->RunRetention(), 0);

  clock_.AdvanceMs(2 * kHour);
  std::vector<AppendResult> fresh = Fill(store->get(), 3);

  // A guard needing an old record holds back every segment from the one holding it.
  std::atomic<int64_t> guard{old[30].log_offset.value()};
  (*store)->AddRetentionGuard([&guard] { return LogOffset(guard.load()); });
  (*store)->AddRetentionGuard([] { return kNoLogOffset; });  // needs nothing
  auto deleted = (*store)->RunRetention();
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_GT(*deleted, 0);
  StoreStats stats = (*store)->Stats();
  EXPECT_LE(stats.min_log_offset, old[30].log_offset.value());
  EXPECT_GT(stats.min_log_offset, 0);
  EXPECT_EQ((*store)->Read(old[0].log_offset).status().code(), Code::kNotFound);
  EXPECT_TRUE((*store)->Read(old[30].log_offset).ok());

  // The consume queue follows the log: its first entry is the first surviving record.
  int64_t min_qo = (*store)->MinQueueOffset("t", 0);
  EXPECT_GT(min_qo, 0);
  auto entries = (*store)->ReadQueue("t", 0, 0, 1);
  ASSERT_EQ(entries->size(), 1u);
  EXPECT_EQ(entries->front().queue_offset, min_qo);
  EXPECT_EQ(entries->front().log_offset.value(), stats.min_log_offset);

  // Released guard: every expired segment goes, but never the active one.
  guard = kNoLogOffset.value();
  EXPECT_GT(*(*store)->RunRetention(), 0);
  stats = (*store)->Stats();
  EXPECT_GE(stats.segments, 1);
  EXPECT_TRUE((*store)->Read(fresh.back().log_offset).ok());
  for (const auto& r : fresh) {
    auto rec = (*store)->Read(r.log_offset);
    if (!rec.ok()) {
      EXPECT_EQ(rec.status().code(), Code::kNotFound);
    }
  }
  EXPECT_EQ((*store)->MaxQueueOffset("t", 0), 63);
  EXPECT_EQ(AppendOne(store->get(), MakeMessage("t", 0, "next")).queue_offset, 63);
}

TEST_F(RetentionTest, DatesSegmentsWrittenBeforeARestart) {
  {
    auto store = Store::Open(Options());
    ASSERT_TRUE(store.ok());
    Fill(store->get(), 40);
    clock_.AdvanceMs(2 * kHour);
    Fill(store->get(), 30);  // newer records fill the later segments
  }
  auto store = Store::Open(Options());
  ASSERT_TRUE(store.ok());
  int64_t segments = (*store)->Stats().segments;
  auto deleted = (*store)->RunRetention();
  ASSERT_TRUE(deleted.ok());
  EXPECT_GT(*deleted, 0);
  EXPECT_LT(*deleted, segments - 1);  // the segments holding new records stay
  EXPECT_GT((*store)->MinQueueOffset("t", 0), 0);
  EXPECT_LE((*store)->MinQueueOffset("t", 0), 40);
}

TEST_F(RetentionTest, DiskWatermarkDeletesWithoutExpiry) {
  StoreOptions options = Options();
  options.disk_high_watermark = 0.0;  // any usage is too much
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  Fill(store->get(), 40);
  int64_t segments = (*store)->Stats().segments;
  ASSERT_GT(segments, 2);
  EXPECT_EQ(*(*store)->RunRetention(), segments - 1);
  EXPECT_EQ((*store)->Stats().segments, 1);
  auto entries = (*store)->ReadQueue("t", 0, 0, 100);
  ASSERT_TRUE(entries.ok());
  for (const auto& e : *entries) EXPECT_TRUE((*store)->Read(e.log_offset).ok());
}

}  // namespace
}  // namespace tidemq::store
