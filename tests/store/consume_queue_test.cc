#include "store/consume_queue.h"

#include <gtest/gtest.h>

#include "tests/store/fault_fs.h"
#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::TempDir;

QueueEntry Entry(int64_t queue_offset, int64_t log_offset) {
  QueueEntry e;
  e.queue_offset = queue_offset;
  e.log_offset = LogOffset(log_offset);
  e.size = 100;
  e.tag_hash = static_cast<uint32_t>(queue_offset * 7 + 1);
  e.store_ms = 1000 + queue_offset;
  return e;
}

// Two descriptors for every queue of a test: reading three files evicts.
std::unique_ptr<ConsumeQueue> OpenQueue(const std::string& dir,
                                        FileSystem* fs = FileSystem::Default(),
                                        size_t open_files = 2) {
  auto cq = ConsumeQueue::Open(fs, std::make_shared<FileCache>(fs, open_files), dir,
                               /*entries_per_file=*/4);
  EXPECT_TRUE(cq.ok()) << cq.status().ToString();
  return std::move(cq).value();
}

std::vector<int64_t> Offsets(const ConsumeQueue& cq, int64_t from = 0,
                             LogOffset log_min = LogOffset(0)) {
  auto entries = cq.Read(from, 100, log_min);
  EXPECT_TRUE(entries.ok()) << entries.status().ToString();
  std::vector<int64_t> out;
  for (const auto& e : *entries) out.push_back(e.queue_offset);
  return out;
}

TEST(ConsumeQueueTest, EntryEncodingRoundTrips) {
  QueueEntry e = Entry(5, 123456789);
  char buf[kQueueEntrySize];
  EncodeQueueEntry(e, buf);
  QueueEntry d = DecodeQueueEntry(buf);
  EXPECT_EQ(d.log_offset, e.log_offset);
  EXPECT_EQ(d.size, e.size);
  EXPECT_EQ(d.tag_hash, e.tag_hash);
  EXPECT_EQ(d.store_ms, e.store_ms);
}

TEST(ConsumeQueueTest, AppendReadAcrossFilesAndReopen) {
  TempDir tmp;
  std::string dir = JoinPath(tmp.path(), "%RETRY%g/0");
  {
    auto cq = OpenQueue(dir);
    EXPECT_EQ(cq->next_offset(), 0);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(cq->Append(Entry(i, i * 100)).ok());
    // Replayed entries are skipped.
    ASSERT_TRUE(cq->Append(Entry(3, 999999)).ok());
    // Staged entries are invisible until flushed (one write per file for the whole group).
    EXPECT_EQ(cq->next_offset(), 0);
    EXPECT_TRUE(cq->Read(0, 10, LogOffset(0))->empty());
    ASSERT_TRUE(cq->Flush().ok());
    EXPECT_EQ(cq->next_offset(), 10);
    auto entries = cq->Read(2, 5, LogOffset(0));
    ASSERT_TRUE(entries.ok());
    ASSERT_EQ(entries->size(), 5u);
    for (int i = 0; i < 5; ++i) {
      EXPECT_EQ((*entries)[i].queue_offset, 2 + i);
      EXPECT_EQ((*entries)[i].log_offset.value(), (2 + i) * 100);
    }
    ASSERT_TRUE(cq->Sync().ok());
  }
  auto names = FileSystem::Default()->ListDir(dir);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(names->size(), 3u);  // 4 + 4 + 2 entries
  auto cq = OpenQueue(dir);
  EXPECT_EQ(cq->min_offset(), 0);
  EXPECT_EQ(cq->next_offset(), 10);
  auto all = cq->Read(0, 100, LogOffset(0));
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 10u);
  EXPECT_EQ((*all)[9].tag_hash, Entry(9, 0).tag_hash);
  EXPECT_TRUE(cq->Read(10, 5, LogOffset(0))->empty());
}

