// The bytes a connection has read and not yet parsed into frames; shared by broker and client.
//
// The buffer grows only as bytes arrive: at most doubling, and only when more than half of it
// holds unparsed bytes or the last read filled all the room it was given. A frame's announced
// length therefore never allocates its size up front (a peer that announces 64 MiB and sends
// 100 bytes costs 100 bytes), and memory is left uninitialised until bytes land in it. It
// shrinks back once a large frame has been parsed. Single-threaded: its owner's strand/thread.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>

namespace tidemq::wire {

class ReadBuffer {
 public:
  // keep_at_most: once the unparsed bytes fit in a quarter of a buffer larger than this, the
  // buffer shrinks back (after a large frame).
  explicit ReadBuffer(size_t keep_at_most = 1u << 20) : keep_at_most_(keep_at_most) {}

  // Room for the next read, at most `want` bytes (>= 1): typically the rest of the frame being
  // assembled plus a chunk of what follows. Moves the unparsed bytes to the front first.
  std::span<char> Prepare(size_t want);
  // `n` bytes were read into the room the last Prepare gave.
  void Commit(size_t n);

  std::string_view unparsed() const {
    return std::string_view(buf_.get() + start_, end_ - start_);
  }
  // The first n unparsed bytes were parsed.
  void Consume(size_t n) { start_ += n; }
  size_t capacity() const { return capacity_; }
  // Drops the bytes and frees the memory. Not while a read into prepared room is under way.
  void Reset();

 private:
  void Reallocate(size_t capacity);

  const size_t keep_at_most_;
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t start_ = 0;  // unparsed bytes are [start_, end_)
  size_t end_ = 0;
  size_t offered_ = 0;  // room the last Prepare gave
  bool last_filled_ = false;
};

}  // namespace tidemq::wire
