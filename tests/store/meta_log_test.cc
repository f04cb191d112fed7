// Broker metadata as CommitLog records (docs/storage_format.md §9): applied through dispatch,
// rebuilt from the log alone, dropped queues that stay dropped on replay, snapshots that let
// retention delete old segments without losing a fact, the key index trimmed with the
// segments, and control records that do not decode skipped and counted.
#include <gtest/gtest.h>
#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/write_batch.h>
#include <unistd.h>

#include <map>
#include <memory>

#include "common/clock.h"
#include "common/coding.h"
#include "store/control_record.h"
#include "store/store.h"
#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::AppendOne;
using testing::MakeMessage;
using testing::SmallOptions;
using testing::TempDir;

using Meta = std::vector<std::pair<std::string, std::string>>;

constexpr int64_t kHour = 3600 * 1000;

Status Apply(Store* store, MetaChange change) {
  return store->AppendMetaAndWait(std::move(change));
}

Meta ScanAll(Store* store) {
  auto all = store->ScanMeta("");
  EXPECT_TRUE(all.ok()) << all.status().ToString();
  return all.ok() ? *all : Meta{};
}

class MetaLogTest : public ::testing::Test {
 protected:
  StoreOptions Options() {
    StoreOptions o = SmallOptions(dir_.path());
    o.retention_ms = kHour;
    o.clock = &clock_;
    return o;
  }
  std::unique_ptr<Store> Open() {
    auto store = Store::Open(Options());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    return store.ok() ? std::move(store).value() : nullptr;
  }
  void DeleteIndex() { ASSERT_TRUE(FileSystem::Default()->RemoveAll(dir_.path() + "/index").ok()); }
  void DeleteDerived() {
    DeleteIndex();
    ASSERT_TRUE(FileSystem::Default()->RemoveAll(dir_.path() + "/consumequeue").ok());
  }
  std::vector<std::string> Bodies(Store* store, const std::string& topic) {
    std::vector<std::string> out;
    auto entries = store->ReadQueue(topic, 0, 0, 1000);
    EXPECT_TRUE(entries.ok());
    for (const QueueEntry& e : *entries) {
      auto r = store->Read(e.log_offset);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) out.push_back(r->body);
    }
    return out;
  }

  TempDir dir_;
  ManualClock clock_;
};

