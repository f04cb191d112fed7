// For observers that derive an index from the log (timer/, txn/): the ops of the current group
// commit, staged by OnRecord and taken as one batch at OnBatchEnd, and how many records have
// passed since the observer last persisted its applied offset. The applied offset is written
// down after checkpoint_every records without ops or after kCheckpointInterval, whichever
// comes first, so a restart replays at most about a second of the log into the observer (and
// a damaged old record is rarely in its replay range). Not thread-safe: the owner guards it
// (both calls run on the store's writer thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "common/types.h"

namespace tidemq::store {

template <typename Op>
class StagedBatch {
 public:
  // Like the store's dispatch checkpoint (steady clock: it bounds replay work only).
  static constexpr std::chrono::milliseconds kCheckpointInterval{1000};

  struct Batch {
    LogOffset end;                    // just past the batch's last record
    std::vector<Op> ops;              // in log order; empty: only the applied offset moves
    bool persist_checkpoint = false;  // no ops, and enough records passed to write it down
  };

  // A record ending at `end` with an effect for the observer, or with none.
  void Add(LogOffset end, Op op) {
    end_ = end;
    ops_.push_back(std::move(op));
  }
  void Skip(LogOffset end) {
    end_ = end;
    ++unpersisted_;
  }

  // The batch staged since the last Take; nullopt when no record came. A batch with ops is
  // applied together with its end offset, so it resets the count too.
  std::optional<Batch> Take(int64_t checkpoint_every) {
    if (end_ == kNoLogOffset) return std::nullopt;
    Batch b{end_, std::move(ops_), false};
    ops_.clear();
    end_ = kNoLogOffset;
    const auto now = std::chrono::steady_clock::now();
    if (!b.ops.empty() || unpersisted_ >= checkpoint_every ||
        (unpersisted_ > 0 && now - last_persisted_ >= kCheckpointInterval)) {
      b.persist_checkpoint = b.ops.empty();
      unpersisted_ = 0;
      last_persisted_ = now;
    }
    return b;
  }

 private:
  std::vector<Op> ops_;
  LogOffset end_ = kNoLogOffset;
  int64_t unpersisted_ = 0;
  std::chrono::steady_clock::time_point last_persisted_ = std::chrono::steady_clock::now();
};

}  // namespace tidemq::store
