// How many bytes the network side may hold at once, per connection and broker-wide.
//
// Bytes in flight are request frames admitted and not yet answered (a SEND holds its frame
// until the store has the messages, a parked RECEIVE until it replies) plus replies queued and
// not yet written. Each connection keeps its own count; this object keeps the broker-wide sum
// and decides whether a connection may take more:
//
//   room(held) = max(min(per_connection - held, broker - used), floor - held)
//
// The floor lets a connection that holds almost nothing keep working while others have used
// the whole broker-wide budget (clients that never read their replies hit their own limit and
// then the broker-wide one; a well-behaved client still gets through). A connection holding
// nothing may always take one frame that fits in the broker-wide room, so a frame larger than
// the per-connection limit (up to --max-frame-bytes) is never refused for good.
//
// Whoever is refused by the broker-wide limit registers a wake-up; it runs once, from the
// thread that gives bytes back, when enough have come back for what it asked, and the refused
// party tries again (it may lose the race and wait again). Thread-safe; taking and giving
// back are lock-free (one atomic per call, on every frame and reply): the mutex guards only
// the waiters.
#pragma once

#include "common/mutex.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace tidemq::broker {

struct InflightLimits {
  int64_t per_connection = 64 << 20;
  int64_t broker = 256 << 20;
  // What a connection holding less than this may always take (see above).
  int64_t floor = 256 << 10;
};

class InflightBudget {
 public:
  enum class TakeResult { kTaken, kConnectionFull, kBrokerFull };

  explicit InflightBudget(InflightLimits limits) : limits_(limits) {}

  // Bytes a connection holding `held` may still take now (<= 0: none).
  int64_t Room(int64_t held) const;
  // Takes n bytes for a connection holding `held` when they fit; nothing is kept on refusal.
  TakeResult TryTake(int64_t held, int64_t n);
  // The same, but on kBrokerFull `wake` is kept and called once when n bytes would fit
  // broker-wide; on kConnectionFull the connection must wait for its own bytes to come back
  // (nothing is kept).
  TakeResult TryTake(int64_t held, int64_t n, std::function<void()> wake);
  // Takes n bytes whatever the room (a reply that exists already).
  void Take(int64_t n);
  void Give(int64_t n);

  int64_t used() const;
  const InflightLimits& limits() const { return limits_; }

 private:
  int64_t RoomFor(int64_t held, int64_t used) const;
  bool TakeIfFits(int64_t held, int64_t n);

  struct Waiter {
    int64_t need = 0;
    std::function<void()> wake;
  };

  const InflightLimits limits_;
  std::atomic<int64_t> used_{0};
  std::atomic<bool> has_waiters_{false};  // waiters_ is not empty (read without the lock)
  mutable Mutex mu_;
  std::vector<Waiter> waiters_ GUARDED_BY(mu_);
};

}  // namespace tidemq::broker
