// A full disk passes by itself (issue 10, item 5): appends are refused with kResourceExhausted
// while there is no room and accepted again, without a restart, once space is freed; reads go
// on meanwhile; descriptors or space missing for a consume queue delay only its visibility.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "store/store.h"
#include "tests/store/fault_fs.h"
#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::AppendOne;
using testing::FaultFileSystem;
using testing::MakeMessage;
using testing::SmallOptions;
using testing::TempDir;

constexpr int64_t kMiB = 1 << 20;

// Waits (bounded) until `done` holds; the store retries on its own schedule.
template <typename F>
bool Eventually(F done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

TEST(DiskFullTest, BelowTheReserveAppendsAreRefusedUntilSpaceIsFreed) {
  TempDir dir;
  FaultFileSystem fs;
  StoreOptions options = SmallOptions(dir.path());
  options.fs = &fs;
  options.disk_reserve_bytes = 8 * kMiB;
  fs.SetDiskUsage(100 * kMiB, 1000 * kMiB);
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  AppendResult before = AppendOne(store->get(), MakeMessage("t", 0, "before"));

  fs.SetDiskUsage(2 * kMiB, 1000 * kMiB);  // another program filled the disk
  // Measured at least every 100 ms (and after reserve/4 bytes): a few appends may pass first.
  Status refused;
  ASSERT_TRUE(Eventually([&] {
    refused = (*store)->AppendAndWait({MakeMessage("t", 0, "while full")}).status();
    return !refused.ok();
  }));
  EXPECT_EQ(refused.code(), Code::kResourceExhausted) << refused.ToString();
  EXPECT_NE(refused.message().find("disk full"), std::string::npos) << refused.ToString();
  StoreStats stats = (*store)->Stats();
  EXPECT_FALSE(stats.read_only);
  EXPECT_NE(stats.refusing_reason.find("disk full"), std::string::npos);
  EXPECT_EQ((*store)->Read(before.log_offset)->body, "before");  // reads go on

  fs.SetDiskUsage(500 * kMiB, 1000 * kMiB);  // space freed: no restart needed
  auto after = (*store)->AppendAndWait({MakeMessage("t", 0, "after")});
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ((*store)->Read(after->front().log_offset)->body, "after");
  EXPECT_TRUE((*store)->Stats().refusing_reason.empty());
}

TEST(DiskFullTest, NoSpaceOnTheLogWriteRefusesTheBatchAndRecovers) {
  TempDir dir;
  FaultFileSystem fs(FileSystem::Default(), "/commitlog/");
  StoreOptions options = SmallOptions(dir.path());
  options.fs = &fs;
  std::vector<AppendResult> kept;
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok());
    kept.push_back(AppendOne(store->get(), MakeMessage("t", 0, "one")));
    fs.FailWith(Code::kResourceExhausted);  // ENOSPC
    fs.FailWritesAfter(0);
    auto refused = (*store)->AppendAndWait({MakeMessage("t", 0, "refused")});
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::kResourceExhausted);
    EXPECT_FALSE((*store)->read_only());
    fs.FailWritesAfter(-1);
    kept.push_back(AppendOne(store->get(), MakeMessage("t", 0, "two")));
    // The refused message took no queue offset and no log space.
    EXPECT_EQ(kept[1].queue_offset, 1);
    EXPECT_EQ(kept[1].log_offset.value(), kept[0].log_offset.value() + kept[0].size);
  }
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  auto entries = (*store)->ReadQueue("t", 0, 0, 10);
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ((*store)->Read((*entries)[1].log_offset)->body, "two");
}

TEST(DiskFullTest, AnIOErrorOnTheLogStillTurnsTheStoreReadOnly) {
  TempDir dir;
  FaultFileSystem fs(FileSystem::Default(), "/commitlog/");
  StoreOptions options = SmallOptions(dir.path());
  options.fs = &fs;
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  fs.FailWritesAfter(0);  // EIO: the disk itself is failing
  EXPECT_FALSE((*store)->AppendAndWait({MakeMessage("t", 0, "x")}).ok());
  fs.FailWritesAfter(-1);
  auto again = (*store)->AppendAndWait({MakeMessage("t", 0, "y")});
  EXPECT_EQ(again.status().code(), Code::kReadOnly);
  EXPECT_NE(again.status().message().find("restarted"), std::string::npos)
      << again.status().ToString();
}

