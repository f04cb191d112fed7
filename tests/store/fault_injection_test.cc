#include <gtest/gtest.h>

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

enum class Fault { kWrite, kSync };

class FaultInjectionTest : public ::testing::TestWithParam<Fault> {};

TEST_P(FaultInjectionTest, StoreTurnsReadOnlyAndKeepsServingReads) {
  TempDir dir;
  FaultFileSystem fs(FileSystem::Default(), "commitlog");
  StoreOptions options = SmallOptions(dir.path());
  options.flush_policy = FlushPolicy::kSync;
  options.segment_bytes = 1 << 20;
  options.fs = &fs;
  std::vector<AppendResult> good;
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int i = 0; i < 5; ++i) {
      good.push_back(AppendOne(store->get(), MakeMessage("t", 0, "ok-" + std::to_string(i))));
    }
    if (GetParam() == Fault::kWrite) {
      fs.FailWritesAfter(0);
    } else {
      fs.FailSyncsAfter(0);
    }
    auto failed = (*store)->AppendAndWait({MakeMessage("t", 0, "doomed")});
    EXPECT_EQ(failed.status().code(), Code::kReadOnly);
    EXPECT_NE(failed.status().message().find("injected"), std::string::npos)
        << failed.status().ToString();
    EXPECT_TRUE((*store)->read_only());

    fs.FailWritesAfter(-1);  // the disk is healthy again: the store must still refuse
    fs.FailSyncsAfter(-1);
    auto later = (*store)->AppendAndWait({MakeMessage("t", 0, "later")});
    EXPECT_EQ(later.status().code(), Code::kReadOnly);
    EXPECT_NE(later.status().message().find("injected"), std::string::npos);
    StoreStats stats = (*store)->Stats();
    EXPECT_TRUE(stats.read_only);
    EXPECT_NE(stats.read_only_reason.find("injected"), std::string::npos);

    for (int i = 0; i < 5; ++i) {
      auto r = (*store)->Read(good[i].log_offset);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->body, "ok-" + std::to_string(i));
    }
    auto entries = (*store)->ReadQueue("t", 0, 0, 100);
    ASSERT_TRUE(entries.ok());
    EXPECT_EQ(entries->size(), 5u);
    EXPECT_EQ((*store)->MaxQueueOffset("t", 0), 5);
  }
  // A restart recovers what was acknowledged and accepts writes again.
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_FALSE((*store)->read_only());
  auto entries = (*store)->ReadQueue("t", 0, 0, 100);
  ASSERT_TRUE(entries.ok());
  ASSERT_GE(entries->size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*entries)[i].log_offset, good[i].log_offset);
  AppendResult next = AppendOne(store->get(), MakeMessage("t", 0, "back"));
  EXPECT_GE(next.queue_offset, 5);
}

INSTANTIATE_TEST_SUITE_P(Faults, FaultInjectionTest,
                         ::testing::Values(Fault::kWrite, Fault::kSync));

TEST(FaultInjectionTest, AsyncFlushFailureTurnsReadOnly) {
  TempDir dir;
  FaultFileSystem fs(FileSystem::Default(), "commitlog");
  StoreOptions options = SmallOptions(dir.path());
  options.flush_interval_ms = 1;
  options.segment_bytes = 64 << 20;  // no roll: the periodic flush must be what fails
  options.fs = &fs;
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  fs.FailSyncsAfter(0);
  // Async appends succeed until the flusher hits the failing fdatasync.
  Status st;
  for (int i = 0; i < 100000 && st.ok(); ++i) {
    st = (*store)->AppendAndWait({MakeMessage("t", 0, "x")}).status();
  }
  EXPECT_EQ(st.code(), Code::kReadOnly);
  EXPECT_NE(st.message().find("fdatasync"), std::string::npos) << st.ToString();
}

}  // namespace
}  // namespace tidemq::store
