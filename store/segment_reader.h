// Sequential, buffered reading of the records of one CommitLog segment file: used by recovery
// (to find the torn tail) and by replay (to re-derive consume queues, indexes and observers).
//
// Thread safety: one SegmentReader is used by one thread; the File it reads may be shared.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/file_system.h"
#include "common/status.h"
#include "store/record.h"

namespace tidemq::store {

class SegmentReader {
 public:
  // Reads records in [start, limit) of `file` (positions relative to the segment's start).
  SegmentReader(std::shared_ptr<File> file, uint64_t start, uint64_t limit);

  // true: *record was read, it started at record_pos() and pos() is now just past it.
  // false: pos() == limit, a clean end. An error: no valid record at pos() — kCorruption for
  // bad bytes or a record cut short by `limit`, anything else for an I/O failure.
  Result<bool> Next(Record* record);

  uint64_t pos() const { return pos_; }
  uint64_t record_pos() const { return record_pos_; }
  uint32_t record_size() const { return record_size_; }

 private:
  // Makes [pos_, pos_ + n) available in buf_, reading ahead; false when the file is short.
  Status Fill(size_t n, bool* available);

  std::shared_ptr<File> file_;
  uint64_t limit_;
  uint64_t pos_;
  uint64_t record_pos_ = 0;
  uint32_t record_size_ = 0;
  std::string buf_;  // bytes of the file starting at buf_start_
  uint64_t buf_start_ = 0;
};

}  // namespace tidemq::store
