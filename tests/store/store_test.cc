#include "store/store.h"

#include <gtest/gtest.h>

#include <map>

#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::AppendOne;
using testing::MakeMessage;
using testing::SmallOptions;
using testing::TempDir;

const std::vector<std::string> kTopics = {"orders", "%RETRY%billing", "payments"};

// Appends 60 messages spread over three topics and three queues.
std::vector<AppendResult> Populate(Store* store) {
  std::vector<AppendResult> out;
  for (int i = 0; i < 60; ++i) {
    const std::string& topic = kTopics[i % 3];
    Record r = MakeMessage(topic, static_cast<uint32_t>(i % 9 / 3), "body-" + std::to_string(i),
                           i % 2 ? "odd" : "even", {"key-" + std::to_string(i % 5)},
                           "id-" + std::to_string(i));
    out.push_back(AppendOne(store, std::move(r)));
  }
  return out;
}

using QueueDump = std::map<std::pair<std::string, uint32_t>, std::vector<QueueEntry>>;

QueueDump DumpQueues(Store* store) {
  QueueDump dump;
  for (const auto& topic : kTopics) {
    for (uint32_t q = 0; q < 3; ++q) {
      auto entries = store->ReadQueue(topic, q, 0, 1000);
      EXPECT_TRUE(entries.ok());
      dump[{topic, q}] = *entries;
    }
  }
  return dump;
}

void ExpectSameQueues(const QueueDump& a, const QueueDump& b) {
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [key, entries] : a) {
    const auto& other = b.at(key);
    ASSERT_EQ(entries.size(), other.size()) << key.first << "/" << key.second;
    for (size_t i = 0; i < entries.size(); ++i) {
      EXPECT_EQ(entries[i].queue_offset, other[i].queue_offset);
      EXPECT_EQ(entries[i].log_offset, other[i].log_offset);
      EXPECT_EQ(entries[i].size, other[i].size);
      EXPECT_EQ(entries[i].tag_hash, other[i].tag_hash);
      EXPECT_EQ(entries[i].store_ms, other[i].store_ms);
    }
  }
}

TEST(StoreTest, AppendsAndReadsQueuesInOrder) {
  TempDir dir;
  auto store = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  std::vector<AppendResult> results = Populate(store->get());
  for (const auto& topic : kTopics) {
    for (uint32_t q = 0; q < 3; ++q) {
      auto entries = (*store)->ReadQueue(topic, q, 0, 100);
      ASSERT_TRUE(entries.ok());
      EXPECT_EQ((*store)->MaxQueueOffset(topic, q), static_cast<int64_t>(entries->size()));
      EXPECT_EQ((*store)->MinQueueOffset(topic, q), 0);
      int64_t expected_qo = 0;
      LogOffset previous(-1);
      for (const auto& e : *entries) {
        EXPECT_EQ(e.queue_offset, expected_qo++);
        EXPECT_GT(e.log_offset, previous);
        previous = e.log_offset;
        auto r = (*store)->Read(e.log_offset);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        EXPECT_EQ(r->topic, topic);
        EXPECT_EQ(r->queue_id, q);
        EXPECT_EQ(r->queue_offset, e.queue_offset);
        EXPECT_EQ(e.tag_hash, TagHash(r->tag));
        EXPECT_EQ(e.size, r->EncodedSize());
        EXPECT_EQ(e.store_ms, r->store_ms);
      }
    }
  }
  EXPECT_EQ((*store)->ReadQueue("orders", 0, 0, 100)->size(), 7u);  // i = 0, 9, ..., 54
  auto page = (*store)->ReadQueue("orders", 0, 2, 3);
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ(page->front().queue_offset, 2);
  EXPECT_TRUE((*store)->ReadQueue("orders", 0, 7, 3)->empty());
  EXPECT_TRUE((*store)->ReadQueue("no-such-topic", 0, 0, 3)->empty());
  auto first = (*store)->Read(results[0].log_offset);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->body, "body-0");
  EXPECT_EQ(first->born_ms, 42);
  EXPECT_EQ(first->store_ms, results[0].store_ms);
  StoreStats stats = (*store)->Stats();
  EXPECT_EQ(stats.appended_records, 60);
  EXPECT_EQ(stats.confirmed_log_offset, stats.max_log_offset);
  EXPECT_GT(stats.segments, 1);
}

