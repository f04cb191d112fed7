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
#include <functional>
#include <memory>
#include <string>

#include "broker/core/broker_core.h"
#include "broker/core/config.h"
#include "common/clock.h"
#include "common/status.h"

namespace tidemq::broker {

class Broker {
 public:
  // clock: nullptr = the system clock (tests inject a ManualClock for leases).
  // on_restart(why): the broker needs its process restarted (a replica whose log diverged
  // from its master's truncates it at start-up); called once, from a background thread.
  static Result<std::unique_ptr<Broker>> Start(
      const BrokerConfig& config, Clock* clock = nullptr,
      std::function<void(const std::string&)> on_restart = nullptr);
  ~Broker();

  uint16_t port() const;
  std::string address() const;  // "host:port"
  void Stop();
  // Blocks until Stop() has completed (from another thread or a signal).
  void Wait();
  // Broker groups (docs/replication.md): this broker's role and replication state, and the
  // promotion of a replica to master.
  ReplicationStatus replication() const;
  Status Promote();
  // The core this broker serves, for the other front ends the program wires over it (the
  // RocketMQ 5 endpoint); valid until Stop() has returned.
  BrokerCore* core() const;

 private:
  class Impl;
  explicit Broker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq::broker
