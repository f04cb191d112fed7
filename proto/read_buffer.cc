#include "proto/read_buffer.h"

#include <algorithm>
#include <cstring>

namespace tidemq::wire {
namespace {
constexpr size_t kMinCapacity = 4u << 10;  // an idle connection's buffer
}  // namespace

void ReadBuffer::Reallocate(size_t capacity) {
  const size_t have = end_ - start_;
  // new char[] leaves the bytes uninitialised: pages are touched only as data lands in them.
  std::unique_ptr<char[]> buf(new char[capacity]);
  if (have > 0) std::memcpy(buf.get(), buf_.get() + start_, have);
  buf_ = std::move(buf);
  capacity_ = capacity;
  start_ = 0;
  end_ = have;
}

std::span<char> ReadBuffer::Prepare(size_t want) {
  want = std::max<size_t>(want, 1);
  const size_t have = end_ - start_;
  if (start_ > 0) {
    if (have > 0) std::memmove(buf_.get(), buf_.get() + start_, have);
    start_ = 0;
    end_ = have;
  }
  if (capacity_ > keep_at_most_ && have * 4 < capacity_) {
    Reallocate(std::max(kMinCapacity, have * 2));  // done with a large frame
  }
  if (capacity_ < have + want && (capacity_ - have <= capacity_ / 2 || last_filled_)) {
    Reallocate(std::min(have + want, std::max(capacity_ * 2, kMinCapacity)));
  }
  offered_ = std::min(want, capacity_ - have);
  return std::span<char>(buf_.get() + end_, offered_);
}

void ReadBuffer::Commit(size_t n) {
  end_ += n;
  last_filled_ = n == offered_;
}

void ReadBuffer::Reset() {
  buf_.reset();
  capacity_ = start_ = end_ = offered_ = 0;
  last_filled_ = false;
}

}  // namespace tidemq::wire
