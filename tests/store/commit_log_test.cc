#include "store/commit_log.h"

#include <gtest/gtest.h>

#include "store/file_names.h"
#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::AppendOne;
using testing::MakeMessage;
using testing::SmallOptions;
using testing::TempDir;

TEST(FileNamesTest, BuildAndParseRoundTrip) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{4096}, int64_t{1} << 40,
                    std::numeric_limits<int64_t>::max()}) {
    std::string name = OffsetFileName(v);
    EXPECT_EQ(name.size(), kOffsetFileNameLength);
    int64_t parsed = -1;
    ASSERT_TRUE(ParseOffsetFileName(name, &parsed)) << name;
    EXPECT_EQ(parsed, v);
  }
  EXPECT_EQ(OffsetFileName(4096), "00000000000000004096");
}

TEST(FileNamesTest, ParseRejectsForeignNames) {
  int64_t v;
  EXPECT_FALSE(ParseOffsetFileName("", &v));
  EXPECT_FALSE(ParseOffsetFileName("4096", &v));
  EXPECT_FALSE(ParseOffsetFileName("0000000000000000409a", &v));
  EXPECT_FALSE(ParseOffsetFileName("00000000000000004096.tmp", &v));
  EXPECT_FALSE(ParseOffsetFileName("-0000000000000004096", &v));
  EXPECT_FALSE(ParseOffsetFileName("99999999999999999999", &v));  // overflows int64_t
  EXPECT_FALSE(ParseOffsetFileName("09223372036854775808", &v));  // INT64_MAX + 1
}

// Writes records straight through the CommitLog API, rolling as the store's writer does.
LogOffset WriteRecord(CommitLog* log, const Record& r) {
  std::string bytes;
  EncodeRecord(r, &bytes);
  if (bytes.size() > log->RoomInActiveSegment()) {
    EXPECT_TRUE(log->Roll().ok());
  }
  LogOffset at = log->end_offset();
  EXPECT_TRUE(log->Write(bytes).ok());
  return at;
}

TEST(CommitLogTest, RollsOverSmallSegmentsWithoutSpanning) {
  TempDir dir;
  auto log = CommitLog::Open(FileSystem::Default(), dir.path(), 4096);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  std::vector<LogOffset> offsets;
  for (int i = 0; i < 50; ++i) {
    offsets.push_back(WriteRecord(log->get(), MakeMessage("t", 0, std::string(300 + i, 'x'))));
  }
  auto segments = (*log)->Segments();
  EXPECT_GT(segments.size(), 3u);
  EXPECT_EQ(segments.front().base, LogOffset(0));
  for (size_t i = 0; i < offsets.size(); ++i) {
    auto r = (*log)->Read(offsets[i], (*log)->end_offset());
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body.size(), 300 + i);
    // The whole record lies inside one segment.
    int64_t base = offsets[i].value() / 4096 * 4096;
    bool found = false;
    for (const auto& s : segments) {
      if (s.base <= offsets[i] && offsets[i] < s.end) {
        found = true;
        EXPECT_LE(offsets[i].value() + static_cast<int64_t>(r->EncodedSize()), s.end.value());
      }
    }
    EXPECT_TRUE(found);
    (void)base;
  }
  EXPECT_EQ((*log)->Read(offsets[0] + 1, (*log)->end_offset()).status().code(), Code::kCorruption);
  EXPECT_EQ((*log)->Read((*log)->end_offset(), (*log)->end_offset()).status().code(),
            Code::kOutOfRange);

  // Reopen: every segment is found again and the end is where it was.
  LogOffset end = (*log)->end_offset();
  log->reset();
  auto again = CommitLog::Open(FileSystem::Default(), dir.path(), 4096);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->end_offset(), end);
  EXPECT_EQ((*again)->Segments().size(), segments.size());
  EXPECT_TRUE((*again)->Read(offsets.back(), end).ok());
}

void AppendBytes(const std::string& path, const std::string& bytes) {
  auto file = FileSystem::Default()->Open(path, false);
  ASSERT_TRUE(file.ok());
  auto size = (*file)->Size();
  ASSERT_TRUE((*file)->Write(*size, bytes).ok());
}

uint64_t FileSize(const std::string& path) {
  auto file = FileSystem::Default()->Open(path, false);
  return file.ok() ? *(*file)->Size() : 0;
}

std::string Body(int i) { return "body-" + std::to_string(i) + std::string(200, '.'); }

class TornTailTest : public ::testing::TestWithParam<int> {};

// The tails a crash can leave: a partial record, random garbage, zeros, a whole record with
// one bad byte.
std::string TornTail(int kind) {
  std::string rec;
  EncodeRecord(MakeMessage("orders", 0, "never acknowledged"), &rec);
  switch (kind) {
    case 0:
      return rec.substr(0, 30);
    case 1:
      return "garbage-garbage-garbage-garbage-garbage-garbage-garbage-garbage-garbage";
    case 2:
      return std::string(100, '\0');
    default:
      rec[rec.size() - 3] ^= 0x55;
      return rec;
  }
}