TEST(StoreTest, MultiRecordAppendIsContiguousAndOrdered) {
  TempDir dir;
  auto store = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(store.ok());
  std::vector<Record> records;
  for (int i = 0; i < 5; ++i) records.push_back(MakeMessage("t", 1, std::to_string(i)));
  Record control;
  control.type = RecordType::kControl;
  control.topic = "%SYS%";
  records.push_back(control);
  auto results = (*store)->AppendAndWait(records);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 6u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ((*results)[i].queue_offset, i);
  EXPECT_EQ((*results)[5].queue_offset, -1);
  for (size_t i = 1; i < results->size(); ++i) {
    EXPECT_EQ((*results)[i].log_offset.value(),
              (*results)[i - 1].log_offset.value() + (*results)[i - 1].size);
  }
  EXPECT_EQ((*store)->MaxQueueOffset("t", 1), 5);
}

TEST(StoreTest, ReopenKeepsQueuesAndContinuesOffsets) {
  TempDir dir;
  QueueDump before;
  {
    auto store = Store::Open(SmallOptions(dir.path()));
    ASSERT_TRUE(store.ok());
    Populate(store->get());
    before = DumpQueues(store->get());
  }
  auto store = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ExpectSameQueues(before, DumpQueues(store->get()));
  int64_t next = (*store)->MaxQueueOffset("payments", 2);
  EXPECT_GT(next, 0);
  AppendResult r = AppendOne(store->get(), MakeMessage("payments", 2, "later"));
  EXPECT_EQ(r.queue_offset, next);
}

TEST(StoreTest, RebuildsQueuesAndIndexFromTheLogAlone) {
  TempDir dir;
  QueueDump before;
  std::vector<LogOffset> by_key, by_id;
  {
    auto store = Store::Open(SmallOptions(dir.path()));
    ASSERT_TRUE(store.ok());
    Populate(store->get());
    before = DumpQueues(store->get());
    by_key = *(*store)->LookupKey("orders", "key-3", 100);
    by_id = *(*store)->LookupMessageId("id-17", 100);
  }
  ASSERT_FALSE(by_key.empty());
  ASSERT_EQ(by_id.size(), 1u);
  ASSERT_TRUE(FileSystem::Default()->RemoveAll(dir.path() + "/consumequeue").ok());
  ASSERT_TRUE(FileSystem::Default()->RemoveAll(dir.path() + "/index").ok());
  auto store = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ExpectSameQueues(before, DumpQueues(store->get()));
  EXPECT_EQ(*(*store)->LookupKey("orders", "key-3", 100), by_key);
  EXPECT_EQ(*(*store)->LookupMessageId("id-17", 100), by_id);
  int64_t next = (*store)->MaxQueueOffset("orders", 0);
  EXPECT_EQ(next, 7);
  EXPECT_EQ(AppendOne(store->get(), MakeMessage("orders", 0, "x")).queue_offset, next);
}

TEST(StoreTest, RebuildsOnlyTheMissingQueues) {
  TempDir dir;
  QueueDump before;
  {
    auto store = Store::Open(SmallOptions(dir.path()));
    ASSERT_TRUE(store.ok());
    Populate(store->get());
    before = DumpQueues(store->get());
  }
  ASSERT_TRUE(FileSystem::Default()->RemoveAll(dir.path() + "/consumequeue").ok());
  auto store = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ExpectSameQueues(before, DumpQueues(store->get()));
  // The index, still present, holds no duplicates after the replay.
  EXPECT_EQ((*store)->LookupMessageId("id-3", 10)->size(), 1u);
}

