// Strong types for the numbers that are easy to mix up: a position in the CommitLog, an index
// inside one consume queue, and a queue id.
#pragma once

#include <compare>
#include <cstdint>
#include <functional>

namespace tidemq {

template <typename Tag, typename Rep>
class StrongInt {
 public:
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(Rep v) : v_(v) {}
  constexpr Rep value() const { return v_; }
  constexpr auto operator<=>(const StrongInt&) const = default;
  constexpr StrongInt operator+(Rep d) const { return StrongInt(v_ + d); }
  constexpr StrongInt& operator+=(Rep d) {
    v_ += d;
    return *this;
  }

 private:
  Rep v_{};
};

// Byte position of a record in the CommitLog (global, across segments).
using LogOffset = StrongInt<struct LogOffsetTag, int64_t>;
// Index of an entry inside one (topic, queue) consume queue: 0, 1, 2, ...
using QueueOffset = StrongInt<struct QueueOffsetTag, int64_t>;
using QueueId = StrongInt<struct QueueIdTag, uint32_t>;

inline constexpr LogOffset kNoLogOffset{-1};

}  // namespace tidemq

template <typename Tag, typename Rep>
struct std::hash<tidemq::StrongInt<Tag, Rep>> {
  size_t operator()(const tidemq::StrongInt<Tag, Rep>& v) const {
    return std::hash<Rep>()(v.value());
  }
};
