// For observers that derive an index from the log (timer/, txn/): the ops of the current group
// commit, staged by OnRecord and taken as one batch at OnBatchEnd, and how many records have
// passed since the observer last persisted its applied offset. Not thread-safe: the owner
// guards it (both calls run on the store's writer thread).
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "common/types.h"

namespace tidemq::store {

template <typename Op>
class StagedBatch {
 public:
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
    if (!b.ops.empty() || unpersisted_ >= checkpoint_every) {
      b.persist_checkpoint = b.ops.empty();
      unpersisted_ = 0;
    }
    return b;
  }

 private:
  std::vector<Op> ops_;
  LogOffset end_ = kNoLogOffset;
  int64_t unpersisted_ = 0;
};

}  // namespace tidemq::store
