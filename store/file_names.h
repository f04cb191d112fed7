// Names of the store's offset-named files: CommitLog segments (named by their base log offset)
// and consume queue files (named by their first queue offset). Both use the same 20-digit,
// zero-padded decimal form so that a directory listing sorts in offset order.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace tidemq::store {

inline constexpr size_t kOffsetFileNameLength = 20;

// "00000000000000004096" for 4096. offset must be >= 0.
std::string OffsetFileName(int64_t offset);

// The inverse of OffsetFileName: false for anything it would not have produced (wrong length,
// non-digits, overflow), so stray files such as "x.tmp" are ignored by directory scans.
bool ParseOffsetFileName(std::string_view name, int64_t* offset);

}  // namespace tidemq::store
