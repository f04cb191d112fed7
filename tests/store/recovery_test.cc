// Recovery never throws away an intact record (issue 10, items 1 and 3): damage in the middle
// of the active segment is skipped with every intact record after it kept; only a tail with
// nothing intact after it is truncated; damage in an older segment met by replay is skipped
// and counted instead of stopping the store; strict_recovery refuses to start instead.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "store/file_names.h"
#include "store/store.h"
#include "tests/store/test_util.h"

namespace tidemq::store {
namespace {

using testing::AppendOne;
using testing::MakeMessage;
using testing::SmallOptions;
using testing::TempDir;

std::string Body(int i) { return "body-" + std::to_string(i) + std::string(150 + i % 40, '#'); }

struct Written {
  AppendResult result;
  std::string body;
};

// Appends n messages over two queues (ids "id-<i>", keys "key-<i>"), then closes the store.
std::vector<Written> WriteMessages(const StoreOptions& options, int n) {
  std::vector<Written> out;
  auto store = Store::Open(options);
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  for (int i = 0; i < n; ++i) {
    Record r = MakeMessage("orders", i % 2, Body(i), "", {"key-" + std::to_string(i)},
                           "id-" + std::to_string(i));
    out.push_back(Written{AppendOne(store->get(), std::move(r)), Body(i)});
  }
  return out;
}

struct SegmentFile {
  int64_t base;
  std::string path;
};

std::vector<SegmentFile> Segments(const std::string& data_dir) {
  const std::string dir = JoinPath(data_dir, "commitlog");
  std::vector<SegmentFile> out;
  auto names = FileSystem::Default()->ListDir(dir);
  if (!names.ok()) return out;
  for (const auto& name : *names) {
    int64_t base;
    if (ParseOffsetFileName(name, &base)) out.push_back({base, JoinPath(dir, name)});
  }
  std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.base < b.base; });
  return out;
}

// Rewrites the byte at log offset `at` (it must be inside a segment) with `value`.
void PokeByte(const std::string& data_dir, int64_t at, char value) {
  for (const auto& seg : Segments(data_dir)) {
    auto file = FileSystem::Default()->Open(seg.path, false);
    ASSERT_TRUE(file.ok());
    const int64_t size = static_cast<int64_t>(*(*file)->Size());
    if (at < seg.base || at >= seg.base + size) continue;
    ASSERT_TRUE((*file)->Write(static_cast<uint64_t>(at - seg.base), std::string(1, value)).ok());
    return;
  }
  FAIL() << "no segment holds log offset " << at;
}

char ByteAt(const std::string& data_dir, int64_t at) {
  for (const auto& seg : Segments(data_dir)) {
    auto file = FileSystem::Default()->Open(seg.path, false);
    std::string b;
    if ((*file)->Read(static_cast<uint64_t>(at - seg.base), 1, &b).ok() && b.size() == 1 &&
        at >= seg.base) {
      return b[0];
    }
  }
  return 0;
}

// Every message whose bytes were not touched is readable by offset and in its queue.
void ExpectIntactReadable(Store* store, const std::vector<Written>& written,
                          const std::set<int>& damaged) {
  std::set<int64_t> in_queues;
  for (uint32_t q = 0; q < 2; ++q) {
    auto entries = store->ReadQueue("orders", q, 0, 100000);
    ASSERT_TRUE(entries.ok());
    for (const auto& e : *entries) in_queues.insert(e.log_offset.value());
  }
  for (size_t i = 0; i < written.size(); ++i) {
    const LogOffset at = written[i].result.log_offset;
    auto r = store->Read(at);
    if (damaged.count(static_cast<int>(i))) {
      EXPECT_FALSE(r.ok()) << "message " << i << " was damaged but reads back";
      continue;
    }
    ASSERT_TRUE(r.ok()) << "intact message " << i << " at " << at.value() << " is lost: "
                        << r.status().ToString();
    EXPECT_EQ(r->body, written[i].body);
    EXPECT_TRUE(in_queues.count(at.value())) << "intact message " << i << " left its queue";
  }
}

