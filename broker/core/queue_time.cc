#include "broker/core/queue_time.h"

#include <vector>

namespace tidemq::broker {

Result<int64_t> FirstStoredAtOrAfter(store::Store* store, const std::string& topic,
                                     uint32_t queue, int64_t time_ms) {
  int64_t lo = store->MinQueueOffset(topic, queue);
  int64_t hi = store->MaxQueueOffset(topic, queue);
  // Invariant: every message below lo was stored before time_ms; the answer is at most hi.
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    ASSIGN_OR_RETURN(std::vector<store::QueueEntry> at, store->ReadQueue(topic, queue, mid, 1));
    // The first entry at or after mid: none (deleted meanwhile, or holes to the end), or one
    // stored at or after time_ms, means the answer is at most mid (a hole offset answers as
    // well as the entry after it).
    if (at.empty() || at.front().store_ms >= time_ms) {
      hi = mid;
    } else {
      lo = at.front().queue_offset + 1;
    }
  }
  return lo;
}

}  // namespace tidemq::broker
