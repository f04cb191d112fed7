// The CommitLog: an append-only sequence of records addressed by LogOffset, stored in segment
// files <dir>/<20-digit base offset> (docs/storage_format.md). A record never spans segments;
// the last segment is the active one.
//
// Open() recovers: it scans the last segment from its start. At the first record that is short
// or fails its magic/length/CRC checks it looks for an intact record further on
// (SegmentReader::Resync): if there is one, the bad bytes are damage in the middle — every
// intact record after them is kept and the range is reported in damaged(); if there is none,
// they are the torn tail of a crash and the segment is truncated there.
//
// Thread safety: Write/Roll are called by one thread at a time (the store's writer); Sync may
// also be called concurrently by the flusher.
// Read, Segments, min_offset and end_offset may be called from any thread. DeleteOldestSegment
// may run concurrently with the writer (it never touches the active segment); a reader that
// already holds a deleted segment's file finishes its read.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/file_system.h"
#include "common/status.h"
#include "common/types.h"
#include "store/record.h"
#include "store/store.h"
#include "common/thread_annotations.h"

namespace tidemq::store {

class CommitLog {
 public:
  struct SegmentInfo {
    LogOffset base;
    LogOffset end;  // the next segment's base, or end_offset() for the active one
    bool active = false;
    int64_t newest_store_ms = -1;  // -1: not known (written before this process opened it)
    std::shared_ptr<File> file;
  };

  // Trims the zeros the active segment was extended with, so that a cleanly closed log's
  // files hold its records only.
  ~CommitLog();

  static Result<std::unique_ptr<CommitLog>> Open(FileSystem* fs, const std::string& dir,
                                                 uint64_t segment_bytes);

  // --- writer thread ---
  // Bytes a write may still put in the active segment before a Roll() is needed.
  uint64_t RoomInActiveSegment() const;
  // Base offset of the active segment.
  LogOffset active_base() const { return LogOffset(active_base_); }
  // Writes encoded records at end_offset(); they must fit RoomInActiveSegment(). On failure
  // end_offset() does not move (the bytes that did reach the file are a torn tail).
  Status Write(std::string_view bytes);
  // After a failed Write: drops whatever part of it reached the file past end_offset(), so a
  // crash cannot make a refused write look like records.
  Status DiscardUnwritten();
  // Syncs the active segment and starts a new one at end_offset().
  Status Roll();
  // fdatasync of the active segment (earlier segments were synced when they were rolled).
  Status Sync();
  // Records that the active segment now holds a record stored at store_ms (for retention).
  void NoteStoreMs(int64_t store_ms);
  // Whether the log holds no bytes at all (one empty segment).
  bool empty() const;
  // An empty log starts over at `base` (a replica that begins where its master's log begins).
  Status Rebase(LogOffset base);
  // Replication truncation: cuts the log at `to`, a record boundary (kInvalidArgument if not):
  // later segments are removed and the one holding `to` becomes the active one. Below the
  // first segment, the log becomes empty (at offset 0). Only while nothing else uses the log.
  Status TruncateTo(LogOffset to);

  // --- any thread ---
  // The record at `offset`; kNotFound below min_offset() (deleted or never written),
  // kOutOfRange at or past `limit` (readers pass the confirmed offset), kCorruption when
  // `offset` is not the start of a valid record.
  Result<Record> Read(LogOffset offset, LogOffset limit) const;
  LogOffset min_offset() const;
  LogOffset end_offset() const { return LogOffset(end_.load(std::memory_order_acquire)); }
  std::vector<SegmentInfo> Segments() const;
  // Removes the oldest segment unless it is the active one (kFailedPrecondition then).
  Status DeleteOldestSegment();
  // store_ms of the last record found by recovery (0 for an empty log).
  int64_t recovered_last_store_ms() const { return recovered_last_store_ms_; }
  // What recovery found in the active segment: damaged ranges it skipped (intact records on
  // both sides) and the bytes of the torn tail it truncated.
  const std::vector<DamagedRange>& damaged() const { return damaged_; }
  uint64_t torn_tail_bytes() const { return torn_tail_bytes_; }

 private:
  struct Segment {
    std::shared_ptr<File> file;
    int64_t newest_store_ms = -1;
  };

  CommitLog(FileSystem* fs, std::string dir, uint64_t segment_bytes);
  Status Recover();
  Status CreateSegment(int64_t base);

  FileSystem* const fs_;
  const std::string dir_;
  const uint64_t segment_bytes_;
  int64_t recovered_last_store_ms_ = 0;
  std::vector<DamagedRange> damaged_;  // Open only
  uint64_t torn_tail_bytes_ = 0;       // Open only

  mutable SharedMutex mu_;
  std::map<int64_t, Segment> segments_ GUARDED_BY(mu_);  // by base offset
  // Written by the writer only; the active segment is segments_.rbegin().
  std::atomic<int64_t> end_{0};
  std::shared_ptr<File> active_;  // writer thread (and Open)
  int64_t active_base_ = 0;       // writer thread (and Open)
  // Bytes at the start of the active segment whose blocks are allocated (Write reserves
  // ahead of itself; see ReserveAhead). Writer thread (and Open).
  uint64_t reserved_ = 0;
  // The active segment file's size: what was written, then zeros (see ExtendAhead). Writer
  // thread (and Open).
  uint64_t extent_ = 0;

  void ReserveAhead(uint64_t until);
  void ExtendAhead(uint64_t until);
  // Trims the active segment's zeros past the log's end (before it is sealed).
  Status TrimActive();
};

}  // namespace tidemq::store