TEST(StoreTest, LooksUpKeysAndMessageIdsNewestFirst) {
  TempDir dir;
  auto store = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(store.ok());
  std::vector<AppendResult> results = Populate(store->get());
  // "orders" holds i = 0, 3, 6, ...; key-3 is on i % 5 == 3: i = 3, 18, 33, 48.
  auto offsets = (*store)->LookupKey("orders", "key-3", 100);
  ASSERT_TRUE(offsets.ok());
  std::vector<LogOffset> expected = {results[48].log_offset, results[33].log_offset,
                                     results[18].log_offset, results[3].log_offset};
  EXPECT_EQ(*offsets, expected);
  EXPECT_EQ((*store)->LookupKey("orders", "key-3", 2)->size(), 2u);
  EXPECT_TRUE((*store)->LookupKey("orders", "key-", 10)->empty());  // no prefix matches
  EXPECT_TRUE((*store)->LookupKey("payments", "key-3", 10)->size() > 0);
  EXPECT_TRUE((*store)->LookupKey("nope", "key-3", 10)->empty());

  AppendOne(store->get(), MakeMessage("orders", 0, "re-put", "", {}, "id-7"));
  auto ids = (*store)->LookupMessageId("id-7", 10);
  ASSERT_EQ(ids->size(), 2u);
  EXPECT_GT((*ids)[0], (*ids)[1]);
  EXPECT_EQ((*ids)[1], results[7].log_offset);
  EXPECT_TRUE((*store)->LookupMessageId("id-70", 10)->empty());
}

TEST(StoreTest, MetaSurvivesReopen) {
  TempDir dir;
  {
    auto store = Store::Open(SmallOptions(dir.path()));
    ASSERT_TRUE(store.ok());
    MetaChange first, second;
    first.Put("topic/orders", "8 queues").Put("topic/payments", "4 queues");
    second.Put("group/g1", "fifo").Put("topic/gone", "x").Delete("topic/gone");
    ASSERT_TRUE((*store)->AppendMetaAndWait(std::move(first)).ok());
    ASSERT_TRUE((*store)->AppendMetaAndWait(std::move(second)).ok());
    auto v = (*store)->GetMeta("topic/orders");
    ASSERT_TRUE(v.ok());
    EXPECT_EQ(v->value_or(""), "8 queues");
  }
  auto store = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(store.ok());
  EXPECT_EQ((*store)->GetMeta("group/g1")->value_or(""), "fifo");
  EXPECT_FALSE((*store)->GetMeta("topic/gone")->has_value());
  auto topics = (*store)->ScanMeta("topic/");
  ASSERT_TRUE(topics.ok());
  std::vector<std::pair<std::string, std::string>> expected = {{"topic/orders", "8 queues"},
                                                               {"topic/payments", "4 queues"}};
  EXPECT_EQ(*topics, expected);
  EXPECT_EQ((*store)->ScanMeta("")->size(), 3u);
}

TEST(StoreTest, RejectsOversizedAndUnstorableRecords) {
  TempDir dir;
  auto store = Store::Open(SmallOptions(dir.path()));  // 4 KiB segments
  ASSERT_TRUE(store.ok());
  StoreStats before = (*store)->Stats();
  auto big = (*store)->AppendAndWait({MakeMessage("t", 0, std::string(5000, 'x'))});
  EXPECT_EQ(big.status().code(), Code::kTooLarge);
  auto bad_topic = (*store)->AppendAndWait({MakeMessage("..", 0, "x")});
  EXPECT_EQ(bad_topic.status().code(), Code::kInvalidArgument);
  auto none = (*store)->AppendAndWait({});
  EXPECT_EQ(none.status().code(), Code::kInvalidArgument);
  StoreStats after = (*store)->Stats();
  EXPECT_EQ(after.max_log_offset, before.max_log_offset);
  EXPECT_EQ(after.appended_records, 0);
  EXPECT_EQ((*store)->MaxQueueOffset("t", 0), 0);
  EXPECT_EQ(AppendOne(store->get(), MakeMessage("t", 0, "fits")).queue_offset, 0);
}

TEST(StoreTest, DeleteTopicQueues) {
  TempDir dir;
  auto store = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(store.ok());
  Populate(store->get());
  ASSERT_GT((*store)->MaxQueueOffset("orders", 0), 0);
  MetaChange drop;
  drop.DropTopicQueues("orders");
  ASSERT_TRUE((*store)->AppendMetaAndWait(std::move(drop)).ok());
  EXPECT_EQ((*store)->MaxQueueOffset("orders", 0), 0);
  EXPECT_TRUE((*store)->ReadQueue("orders", 0, 0, 10)->empty());
  EXPECT_FALSE(FileSystem::Default()->Exists(dir.path() + "/consumequeue/orders"));
  EXPECT_GT((*store)->MaxQueueOffset("payments", 0), 0);
  EXPECT_EQ(AppendOne(store->get(), MakeMessage("orders", 0, "new life")).queue_offset, 0);
}

