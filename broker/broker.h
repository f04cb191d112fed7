// The TideMQ broker program's server: opens the broker core (broker/core/broker_core.h: the
// store, topics, groups, the maintenance thread) and serves the native protocol over it on a
// Boost.Asio server.
//
// Threads: `io_threads` network threads ("tidemq-io-N") run connections, handlers, the
// connection-timeout timer and the core's asynchronous work; the core runs the store's writer,
// "tidemq-timer" and "tidemq-maint" (offset flush, retention, purges). Start() returns once
// the broker accepts connections; Stop() (any thread, idempotent) closes the listener and
// connections, wakes parked receives, joins the network threads, then closes the core
// (offsets persisted, store closed).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker/core/config.h"
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
