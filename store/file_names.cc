#include "store/file_names.h"

#include <cinttypes>
#include <cstdio>
#include <limits>

namespace tidemq::store {

std::string OffsetFileName(int64_t offset) {
  char buf[kOffsetFileNameLength + 1];
  std::snprintf(buf, sizeof(buf), "%020" PRId64, offset);
  return std::string(buf, kOffsetFileNameLength);
}

bool ParseOffsetFileName(std::string_view name, int64_t* offset) {
  if (name.size() != kOffsetFileNameLength) return false;
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  int64_t v = 0;
  for (char c : name) {
    if (c < '0' || c > '9') return false;
    int64_t digit = c - '0';
    if (v > (kMax - digit) / 10) return false;  // 20 digits can exceed int64_t
    v = v * 10 + digit;
  }
  *offset = v;
  return true;
}

}  // namespace tidemq::store
