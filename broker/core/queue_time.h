// Queue positions by time: the consume queues keep each message's store time, and store time
// never decreases along the log, so a binary search over a queue finds where a time starts.
// Used by ResetOffset (consumer_manager.h) and the message search by time (AdminService).
// Reads the consume queue: call with no lock held.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "store/store.h"

namespace tidemq::broker {

// The first queue offset whose message was stored at or after time_ms; the queue's end
// (MaxQueueOffset) when none was. About log2(queue length) reads of one entry.
Result<int64_t> FirstStoredAtOrAfter(store::Store* store, const std::string& topic,
                                     uint32_t queue, int64_t time_ms);

}  // namespace tidemq::broker