TEST(DiskFullTest, AQueueThatCannotBeWrittenDelaysOnlyItsOwnMessages) {
  TempDir dir;
  FaultFileSystem fs(FileSystem::Default(), "/consumequeue/blocked/");
  StoreOptions options = SmallOptions(dir.path());
  options.fs = &fs;
  AppendResult held;
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok());
    AppendOne(store->get(), MakeMessage("blocked", 0, "first"));
    fs.FailWith(Code::kResourceExhausted);  // EMFILE / ENOSPC on this queue's files
    fs.FailWritesAfter(0);
    fs.FailOpensAfter(0);
    // Acknowledged: it is durable in the log...
    held = AppendOne(store->get(), MakeMessage("blocked", 0, "held back"));
    EXPECT_EQ(held.queue_offset, 1);
    EXPECT_EQ((*store)->Read(held.log_offset)->body, "held back");
    // ...but not in its queue yet, while other topics carry on.
    EXPECT_EQ((*store)->ReadQueue("blocked", 0, 0, 10)->size(), 1u);
    AppendResult other = AppendOne(store->get(), MakeMessage("other", 0, "fine"));
    EXPECT_EQ((*store)->ReadQueue("other", 0, 0, 10)->size(), 1u);
    EXPECT_FALSE((*store)->read_only());
    EXPECT_TRUE((*store)->Stats().refusing_reason.empty());
    (void)other;
  }
  // Closed while behind: the checkpoint did not pass the held entry, replay restores it.
  fs.FailWritesAfter(-1);
  fs.FailOpensAfter(-1);
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto entries = (*store)->ReadQueue("blocked", 0, 0, 10);
    ASSERT_EQ(entries->size(), 2u);
    EXPECT_EQ((*entries)[1].log_offset, held.log_offset);
  }
  // And while running: the writer retries on its own and the message appears.
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  fs.FailWritesAfter(0);
  fs.FailOpensAfter(0);
  AppendResult late = AppendOne(store->get(), MakeMessage("blocked", 0, "late"));
  EXPECT_EQ((*store)->ReadQueue("blocked", 0, 0, 10)->size(), 2u);
  fs.FailWritesAfter(-1);
  fs.FailOpensAfter(-1);
  ASSERT_TRUE(Eventually([&] { return (*store)->ReadQueue("blocked", 0, 0, 10)->size() == 3; }));
  EXPECT_EQ((*store)->ReadQueue("blocked", 0, 2, 1)->front().log_offset, late.log_offset);
}

TEST(DiskFullTest, AboveTheWatermarkRefusesWhenRetentionMayNotDelete) {
  TempDir dir;
  FaultFileSystem fs;
  StoreOptions options = SmallOptions(dir.path());
  options.fs = &fs;
  options.disk_reserve_bytes = kMiB;
  options.disk_high_watermark = 0.9;
  options.refuse_writes_above_watermark = true;
  fs.SetDiskUsage(50 * kMiB, 100 * kMiB);
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  AppendOne(store->get(), MakeMessage("t", 0, "below"));
  fs.SetDiskUsage(5 * kMiB, 100 * kMiB);  // 95 % used
  Status refused;
  ASSERT_TRUE(Eventually([&] {
    refused = (*store)->AppendAndWait({MakeMessage("t", 0, "above")}).status();
    return !refused.ok();
  }));
  EXPECT_EQ(refused.code(), Code::kResourceExhausted);
  EXPECT_NE(refused.message().find("watermark"), std::string::npos) << refused.ToString();
  fs.SetDiskUsage(40 * kMiB, 100 * kMiB);
  EXPECT_TRUE((*store)->AppendAndWait({MakeMessage("t", 0, "below again")}).ok());
}

}  // namespace
}  // namespace tidemq::store