TEST(ConsumeQueueTest, TruncateFromLogTurnsEntriesPastTheEndIntoHoles) {
  TempDir tmp;
  auto cq = OpenQueue(tmp.path() + "/q");
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(cq->Append(Entry(i, i * 100)).ok());
  ASSERT_TRUE(cq->Flush().ok());
  ASSERT_TRUE(cq->TruncateFromLog(LogOffset(450)).ok());  // entries 5.. point at 500..
  // Their queue offsets are not given to other messages: a consumer may have seen them.
  EXPECT_EQ(cq->next_offset(), 10);
  EXPECT_EQ(Offsets(*cq), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  ASSERT_TRUE(cq->Append(Entry(5, 450)).ok());  // a replayed offset: skipped
  ASSERT_TRUE(cq->Append(Entry(10, 450)).ok());
  ASSERT_TRUE(cq->Flush().ok());
  cq.reset();
  cq = OpenQueue(tmp.path() + "/q");
  EXPECT_EQ(cq->next_offset(), 11);
  EXPECT_EQ(Offsets(*cq), (std::vector<int64_t>{0, 1, 2, 3, 4, 10}));
  auto e = cq->Read(5, 1, LogOffset(0));
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ((*e)[0].log_offset.value(), 450);
}

TEST(ConsumeQueueTest, SearchesSeeThroughHolesAnywhere) {
  // Real entries, a long gap of holes (a raised next offset), real entries again: trimming
  // must land on the right entry whichever holes the binary search meets.
  TempDir tmp;
  std::string dir = tmp.path() + "/q";
  auto cq = OpenQueue(dir);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(cq->Append(Entry(i, i * 100)).ok());
  ASSERT_TRUE(cq->Flush().ok());
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(cq->Append(Entry(30 + i, 1000 + i * 100)).ok());
  ASSERT_TRUE(cq->Flush().ok());
  EXPECT_EQ(Offsets(*cq), (std::vector<int64_t>{0, 1, 2, 3, 30, 31, 32, 33}));
  ASSERT_TRUE(cq->TrimBelowLog(LogOffset(200)).ok());
  EXPECT_EQ(Offsets(*cq), (std::vector<int64_t>{2, 3, 30, 31, 32, 33}));
  ASSERT_TRUE(cq->TrimBelowLog(LogOffset(1150)).ok());
  EXPECT_EQ(Offsets(*cq), (std::vector<int64_t>{32, 33}));
  cq.reset();
  cq = OpenQueue(dir);
  EXPECT_EQ(cq->next_offset(), 34);
  EXPECT_EQ(Offsets(*cq), (std::vector<int64_t>{32, 33}));
  // Truncation past a gap turns only the entries past the end into holes.
  ASSERT_TRUE(cq->TruncateFromLog(LogOffset(1250)).ok());
  EXPECT_EQ(Offsets(*cq), (std::vector<int64_t>{32}));
  EXPECT_EQ(cq->next_offset(), 34);
}

TEST(ConsumeQueueTest, ManyFilesThroughFewDescriptors) {
  TempDir tmp;
  std::string dir = tmp.path() + "/q";
  auto cache = std::make_shared<FileCache>(FileSystem::Default(), 1);
  auto opened = ConsumeQueue::Open(FileSystem::Default(), cache, dir, 4);
  ASSERT_TRUE(opened.ok());
  auto cq = std::move(opened).value();
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(cq->Append(Entry(i, i * 100)).ok());
  ASSERT_TRUE(cq->Flush().ok());
  ASSERT_TRUE(cq->Sync().ok());
  EXPECT_EQ(Offsets(*cq).size(), 20u);  // five files, read through one descriptor
  EXPECT_LE(cache->open_files(), 1u);
  EXPECT_GT(cache->evictions(), 0);
}

TEST(ConsumeQueueTest, FailedFlushKeepsEntriesStagedForTheNextOne) {
  TempDir tmp;
  testing::FaultFileSystem fs(FileSystem::Default(), "/q/");
  auto cq = OpenQueue(tmp.path() + "/q", &fs);
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(cq->Append(Entry(i, 1000 + i * 100)).ok());
  fs.FailWith(Code::kResourceExhausted);
  fs.FailWritesAfter(1);  // the first file is written, the second is not
  Status st = cq->Flush();
  EXPECT_EQ(st.code(), Code::kResourceExhausted) << st.ToString();
  EXPECT_EQ(cq->next_offset(), 0);  // nothing published
  EXPECT_EQ(cq->first_unflushed(), LogOffset(1000));
  // More arrive meanwhile, past a gap: staged behind the failed ones, the gap as holes.
  ASSERT_TRUE(cq->Append(Entry(8, 2000)).ok());
  fs.FailWritesAfter(-1);
  ASSERT_TRUE(cq->Flush().ok());
  EXPECT_EQ(cq->first_unflushed(), kNoLogOffset);
  EXPECT_EQ(cq->next_offset(), 9);
  EXPECT_EQ(Offsets(*cq), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 8}));
}

