// The delivery state of one consumer group in one queue (shared/DESIGN.md 2.4): which offsets
// are acked (the acked prefix `committed` and the acked offsets above it), which were never
// delivered (`next`), which are leased, waiting for an in-place retry, or being copied to the
// retry or dead-letter topic, and the delivery counts.
//
// Owns: nothing shared. It is plain data with the rules that keep it consistent (acked-prefix
// tracking, holes, what retention took). Not thread-safe: the mutex of the group that holds it
// (ConsumerGroup::mu, group_registry.h) guards every QueueState, and every method runs under
// it — on whichever thread holds that mutex (network threads, the io_context's lease expiry,
// the store's writer thread ending a move, "tidemq-maint"). No method allocates per offset except
// to record an out-of-order ack, and none touches a disk.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>

#include "common/types.h"

namespace tidemq::broker {

// (topic, queue, client id: "" for clustering groups; the subscribed topic for retry topics)
using QueueKey = std::tuple<std::string, uint32_t, std::string>;

// A delivery in a consumer's hands.
struct Lease {
  int64_t deadline_ms = 0;  // monotonic
  uint64_t lease_id = 0;
  uint32_t attempt = 0;  // every delivery of the message so far, this one included
  LogOffset log_offset;
};

struct QueueState {
  QueueKey key;
  int64_t committed = 0;                           // every offset below it is acked
  int64_t next = 0;                                // the smallest offset never delivered
  std::map<int64_t, Lease> inflight;               // delivered, leased, not yet acked
  std::map<int64_t, int64_t> retry;                // offset -> ready at (monotonic ms), in place
  std::set<int64_t> moving;                        // being copied to the retry / DLQ topic
  std::unordered_map<int64_t, uint32_t> attempts;  // deliveries from this queue
  std::set<int64_t> acked;                         // acked offsets above committed
  // Offsets below it were delivered in an earlier broker run (unless acked): their next
  // delivery counts that one too.
  int64_t delivered_before = 0;
  int64_t lost = 0;    // deleted by retention before the group consumed them (persisted)
  // Since the broker started (docs/metrics.md): deliveries and their body bytes, and the
  // failed deliveries copied to the retry topic or the dead-letter queue.
  int64_t delivered = 0;
  int64_t delivered_bytes = 0;
  int64_t retried = 0;
  int64_t dead_lettered = 0;
  bool dirty = false;  // changed since the last offsets flush

  // Settles `off` (ack, dead-letter, drop): committed moves over the acked prefix.
  void MarkAcked(int64_t off);
  // Settles [from, to) at once: holes in a queue (no message was ever there), or what
  // retention deleted.
  void MarkRangeAcked(int64_t from, int64_t to);
  // Moves committed over the acked offsets right above it; marks the state dirty.
  void AdvanceCommitted();
  // Moves the state up to the queue's start `min` (messages below were deleted). Leases and
  // moves below stay (an ack of a message in hand still works). Returns how many offsets
  // below `min` were neither acked, leased nor being moved: lost to retention (the caller
  // counts and logs them).
  int64_t SkipTo(int64_t min);
  // Counts a delivery of `off` and returns it (this one included). An offset delivered in an
  // earlier broker run that left no count counts that delivery once.
  uint32_t CountDelivery(int64_t off);
  // Gives back a delivery that was not processed (release): its count goes down by one.
  void UncountDelivery(int64_t off);
  // Whether `off` is settled (acked).
  bool IsAcked(int64_t off) const { return off < committed || acked.count(off) > 0; }
};

}  // namespace tidemq::broker
