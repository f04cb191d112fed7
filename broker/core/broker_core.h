// The protocol-neutral broker core (shared/DESIGN.md sections 1 and 7): the store with its
// derived timer and transaction indexes, topics, consumer groups, dead letters, scheduled
// delivery, the transaction coordinator, parked receives, the broker's counters and its
// maintenance thread — and the two services front ends call: MessageService (send, receive,
// ack, nack, lease, heartbeat, transaction end) and AdminService (topics, groups, DLQ, timer,
// transactions, look-ups, stats). A front end (the native adapter in broker/, a gRPC or HTTP
// one) decodes its protocol, calls a service and encodes the result; it never reaches the
// store, timer/ or txn/ itself, and the core never sees a wire format.
//
// Lifecycle: Open() opens and loads everything; Start() starts the background work (timer
// driver, check-back loop, maintenance thread) once the front ends are ready; WakeWaiters()
// answers parked receives at shutdown; Close() (after the front ends' threads stopped)
// stops the background work, persists consumer offsets and closes the store.
//
// Threads (docs: broker/README.md "Threads"): the services may be called from any thread.
// The core runs work on the io_context it is given (parked receives, lease expiry, the
// check-back strand: the network threads), on the store's writer thread (append callbacks:
// short), on "tidemq-timer" (due scheduled messages), on the DLQ worker, and on
// "tidemq-maint" (offset flush, retention, purges: broker/core/maintenance.h).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <memory>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange

#include "broker/core/admin_service.h"
#include "broker/core/config.h"
#include "broker/core/message_service.h"
#include "broker/core/stats.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "common/status.h"

namespace tidemq::broker {

class BrokerCore {
 public:
  // io runs the core's asynchronous work; it must outlive the core and be run by at least
  // one thread between Start() and Close(). fs: the store's file system (nullptr: the real
  // one; tests inject faults or delays).
  static Result<std::unique_ptr<BrokerCore>> Open(const BrokerConfig& config, Clock* clock,
                                                  boost::asio::io_context* io,
                                                  FileSystem* fs = nullptr);
  ~BrokerCore();
  BrokerCore(const BrokerCore&) = delete;
  BrokerCore& operator=(const BrokerCore&) = delete;

  void Start();
  // Completes every parked receive with no messages (shutdown).
  void WakeWaiters();
  // Idempotent. Call after the threads running the io_context have stopped.
  void Close();

  MessageService& messages();
  AdminService& admin();
  BrokerStats& stats();
  const BrokerConfig& config() const;
  Clock* clock() const;
  // An id for a new ProducerChannel, unique across every front end of this broker.
  uint64_t NewChannelId();

 private:
  class Impl;
  explicit BrokerCore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq::broker
