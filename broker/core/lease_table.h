// Leases of one consumer group and the wake-up that expires them.
//
// LeaseTable: the group's leases in deadline order — each lease lives in its QueueState's
// `inflight` map and, with its deadline, here — so that expiry takes the due ones first
// without scanning the queues. Grant / End / Extend keep the two in step. Owns: the deadline
// index (it points at QueueStates it does not own; a queue state leaves with
// RemoveQueue). Not thread-safe: the group's mutex (ConsumerGroup::mu, group_registry.h)
// guards it, like the queue states; called on network threads (receive, ack, nack, release,
// lease change, topic deletion) and on the io_context (expiry, ConsumerManager::OnTimer).
//
// Wakeup: the one volatile timer the consumer manager asks for — the earliest lease deadline
// or in-place retry — through a callback `arm(monotonic_ms)` (the broker core arms a timer of
// the timer engine that calls ConsumerManager::OnTimer). Note() arms only when earlier than
// what is armed; Fired() forgets what was armed (the timer fired: anything later arms again).
// Thread-safe without a lock (an atomic); set the callback before use.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <tuple>

#include "broker/core/queue_state.h"

namespace tidemq::broker {

class LeaseTable {
 public:
  // Leases `off` of `st` (replacing a lease it had).
  void Grant(QueueState& st, int64_t off, const Lease& lease);
  // Takes the lease `it` (of st.inflight) away (ack, nack, lapse, release) and returns it.
  Lease End(QueueState& st, std::map<int64_t, Lease>::iterator it);
  // Moves the lease of `off` (which must be leased) to a new deadline and lease id.
  void Extend(QueueState& st, int64_t off, int64_t deadline_ms, uint64_t lease_id);
  // Forgets every lease of `st` (its queue is being dropped).
  void RemoveQueue(const QueueState* st);

  // Ends the earliest lease due at `now` or before (lease expiry): its queue state, offset
  // and lease; false when none is due.
  bool EndFirstDue(int64_t now, QueueState** st, int64_t* off, Lease* lease);
  // The earliest deadline, INT64_MAX when there is no lease.
  int64_t Earliest() const {
    return deadlines_.empty() ? INT64_MAX : std::get<0>(*deadlines_.begin());
  }
  size_t size() const { return deadlines_.size(); }

 private:
  // (deadline, queue, offset)
  using Deadline = std::tuple<int64_t, QueueState*, int64_t>;
  std::set<Deadline> deadlines_;
};

class Wakeup {
 public:
  void SetArm(std::function<void(int64_t)> arm) { arm_ = std::move(arm); }
  // Asks to be woken at `monotonic_ms`: arms when earlier than what is armed.
  void Note(int64_t monotonic_ms);
  // The armed wake-up fired: what is armed is forgotten.
  void Fired() { armed_.store(INT64_MAX, std::memory_order_relaxed); }
  int64_t armed() const { return armed_.load(std::memory_order_relaxed); }

 private:
  std::function<void(int64_t)> arm_;
  std::atomic<int64_t> armed_{INT64_MAX};  // monotonic ms of the wake-up asked for
};

}  // namespace tidemq::broker
