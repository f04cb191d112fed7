// The store's side of replication: ReadLog on a master, AppendReplicated on a replica,
// Promote, SetVisibleEnd and TruncateLog (docs/replication.md).
#include <gtest/gtest.h>

#include <future>
#include <map>

#include "store/file_names.h"
#include "store/store.h"
#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::AppendOne;
using testing::MakeMessage;
using testing::SmallOptions;
using testing::TempDir;

StoreOptions ReplicaOptions(const std::string& dir) {
  StoreOptions o = SmallOptions(dir);
  o.replica = true;
  return o;
}

std::unique_ptr<Store> OpenOrDie(const StoreOptions& options,
                                 std::vector<Observer*> observers = {}) {
  auto store = Store::Open(options, std::move(observers));
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

// Appends n messages over two topics and three queues, with keys and ids.
void Populate(Store* store, int n, int first = 0) {
  for (int i = first; i < first + n; ++i) {
    AppendOne(store, MakeMessage(i % 2 ? "orders" : "payments", static_cast<uint32_t>(i % 3),
                                 std::string(50 + i % 200, 'x'), "tag" + std::to_string(i % 4),
                                 {"key-" + std::to_string(i)}, "id-" + std::to_string(i)));
  }
}

Result<LogOffset> Apply(Store* replica, LogChunk chunk, bool sync = false) {
  std::promise<Result<LogOffset>> done;
  replica->AppendReplicated(std::move(chunk), sync, [&done](const Status& st, LogOffset end) {
    done.set_value(st.ok() ? Result<LogOffset>(end) : Result<LogOffset>(st));
  });
  return done.get_future().get();
}

LogOffset End(const Store& store) { return LogOffset(store.Stats().max_log_offset); }

// Copies the master's log to the replica in chunks of at most max_bytes; how many chunks.
int CatchUp(const Store& master, Store* replica, size_t max_bytes = 700) {
  int chunks = 0;
  while (End(*replica) < End(master)) {
    auto chunk = master.ReadLog(End(*replica), max_bytes);
    EXPECT_TRUE(chunk.ok()) << chunk.status().ToString();
    if (!chunk.ok() || chunk->bytes.empty()) break;
    auto end = Apply(replica, std::move(chunk).value());
    EXPECT_TRUE(end.ok()) << end.status().ToString();
    if (!end.ok()) break;
    ++chunks;
  }
  return chunks;
}

std::map<std::string, std::string> SegmentFiles(const std::string& data_dir) {
  std::map<std::string, std::string> out;
  const std::string dir = JoinPath(data_dir, "commitlog");
  auto names = FileSystem::Default()->ListDir(dir);
  EXPECT_TRUE(names.ok());
  for (const auto& name : *names) {
    auto bytes = FileSystem::Default()->ReadFile(JoinPath(dir, name));
    EXPECT_TRUE(bytes.ok());
    out[name] = bytes.ok() ? *bytes : "";
  }
  return out;
}

void ExpectSameQueues(const Store& a, const Store& b) {
  for (const std::string topic : {"orders", "payments"}) {
    for (uint32_t q = 0; q < 3; ++q) {
      auto ea = a.ReadQueue(topic, q, 0, 10000);
      auto eb = b.ReadQueue(topic, q, 0, 10000);
      ASSERT_TRUE(ea.ok() && eb.ok());
      ASSERT_EQ(ea->size(), eb->size()) << topic << "/" << q;
      for (size_t i = 0; i < ea->size(); ++i) {
        EXPECT_EQ((*ea)[i].queue_offset, (*eb)[i].queue_offset);
        EXPECT_EQ((*ea)[i].log_offset, (*eb)[i].log_offset);
        EXPECT_EQ((*ea)[i].store_ms, (*eb)[i].store_ms);
      }
      EXPECT_EQ(a.MaxQueueOffset(topic, q), b.MaxQueueOffset(topic, q));
    }
  }
}

class CountingObserver : public Observer {
 public:
  LogOffset Checkpoint() const override { return kNoLogOffset; }
  void OnRecord(const Record& record, LogOffset offset, bool replay) override {
    if (!replay && record.type == RecordType::kMessage) seen.push_back(offset);
  }
  std::vector<LogOffset> seen;
};

TEST(ReplicationStoreTest, ReplicaMirrorsTheMastersLogByteForByte) {
  TempDir mdir, rdir;
  auto master = OpenOrDie(SmallOptions(mdir.path()));
  CountingObserver observer;
  auto replica = OpenOrDie(ReplicaOptions(rdir.path()), {&observer});
  ASSERT_TRUE(master && replica);
  ASSERT_TRUE(master->AppendMetaAndWait(MetaChange().Put("topics/orders", "{\"queues\":3}")).ok());
  Populate(master.get(), 120);  // several 4 KiB segments
  ASSERT_GT(master->Stats().segments, 3);

  EXPECT_GT(CatchUp(*master, replica.get()), 3);
  EXPECT_EQ(End(*replica), End(*master));
  // Same segments (bases and bytes), same queues, same index, same metadata.
  EXPECT_EQ(SegmentFiles(rdir.path()), SegmentFiles(mdir.path()));
  ExpectSameQueues(*master, *replica);
  auto ids = replica->LookupMessageId("id-77", 4);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(*ids, *master->LookupMessageId("id-77", 4));
  EXPECT_EQ(replica->LookupKey("orders", "key-77", 4)->size(), 1u);
  auto meta = replica->GetMeta("topics/orders");
  ASSERT_TRUE(meta.ok() && meta->has_value());
  EXPECT_EQ(**meta, "{\"queues\":3}");
  EXPECT_EQ(observer.seen.size(), 120u);  // observers see every replicated record
  EXPECT_GE(replica->Stats().meta_snapshot_offset, 0);  // the master's snapshots came along
}

TEST(ReplicationStoreTest, AReplicaTakesNoAppendsUntilPromoted) {
  TempDir mdir, rdir;
  auto master = OpenOrDie(SmallOptions(mdir.path()));
  auto replica = OpenOrDie(ReplicaOptions(rdir.path()));
  Populate(master.get(), 10);
  CatchUp(*master, replica.get());
  ASSERT_TRUE(replica->replica());

  auto refused = replica->AppendAndWait({MakeMessage("orders", 1, "no")});
  EXPECT_EQ(refused.status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(replica->AppendMetaAndWait(MetaChange().Put("k", "v")).code(),
            Code::kFailedPrecondition);
  // And a master takes no replicated chunks.
  auto chunk = master->ReadLog(LogOffset(0), 1000);
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(Apply(master.get(), *chunk).status().code(), Code::kFailedPrecondition);

  // Promoted, it continues each queue after the master's last message.
  const int64_t next = master->MaxQueueOffset("orders", 1);
  ASSERT_TRUE(replica->Promote().ok());
  EXPECT_FALSE(replica->replica());
  AppendResult r = AppendOne(replica.get(), MakeMessage("orders", 1, "after"));
  EXPECT_EQ(r.queue_offset, next);
  EXPECT_EQ(r.log_offset, End(*master));
  EXPECT_EQ(Apply(replica.get(), LogChunk{End(*replica), LogOffset(0), "x"}).status().code(),
            Code::kFailedPrecondition);
}

TEST(ReplicationStoreTest, ABadChunkWritesNothing) {
  TempDir mdir, rdir;
  auto master = OpenOrDie(SmallOptions(mdir.path()));
  auto replica = OpenOrDie(ReplicaOptions(rdir.path()));
  Populate(master.get(), 5);
  auto chunk = master->ReadLog(LogOffset(0), 100000);
  ASSERT_TRUE(chunk.ok());
  ASSERT_FALSE(chunk->bytes.empty());

  LogChunk flipped = *chunk;
  flipped.bytes[flipped.bytes.size() - 3] ^= 0x40;  // in the last record's body
  EXPECT_EQ(Apply(replica.get(), flipped).status().code(), Code::kCorruption);
  LogChunk torn = *chunk;
  torn.bytes.resize(torn.bytes.size() - 7);
  EXPECT_EQ(Apply(replica.get(), torn).status().code(), Code::kCorruption);
  LogChunk elsewhere = *chunk;
  elsewhere.from = LogOffset(100);
  elsewhere.segment_base = LogOffset(0);
  EXPECT_EQ(Apply(replica.get(), elsewhere).status().code(), Code::kFailedPrecondition);
  EXPECT_EQ(End(*replica), LogOffset(0));
  EXPECT_EQ(replica->ReadQueue("orders", 1, 0, 10)->size(), 0u);

  ASSERT_TRUE(Apply(replica.get(), *chunk).ok());
  EXPECT_EQ(End(*replica), End(*master));
}

TEST(ReplicationStoreTest, ReadLogKeepsToWholeRecordsOfOneSegment) {
  TempDir mdir;
  auto master = OpenOrDie(SmallOptions(mdir.path()));
  Populate(master.get(), 60);
  const LogOffset end = End(*master);
  EXPECT_EQ(master->ReadLog(end + 1, 100).status().code(), Code::kOutOfRange);
  auto at_end = master->ReadLog(end, 100);
  ASSERT_TRUE(at_end.ok());
  EXPECT_TRUE(at_end->bytes.empty());
  EXPECT_EQ(master->ReadLog(LogOffset(5), 100).status().code(), Code::kCorruption);

  // A chunk smaller than one record still carries that record.
  auto one = master->ReadLog(LogOffset(0), 10);
  ASSERT_TRUE(one.ok());
  Record r;
  size_t consumed = 0;
  ASSERT_TRUE(DecodeRecord(one->bytes, &r, &consumed).ok());
  EXPECT_EQ(consumed, one->bytes.size());

  // Chunks never cross a segment: each ends at or before its segment's end.
  LogOffset at(0);
  while (at < end) {
    auto chunk = master->ReadLog(at, 1 << 20);
    ASSERT_TRUE(chunk.ok());
    ASSERT_FALSE(chunk->bytes.empty());
    EXPECT_LE(at.value() + static_cast<int64_t>(chunk->bytes.size()) - chunk->segment_base.value(),
              4096);
    at += static_cast<int64_t>(chunk->bytes.size());
  }
  EXPECT_EQ(at, end);
}

TEST(ReplicationStoreTest, AnEmptyReplicaStartsWhereTheMastersLogStarts) {
  TempDir mdir, rdir;
  auto master = OpenOrDie(SmallOptions(mdir.path()));
  auto replica = OpenOrDie(ReplicaOptions(rdir.path()));
  Populate(master.get(), 60);
  // As if retention had deleted the master's first segments: start at its third.
  std::vector<int64_t> bases;
  for (const auto& [name, bytes] : SegmentFiles(mdir.path())) {
    int64_t base = 0;
    if (ParseOffsetFileName(name, &base)) bases.push_back(base);
  }
  ASSERT_GE(bases.size(), 3u);
  auto chunk = master->ReadLog(LogOffset(bases[2]), 1000);
  ASSERT_TRUE(chunk.ok());
  ASSERT_TRUE(Apply(replica.get(), *chunk).ok());
  EXPECT_EQ(replica->Stats().min_log_offset, bases[2]);
  CatchUp(*master, replica.get());
  EXPECT_EQ(End(*replica), End(*master));

  // Not from the middle of a segment, though.
  TempDir other;
  auto fresh = OpenOrDie(ReplicaOptions(other.path()));
  auto mid = master->ReadLog(LogOffset(bases[2]) + static_cast<int64_t>(chunk->bytes.size()), 1000);
  ASSERT_TRUE(mid.ok());
  EXPECT_EQ(Apply(fresh.get(), *mid).status().code(), Code::kFailedPrecondition);
}

TEST(ReplicationStoreTest, AReplicaKeepsItsPlaceAcrossARestart) {
  TempDir mdir, rdir;
  auto master = OpenOrDie(SmallOptions(mdir.path()));
  Populate(master.get(), 40);
  {
    auto replica = OpenOrDie(ReplicaOptions(rdir.path()));
    CatchUp(*master, replica.get());
  }
  Populate(master.get(), 40, 40);
  auto replica = OpenOrDie(ReplicaOptions(rdir.path()));
  ASSERT_TRUE(replica->replica());
  CatchUp(*master, replica.get());
  EXPECT_EQ(SegmentFiles(rdir.path()), SegmentFiles(mdir.path()));
  ExpectSameQueues(*master, *replica);
}

TEST(ReplicationStoreTest, VisibleEndHidesWhatTheReplicasDoNotHoldYet) {
  TempDir mdir;
  auto master = OpenOrDie(SmallOptions(mdir.path()));
  std::vector<AppendResult> results;
  for (int i = 0; i < 6; ++i) results.push_back(AppendOne(master.get(), MakeMessage("t", 0, "m")));
  master->SetVisibleEnd(results[4].log_offset);
  EXPECT_EQ(master->ReadQueue("t", 0, 0, 10)->size(), 4u);
  EXPECT_EQ(master->ReadQueue("t", 0, 2, 10)->size(), 2u);
  master->SetVisibleEnd(kNoLogOffset);
  EXPECT_EQ(master->ReadQueue("t", 0, 0, 10)->size(), 6u);
}

TEST(ReplicationStoreTest, TruncationCutsADivergedTailAndRebuildsWhatWasDerived) {
  TempDir mdir, rdir;
  auto master = OpenOrDie(SmallOptions(mdir.path()));
  ASSERT_TRUE(master->AppendMetaAndWait(MetaChange().Put("topics/orders", "v1")).ok());
  Populate(master.get(), 50);
  StoreOptions ropts = ReplicaOptions(rdir.path());
  LogOffset shared;
  {
    auto replica = OpenOrDie(ropts);
    CatchUp(*master, replica.get());
    shared = End(*replica);
    // The replica becomes a master for a while, and writes what the other never sees.
    ASSERT_TRUE(replica->Promote().ok());
    ASSERT_TRUE(replica->AppendMetaAndWait(MetaChange().Put("topics/orders", "v2")).ok());
    Populate(replica.get(), 30, 1000);
  }
  // Meanwhile the old master goes on with different records.
  Populate(master.get(), 20, 2000);

  EXPECT_EQ(Store::TruncateLog(ropts, shared + 1).code(), Code::kInvalidArgument);
  ASSERT_TRUE(Store::TruncateLog(ropts, shared).ok());
  auto replica = OpenOrDie(ropts);
  EXPECT_EQ(End(*replica), shared);
  EXPECT_EQ(**replica->GetMeta("topics/orders"), "v1");
  EXPECT_TRUE(replica->LookupMessageId("id-1001", 4)->empty());
  CatchUp(*master, replica.get());
  EXPECT_EQ(SegmentFiles(rdir.path()), SegmentFiles(mdir.path()));
  ExpectSameQueues(*master, *replica);
  EXPECT_EQ(replica->LookupMessageId("id-2001", 4)->size(), 1u);
}

}  // namespace
}  // namespace tidemq::store
