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
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange

#include "broker/core/admin_service.h"
#include "broker/core/config.h"
#include "broker/core/message_service.h"
#include "broker/core/routes_info.h"
#include "broker/core/stats.h"
#include "common/clock.h"
#include "common/file_system.h"
#include "common/status.h"

namespace tidemq::broker {

// What `tidemq cluster status` shows of one broker (docs/replication.md).
struct ReplicaStatus {
  std::string id;
  std::string peer;
  int64_t written = 0;  // its log end
  bool in_sync = false;
  bool connected = false;
  int64_t last_fetch_ms = 0;  // monotonic, on the master's clock
};

struct ReplicationStatus {
  std::string group;       // "" for a standalone broker
  std::string broker_id;
  std::string role;        // standalone, master or replica
  int64_t epoch = 0;
  int min_copies = 1;
  int64_t log_end = 0;
  int64_t commit_end = 0;  // what min_copies copies hold
  uint16_t repl_port = 0;  // a master's replication listener
  std::vector<ReplicaStatus> replicas;  // a master's
  // A replica's view of its master.
  std::string master;
  bool connected = false;
  int64_t master_end = 0;
  std::string last_error;
  int64_t truncate_to = -1;  // the master said the log diverged here (a restart truncates)
};

class BrokerCore {
 public:
  // io runs the core's asynchronous work; it must outlive the core and be run by at least
  // one thread between Start() and Close(). fs: the store's file system (nullptr: the real
  // one; tests inject faults or delays).
  // on_restart(why): the core needs the process restarted (a replica whose log diverged
  // truncates it at start-up); nullptr: it only logs.
  static Result<std::unique_ptr<BrokerCore>> Open(
      const BrokerConfig& config, Clock* clock, boost::asio::io_context* io,
      FileSystem* fs = nullptr, std::function<void(const std::string&)> on_restart = nullptr);
  ~BrokerCore();
  BrokerCore(const BrokerCore&) = delete;
  BrokerCore& operator=(const BrokerCore&) = delete;

  void Start();
  // Every parked receive looks for messages again (and parks again when there are none).
  void WakeWaiters();
  // Shutdown of the front ends: every parked receive is answered now (no messages), and new
  // receives answer at once instead of parking.
  void EndWaits();
  // Idempotent. Call after the threads running the io_context have stopped.
  void Close();

  // Broker groups (docs/replication.md). A replica serves nothing until promoted: front ends
  // answer NotServing() (NOT_MASTER, naming the group) and call the services only while
  // serving() (after it turned true, they stay valid until Close).
  bool serving() const;
  Status NotServing() const;
  // A replica becomes the group's master (from any thread but the io_context's).
  Status Promote();
  ReplicationStatus Replication() const;
  // The client address of the group's master when known ("" otherwise): NOT_MASTER replies
  // carry it so that clients go there.
  std::string MasterAddress() const;
  // The same for the master's RocketMQ 5 endpoint (from its member record in etcd; "" when
  // unknown, or the group is not coordinated by etcd).
  std::string MasterGrpcAddress() const;
  // CLUSTER_STATUS: the group as this broker sees it, as JSON (docs/replication.md, "Status").
  std::string ClusterStatusJson() const;
  // The group's epochs as this broker's log records them, oldest first: (epoch, the log
  // offset it began at). Each epoch after the first is a failover (or a restart of the group).
  // Reads the store's metadata: not on a network thread.
  std::vector<std::pair<int64_t, int64_t>> EpochHistory() const;

  // The cluster of broker groups (docs/cluster.md): answered by every broker of a cluster,
  // master or replica, from its watch-fed cache of etcd. Outside a cluster (standalone, or a
  // group without etcd) Routes() names this broker's group alone with its own topics, and the
  // changes act on this broker's topics (on a replica: NotServing()).
  bool clustered() const;
  // The topics asked for (empty: every topic).
  RoutesInfo Routes(const std::vector<std::string>& topics) const;
  // The routes' revision: every response of a broker in a cluster carries it (0 outside one).
  int64_t RouteRevision() const;
  // `done` runs on the io_context. queues 0: the broker's default; groups empty: spread over
  // the writable groups.
  using RouteDone = std::function<void(Result<TopicRouteInfo>)>;
  void CreateTopicRoute(std::string topic, uint32_t queues, std::vector<std::string> groups,
                        RouteDone done);
  void ExtendTopic(std::string topic, uint32_t add, std::vector<std::string> groups,
                   RouteDone done);
  void DeleteTopicRoute(std::string topic, std::function<void(Status)> done);
  // Cluster only (kFailedPrecondition outside one).
  void ChangeGroup(GroupAction action, std::string group, bool force,
                   std::function<void(Result<GroupRouteInfo>)> done);
  // Consumer groups: in a cluster their configuration is etcd's (every group's master keeps
  // it), changed from any broker; outside one, this broker's (NotServing() on a replica).
  // `done` runs on the io_context.
  void CreateConsumerGroup(GroupSpec spec, AdminService::GroupDone done);
  void DeleteConsumerGroup(std::string name, AdminService::StatusDone done);

  // What /metrics and the console's overview show: AdminService::Metrics while serving; on a
  // replica (whose services do not exist until promoted), the process, connection and store
  // figures only (BaseStats). Any thread.
  MetricsReport Metrics();
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