class MidSegmentDamageTest : public ::testing::TestWithParam<int> {};

// Damage in the middle of the active segment, in each part of a record: its body, its
// length, its magic, its CRC; and a run of zeros over two records (a lost page).
TEST_P(MidSegmentDamageTest, KeepsEveryIntactRecordAfterTheDamage) {
  TempDir dir;
  StoreOptions options = SmallOptions(dir.path());
  options.segment_bytes = 1 << 20;  // one segment: the active one
  std::vector<Written> written = WriteMessages(options, 60);
  const int victim = 20;
  const int64_t at = written[victim].result.log_offset.value();
  std::set<int> damaged = {victim};
  switch (GetParam()) {
    case 0:  // a flipped bit in the body
      PokeByte(dir.path(), at + written[victim].result.size - 5,
               static_cast<char>(ByteAt(dir.path(), at + written[victim].result.size - 5) ^ 1));
      break;
    case 1:  // the length field
      PokeByte(dir.path(), at + 5, 0x7f);
      break;
    case 2:  // the magic
      PokeByte(dir.path(), at, 'X');
      break;
    case 3:  // the CRC
      PokeByte(dir.path(), at + 9, static_cast<char>(ByteAt(dir.path(), at + 9) ^ 0x80));
      break;
    default: {  // zeros over the end of one record and the start of the next
      damaged.insert(victim + 1);
      const int64_t end = written[victim + 1].result.log_offset.value() + 40;
      for (int64_t p = at + 30; p < end; ++p) PokeByte(dir.path(), p, '\0');
    }
  }
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  StoreStats stats = (*store)->Stats();
  EXPECT_EQ(stats.damaged_ranges, 1);
  EXPECT_GT(stats.damaged_bytes, 0);
  EXPECT_EQ(stats.torn_tail_bytes, 0);
  // Nothing was truncated: the log ends where it did.
  EXPECT_EQ(stats.max_log_offset, written.back().result.log_offset.value() +
                                      written.back().result.size);
  ExpectIntactReadable(store->get(), written, damaged);
  // The damaged bytes were copied aside for the operator.
  auto copies = FileSystem::Default()->ListDir(JoinPath(dir.path(), "damaged"));
  ASSERT_TRUE(copies.ok());
  EXPECT_EQ(copies->size(), 1u);
  // Messages found by id still resolve (the damaged one's entry points at damage).
  EXPECT_EQ((*store)->LookupMessageId("id-30", 10)->size(), 1u);
  // Appends go on after the last intact record.
  AppendResult next = AppendOne(store->get(), MakeMessage("orders", 0, "after"));
  EXPECT_EQ(next.log_offset.value(), stats.max_log_offset);
  EXPECT_EQ((*store)->Read(next.log_offset)->body, "after");
}

INSTANTIATE_TEST_SUITE_P(Parts, MidSegmentDamageTest, ::testing::Values(0, 1, 2, 3, 4));

TEST(RecoveryTest, DamagedLastRecordIsATornTail) {
  TempDir dir;
  StoreOptions options = SmallOptions(dir.path());
  options.segment_bytes = 1 << 20;
  std::vector<Written> written = WriteMessages(options, 10);
  const auto& last = written.back().result;
  PokeByte(dir.path(), last.log_offset.value() + last.size - 3, 'Z');
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok());
  StoreStats stats = (*store)->Stats();
  EXPECT_EQ(stats.damaged_ranges, 0);
  EXPECT_EQ(stats.torn_tail_bytes, last.size);
  EXPECT_EQ(stats.max_log_offset, last.log_offset.value());
  written.pop_back();
  ExpectIntactReadable(store->get(), written, {});
}

