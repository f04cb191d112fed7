#include "broker/core/lease_table.h"

#include <algorithm>

namespace tidemq::broker {

void LeaseTable::Grant(QueueState& st, int64_t off, const Lease& lease) {
  auto [it, added] = st.inflight.try_emplace(off, lease);
  if (!added) {
    deadlines_.erase(Deadline{it->second.deadline_ms, &st, off});
    it->second = lease;
  }
  deadlines_.emplace(lease.deadline_ms, &st, off);
}

Lease LeaseTable::End(QueueState& st, std::map<int64_t, Lease>::iterator it) {
  Lease lease = it->second;
  deadlines_.erase(Deadline{lease.deadline_ms, &st, it->first});
  st.inflight.erase(it);
  return lease;
}

void LeaseTable::Extend(QueueState& st, int64_t off, int64_t deadline_ms, uint64_t lease_id) {
  Lease& lease = st.inflight[off];
  deadlines_.erase(Deadline{lease.deadline_ms, &st, off});
  lease.deadline_ms = deadline_ms;
  lease.lease_id = lease_id;
  deadlines_.emplace(deadline_ms, &st, off);
}

void LeaseTable::RemoveQueue(const QueueState* st) {
  std::erase_if(deadlines_, [st](const Deadline& d) { return std::get<1>(d) == st; });
}

bool LeaseTable::EndFirstDue(int64_t now, QueueState** st, int64_t* off, Lease* lease) {
  while (!deadlines_.empty() && std::get<0>(*deadlines_.begin()) <= now) {
    auto [deadline, state, offset] = *deadlines_.begin();
    auto it = state->inflight.find(offset);
    if (it == state->inflight.end()) {  // cannot happen: leases leave with their deadline
      deadlines_.erase(deadlines_.begin());
      continue;
    }
    *st = state;
    *off = offset;
    *lease = End(*state, it);
    return true;
  }
  return false;
}

void Wakeup::Note(int64_t monotonic_ms) {
  int64_t armed = armed_.load(std::memory_order_relaxed);
  while (monotonic_ms < armed) {
    if (armed_.compare_exchange_weak(armed, monotonic_ms, std::memory_order_relaxed)) {
      if (arm_) arm_(monotonic_ms);
      return;
    }
  }
}

}  // namespace tidemq::broker
