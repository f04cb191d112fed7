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
  batch.AddMessageId("id-1", LogOffset(100));
  batch.AddKey("orders", "k", LogOffset(100));
  EXPECT_EQ(batch.first_offset(), LogOffset(100));
  ASSERT_TRUE((*index)->Write(&batch, false).ok());
  ASSERT_TRUE((*index)->PutMeta("topic/orders", "{}", false).ok());
  ASSERT_TRUE((*index)->PutCheckpoint(kDispatchCheckpoint, LogOffset(200), false).ok());
  EXPECT_FALSE((*index)->write_failing());

  ASSERT_TRUE((*index)->Reopen().ok());
  EXPECT_EQ((*index)->LookupMessageId("id-1", 10)->size(), 1u);
  EXPECT_EQ((*index)->LookupKey("orders", "k", 10)->front(), LogOffset(100));
  EXPECT_EQ((*index)->GetMeta("topic/orders")->value_or(""), "{}");
  EXPECT_EQ(*(*index)->GetCheckpoint(kDispatchCheckpoint), LogOffset(200));
  // And it takes writes again.
  IndexBatch more;
  more.AddMessageId("id-2", LogOffset(300));
  ASSERT_TRUE((*index)->Write(&more, false).ok());
  EXPECT_EQ((*index)->LookupMessageId("id-2", 10)->size(), 1u);
}

TEST(IndexDbTest, BatchesAppendInOrderAndKeepTheirFirstOffset) {
  testing::TempDir dir;
  bool existed;
  auto index = IndexDb::Open(dir.path() + "/index", &existed);
  ASSERT_TRUE(index.ok());
  IndexBatch failed, later;
  failed.AddMessageId("a", LogOffset(500));
  failed.SetCheckpoint(kIndexEndCheckpoint, LogOffset(600));
  later.AddMessageId("b", LogOffset(700));
  later.SetCheckpoint(kIndexEndCheckpoint, LogOffset(800));
  failed.Append(later);
  EXPECT_EQ(failed.first_offset(), LogOffset(500));
  EXPECT_EQ(failed.count(), 4u);
  ASSERT_TRUE((*index)->Write(&failed, false).ok());
  EXPECT_EQ(*(*index)->GetCheckpoint(kIndexEndCheckpoint), LogOffset(800));  // the later wins
  EXPECT_EQ((*index)->LookupMessageId("a", 10)->size(), 1u);
  EXPECT_EQ((*index)->LookupMessageId("b", 10)->size(), 1u);
}

}  // namespace
}  // namespace tidemq::store
