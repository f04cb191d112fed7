// Little-endian fixed-width encoding used by every on-disk format (CommitLog records, consume
// queue entries, index keys use big-endian where byte order must sort: see PutBigEndian64).
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

namespace tidemq {

inline void PutFixed16(std::string* dst, uint16_t v) { dst->append(reinterpret_cast<char*>(&v), 2); }
inline void PutFixed32(std::string* dst, uint32_t v) { dst->append(reinterpret_cast<char*>(&v), 4); }
inline void PutFixed64(std::string* dst, uint64_t v) { dst->append(reinterpret_cast<char*>(&v), 8); }

inline void EncodeFixed32(char* dst, uint32_t v) { std::memcpy(dst, &v, 4); }
inline void EncodeFixed64(char* dst, uint64_t v) { std::memcpy(dst, &v, 8); }
inline uint16_t DecodeFixed16(const char* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t DecodeFixed32(const char* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
inline uint64_t DecodeFixed64(const char* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

// Big-endian, so that byte-wise comparison (LevelDB's default) orders numbers correctly.
inline void PutBigEndian64(std::string* dst, uint64_t v) {
  for (int i = 7; i >= 0; --i) dst->push_back(static_cast<char>((v >> (i * 8)) & 0xff));
}
inline void PutBigEndian16(std::string* dst, uint16_t v) {
  dst->push_back(static_cast<char>(v >> 8));
  dst->push_back(static_cast<char>(v & 0xff));
}
inline uint64_t DecodeBigEndian64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}

// Bounds-checked sequential reader: every Get* fails (returns false) instead of reading past the
// end, so decoders of untrusted bytes never overrun.
class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool GetFixed16(uint16_t* v) { return Get(v, 2); }
  bool GetFixed32(uint32_t* v) { return Get(v, 4); }
  bool GetFixed64(uint64_t* v) { return Get(v, 8); }
  bool GetU8(uint8_t* v) { return Get(v, 1); }
  bool GetBytes(size_t n, std::string_view* out) {
    if (in_.size() < n) return false;
    *out = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  size_t remaining() const { return in_.size(); }

 private:
  bool Get(void* v, size_t n) {
    if (in_.size() < n) return false;
    std::memcpy(v, in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  std::string_view in_;
};

}  // namespace tidemq
