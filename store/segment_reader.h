// Sequential, buffered reading of the records of one CommitLog segment file: used by recovery
// (to find the torn tail) and by replay (to re-derive consume queues, indexes and observers).
//
// Damage: when Next() fails with kCorruption, Resync() looks for the next position where an
// intact record starts, so the caller can tell a torn tail (nothing valid follows) from
// damage in the middle (intact records follow: keep them, skip the damaged range).
// docs/storage_format.md, "Recovery", says which candidates are tried and why.
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

  // After Next() failed with kCorruption: moves pos() to the start of the next intact record
  // and returns true (the damaged bytes are [the old pos(), pos())), or returns false when no
  // intact record starts before limit (pos() is unchanged: what follows is a torn tail). A
  // candidate must decode (magic, length, CRC, fields) and must not be older than the last
  // record this reader returned (store_ms never decreases along the log).
  Result<bool> Resync();

  uint64_t pos() const { return pos_; }
  uint64_t record_pos() const { return record_pos_; }
  uint32_t record_size() const { return record_size_; }

 private:
  // Makes [at, at + n) available in buf_, reading ahead; *available is false when the range
  // runs past limit_ or the end of the file.
  Status FillAt(uint64_t at, size_t n, bool* available);
  // Whether an intact record starts at `at` (and is not older than the last one read).
  Result<bool> IntactAt(uint64_t at);
  std::string_view Buffered(uint64_t at, size_t n) const {
    return std::string_view(buf_.data() + (at - buf_start_), n);
  }

  std::shared_ptr<File> file_;
  uint64_t limit_;
  uint64_t pos_;
  uint64_t record_pos_ = 0;
  uint32_t record_size_ = 0;
  int64_t last_store_ms_ = 0;  // of the last record Next() returned
  std::string buf_;  // bytes of the file starting at buf_start_
  uint64_t buf_start_ = 0;
  Record scratch_;   // decoded candidates during Resync
};

}  // namespace tidemq::store
