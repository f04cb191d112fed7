// The TideMQ broker: opens the store, loads topics and groups, serves the native protocol on
// a Boost.Asio server, and runs the periodic work (lease expiry, offset flush, retention).
//
// Threads: `io_threads` network threads ("tidemq-io-N") run connections, handlers and the
// periodic timers; the store runs its own writer. Start() returns once the broker accepts
// connections; Stop() (any thread, idempotent) closes the listener and connections, answers
// parked long-polls, persists offsets and closes the store.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker/config.h"
#include "common/clock.h"
#include "common/status.h"

namespace tidemq::broker {

class Broker {
 public:
  // clock: nullptr = the system clock (tests inject a ManualClock for leases).
  static Result<std::unique_ptr<Broker>> Start(const BrokerConfig& config,
                                               Clock* clock = nullptr);
  ~Broker();

  uint16_t port() const;
  std::string address() const;  // "host:port"
  void Stop();
  // Blocks until Stop() has completed (from another thread or a signal).
  void Wait();

 private:
  class Impl;
  explicit Broker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq::broker
