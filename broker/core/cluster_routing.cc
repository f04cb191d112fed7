#include "broker/core/cluster_routing.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>
#include <map>

#include "broker/core/admin_service.h"
#include "broker/core/consumer_manager.h"
#include "broker/core/topic_manager.h"
#include "cluster/cluster_admin.h"
#include "cluster/etcd_client.h"
#include "cluster/route_cache.h"
#include "common/names.h"
#include "common/serial_worker.h"

namespace tidemq::broker {

namespace {

GroupRouteInfo ToInfo(const cluster::GroupView& g) {
  GroupRouteInfo out;
  out.name = g.name;
  out.draining = g.registered && g.entry.mode == cluster::GroupMode::kDraining;
  if (const cluster::MemberRecord* m = g.Master()) {
    out.master_id = m->broker_id;
    out.master_address = m->address;
    out.master_grpc_address = m->grpc_address;
  }
  out.addresses = g.Addresses();
  out.epoch = g.state.epoch;
  return out;
}

TopicRouteInfo ToInfo(const std::string& name, const cluster::TopicEntry& t) {
  TopicRouteInfo out;
  out.topic = name;
  for (const auto& q : t.queues) out.queues.push_back({q.group, q.count});
  return out;
}

}  // namespace

ClusterRouting::ClusterRouting(const BrokerConfig& config, Clock* clock,
                               boost::asio::io_context* io)
    : config_(config), clock_(clock), io_(io) {
  membership_.group = config.group;
  cluster::EtcdClientOptions eo;
  eo.endpoints = cluster::SplitEndpoints(config.etcd);
  // Its own connection: route changes never queue behind (or ahead of) the group
  // coordinator's keepalives.
  etcd_ = std::make_unique<cluster::EtcdClient>(eo);
  cluster::RouteCacheOptions ro;
  ro.prefix = config.etcd_prefix;
  ro.watch_endpoints = eo.endpoints;
  cache_ = std::make_unique<cluster::RouteCache>(
      etcd_.get(), ro, [this](std::shared_ptr<const cluster::RouteView> view) {
        Reconcile(std::move(view));
      });
  admin_ops_ = std::make_unique<cluster::ClusterAdmin>(etcd_.get(), cache_.get(), clock_);
  worker_ = std::make_unique<SerialWorker>("tidemq-cadmin");
}

ClusterRouting::~ClusterRouting() { Stop(); }

void ClusterRouting::Start() {
  // An error is logged by the cache, which keeps trying.
  (void)cache_->Start();
}

void ClusterRouting::Stop() {
  if (worker_) worker_->Stop();
  if (cache_) cache_->Stop();
  MutexLock lock(mu_);
  topics_ = nullptr;
  admin_ = nullptr;
}

void ClusterRouting::OnServing(TopicManager* topics, AdminService* admin,
                               ConsumerManager* consumers) {
  {
    MutexLock lock(mu_);
    topics_ = topics;
    admin_ = admin;
    consumers_ = consumers;
    reconciled_ = nullptr;
  }
  // Joining the cluster: the group's own topics and consumer groups (made before it was in
  // one) join it too.
  std::vector<std::pair<std::string, uint32_t>> own;
  for (const Topic& t : topics->List()) {
    if (!IsSystemTopic(t.name)) own.emplace_back(t.name, t.queue_count);
  }
  worker_->Post([this, own = std::move(own), own_groups = consumers->ListGroups()] {
    auto joined = admin_ops_->Register(config_.group);
    if (!joined.ok()) {
      spdlog::warn("cluster: cannot register broker group {}: {}", config_.group,
                   joined.status().ToString());
      return;
    }
    if (!*joined) return;
    if (!own.empty()) {
      auto added = admin_ops_->ImportTopics(config_.group, own);
      if (!added.ok()) {
        spdlog::warn("cluster: broker group {}: its topics could not be added to the cluster: {}",
                     config_.group, added.status().ToString());
      } else if (*added > 0) {
        spdlog::info("cluster: broker group {} brought {} topic(s) into the cluster",
                     config_.group, *added);
      }
    }
    for (const GroupConfig& c : own_groups) PutIfAbsent(c);
  });
  Reconcile(cache_->View());
}

void ClusterRouting::Reconcile(std::shared_ptr<const cluster::RouteView> view) {
  const cluster::GroupView* self = view->Group(config_.group);
  membership_.draining.store(
      self != nullptr && self->registered && self->entry.mode == cluster::GroupMode::kDraining,
      std::memory_order_relaxed);
  MutexLock lock(mu_);
  if (topics_ == nullptr) return;  // not serving: a replica's topics come with the log
  if (reconciled_ != nullptr && view->revision < reconciled_->revision) return;  // older
  ReconcileTopics(*view);
  ReconcileConsumerGroups(*view);
  reconciled_ = std::move(view);
}

void ClusterRouting::ReconcileTopics(const cluster::RouteView& view) {
  for (const auto& [name, t] : view.topics) {
    const uint32_t count = t.CountOn(config_.group);
    if (count == 0) continue;
    auto ensured = topics_->Ensure(name, count, clock_->NowMs());
    if (!ensured.ok()) {
      spdlog::warn("cluster: topic '{}' ({} queues here): {}", name, count,
                   ensured.status().ToString());
    }
  }
  if (reconciled_ == nullptr) return;
  for (const auto& [name, t] : reconciled_->topics) {
    if (t.CountOn(config_.group) == 0) continue;
    const cluster::TopicEntry* now = view.Topic(name);
    if (now != nullptr && now->CountOn(config_.group) > 0) continue;
    // Deleted from the cluster (or this group removed from it): its queues here go too.
    admin_->DeleteTopic(name, [topic = name](const Status& st) {
      if (!st.ok() && st.code() != Code::kTopicNotFound) {
        spdlog::warn("cluster: deleting topic '{}' here: {}", topic, st.ToString());
      }
    });
  }
}

void ClusterRouting::ReconcileConsumerGroups(const cluster::RouteView& view) {
  std::map<std::string, GroupConfig> local;
  for (GroupConfig& c : consumers_->ListGroups()) {
    std::string name = c.name;
    local.emplace(std::move(name), std::move(c));
  }
  auto log_durable = [](std::string what) {
    return [what = std::move(what)](const Status& st) {
      if (!st.ok()) spdlog::warn("cluster: {}: {}", what, st.ToString());
    };
  };
  for (const auto& [name, text] : view.consumer_groups) {
    auto configured = DecodeGroupConfig(name, text);
    if (!configured.ok()) {
      spdlog::warn("cluster: consumer group '{}': its configuration in etcd is unreadable: {}",
                   name, configured.status().ToString());
      continue;
    }
    auto here = local.find(name);
    if (here != local.end() && SameSettings(here->second, *configured)) continue;
    if (here != local.end() && !CheckSameKind(here->second, *configured).ok()) {
      // Deleted and created again with another mode while this broker did not watch (or
      // this group joined a cluster that has the name as another mode): the cluster's
      // configuration wins, and the offsets here, which meant the old mode, go.
      spdlog::warn("cluster: consumer group '{}' has another mode here than the cluster "
                   "configures: replaced (its offsets here start over)", name);
      (void)consumers_->DeleteGroup(name, log_durable("deleting consumer group '" + name + "'"));
    }
    auto applied =
        consumers_->CreateGroup(*configured, log_durable("consumer group '" + name + "'"));
    if (!applied.ok()) {
      spdlog::warn("cluster: consumer group '{}' as the cluster configures it: {}", name,
                   applied.status().ToString());
    } else {
      spdlog::info("cluster: consumer group '{}' {} as the cluster configures it", name,
                   here == local.end() ? "created" : "updated");
    }
  }
  if (reconciled_ == nullptr) return;
  for (const auto& [name, _] : reconciled_->consumer_groups) {
    if (view.ConsumerGroup(name) != nullptr || local.count(name) == 0) continue;
    // Deleted from the cluster: its offsets here go with it.
    Status st = consumers_->DeleteGroup(name, log_durable("deleting consumer group '" + name + "'"));
    if (st.ok()) spdlog::info("cluster: consumer group '{}' deleted", name);
  }
}

uint32_t ClusterRouting::RoutedQueues(const std::string& topic) const {
  auto view = cache_->View();
  const cluster::TopicEntry* t = view->Topic(topic);
  return t == nullptr ? 0 : t->CountOn(config_.group);
}

int64_t ClusterRouting::revision() const { return cache_->revision(); }

RoutesInfo ClusterRouting::Routes(const std::vector<std::string>& topics) const {
  auto view = cache_->View();
  RoutesInfo out;
  out.clustered = true;
  out.revision = view->revision;
  for (const auto& [_, g] : view->groups) out.groups.push_back(ToInfo(g));
  if (topics.empty()) {
    for (const auto& [name, t] : view->topics) out.topics.push_back(ToInfo(name, t));
  } else {
    for (const auto& name : topics) {
      if (const cluster::TopicEntry* t = view->Topic(name)) out.topics.push_back(ToInfo(name, *t));
    }
  }
  return out;
}

void ClusterRouting::RunAdmin(std::function<void()> work) {
  if (!worker_->Post(std::move(work))) {
    spdlog::debug("cluster: a route change arrived while stopping; dropped");
  }
}

void ClusterRouting::ChangeTopic(
    std::string topic, std::function<Result<cluster::TopicEntry>(const std::string&)> change,
    RouteDone done) {
  RunAdmin([this, topic = std::move(topic), change = std::move(change),
            done = std::move(done)]() mutable {
    auto r = change(topic);
    Result<TopicRouteInfo> out = r.ok() ? Result<TopicRouteInfo>(ToInfo(topic, *r))
                                        : Result<TopicRouteInfo>(r.status());
    if (r.ok()) spdlog::info("cluster: topic '{}' has {} queues", topic, r->total());
    boost::asio::post(*io_, [done = std::move(done), out = std::move(out)]() mutable {
      done(std::move(out));
    });
  });
}

void ClusterRouting::CreateTopic(std::string topic, uint32_t queues,
                                 std::vector<std::string> groups, RouteDone done) {
  if (queues == 0) queues = config_.default_queue_count;
  ChangeTopic(
      std::move(topic),
      [this, queues, groups = std::move(groups)](const std::string& t) {
        return admin_ops_->CreateTopic(t, queues, groups);
      },
      std::move(done));
}

void ClusterRouting::ExtendTopic(std::string topic, uint32_t add, std::vector<std::string> groups,
                                 RouteDone done) {
  ChangeTopic(
      std::move(topic),
      [this, add, groups = std::move(groups)](const std::string& t) {
        return admin_ops_->ExtendTopic(t, add, groups);
      },
      std::move(done));
}

void ClusterRouting::DeleteTopic(std::string topic, std::function<void(Status)> done) {
  RunAdmin([this, topic = std::move(topic), done = std::move(done)]() mutable {
    Status st = admin_ops_->DeleteTopic(topic);
    if (st.ok()) spdlog::info("cluster: topic '{}' deleted", topic);
    boost::asio::post(*io_, [done = std::move(done), st]() { done(st); });
  });
}

void ClusterRouting::ChangeGroup(GroupAction action, std::string group, bool force,
                                 std::function<void(Result<GroupRouteInfo>)> done) {
  RunAdmin([this, action, group = std::move(group), force, done = std::move(done)]() mutable {
    Status st;
    if (action == GroupAction::kRemove) {
      st = admin_ops_->RemoveGroup(group, force);
    } else {
      st = admin_ops_
               ->SetGroupMode(group, action == GroupAction::kDrain ? cluster::GroupMode::kDraining
                                                                   : cluster::GroupMode::kActive)
               .status();
    }
    Result<GroupRouteInfo> out = st;
    if (st.ok()) {
      auto view = cache_->View();
      const cluster::GroupView* g = view->Group(group);
      GroupRouteInfo info;
      if (g != nullptr) {
        info = ToInfo(*g);
      } else {
        info.name = group;
      }
      out = info;
      spdlog::info("cluster: broker group {} {}", group,
                   action == GroupAction::kRemove  ? "removed"
                   : action == GroupAction::kDrain ? "draining"
                                                   : "active");
    }
    boost::asio::post(*io_, [done = std::move(done), out = std::move(out)]() mutable {
      done(std::move(out));
    });
  });
}

void ClusterRouting::CreateConsumerGroup(GroupSpec spec,
                                         std::function<void(Result<GroupConfig>)> done) {
  RunAdmin([this, spec = std::move(spec), done = std::move(done)]() mutable {
    const std::string name = spec.config.name;
    auto stored = admin_ops_->PutConsumerGroup(
        name, [&](const std::string* current) -> Result<std::string> {
          std::optional<GroupConfig> existing;
          if (current != nullptr) {
            auto decoded = DecodeGroupConfig(name, *current);
            if (decoded.ok()) {
              existing = std::move(decoded).value();
            } else {
              spdlog::warn("cluster: consumer group '{}': replacing an unreadable configuration "
                           "in etcd ({})", name, decoded.status().ToString());
            }
          }
          ASSIGN_OR_RETURN(GroupConfig c,
                           ResolveGroupSpec(spec, existing ? &*existing : nullptr,
                                            config_.default_retry, config_.default_max_attempts));
          if (!existing) {
            c.created_ms = clock_->NowMs();
          } else if (SameSettings(*existing, c)) {
            return *current;  // nothing to change
          }
          return EncodeGroupConfig(c);
        });
    Result<GroupConfig> out = stored.ok() ? DecodeGroupConfig(name, *stored)
                                          : Result<GroupConfig>(stored.status());
    if (stored.ok()) spdlog::info("cluster: consumer group '{}' configured", name);
    boost::asio::post(*io_, [done = std::move(done), out = std::move(out)]() mutable {
      done(std::move(out));
    });
  });
}

void ClusterRouting::DeleteConsumerGroup(std::string name, std::function<void(Status)> done) {
  RunAdmin([this, name = std::move(name), done = std::move(done)]() mutable {
    Status st = admin_ops_->DeleteConsumerGroup(name);
    if (st.ok()) spdlog::info("cluster: consumer group '{}' deleted from the cluster", name);
    boost::asio::post(*io_, [done = std::move(done), st]() { done(st); });
  });
}

std::optional<GroupConfig> ClusterRouting::ConfiguredGroup(const std::string& name) const {
  auto view = cache_->View();
  const std::string* text = view->ConsumerGroup(name);
  if (text == nullptr) return std::nullopt;
  auto c = DecodeGroupConfig(name, *text);
  if (!c.ok()) return std::nullopt;  // Reconcile logs it
  return std::move(c).value();
}

void ClusterRouting::Announce(const GroupConfig& config) {
  RunAdmin([this, config] { PutIfAbsent(config); });
}

void ClusterRouting::PutIfAbsent(const GroupConfig& config) {
  bool added = false;
  auto stored = admin_ops_->PutConsumerGroup(
      config.name, [&](const std::string* current) -> Result<std::string> {
        added = current == nullptr;
        return current != nullptr ? *current : EncodeGroupConfig(config);
      });
  if (!stored.ok()) {
    spdlog::warn("cluster: consumer group '{}' could not join the cluster's configuration: {}",
                 config.name, stored.status().ToString());
  } else if (added) {
    spdlog::info("cluster: consumer group '{}' joined the cluster's configuration", config.name);
  }
}

}  // namespace tidemq::broker
