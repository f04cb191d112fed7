// ClusterRouting: one broker's part in a cluster of broker groups (docs/cluster.md). Every
// broker of a cluster (master or replica, any group) keeps the cluster's routes in a
// watch-fed cache of etcd (cluster/route_cache.h) and answers route queries and route changes
// from it; the master of a group also keeps its own topics as the routes say (creating and
// growing them, deleting those whose route went), keeps its consumer groups as the cluster's
// configuration says (creating, updating, deleting), and refuses clients' sends while its
// group is drained.
//
// Threads: route changes run on "tidemq-cadmin" (they block on etcd) and answer on the
// io_context; the reconciliation runs on the cache's watch thread; the queries from any
// thread. Owned by BrokerCore, only in a broker coordinated by etcd.
#pragma once

#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "broker/core/config.h"
#include "broker/core/core_parts.h"
#include "broker/core/group_records.h"
#include "broker/core/routes_info.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"

namespace tidemq::cluster {
class ClusterAdmin;
class EtcdClient;
class RouteCache;
struct RouteView;
struct TopicEntry;
}  // namespace tidemq::cluster

namespace tidemq {
class SerialWorker;
}

namespace tidemq::broker {

class AdminService;
class ConsumerManager;
class TopicManager;

class ClusterRouting {
 public:
  ClusterRouting(const BrokerConfig& config, Clock* clock, boost::asio::io_context* io);
  ~ClusterRouting();  // Stop()

  // Reads the routes and watches them; etcd down: the cache fills in once it answers.
  void Start();
  void Stop();

  const ClusterMembership* membership() const { return &membership_; }
  // The master's services are open: register the group, keep its topics and consumer groups
  // as the cluster says. The pointers stay valid until Stop().
  void OnServing(TopicManager* topics, AdminService* admin, ConsumerManager* consumers);

  // How many queues the routes give this group for `topic` (0: none).
  uint32_t RoutedQueues(const std::string& topic) const;
  RoutesInfo Routes(const std::vector<std::string>& topics) const;
  int64_t revision() const;

  using RouteDone = std::function<void(Result<TopicRouteInfo>)>;
  void CreateTopic(std::string topic, uint32_t queues, std::vector<std::string> groups,
                   RouteDone done);
  void ExtendTopic(std::string topic, uint32_t add, std::vector<std::string> groups,
                   RouteDone done);
  void DeleteTopic(std::string topic, std::function<void(Status)> done);
  void ChangeGroup(GroupAction action, std::string group, bool force,
                   std::function<void(Result<GroupRouteInfo>)> done);

  // Consumer groups: their configuration is the cluster's, in etcd. `done` runs on the
  // io_context with the configuration stored (the spec completed from the one etcd held, or
  // from the broker's defaults; a change of mode or FIFO is refused).
  void CreateConsumerGroup(GroupSpec spec, std::function<void(Result<GroupConfig>)> done);
  // kGroupNotFound when etcd has no configuration for it.
  void DeleteConsumerGroup(std::string name, std::function<void(Status)> done);
  // The cluster's configuration of a consumer group, from the cache (nullopt: none). Any
  // thread; never blocks.
  std::optional<GroupConfig> ConfiguredGroup(const std::string& name) const;
  // A consumer group created here on its first receive joins the cluster's configuration
  // (unless one is there already). Never blocks.
  void Announce(const GroupConfig& config);

 private:
  void Reconcile(std::shared_ptr<const cluster::RouteView> view) EXCLUDES(mu_);
  void ReconcileTopics(const cluster::RouteView& view) REQUIRES(mu_);
  void ReconcileConsumerGroups(const cluster::RouteView& view) REQUIRES(mu_);
  // A consumer group of this broker into the cluster's configuration, unless it has one of
  // that name (the admin worker).
  void PutIfAbsent(const GroupConfig& config);
  // Runs `work` on the admin worker (it answers on the io_context).
  void RunAdmin(std::function<void()> work);
  // A change of a topic's route on the admin worker, answered with the route on the io_context.
  void ChangeTopic(std::string topic,
                   std::function<Result<cluster::TopicEntry>(const std::string&)> change,
                   RouteDone done);

  const BrokerConfig& config_;
  Clock* clock_;
  boost::asio::io_context* io_;
  ClusterMembership membership_;
  std::unique_ptr<cluster::EtcdClient> etcd_;
  std::unique_ptr<cluster::RouteCache> cache_;
  std::unique_ptr<cluster::ClusterAdmin> admin_ops_;
  std::unique_ptr<SerialWorker> worker_;

  Mutex mu_;
  TopicManager* topics_ GUARDED_BY(mu_) = nullptr;
  AdminService* admin_ GUARDED_BY(mu_) = nullptr;
  ConsumerManager* consumers_ GUARDED_BY(mu_) = nullptr;
  // The view the last reconciliation acted on: a topic that had queues here, or a consumer
  // group, that is gone from the routes since is deleted here too.
  std::shared_ptr<const cluster::RouteView> reconciled_ GUARDED_BY(mu_);
};

}  // namespace tidemq::broker
