// wire::ReadBuffer (proto/read_buffer.h), the read buffer of broker and client connections: it
// grows only as bytes arrive (never to a size a reader merely wants), keeps unparsed bytes
// intact across growth and compaction, and shrinks back after a large frame.
#include "proto/read_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>

namespace tidemq::wire {
namespace {

// Reads up to `n` bytes of `src` from `*pos` into the buffer, as a socket read would.
size_t Feed(ReadBuffer& b, size_t want, const std::string& src, size_t* pos, size_t n) {
  std::span<char> room = b.Prepare(want);
  size_t got = std::min({room.size(), n, src.size() - *pos});
  std::memcpy(room.data(), src.data() + *pos, got);
  b.Commit(got);
  *pos += got;
  return got;
}

TEST(ReadBufferTest, AnAnnouncedSizeIsNotAllocatedBeforeItsBytesArrive) {
  ReadBuffer b;
  std::string src(100, 'x');
  size_t pos = 0;
  // The reader wants the whole 64 MiB frame it was told about; 100 bytes come.
  Feed(b, 64u << 20, src, &pos, 100);
  EXPECT_EQ(b.unparsed().size(), 100u);
  EXPECT_LE(b.capacity(), 8u << 10);
}

TEST(ReadBufferTest, GrowsOnlyAsBytesArriveAndKeepsThem) {
  ReadBuffer b;
  std::string src;
  for (size_t i = 0; i < (3u << 20); ++i) src.push_back(static_cast<char>('a' + i % 26));
  size_t pos = 0;
  while (pos < src.size()) {
    // Reads of odd sizes, each wanting all that is left.
    Feed(b, src.size() - pos, src, &pos, 70'001);
    // Doubling once more than half full: never more than four times what arrived.
    EXPECT_LE(b.capacity(), 4 * b.unparsed().size() + (8u << 10)) << "after " << pos;
  }
  EXPECT_EQ(b.unparsed(), src);
}

TEST(ReadBufferTest, CompactsParsedBytesAndShrinksAfterALargeFrame) {
  ReadBuffer b;
  std::string src(2u << 20, 'f');
  src += "next-frame";
  size_t pos = 0;
  while (pos < src.size()) Feed(b, src.size() - pos, src, &pos, 1u << 20);
  ASSERT_GE(b.capacity(), 2u << 20);
  b.Consume(2u << 20);  // the large frame was parsed
  std::string more = "-tail";
  size_t more_pos = 0;
  Feed(b, 64u << 10, more, &more_pos, more.size());
  EXPECT_EQ(b.unparsed(), "next-frame-tail");
  EXPECT_LE(b.capacity(), 128u << 10);
  b.Reset();
  EXPECT_EQ(b.capacity(), 0u);
  EXPECT_TRUE(b.unparsed().empty());
}

}  // namespace
}  // namespace tidemq::wire