TEST(StoreTest, RaiseNextQueueOffsetLeavesAHoleAndNeverLowers) {
  TempDir dir;
  auto store = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(store.ok());
  for (int i = 0; i < 3; ++i) AppendOne(store->get(), MakeMessage("orders", 0, "old"));
  // A queue the writer has not used since the store opened, and one it never saw.
  ASSERT_TRUE((*store)->RaiseNextQueueOffset("orders", 0, 6).ok());
  ASSERT_TRUE((*store)->RaiseNextQueueOffset("fresh", 1, 5).ok());
  ASSERT_TRUE((*store)->RaiseNextQueueOffset("orders", 0, 4).ok());  // lower: ignored
  EXPECT_FALSE((*store)->RaiseNextQueueOffset("orders", 0, -1).ok());
  EXPECT_EQ(AppendOne(store->get(), MakeMessage("orders", 0, "new")).queue_offset, 6);
  EXPECT_EQ(AppendOne(store->get(), MakeMessage("orders", 0, "next")).queue_offset, 7);
  EXPECT_EQ(AppendOne(store->get(), MakeMessage("fresh", 1, "first")).queue_offset, 5);
  EXPECT_EQ(AppendOne(store->get(), MakeMessage("orders", 1, "other")).queue_offset, 0);
  // Readers skip the hole; nothing below it is lost.
  auto entries = (*store)->ReadQueue("orders", 0, 0, 100);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ(entries->at(2).queue_offset, 2);
  EXPECT_EQ(entries->at(3).queue_offset, 6);
  EXPECT_EQ((*store)->MinQueueOffset("orders", 0), 0);
  EXPECT_EQ((*store)->MaxQueueOffset("orders", 0), 8);
}

// Holes may sit anywhere in a consume queue (a raised next offset, entries cut off with a torn
// log tail): after a restart a hole in the middle of the first file must not move
// min_offset() past the entries before it, and one that crosses a file boundary (a short
// first file) must not fail Open.
TEST(StoreTest, HolesLeftByARaiseSurviveARestart) {
  TempDir dir;
  for (int64_t raise_to : {6, 20}) {  // in the first file; across a file boundary
    {
      auto store = Store::Open(SmallOptions(dir.path()));
      ASSERT_TRUE(store.ok());
      const std::string topic = "q" + std::to_string(raise_to);
      for (int i = 0; i < 3; ++i) AppendOne(store->get(), MakeMessage(topic, 0, "old"));
      ASSERT_TRUE((*store)->RaiseNextQueueOffset(topic, 0, raise_to).ok());
      AppendOne(store->get(), MakeMessage(topic, 0, "new"));
    }
    auto store = Store::Open(SmallOptions(dir.path()));
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const std::string topic = "q" + std::to_string(raise_to);
    EXPECT_EQ((*store)->MinQueueOffset(topic, 0), 0);
    EXPECT_EQ((*store)->MaxQueueOffset(topic, 0), raise_to + 1);
    auto entries = (*store)->ReadQueue(topic, 0, 0, 100);
    ASSERT_TRUE(entries.ok());
    EXPECT_EQ(entries->size(), 4u);
  }
}

TEST(StoreTest, AsyncPolicyFlushesInTheBackground) {
  TempDir dir;
  StoreOptions options = SmallOptions(dir.path());
  options.flush_interval_ms = 1;
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  AppendOne(store->get(), MakeMessage("t", 0, "x"));
  // The flusher syncs the dirty log within a few intervals.
  for (int i = 0; i < 5000 && (*store)->Stats().syncs == 0; ++i) {
    std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_GT((*store)->Stats().syncs, 0);
}

TEST(StoreTest, SecondOpenOfTheSameDirectoryFails) {
  TempDir dir;
  auto first = Store::Open(SmallOptions(dir.path()));
  ASSERT_TRUE(first.ok());
  AppendOne(first->get(), MakeMessage("t", 0, "x"));
  auto second = Store::Open(SmallOptions(dir.path()));
  EXPECT_FALSE(second.ok());
  EXPECT_EQ((*first)->MaxQueueOffset("t", 0), 1);
}

}  // namespace
}  // namespace tidemq::store
