// CRC32C (Castagnoli), the checksum of every stored record and every index entry that needs one.
// Uses the SSE4.2 instruction when the CPU has it, a table otherwise; both give the same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tidemq::crc32c {

// Extends `crc` (the value of the bytes before `data`) over `data`. Start with 0.
uint32_t Extend(uint32_t crc, const void* data, size_t n);

inline uint32_t Value(const void* data, size_t n) { return Extend(0, data, n); }
inline uint32_t Value(std::string_view s) { return Extend(0, s.data(), s.size()); }

}  // namespace tidemq::crc32c
