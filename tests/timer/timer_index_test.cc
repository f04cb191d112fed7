#include "timer/timer_index.h"

#include <gtest/gtest.h>
#include <leveldb/db.h>

#include "common/coding.h"
#include "tests/store/test_util.h"

namespace tidemq::timer {
namespace {

using store::testing::TempDir;

IndexEntry Entry(int64_t due, int64_t offset, const std::string& id) {
  return IndexEntry{due, LogOffset(offset), "orders", 7, id};
}

TimerOp Op(TimerOp::Kind kind, IndexEntry e) { return TimerOp{kind, std::move(e)}; }
TimerOp Op(TimerOp::Kind kind, int64_t offset) {
  IndexEntry e;
  e.offset = LogOffset(offset);
  return TimerOp{kind, std::move(e)};
}

TEST(TimerIndexTest, KeysSortByDueThenOffsetAndValuesRoundTrip) {
  EXPECT_LT(DueIndexKey({5, 900}), DueIndexKey({6, 1}));
  EXPECT_LT(DueIndexKey({6, 1}), DueIndexKey({6, 2}));
  EXPECT_LT(DueIndexKey({255, 0}), DueIndexKey({256, 0}));
  IndexEntry e = Entry(0, 0, std::string("id-\0x", 5));
  IndexEntry back;
  ASSERT_TRUE(DecodeIndexValue(EncodeIndexValue(e), &back).ok());
  EXPECT_EQ(back.topic, e.topic);
  EXPECT_EQ(back.queue_id, e.queue_id);
  EXPECT_EQ(back.message_id, e.message_id);
  std::string v = EncodeIndexValue(e);
  EXPECT_EQ(DecodeIndexValue(v.substr(0, v.size() - 1), &back).code(), Code::kCorruption);
  EXPECT_EQ(DecodeIndexValue(v + "x", &back).code(), Code::kCorruption);
  v[0] = 9;  // unknown version
  EXPECT_EQ(DecodeIndexValue(v, &back).code(), Code::kCorruption);
}

TEST(TimerIndexTest, ApplyScanRemoveAndCounters) {
  TempDir dir;
  auto index = TimerIndex::Open(dir.path() + "/timer");
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  TimerIndex& ix = **index;
  EXPECT_EQ(ix.applied(), kNoLogOffset);
  ASSERT_TRUE(ix.Apply({Op(TimerOp::Kind::kSchedule, Entry(2000, 300, "c")),
                        Op(TimerOp::Kind::kSchedule, Entry(1000, 200, "b")),
                        Op(TimerOp::Kind::kSchedule, Entry(1000, 100, "a")),
                        Op(TimerOp::Kind::kSchedule, Entry(1000, 100, "a"))},  // replayed
                       LogOffset(400))
                  .ok());
  EXPECT_EQ(ix.PendingCount(), 3);
  EXPECT_EQ(ix.applied(), LogOffset(400));
  auto all = ix.ScanDue({0, 0}, INT64_MAX, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(*all, (std::vector<IndexEntry>{Entry(1000, 100, "a"), Entry(1000, 200, "b"),
                                           Entry(2000, 300, "c")}));
  // From a key (inclusive), below a due time (exclusive), with a limit.
  EXPECT_EQ(*ix.ScanDue({1000, 101}, INT64_MAX, 10),
            (std::vector<IndexEntry>{Entry(1000, 200, "b"), Entry(2000, 300, "c")}));
  EXPECT_EQ(*ix.ScanDue({0, 0}, 2000, 10),
            (std::vector<IndexEntry>{Entry(1000, 100, "a"), Entry(1000, 200, "b")}));
  EXPECT_EQ(ix.ScanDue({0, 0}, INT64_MAX, 1)->size(), 1u);
  EXPECT_EQ(**ix.NextDue(), 1000);
  EXPECT_EQ(**ix.OldestPendingOffset(), LogOffset(100));
  EXPECT_EQ(**ix.FindByMessageId("b"), LogOffset(200));
  EXPECT_EQ(**ix.Get(LogOffset(300)), Entry(2000, 300, "c"));
  EXPECT_FALSE(ix.Get(LogOffset(301))->has_value());

  ASSERT_TRUE(ix.Apply({Op(TimerOp::Kind::kFired, 100), Op(TimerOp::Kind::kCancel, 300),
                        Op(TimerOp::Kind::kCancel, 300),  // twice
                        Op(TimerOp::Kind::kFired, 999)},  // not a timer entry
                       LogOffset(500))
                  .ok());
  EXPECT_EQ(ix.PendingCount(), 1);
  EXPECT_EQ(ix.FiredCount(), 1);
  EXPECT_EQ(ix.CancelledCount(), 1);
  EXPECT_EQ(*ix.ScanDue({0, 0}, INT64_MAX, 10), (std::vector<IndexEntry>{Entry(1000, 200, "b")}));
  EXPECT_FALSE(ix.FindByMessageId("a")->has_value());
  EXPECT_FALSE(ix.FindByMessageId("c")->has_value());
  EXPECT_EQ(**ix.OldestPendingOffset(), LogOffset(200));
}

TEST(TimerIndexTest, ScheduleAndRemoveInOneBatchAndReusedMessageIds) {
  TempDir dir;
  auto index = TimerIndex::Open(dir.path() + "/timer");
  ASSERT_TRUE(index.ok());
  TimerIndex& ix = **index;
  ASSERT_TRUE(ix.Apply({Op(TimerOp::Kind::kSchedule, Entry(10, 1, "x")),
                        Op(TimerOp::Kind::kSchedule, Entry(20, 2, "x")),  // same id, later
                        Op(TimerOp::Kind::kCancel, 1)},
                       LogOffset(3))
                  .ok());
  EXPECT_EQ(ix.PendingCount(), 1);
  EXPECT_EQ(**ix.FindByMessageId("x"), LogOffset(2));  // the cancel kept the newer mapping
  ASSERT_TRUE(
      ix.Apply({Op(TimerOp::Kind::kSchedule, Entry(30, 3, "y")), Op(TimerOp::Kind::kFired, 3)},
               LogOffset(4))
          .ok());
  EXPECT_EQ(ix.PendingCount(), 1);
  EXPECT_FALSE(ix.Get(LogOffset(3))->has_value());
  EXPECT_FALSE(ix.FindByMessageId("y")->has_value());
}

TEST(TimerIndexTest, CheckpointAndCountersSurviveReopen) {
  TempDir dir;
  {
    auto index = TimerIndex::Open(dir.path() + "/timer");
    ASSERT_TRUE(index.ok());
    ASSERT_TRUE(
        (*index)
            ->Apply({Op(TimerOp::Kind::kSchedule, Entry(10, 1, "a")),
                     Op(TimerOp::Kind::kSchedule, Entry(11, 2, "b")), Op(TimerOp::Kind::kFired, 2)},
                    LogOffset(77))
            .ok());
    ASSERT_TRUE((*index)->SetApplied(LogOffset(90), /*sync=*/true).ok());
  }
  auto index = TimerIndex::Open(dir.path() + "/timer");
  ASSERT_TRUE(index.ok());
  EXPECT_EQ((*index)->applied(), LogOffset(90));
  EXPECT_EQ((*index)->PendingCount(), 1);
  EXPECT_EQ((*index)->FiredCount(), 1);
  EXPECT_EQ(*(*index)->ScanDue({0, 0}, INT64_MAX, 10),
            (std::vector<IndexEntry>{Entry(10, 1, "a")}));
}

}  // namespace
}  // namespace tidemq::timer

namespace tidemq::timer {
namespace {

using store::testing::TempDir;

TEST(TimerIndexTest, KnownPendingRemovalsNeedNoReadAndLeaveNewerIdMappings) {
  TempDir dir;
  auto index = TimerIndex::Open(dir.path() + "/timer");
  ASSERT_TRUE(index.ok());
  TimerIndex& ix = **index;
  ASSERT_TRUE(ix.Apply({Op(TimerOp::Kind::kSchedule, Entry(10, 1, "x")),
                        Op(TimerOp::Kind::kSchedule, Entry(20, 2, "x"))},
                       LogOffset(3), false, /*schedules_are_new=*/true)
                  .ok());
  // The older of the two records with id "x" fires: the caller vouches for its keys.
  TimerOp fired = Op(TimerOp::Kind::kFired, Entry(10, 1, "x"));
  fired.known_pending = true;
  ASSERT_TRUE(ix.Apply({fired}, LogOffset(4)).ok());
  EXPECT_EQ(ix.PendingCount(), 1);
  EXPECT_EQ(ix.FiredCount(), 1);
  EXPECT_FALSE(ix.Get(LogOffset(1))->has_value());
  EXPECT_EQ(**ix.FindByMessageId("x"), LogOffset(2));
  EXPECT_EQ(*ix.ScanDue({0, 0}, INT64_MAX, 10), (std::vector<IndexEntry>{Entry(20, 2, "x")}));
}

TEST(TimerIndexTest, AnIndexInAnOlderKeyFormatIsRebuilt) {
  TempDir dir;
  const std::string path = dir.path() + "/timer";
  {
    // Format 1 had no c/format key; its applied offset says "data here".
    leveldb::Options options;
    options.create_if_missing = true;
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(options, path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::string applied;
    PutBigEndian64(&applied, 12345);
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "c/applied", applied).ok());
    ASSERT_TRUE(db->Put(leveldb::WriteOptions(), "mold-id", applied).ok());
  }
  auto index = TimerIndex::Open(path);
  ASSERT_TRUE(index.ok()) << index.status().ToString();
  EXPECT_EQ((*index)->applied(), kNoLogOffset);  // the owner replays the whole log
  EXPECT_EQ((*index)->PendingCount(), 0);
  ASSERT_TRUE((*index)->Apply({Op(TimerOp::Kind::kSchedule, Entry(5, 7, "n"))}, LogOffset(8)).ok());
  index->reset();
  auto again = TimerIndex::Open(path);  // now in the current format: kept
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->applied(), LogOffset(8));
  EXPECT_EQ(**(*again)->FindByMessageId("n"), LogOffset(7));
}

}  // namespace
}  // namespace tidemq::timer
