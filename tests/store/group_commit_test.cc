#include <gtest/gtest.h>

#include <set>
#include <thread>

#include "store/store.h"
#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::MakeMessage;
using testing::TempDir;

TEST(GroupCommitTest, ConcurrentSyncAppendsShareSyncs) {
  TempDir dir;
  StoreOptions options;
  options.data_dir = dir.path();
  options.segment_bytes = 1 << 20;
  options.flush_policy = FlushPolicy::kSync;
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();

  constexpr int kThreads = 16;
  constexpr int kPerThread = 25;
  std::vector<std::vector<AppendResult>> results(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto r = (*store)->AppendAndWait({MakeMessage("group", 0, std::to_string(t * 1000 + i))});
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        results[t].push_back(r->front());
      }
    });
  }
  for (auto& th : threads) th.join();

  constexpr int kAppends = kThreads * kPerThread;
  StoreStats stats = (*store)->Stats();
  EXPECT_EQ(stats.appended_records, kAppends);
  EXPECT_LT(stats.syncs, kAppends);
  EXPECT_LT(stats.batches, kAppends);
  std::set<int64_t> queue_offsets, log_offsets;
  for (const auto& per_thread : results) {
    int64_t previous = -1;
    for (const auto& r : per_thread) {
      EXPECT_GT(r.queue_offset, previous);  // one thread's appends stay in its order
      previous = r.queue_offset;
      queue_offsets.insert(r.queue_offset);
      log_offsets.insert(r.log_offset.value());
    }
  }
  EXPECT_EQ(queue_offsets.size(), static_cast<size_t>(kAppends));
  EXPECT_EQ(*queue_offsets.rbegin(), kAppends - 1);
  EXPECT_EQ(log_offsets.size(), static_cast<size_t>(kAppends));
  EXPECT_EQ((*store)->MaxQueueOffset("group", 0), kAppends);
}

}  // namespace
}  // namespace tidemq::store
