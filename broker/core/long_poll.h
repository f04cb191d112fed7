// Parked receives waiting for a message on a topic: transport-neutral wake-up callbacks (the
// MessageService parks a ReceiveWaiter's retry here, whatever front end it came from). A
// receive that finds nothing parks here until a message is dispatched to its topic (the
// store's writer notifies), a redelivery becomes due, or its wait runs out.
//
// Lost wake-ups are avoided with a per-topic sequence: a waiter notes the sequence before it
// looks for messages and Park() refuses it when the sequence moved meanwhile.
// Thread-safe: parked and cancelled from network threads, notified from the store's writer
// thread and the io_context; the wake-ups it returns are posted to the io_context.
#pragma once

#include "common/mutex.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace tidemq::broker {

class LongPolls {
 public:
  using Retry = std::function<void()>;

  uint64_t Seq(const std::string& topic);
  // Parks `retry` (called at most once, on a wake) unless the topic's sequence moved past
  // seen_seq; returns false then and the caller should look again at once. Returns a ticket
  // for Cancel().
  bool Park(const std::string& topic, uint64_t seen_seq, uint64_t* ticket, Retry retry);
  // Removes a parked waiter (its wait ran out); false if it was already woken.
  bool Cancel(const std::string& topic, uint64_t ticket);
  // Bumps the sequence and returns the waiters to run (the caller runs them off this lock).
  std::vector<Retry> Notify(const std::string& topic);
  // Every parked waiter, for shutdown.
  std::vector<Retry> TakeAll();
  // Shutdown: from now on Park() refuses every waiter and stopping() is true, so that a
  // receive answers at once instead of parking (with TakeAll, none is left waiting).
  void Stop();
  bool stopping() const;
  size_t parked() const;

 private:
  struct TopicWaiters {
    uint64_t seq = 0;
    std::map<uint64_t, Retry> waiters;
  };
  mutable Mutex mu_;
  std::map<std::string, TopicWaiters> topics_ GUARDED_BY(mu_);
  uint64_t next_ticket_ GUARDED_BY(mu_) = 1;
  // Set under mu_ (Park reads it there); stopping() reads it without the lock: a receive asks
  // on every look for messages.
  std::atomic<bool> stopping_{false};
};

}  // namespace tidemq::broker