TEST_P(TornTailTest, RecoveryTruncatesTheTail) {
  TempDir dir;
  StoreOptions options = SmallOptions(dir.path());
  std::vector<AppendResult> written;
  int64_t end = 0;
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    for (int i = 0; i < 30; ++i) {
      written.push_back(AppendOne(store->get(), MakeMessage("orders", i % 2, Body(i))));
    }
    end = (*store)->Stats().max_log_offset;
    EXPECT_GT((*store)->Stats().segments, 1);
  }
  std::string last = testing::LastSegmentPath(dir.path());
  uint64_t valid_size = FileSize(last);
  AppendBytes(last, TornTail(GetParam()));
  ASSERT_GT(FileSize(last), valid_size);

  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ(FileSize(last), valid_size);
  EXPECT_EQ((*store)->Stats().max_log_offset, end);
  for (int i = 0; i < 30; ++i) {
    auto r = (*store)->Read(written[i].log_offset);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->body, Body(i));
  }
  AppendResult next = AppendOne(store->get(), MakeMessage("orders", 0, "after recovery"));
  EXPECT_EQ(next.log_offset.value(), end);
  EXPECT_EQ(next.queue_offset, 15);
  auto r = (*store)->Read(next.log_offset);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->body, "after recovery");
}

INSTANTIATE_TEST_SUITE_P(Tails, TornTailTest, ::testing::Values(0, 1, 2, 3));

// The active segment grows by steps of zeros (so that most syncs overwrite blocks already in
// the file); a sealed segment and a cleanly closed log hold their records only.
TEST(CommitLogTest, ActiveSegmentGrowsAheadAndIsTrimmedWhenSealedOrClosed) {
  TempDir dir;
  constexpr uint64_t kSegment = 4u << 20;
  auto log = CommitLog::Open(FileSystem::Default(), dir.path(), kSegment);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  WriteRecord(log->get(), MakeMessage("t", 0, std::string(1000, 'x')));
  const std::string first = dir.path() + "/" + OffsetFileName(0);
  EXPECT_GT(FileSize(first), static_cast<uint64_t>((*log)->end_offset().value()));
  EXPECT_LE(FileSize(first), kSegment);
  // Written past the first step and rolled: the sealed segment ends at its last record.
  while ((*log)->Segments().size() < 2) {
    WriteRecord(log->get(), MakeMessage("t", 0, std::string(100000, 'y')));
  }
  const auto segments = (*log)->Segments();
  EXPECT_EQ(FileSize(first), static_cast<uint64_t>(segments[0].end.value()));
  const LogOffset end = (*log)->end_offset();
  log->reset();
  const std::string second = dir.path() + "/" + OffsetFileName(segments[1].base.value());
  EXPECT_EQ(FileSize(second), static_cast<uint64_t>(end.value() - segments[1].base.value()));
}

// After a crash the zeros past the last record are the end of the log, not damage; zeros
// followed by anything else are a torn tail.
TEST(CommitLogRecoveryTest, ZerosPastTheLastRecordAreTheEndNotATornTail) {
  for (const bool garbage_after : {false, true}) {
    SCOPED_TRACE(garbage_after ? "zeros, then garbage" : "zeros only");
    TempDir dir;
    LogOffset end;
    {
      auto log = CommitLog::Open(FileSystem::Default(), dir.path(), 64u << 20);
      ASSERT_TRUE(log.ok());
      for (int i = 0; i < 5; ++i) WriteRecord(log->get(), MakeMessage("t", 0, Body(i)));
      end = (*log)->end_offset();
    }
    const std::string path = dir.path() + "/" + OffsetFileName(0);
    AppendBytes(path, std::string(300000, '\0') + (garbage_after ? "garbage" : ""));
    auto log = CommitLog::Open(FileSystem::Default(), dir.path(), 64u << 20);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    EXPECT_EQ((*log)->end_offset(), end);
    EXPECT_EQ((*log)->torn_tail_bytes(), garbage_after ? 300000u + 7 : 0u);
    EXPECT_EQ(FileSize(path), static_cast<uint64_t>(end.value()));
    // Appends go on at the end.
    EXPECT_EQ(WriteRecord(log->get(), MakeMessage("t", 0, "after")), end);
  }
}

TEST(CommitLogRecoveryTest, HalfWrittenLastRecordIsCutOff) {
  TempDir dir;
  StoreOptions options = SmallOptions(dir.path());
  AppendResult last_good, torn;
  {
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok());
    for (int i = 0; i < 3; ++i) last_good = AppendOne(store->get(), MakeMessage("t", 0, "x"));
    torn = AppendOne(store->get(),
                     MakeMessage("t", 0, std::string(500, 'y'), "", {"k-torn"}, "id-torn"));
  }
  std::string last = testing::LastSegmentPath(dir.path());
  {
    auto file = FileSystem::Default()->Open(last, false);
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Truncate(*(*file)->Size() - 250).ok());
  }
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->Stats().max_log_offset, torn.log_offset.value());
  EXPECT_TRUE((*store)->Read(last_good.log_offset).ok());
  EXPECT_FALSE((*store)->Read(torn.log_offset).ok());
  // Its index entries are gone (they would point at whatever is written there next)...
  EXPECT_TRUE((*store)->LookupMessageId("id-torn", 10)->empty());
  EXPECT_TRUE((*store)->LookupKey("t", "k-torn", 10)->empty());
  // ...and so is its consume queue entry — a hole now: its queue offset is not given to
  // another message (a consumer may have seen it under kAsync).
  EXPECT_EQ((*store)->MaxQueueOffset("t", 0), 4);
  EXPECT_EQ((*store)->ReadQueue("t", 0, 0, 10)->size(), 3u);
  AppendResult again = AppendOne(store->get(), MakeMessage("t", 0, "z"));
  EXPECT_EQ(again.queue_offset, 4);
  EXPECT_EQ(again.log_offset, torn.log_offset);
}

}  // namespace
}  // namespace tidemq::store
