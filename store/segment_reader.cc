#include "store/segment_reader.h"

#include <algorithm>

namespace tidemq::store {
namespace {

// Large enough that a scan costs few syscalls, small enough to stay cheap per open.
constexpr size_t kReadAhead = 1u << 20;

}  // namespace

SegmentReader::SegmentReader(std::shared_ptr<File> file, uint64_t start, uint64_t limit)
    : file_(std::move(file)), limit_(limit), pos_(start), buf_start_(start) {}

Status SegmentReader::Fill(size_t n, bool* available) {
  *available = false;
  if (pos_ + n > limit_) return Status::Ok();
  if (pos_ >= buf_start_ && pos_ + n <= buf_start_ + buf_.size()) {
    *available = true;
    return Status::Ok();
  }
  size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(n, kReadAhead), limit_ - pos_));
  buf_start_ = pos_;
  RETURN_IF_ERROR(file_->Read(pos_, want, &buf_));
  *available = buf_.size() >= n;
  return Status::Ok();
}

Result<bool> SegmentReader::Next(Record* record) {
  if (pos_ >= limit_) return false;
  bool available;
  RETURN_IF_ERROR(Fill(kRecordPrefixSize, &available));
  if (!available) {
    return Corruption("partial record prefix at segment position " + std::to_string(pos_));
  }
  std::string_view head(buf_.data() + (pos_ - buf_start_), kRecordPrefixSize);
  uint32_t total;
  RETURN_IF_ERROR(PeekRecordLength(head, &total));
  RETURN_IF_ERROR(Fill(total, &available));
  if (!available) {
    return Corruption("record at segment position " + std::to_string(pos_) + " is cut short");
  }
  std::string_view bytes(buf_.data() + (pos_ - buf_start_), total);
  size_t consumed;
  RETURN_IF_ERROR(DecodeRecord(bytes, record, &consumed));
  record_pos_ = pos_;
  record_size_ = total;
  pos_ += total;
  return true;
}

}  // namespace tidemq::store