TEST(ConsumeQueueTest, OutOfDescriptorsEvictsAndRetries) {
  TempDir tmp;
  testing::FaultFileSystem fs(FileSystem::Default(), "/q/");
  auto cache = std::make_shared<FileCache>(&fs, 8);
  auto opened = ConsumeQueue::Open(&fs, cache, tmp.path() + "/q", 4);
  ASSERT_TRUE(opened.ok());
  auto cq = std::move(opened).value();
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(cq->Append(Entry(i, i * 100)).ok());
  ASSERT_TRUE(cq->Flush().ok());
  EXPECT_EQ(cache->open_files(), 3u);
  cache->Erase(1, 8);  // forget the last file: reading it opens it again
  fs.FailWith(Code::kResourceExhausted);
  fs.FailOpensAfter(0);  // EMFILE once: the cache closes others and tries again
  auto entries = cq->Read(8, 4, LogOffset(0));
  // The injected failure does not stop after one call: the retry fails too, and the read
  // reports it as running out of resources, not as damage.
  EXPECT_EQ(entries.status().code(), Code::kResourceExhausted);
  EXPECT_LT(cache->open_files(), 3u);  // it did close idle files before retrying
  fs.FailOpensAfter(-1);
  ASSERT_TRUE(cq->Read(8, 4, LogOffset(0)).ok());
  EXPECT_EQ(cq->Read(8, 4, LogOffset(0))->size(), 4u);
}

TEST(ConsumeQueueTest, TrimBelowLogMovesMinAndRemovesFiles) {
  TempDir tmp;
  std::string dir = tmp.path() + "/q";
  auto cq = OpenQueue(dir);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(cq->Append(Entry(i, i * 100)).ok());
  ASSERT_TRUE(cq->Flush().ok());
  ASSERT_TRUE(cq->TrimBelowLog(LogOffset(550)).ok());
  EXPECT_EQ(cq->min_offset(), 6);
  EXPECT_EQ(cq->next_offset(), 10);
  EXPECT_EQ(FileSystem::Default()->ListDir(dir)->size(), 2u);  // the file of 0..3 is gone
  auto entries = cq->Read(0, 100, LogOffset(550));
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ(entries->front().queue_offset, 6);
  // Never the file holding the last entry, even when everything is trimmed.
  ASSERT_TRUE(cq->TrimBelowLog(LogOffset(100000)).ok());
  EXPECT_EQ(cq->min_offset(), 10);
  cq.reset();
  cq = OpenQueue(dir);
  EXPECT_EQ(cq->next_offset(), 10);
}

TEST(ConsumeQueueTest, EmptyQueueStartsWhereTheLogSays) {
  TempDir tmp;
  std::string dir = tmp.path() + "/q";
  auto cq = OpenQueue(dir);
  ASSERT_TRUE(cq->Append(Entry(6, 600)).ok());
  ASSERT_TRUE(cq->Append(Entry(7, 700)).ok());
  ASSERT_TRUE(cq->Flush().ok());
  EXPECT_EQ(cq->min_offset(), 6);
  EXPECT_EQ(cq->next_offset(), 8);
  cq.reset();
  cq = OpenQueue(dir);
  EXPECT_EQ(cq->min_offset(), 6);
  EXPECT_EQ(cq->next_offset(), 8);
  auto entries = cq->Read(0, 10, LogOffset(0));
  ASSERT_EQ(entries->size(), 2u);
  EXPECT_EQ(entries->front().queue_offset, 6);
}

TEST(ConsumeQueueTest, GapWhileStagedKeepsEveryEntry) {
  TempDir tmp;
  auto cq = OpenQueue(tmp.path() + "/q");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(cq->Append(Entry(i, i * 100)).ok());
  ASSERT_TRUE(cq->Append(Entry(5, 500)).ok());  // slots 3 and 4 stay holes
  ASSERT_TRUE(cq->Flush().ok());
  EXPECT_EQ(cq->next_offset(), 6);
  auto entries = cq->Read(0, 10, LogOffset(0));
  ASSERT_TRUE(entries.ok());
  std::vector<int64_t> offsets;
  for (const auto& e : *entries) offsets.push_back(e.queue_offset);
  EXPECT_EQ(offsets, (std::vector<int64_t>{0, 1, 2, 5}));
}

}  // namespace
}  // namespace tidemq::store
