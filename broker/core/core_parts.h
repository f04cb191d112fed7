// The broker core's parts, wired by BrokerCore (broker/core/broker_core.h) and shared by its
// services (MessageService, AdminService, Maintenance). Owned by BrokerCore; every pointer
// outlives every service call. On a replica only config, clock, store, polls, stats, io, timer
// and txn are set (it serves nothing until promoted).
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <string>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange

#include "broker/core/config.h"
#include "broker/core/stats.h"
#include "common/clock.h"

namespace tidemq::store {
class Store;
}
namespace tidemq::timer {
class TimerService;
}
namespace tidemq::txn {
class TxnService;
}
namespace tidemq::cluster {
class ReplicationSource;
}

namespace tidemq::broker {

class ConsumerManager;
class DeadLetters;
class LongPolls;
class ScheduledDelivery;
class TopicManager;
class TraceJournal;
class TxnCoordinator;

// This broker's group in a cluster of groups (docs/cluster.md), kept current by BrokerCore
// from the cluster's routes.
struct ClusterMembership {
  std::string group;
  // Drained for maintenance: clients' sends are refused (kNotWritable); everything already
  // stored is still delivered, fired and retried.
  std::atomic<bool> draining{false};
};

struct CoreParts {
  const BrokerConfig& config;
  Clock* clock;
  store::Store* store;
  TopicManager* topics;
  ConsumerManager* consumers;
  LongPolls* polls;
  BrokerStats* stats;
  // Runs parked receives' timers and wake-ups and the check-back strand: the network
  // threads' io_context (any front end's threads may run it).
  boost::asio::io_context* io;
  timer::TimerService* timer;
  ScheduledDelivery* scheduled;
  txn::TxnService* txn;
  TxnCoordinator* txn_coordinator;
  DeadLetters* dead_letters;
  // The master's replication (nullptr: a standalone broker): sends wait for its copies.
  cluster::ReplicationSource* replication = nullptr;
  // Consumption events for the message lifecycle trace (trace_journal.h).
  TraceJournal* trace = nullptr;
  // In a cluster of broker groups (nullptr: standalone or a group without etcd).
  const ClusterMembership* cluster = nullptr;
};

}  // namespace tidemq::broker
