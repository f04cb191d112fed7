#include "store/index_db.h"

#include <gtest/gtest.h>

#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

// After a failed memtable flush LevelDB refuses every write until it is reopened; the store
// reopens its index once there is room again. A reopen keeps everything written.
TEST(IndexDbTest, ReopenKeepsEverything) {
  testing::TempDir dir;
  bool existed = true;
  auto index = IndexDb::Open(dir.path() + "/index", &existed);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_FALSE(existed);
  IndexBatch batch;
  batch.AddMessageId(LogOffset(0), "id-1", LogOffset(100));
  batch.AddKey(LogOffset(0), "orders", "k", LogOffset(100));
  batch.PutMeta("topic/orders", "{}", LogOffset(100));
  EXPECT_EQ(batch.first_offset(), LogOffset(100));
  ASSERT_TRUE((*index)->Write(&batch, false).ok());
  ASSERT_TRUE((*index)->PutCheckpoint(kDispatchCheckpoint, LogOffset(200), false).ok());
  EXPECT_FALSE((*index)->write_failing());

  ASSERT_TRUE((*index)->Reopen().ok());
  const std::vector<LogOffset> segments{LogOffset(0)};
  EXPECT_EQ((*index)->LookupMessageId(segments, "id-1", 10)->size(), 1u);
  EXPECT_EQ((*index)->LookupKey(segments, "orders", "k", 10)->front(), LogOffset(100));
  EXPECT_EQ((*index)->GetMeta("topic/orders")->value_or(""), "{}");
  EXPECT_EQ(*(*index)->GetCheckpoint(kDispatchCheckpoint), LogOffset(200));
  // And it takes writes again.
  IndexBatch more;
  more.AddMessageId(LogOffset(0), "id-2", LogOffset(300));
  ASSERT_TRUE((*index)->Write(&more, false).ok());
  EXPECT_EQ((*index)->LookupMessageId(segments, "id-2", 10)->size(), 1u);
}

TEST(IndexDbTest, BatchesAppendInOrderAndKeepTheirFirstOffset) {
  testing::TempDir dir;
  bool existed;
  auto index = IndexDb::Open(dir.path() + "/index", &existed);
  ASSERT_TRUE(index.ok());
  IndexBatch failed, later;
  failed.AddMessageId(LogOffset(0), "a", LogOffset(500));
  failed.SetCheckpoint(kIndexEndCheckpoint, LogOffset(600));
  later.AddMessageId(LogOffset(0), "b", LogOffset(700));
  later.SetCheckpoint(kIndexEndCheckpoint, LogOffset(800));
  failed.Append(later);
  EXPECT_EQ(failed.first_offset(), LogOffset(500));
  EXPECT_EQ(failed.count(), 4u);
  ASSERT_TRUE((*index)->Write(&failed, false).ok());
  EXPECT_EQ(*(*index)->GetCheckpoint(kIndexEndCheckpoint), LogOffset(800));  // the later wins
  EXPECT_EQ((*index)->LookupMessageId({LogOffset(0)}, "a", 10)->size(), 1u);
  EXPECT_EQ((*index)->LookupMessageId({LogOffset(0)}, "b", 10)->size(), 1u);
}

// Entries are bucketed by segment: lookups walk the buckets newest first, and dropping the
// buckets below a log start removes exactly those segments' entries.
TEST(IndexDbTest, BucketsBySegmentAndDropsThemWithTheirSegments) {
  testing::TempDir dir;
  bool existed;
  auto index = IndexDb::Open(dir.path() + "/index", &existed);
  ASSERT_TRUE(index.ok());
  IndexBatch batch;
  for (int64_t seg : {0, 1000, 2000}) {
    for (int64_t i = 0; i < 3; ++i) {
      batch.AddKey(LogOffset(seg), "orders", "k", LogOffset(seg + i * 100));
      batch.AddMessageId(LogOffset(seg), "id-" + std::to_string(seg + i), LogOffset(seg + i));
    }
  }
  ASSERT_TRUE((*index)->Write(&batch, false).ok());
  const std::vector<LogOffset> all{LogOffset(2000), LogOffset(1000), LogOffset(0)};
  auto keys = (*index)->LookupKey(all, "orders", "k", 100);
  ASSERT_TRUE(keys.ok());
  std::vector<LogOffset> expected;
  for (int64_t seg : {2000, 1000, 0}) {
    for (int64_t i = 2; i >= 0; --i) expected.push_back(LogOffset(seg + i * 100));
  }
  EXPECT_EQ(*keys, expected);
  EXPECT_EQ((*index)->LookupKey(all, "orders", "k", 4)->size(), 4u);
  EXPECT_TRUE((*index)->LookupKey(all, "orders", "", 100)->empty());

  auto dropped = (*index)->DropSegmentsBelow(LogOffset(2000));
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, 12);  // 3 keys + 3 ids in each of two segments
  EXPECT_EQ((*index)->LookupKey(all, "orders", "k", 100)->size(), 3u);
  EXPECT_TRUE((*index)->LookupMessageId(all, "id-1000", 10)->empty());
  EXPECT_EQ((*index)->LookupMessageId(all, "id-2001", 10)->size(), 1u);
  EXPECT_EQ(*(*index)->DropSegmentsBelow(LogOffset(2000)), 0);
}

}  // namespace
}  // namespace tidemq::store
