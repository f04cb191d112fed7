#include "store/segment_reader.h"

#include <algorithm>

namespace tidemq::store {
namespace {

// Large enough that a scan costs few syscalls, small enough to stay cheap per open.
constexpr size_t kReadAhead = 1u << 20;
// kRecordMagic as it lies on disk (little-endian): what Resync searches for.
constexpr char kMagicBytes[4] = {static_cast<char>(kRecordMagic & 0xff),
                                 static_cast<char>((kRecordMagic >> 8) & 0xff),
                                 static_cast<char>((kRecordMagic >> 16) & 0xff),
                                 static_cast<char>((kRecordMagic >> 24) & 0xff)};

}  // namespace

SegmentReader::SegmentReader(std::shared_ptr<File> file, uint64_t start, uint64_t limit)
    : file_(std::move(file)), limit_(limit), pos_(start), buf_start_(start) {}

Status SegmentReader::FillAt(uint64_t at, size_t n, bool* available) {
  *available = false;
  if (at + n > limit_) return Status::Ok();
  if (at >= buf_start_ && at + n <= buf_start_ + buf_.size()) {
    *available = true;
    return Status::Ok();
  }
  size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(n, kReadAhead), limit_ - at));
  buf_start_ = at;
  RETURN_IF_ERROR(file_->Read(at, want, &buf_));
  *available = buf_.size() >= n;
  return Status::Ok();
}

Result<bool> SegmentReader::Next(Record* record) {
  if (pos_ >= limit_) return false;
  bool available;
  RETURN_IF_ERROR(FillAt(pos_, kRecordPrefixSize, &available));
  if (!available) {
    return Corruption("partial record prefix at segment position " + std::to_string(pos_));
  }
  uint32_t total;
  RETURN_IF_ERROR(PeekRecordLength(Buffered(pos_, kRecordPrefixSize), &total));
  RETURN_IF_ERROR(FillAt(pos_, total, &available));
  if (!available) {
    return Corruption("record at segment position " + std::to_string(pos_) + " is cut short");
  }
  size_t consumed;
  RETURN_IF_ERROR(DecodeRecord(Buffered(pos_, total), record, &consumed));
  record_pos_ = pos_;
  record_size_ = total;
  last_store_ms_ = std::max(last_store_ms_, record->store_ms);
  pos_ += total;
  return true;
}

Result<bool> SegmentReader::IntactAt(uint64_t at) {
  bool available;
  RETURN_IF_ERROR(FillAt(at, kRecordPrefixSize, &available));
  if (!available) return false;
  uint32_t total;
  if (!PeekRecordLength(Buffered(at, kRecordPrefixSize), &total).ok()) return false;
  RETURN_IF_ERROR(FillAt(at, total, &available));
  if (!available) return false;
  size_t consumed;
  if (!DecodeRecord(Buffered(at, total), &scratch_, &consumed).ok()) return false;
  return scratch_.store_ms >= last_store_ms_;
}

Result<bool> SegmentReader::Resync() {
  // 1. Where the damaged record says it ends: flipped bits in a body or a header field leave
  //    its length intact, and the next record starts right there.
  bool available;
  RETURN_IF_ERROR(FillAt(pos_, kRecordPrefixSize, &available));
  uint32_t claimed;
  if (available && PeekRecordLength(Buffered(pos_, kRecordPrefixSize), &claimed).ok() &&
      pos_ + claimed < limit_) {
    ASSIGN_OR_RETURN(bool intact, IntactAt(pos_ + claimed));
    if (intact) {
      pos_ += claimed;
      return true;
    }
  }
  // 2. Every later occurrence of the magic, in order (a damaged length or magic).
  uint64_t at = pos_ + 1;
  while (at + kMinRecordSize <= limit_) {
    const size_t span = static_cast<size_t>(std::min<uint64_t>(kReadAhead, limit_ - at));
    RETURN_IF_ERROR(FillAt(at, span, &available));
    if (!available) break;
    std::string_view window = Buffered(at, span);
    size_t hit = window.find(std::string_view(kMagicBytes, sizeof(kMagicBytes)));
    if (hit == std::string_view::npos) {
      // The magic may straddle the window's end: look again from its last 3 bytes.
      if (span < sizeof(kMagicBytes)) break;
      at += span - (sizeof(kMagicBytes) - 1);
      continue;
    }
    const uint64_t candidate = at + hit;
    ASSIGN_OR_RETURN(bool intact, IntactAt(candidate));
    if (intact) {
      pos_ = candidate;
      return true;
    }
    at = candidate + 1;
  }
  return false;
}

}  // namespace tidemq::store
