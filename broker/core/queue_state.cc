#include "broker/core/queue_state.h"

#include <algorithm>
#include <iterator>

namespace tidemq::broker {

void QueueState::AdvanceCommitted() {
  while (!acked.empty() && *acked.begin() == committed) {
    acked.erase(acked.begin());
    ++committed;
  }
  dirty = true;
}

void QueueState::MarkAcked(int64_t off) {
  if (off < committed) return;
  acked.insert(off);
  AdvanceCommitted();
}

void QueueState::MarkRangeAcked(int64_t from, int64_t to) {
  from = std::max(from, committed);
  if (from >= to) return;
  if (from == committed) {
    committed = to;
    acked.erase(acked.begin(), acked.lower_bound(to));
  } else {
    for (int64_t o = from; o < to; ++o) acked.insert(o);
  }
  AdvanceCommitted();
}

int64_t QueueState::SkipTo(int64_t min) {
  next = std::max(next, min);
  if (committed >= min) return 0;
  const int64_t from = committed;
  // Neither acked nor in a consumer's hands (leased, or being copied for a retry): lost.
  int64_t lost_now = min - from;
  lost_now -= std::distance(acked.begin(), acked.lower_bound(min));
  lost_now -= std::distance(inflight.lower_bound(from), inflight.lower_bound(min));
  lost_now -= std::distance(moving.lower_bound(from), moving.lower_bound(min));
  retry.erase(retry.begin(), retry.lower_bound(min));
  std::erase_if(attempts, [&](const auto& a) {
    return a.first < min && !inflight.count(a.first) && !moving.count(a.first);
  });
  MarkRangeAcked(from, min);
  return std::max<int64_t>(lost_now, 0);
}

uint32_t QueueState::CountDelivery(int64_t off) {
  // Deliveries of earlier copies (retry topics: added when the record is read) plus this
  // queue's own; one of an earlier broker run that left no count counts once.
  auto count = attempts.try_emplace(off, off < delivered_before ? 1u : 0u).first;
  dirty = true;  // the count is persisted with the offsets
  return ++count->second;
}

void QueueState::UncountDelivery(int64_t off) {
  if (auto it = attempts.find(off); it != attempts.end() && it->second > 0) {
    --it->second;
    dirty = true;
  }
}

}  // namespace tidemq::broker