// Damage in an old segment that replay meets (the derived state is rebuilt from scratch):
// skipped and counted, the broker starts; strict recovery refuses to start.
TEST(RecoveryTest, ReplayOverAnOldDamagedSegmentSkipsAndCounts) {
  TempDir dir;
  StoreOptions options = SmallOptions(dir.path());  // 4 KiB segments
  std::vector<Written> written = WriteMessages(options, 80);
  ASSERT_GT(Segments(dir.path()).size(), 4u);
  const int victim = 5;  // in the first segment
  const int64_t at = written[victim].result.log_offset.value();
  PokeByte(dir.path(), at + 40, static_cast<char>(ByteAt(dir.path(), at + 40) ^ 0x10));
  ASSERT_TRUE(FileSystem::Default()->RemoveAll(JoinPath(dir.path(), "index")).ok());
  ASSERT_TRUE(FileSystem::Default()->RemoveAll(JoinPath(dir.path(), "consumequeue")).ok());

  StoreOptions strict = options;
  strict.strict_recovery = true;
  {
    auto refused = Store::Open(strict);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), Code::kCorruption);
    EXPECT_NE(refused.status().message().find(std::to_string(at)), std::string::npos)
        << refused.status().ToString();
  }
  auto store = Store::Open(options);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  EXPECT_EQ((*store)->Stats().damaged_ranges, 1);
  ExpectIntactReadable(store->get(), written, {victim});
  auto bad = (*store)->Read(LogOffset(at));
  EXPECT_EQ(bad.status().code(), Code::kCorruption);
  EXPECT_EQ((*store)->Stats().corrupt_reads, 2);  // once above, once here
}

// Random single-byte changes and cuts in random segments, many rounds: every record whose
// bytes were not touched stays readable (a cut loses what it cuts off, nothing before it),
// and the store keeps accepting appends.
TEST(RecoveryTest, RandomFlipsAndCutsNeverLoseAnIntactRecord) {
  std::mt19937 rng(20261201);
  for (int round = 0; round < 16; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    TempDir dir;
    StoreOptions options = SmallOptions(dir.path());
    options.segment_bytes = 8192;
    std::vector<Written> written = WriteMessages(options, 120);
    const auto segments = Segments(dir.path());
    const auto& seg = segments[rng() % segments.size()];
    const bool active = &seg == &segments.back();
    auto file = FileSystem::Default()->Open(seg.path, false);
    ASSERT_TRUE(file.ok());
    const uint64_t size = *(*file)->Size();
    const uint64_t pos = rng() % size;
    const int64_t at = seg.base + static_cast<int64_t>(pos);
    const bool cut = rng() % 3 == 0;
    if (cut) {
      ASSERT_TRUE((*file)->Truncate(pos).ok());
    } else {
      std::string b;
      ASSERT_TRUE((*file)->Read(pos, 1, &b).ok());
      b[0] = static_cast<char>(b[0] ^ (1 + rng() % 255));
      ASSERT_TRUE((*file)->Write(pos, b).ok());
    }
    file->reset();
    const bool rebuild = rng() % 2 == 0;  // replay everything, as after deleting the indexes
    if (rebuild) {
      ASSERT_TRUE(FileSystem::Default()->RemoveAll(JoinPath(dir.path(), "index")).ok());
      ASSERT_TRUE(FileSystem::Default()->RemoveAll(JoinPath(dir.path(), "consumequeue")).ok());
    }
    std::set<int> damaged;
    const int64_t seg_end = seg.base + static_cast<int64_t>(size);
    for (size_t i = 0; i < written.size(); ++i) {
      const int64_t b = written[i].result.log_offset.value();
      const int64_t e = b + written[i].result.size;
      const bool hit = cut ? (e > at && b < seg_end) : (b <= at && at < e);
      if (hit) damaged.insert(static_cast<int>(i));
    }
    auto store = Store::Open(options);
    ASSERT_TRUE(store.ok()) << store.status().ToString() << (cut ? " cut" : " flip") << " at "
                            << at << (active ? " (active)" : "");
    ExpectIntactReadable(store->get(), written, damaged);
    AppendResult next = AppendOne(store->get(), MakeMessage("orders", 0, "after"));
    EXPECT_EQ((*store)->Read(next.log_offset)->body, "after");
  }
}

}  // namespace
}  // namespace tidemq::store