TEST_F(MetaLogTest, ChangesApplyInOrderAndAreRebuiltFromTheLogAlone) {
  const Meta expected = {{"group/g", "v2"}, {"topic/a", "1"}, {"topic/c", "3"}};
  {
    auto store = Open();
    ASSERT_TRUE(store);
    MetaChange first, second;
    first.Put("topic/a", "1").Put("topic/b", "2").Put("group/g", "v1");
    // Later changes of the same key win, within a change and across changes.
    second.Delete("topic/b").Put("topic/c", "x").Put("topic/c", "3").Put("group/g", "v2");
    ASSERT_TRUE(Apply(store.get(), std::move(first)).ok());
    ASSERT_TRUE(Apply(store.get(), std::move(second)).ok());
    EXPECT_EQ(ScanAll(store.get()), expected);
    EXPECT_EQ(store->GetMeta("topic/b")->has_value(), false);
    // An empty change is durable at once; a bad key is refused before anything is appended.
    EXPECT_TRUE(Apply(store.get(), MetaChange()).ok());
    MetaChange bad;
    bad.Put(std::string(70'000, 'k'), "v");
    EXPECT_FALSE(Apply(store.get(), std::move(bad)).ok());
  }
  {
    auto store = Open();  // a plain reopen
    ASSERT_TRUE(store);
    EXPECT_EQ(ScanAll(store.get()), expected);
  }
  DeleteIndex();
  auto store = Open();  // the index is derived: the log rebuilds it
  ASSERT_TRUE(store);
  EXPECT_EQ(ScanAll(store.get()), expected);
}

TEST_F(MetaLogTest, LargeChangesAreSplitAndStillApply) {
  auto store = Open();  // 4 KiB segments: a change of ~20 KiB needs several records
  ASSERT_TRUE(store);
  MetaChange big;
  Meta expected;
  for (int i = 0; i < 200; ++i) {
    std::string key = "offset/g/t/" + std::to_string(1000 + i) + "/";
    big.Put(key, std::string(100, 'v'));
    expected.emplace_back(key, std::string(100, 'v'));
  }
  const int64_t before = store->Stats().appended_records;
  ASSERT_TRUE(Apply(store.get(), std::move(big)).ok());
  EXPECT_GT(store->Stats().appended_records - before, 4);
  EXPECT_EQ(ScanAll(store.get()), expected);
  store.reset();
  DeleteIndex();
  store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(ScanAll(store.get()), expected);
}

// A topic deletion drops its queues in log order: replay from before the drop (an older
// checkpoint, or no index at all) never brings the old messages back, and what was appended
// after the drop stays.
TEST_F(MetaLogTest, QueueDropIsReplayedInLogOrder) {
  auto check = [this](Store* store) {
    EXPECT_EQ(Bodies(store, "orders"), std::vector<std::string>({"new-0", "new-1"}));
    EXPECT_EQ(store->MinQueueOffset("orders", 0), 0);
    EXPECT_EQ(store->MaxQueueOffset("orders", 0), 2);
    EXPECT_EQ(Bodies(store, "payments"), std::vector<std::string>({"pay"}));
  };
  {
    auto store = Open();
    ASSERT_TRUE(store);
    for (int i = 0; i < 5; ++i) AppendOne(store.get(), MakeMessage("orders", 0, "old"));
    AppendOne(store.get(), MakeMessage("payments", 0, "pay"));
    MetaChange drop;
    drop.Delete("topic/orders").DropTopicQueues("orders");
    ASSERT_TRUE(Apply(store.get(), std::move(drop)).ok());
    EXPECT_TRUE(Bodies(store.get(), "orders").empty());
    // The queue starts afresh, even for an append queued right behind the drop.
    std::vector<Record> fresh = {MakeMessage("orders", 0, "new-0"),
                                 MakeMessage("orders", 0, "new-1")};
    auto appended = store->AppendAndWait(std::move(fresh));
    ASSERT_TRUE(appended.ok());
    EXPECT_EQ((*appended)[0].queue_offset, 0);
    check(store.get());
  }
  {
    // The index (with the dispatch checkpoint) is gone but the queues are not: replay runs
    // from the log's start over the current queue files.
    DeleteIndex();
    auto store = Open();
    ASSERT_TRUE(store);
    check(store.get());
  }
  DeleteDerived();  // and from nothing at all
  auto store = Open();
  ASSERT_TRUE(store);
  check(store.get());
}

TEST_F(MetaLogTest, SnapshotsLetRetentionDeleteOldSegmentsWithoutLosingMetadata) {
  Meta expected;
  {
    auto store = Open();
    ASSERT_TRUE(store);
    MetaChange early;
    early.Put("topic/kept", "1").Put("topic/deleted", "2").Put("group/g", "old");
    ASSERT_TRUE(Apply(store.get(), std::move(early)).ok());
    // Fill several segments; metadata keeps changing meanwhile.
    for (int i = 0; i < 60; ++i) {
      AppendOne(store.get(), MakeMessage("t", 0, std::string(300, 'x')));
      if (i == 20) {
        MetaChange mid;
        mid.Delete("topic/deleted").Put("group/g", "new");
        ASSERT_TRUE(Apply(store.get(), std::move(mid)).ok());
      }
    }
    MetaChange late;
    late.Put("offset/g/t/0/", "{\"committed\": 60}");
    ASSERT_TRUE(Apply(store.get(), std::move(late)).ok());
    expected = ScanAll(store.get());
    ASSERT_EQ(expected.size(), 3u);

    clock_.AdvanceMs(2 * kHour);
    AppendOne(store.get(), MakeMessage("t", 0, "fresh"));
    auto deleted = store->RunRetention();
    ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
    EXPECT_GE(*deleted, 3);
    StoreStats stats = store->Stats();
    // The segments holding the early changes are gone; the newest snapshot is not.
    EXPECT_GT(stats.min_log_offset, 0);
    EXPECT_GE(stats.meta_snapshot_offset, stats.min_log_offset);
    EXPECT_EQ(ScanAll(store.get()), expected);
  }
  DeleteDerived();
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(ScanAll(store.get()), expected);
  EXPECT_FALSE(store->GetMeta("topic/deleted")->has_value());
}

TEST_F(MetaLogTest, RetentionKeepsTheNewestSnapshot) {
  auto store = Open();
  ASSERT_TRUE(store);
  MetaChange change;
  change.Put("topic/a", "1");
  ASSERT_TRUE(Apply(store.get(), std::move(change)).ok());
  // The first segment's rolls wrote snapshots; each one kept the segment it starts in.
  for (int i = 0; i < 40; ++i) AppendOne(store.get(), MakeMessage("t", 0, std::string(300, 'x')));
  clock_.AdvanceMs(2 * kHour);
  AppendOne(store.get(), MakeMessage("t", 0, "fresh"));
  ASSERT_TRUE(store->RunRetention().ok());
  const StoreStats stats = store->Stats();
  ASSERT_GE(stats.meta_snapshot_offset, 0);
  EXPECT_LE(stats.min_log_offset, stats.meta_snapshot_offset);
  auto snapshot = store->Read(LogOffset(stats.meta_snapshot_offset));
  ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
  EXPECT_EQ(snapshot->type, RecordType::kControl);
  EXPECT_EQ(snapshot->tag, kControlTagMetaSnapshot);
}

TEST_F(MetaLogTest, KeyIndexIsTrimmedWithTheSegmentsRetentionDeletes) {
  auto store = Open();
  ASSERT_TRUE(store);
  std::vector<AppendResult> results;
  for (int i = 0; i < 60; ++i) {
    results.push_back(AppendOne(
        store.get(), MakeMessage("t", 0, std::string(300, 'x'), "",
                                 {"k-" + std::to_string(i), "shared"}, "id-" + std::to_string(i))));
  }
  EXPECT_EQ(store->LookupKey("t", "shared", 1000)->size(), 60u);
  clock_.AdvanceMs(2 * kHour);
  AppendOne(store.get(), MakeMessage("t", 0, "fresh", "", {"shared"}, "id-fresh"));
  auto deleted = store->RunRetention();
  ASSERT_TRUE(deleted.ok());
  ASSERT_GT(*deleted, 0);
  const StoreStats stats = store->Stats();
  int64_t gone = 0;
  for (const AppendResult& r : results) gone += r.log_offset.value() < stats.min_log_offset;
  ASSERT_GT(gone, 0);
  // Two keys and one id per deleted message.
  EXPECT_EQ(stats.index_entries_trimmed, 3 * gone);
  EXPECT_TRUE(store->LookupMessageId("id-0", 10)->empty());
  EXPECT_TRUE(store->LookupKey("t", "k-0", 10)->empty());
  EXPECT_EQ(store->LookupKey("t", "shared", 1000)->size(), static_cast<size_t>(61 - gone));
  EXPECT_EQ(store->LookupMessageId("id-59", 10)->size(), 1u);
  EXPECT_EQ(store->LookupKey("t", "shared", 1)->front(),
            store->LookupMessageId("id-fresh", 1)->front());
  // A reopen finds nothing left to trim and the same answers.
  store.reset();
  store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Stats().index_entries_trimmed, 0);
  EXPECT_EQ(store->LookupKey("t", "shared", 1000)->size(), static_cast<size_t>(61 - gone));
}

TEST_F(MetaLogTest, MalformedControlRecordsAreSkippedAndCounted) {
  auto control = [](std::string tag, std::string body) {
    Record r;
    r.type = RecordType::kControl;
    r.tag = std::move(tag);
    r.body = std::move(body);
    return r;
  };
  {
    auto store = Open();
    ASSERT_TRUE(store);
    MetaChange good;
    good.Put("topic/a", "1");
    ASSERT_TRUE(Apply(store.get(), std::move(good)).ok());
    ASSERT_TRUE(store->AppendAndWait({control(kControlTagMeta, "\x01garbage")}).ok());
    ASSERT_TRUE(store->AppendAndWait({control("from-the-future", "")}).ok());
    EXPECT_EQ(store->Stats().malformed_control_records, 2);
    MetaChange after;
    after.Put("topic/b", "2");
    ASSERT_TRUE(Apply(store.get(), std::move(after)).ok());
    EXPECT_EQ(ScanAll(store.get()), (Meta{{"topic/a", "1"}, {"topic/b", "2"}}));
  }
  DeleteDerived();
  auto store = Open();  // replay meets them again: skipped, counted, never fatal
  ASSERT_TRUE(store);
  EXPECT_EQ(store->Stats().malformed_control_records, 2);
  EXPECT_EQ(ScanAll(store.get()), (Meta{{"topic/a", "1"}, {"topic/b", "2"}}));
}

// An index an older version left (layout 1: key and id entries without segment buckets, never
// trimmed; metadata written straight into it; no snapshot in the log) is cleared and rebuilt
// at open, and its metadata is kept and written into the log as a snapshot — so from then on
// it survives the index's deletion like any metadata.
TEST_F(MetaLogTest, AnOldLayoutIndexIsRebuiltAndItsMetadataMovesIntoTheLog) {
  std::vector<AppendResult> sent;
  {
    auto store = Open();
    ASSERT_TRUE(store);
    for (int i = 0; i < 5; ++i) {
      sent.push_back(
          AppendOne(store.get(), MakeMessage("t", 0, "m", "", {"k"}, "id-" + std::to_string(i))));
    }
  }
  const std::string index_path = dir_.path() + "/index";
  auto old_style_keys = [&index_path] {
    leveldb::DB* raw = nullptr;
    EXPECT_TRUE(leveldb::DB::Open(leveldb::Options(), index_path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    int n = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next())
      n += it->key()[0] == 'k' || it->key()[0] == 'i';
    return n;
  };
  {
    // What an older version left: its own key layout and metadata, no layout mark.
    leveldb::DB* raw = nullptr;
    ASSERT_TRUE(leveldb::DB::Open(leveldb::Options(), index_path, &raw).ok());
    std::unique_ptr<leveldb::DB> db(raw);
    leveldb::WriteBatch batch;
    std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string key = it->key().ToString();
      if (key[0] == 'b' || key == "c/layout" || key == "c/meta_snapshot") batch.Delete(key);
    }
    for (const AppendResult& r : sent) {
      std::string key("kt\0k\0", 5);
      PutBigEndian64(&key, static_cast<uint64_t>(r.log_offset.value()));
      batch.Put(key, "");
    }
    batch.Put("m/topic/legacy", "{\"queues\": 2}");
    leveldb::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(db->Write(sync, &batch).ok());
  }
  ASSERT_EQ(old_style_keys(), 5);
  {
    auto store = Open();
    ASSERT_TRUE(store);
    EXPECT_EQ(store->LookupKey("t", "k", 10)->size(), 5u);  // rebuilt, in buckets
    EXPECT_EQ(store->LookupMessageId("id-3", 10)->front(), sent[3].log_offset);
    EXPECT_EQ(store->GetMeta("topic/legacy")->value_or(""), "{\"queues\": 2}");
    // The writer snapshots the metadata before it takes its first group.
    AppendOne(store.get(), MakeMessage("t", 0, "after"));
    const int64_t snapshot = store->Stats().meta_snapshot_offset;
    ASSERT_GE(snapshot, sent.back().log_offset.value());
    auto record = store->Read(LogOffset(snapshot));
    ASSERT_TRUE(record.ok()) << record.status().ToString();
    EXPECT_EQ(record->tag, kControlTagMetaSnapshot);
  }
  EXPECT_EQ(old_style_keys(), 0);
  DeleteIndex();
  auto store = Open();
  ASSERT_TRUE(store);
  EXPECT_EQ(ScanAll(store.get()), (Meta{{"topic/legacy", "{\"queues\": 2}"}}));
}

// A change marked Synced is on disk before its callback even under kAsync (the start epoch);
// others wait for the flusher like any append.
TEST_F(MetaLogTest, SyncedChangesAreFdatasyncedWhateverThePolicy) {
  StoreOptions o = Options();
  o.flush_policy = FlushPolicy::kAsync;
  o.flush_interval_ms = 3'600'000;  // the flusher stays out of the way
  auto store = Store::Open(o);
  ASSERT_TRUE(store.ok());
  const int64_t before = (*store)->Stats().syncs;
  MetaChange plain;
  plain.Put("a", "1");
  ASSERT_TRUE((*store)->AppendMetaAndWait(std::move(plain)).ok());
  EXPECT_EQ((*store)->Stats().syncs, before);
  MetaChange synced;
  synced.Put("broker/start_epoch", "7").Synced();
  ASSERT_TRUE((*store)->AppendMetaAndWait(std::move(synced)).ok());
  EXPECT_EQ((*store)->Stats().syncs, before + 1);
  EXPECT_EQ((*store)->GetMeta("broker/start_epoch")->value_or(""), "7");
}

// Under kAsync the index may be ahead of a log whose tail a power loss took: metadata ops of
// the lost records cannot be undone one by one, so the metadata is rebuilt from the log.
TEST_F(MetaLogTest, MetadataAheadOfATruncatedLogIsRebuiltFromTheLog) {
  int64_t cut = 0;
  {
    auto store = Open();
    ASSERT_TRUE(store);
    MetaChange kept, lost;
    kept.Put("topic/a", "1").Put("topic/b", "1");
    ASSERT_TRUE(Apply(store.get(), std::move(kept)).ok());
    cut = store->Stats().max_log_offset;
    lost.Put("topic/a", "2").Delete("topic/b").Put("topic/c", "2");
    ASSERT_TRUE(Apply(store.get(), std::move(lost)).ok());
    ASSERT_EQ(store->Stats().segments, 1);
  }
  ASSERT_EQ(::truncate((dir_.path() + "/commitlog/00000000000000000000").c_str(), cut), 0);
  auto store = Open();
  ASSERT_TRUE(store);
  // The log keeps what the cut left; the writer may since have appended a metadata snapshot
  // (of the rebuilt state) after it, and nothing else.
  const int64_t end = store->Stats().max_log_offset;
  ASSERT_GE(end, cut);
  if (end > cut) {
    auto after = store->Read(LogOffset(cut));
    ASSERT_TRUE(after.ok()) << after.status().ToString();
    EXPECT_EQ(after->type, RecordType::kControl);
    EXPECT_EQ(after->tag, kControlTagMetaSnapshot);
  }
  EXPECT_EQ(ScanAll(store.get()), (Meta{{"topic/a", "1"}, {"topic/b", "1"}}));
}

TEST(ControlRecordTest, PayloadRoundTripsAndRejectsDamage) {
  std::vector<MetaOp> ops = {MetaOp{MetaOpKind::kPut, "topic/a", "{}"},
                             MetaOp{MetaOpKind::kDelete, "topic/b", ""},
                             MetaOp{MetaOpKind::kDropTopicQueues, "b", ""}};
  auto records = EncodeControlRecords(ops, kControlTagMeta, kMaxControlPayloadBytes);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->size(), 1u);
  EXPECT_TRUE(DropsTopicQueues(records->front()));
  ControlPayload payload;
  ASSERT_TRUE(DecodeControlPayload(records->front().body, &payload).ok());
  EXPECT_EQ(payload.ops, ops);
  EXPECT_EQ(payload.part, 0u);
  EXPECT_EQ(payload.parts, 1u);
  const std::string body = records->front().body;
  // Every truncation and a byte of garbage at the end are refused.
  for (size_t n = 0; n < body.size(); ++n) {
    EXPECT_EQ(DecodeControlPayload(body.substr(0, n), &payload).code(), Code::kCorruption) << n;
  }
  EXPECT_EQ(DecodeControlPayload(body + "x", &payload).code(), Code::kCorruption);
  std::string bad_version = body;
  bad_version[0] = 2;
  EXPECT_EQ(DecodeControlPayload(bad_version, &payload).code(), Code::kCorruption);
  // Split: every part fits, parts are numbered, ops stay in order.
  std::vector<MetaOp> many;
  for (int i = 0; i < 100; ++i)
    many.push_back(MetaOp{MetaOpKind::kPut, "k" + std::to_string(i), std::string(50, 'v')});
  auto split = EncodeControlRecords(many, kControlTagMetaSnapshot, 1000);
  ASSERT_TRUE(split.ok());
  ASSERT_GT(split->size(), 5u);
  std::vector<MetaOp> back;
  for (size_t i = 0; i < split->size(); ++i) {
    ASSERT_LE((*split)[i].body.size(), 1000u);
    ASSERT_TRUE(DecodeControlPayload((*split)[i].body, &payload).ok());
    EXPECT_EQ(payload.part, i);
    EXPECT_EQ(payload.parts, split->size());
    back.insert(back.end(), payload.ops.begin(), payload.ops.end());
  }
  EXPECT_EQ(back, many);
  EXPECT_EQ(EncodeControlRecords({MetaOp{MetaOpKind::kPut, "k", std::string(2000, 'v')}},
                                 kControlTagMeta, 1000)
                .status()
                .code(),
            Code::kTooLarge);
}

}  // namespace
}  // namespace tidemq::store
