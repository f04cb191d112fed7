#include "broker/core/broker_core.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>
#include <boost/asio/post.hpp>
#include <mutex>

#include "broker/core/cluster_routing.h"
#include "broker/core/consumer_manager.h"
#include "cluster/epochs.h"
#include "common/logging.h"
#include "cluster/etcd_client.h"
#include "cluster/group_coordinator.h"
#include "cluster/replica_fetcher.h"
#include "cluster/replication_source.h"
#include "broker/core/dead_letters.h"
#include "broker/core/long_poll.h"
#include "broker/core/maintenance.h"
#include "broker/core/trace_journal.h"
#include "broker/core/retry_copies.h"
#include "broker/core/scheduled_delivery.h"
#include "broker/core/topic_manager.h"
#include "broker/core/txn_coordinator.h"
#include "common/file_system.h"
#include "common/names.h"
#include "common/serial_worker.h"
#include "store/store.h"
#include "timer/timer_service.h"
#include "txn/txn_service.h"
#include "txn/txn_types.h"

namespace tidemq::broker {

namespace asio = boost::asio;

namespace {

// Tells parked receives that a topic got a message. Runs on the store's writer thread for
// every record once it is durable, so it only bumps a sequence and hands wake-ups to the
// io_context.
class ArrivalObserver final : public store::Observer {
 public:
  ArrivalObserver(LongPolls* polls, asio::io_context* io) : polls_(polls), io_(io) {}
  LogOffset Checkpoint() const override { return kNoLogOffset; }
  void OnRecord(const store::Record& record, LogOffset, bool replay) override {
    if (replay || !store::IsDispatchedToQueue(record.type)) return;
    auto waiters = polls_->Notify(record.topic);
    // A retry copy is received by the receivers of the topic it was first sent to.
    if (IsRetryTopic(record.topic)) {
      for (auto& w : polls_->Notify(ReadRetryInfo(record).original_topic)) {
        waiters.push_back(std::move(w));
      }
    }
    for (auto& w : waiters) asio::post(*io_, std::move(w));
  }

 private:
  LongPolls* polls_;
  asio::io_context* io_;
};

}  // namespace

// How long a master that stops waits for its connected replicas to take the last records.
constexpr int64_t kReplicaDrainMs = 2000;

class BrokerCore::Impl {
 public:
  Impl(const BrokerConfig& config, Clock* clock, asio::io_context* io, FileSystem* fs)
      : config_(config), clock_(clock), io_(io), fs_(fs), arrivals_(&polls_, io) {}

  ~Impl() { Close(); }

  Status Open() {
    RETURN_IF_ERROR(OpenStore());
    if (coordinated()) return StartCoordinator();  // etcd decides: master or replica
    if (replica()) {
      StartFollowing(config_.replica_of);
      return Status::Ok();
    }
    RETURN_IF_ERROR(BecomeMaster(0));
    return OpenServing();
  }

  // A group coordinated in etcd (elections, failover); else static or standalone.
  bool coordinated() const { return !config_.etcd.empty(); }
  // Not (yet) serving as master: a static replica, or a coordinated broker not elected.
  bool replica() const {
    return (!config_.replica_of.empty() || coordinated()) && !promoted_.load();
  }

  // The coordinator (docs/replication.md): registers this broker in its group in etcd, and
  // tells it its role. Role changes run on the "tidemq-role" thread, in order, so that the
  // coordinator's thread keeps renewing the lease while a promotion opens the services.
  Status StartCoordinator() {
    cluster::EtcdClientOptions eo;
    eo.endpoints = cluster::SplitEndpoints(config_.etcd);
    if (eo.endpoints.empty()) return InvalidArgument("--etcd names no endpoint");
    etcd_ = std::make_unique<cluster::EtcdClient>(eo);
    cluster::GroupCoordinatorOptions co;
    co.prefix = config_.etcd_prefix;
    co.group = config_.group;
    co.broker_id = config_.BrokerId();
    co.address = config_.ClientAddress();
    co.repl_address = config_.host + ":" + std::to_string(replication_->configured_port());
    if (config_.grpc_port != 0) {
      co.grpc_address = config_.host + ":" + std::to_string(config_.grpc_port);
    }
    co.lease_ttl_s = config_.lease_ttl_s;
    co.bootstrap_master = config_.bootstrap_master;
    co.min_in_sync = config_.min_copies;
    co.watch_endpoints = eo.endpoints;
    cluster::GroupCallbacks cb;
    cb.progress = [this] {
      cluster::MemberProgress p;
      p.log_end = store_->ConfirmedEnd().value();
      p.flushed = p.log_end;
      p.epoch = epoch_.load();
      return p;
    };
    cb.on_master = [this](int64_t epoch) {
      PostRole([this, epoch] { OnElected(epoch); });
    };
    cb.on_replica = [this](const std::string& master, const std::string& address,
                           const std::string& repl_address, int64_t epoch) {
      PostRole([this, master, address, repl_address, epoch] {
        OnFollow(master, address, repl_address, epoch);
      });
    };
    cb.on_fenced = [this](const std::string& reason) {
      // The store's write gate refuses writes already (MayWrite); say so once.
      spdlog::warn("broker group {}: {} stops writing: {}", config_.group, config_.BrokerId(),
                   reason);
    };
    role_worker_ = std::make_unique<SerialWorker>("tidemq-role");
    coordinator_ = std::make_unique<cluster::GroupCoordinator>(etcd_.get(), co, std::move(cb));
    coordinator_ptr_.store(coordinator_.get(), std::memory_order_release);
    if (replication_) {
      replication_->OnInSyncChanged([this](std::vector<std::string> ids) {
        PostRole([this, ids = std::move(ids)]() mutable {
          ids.insert(ids.begin(), config_.BrokerId());
          if (Status st = coordinator_->SetInSync(ids); !st.ok()) {
            spdlog::warn("broker group {}: cannot record the in-sync set: {}", config_.group,
                         st.ToString());
          }
        });
      });
    }
    // Every broker of a cluster answers route queries (docs/cluster.md).
    routing_ = std::make_unique<ClusterRouting>(config_, clock_, io_);
    routing_->Start();
    return coordinator_->Start();
  }

  void PostRole(std::function<void()> task) { role_worker_->Post(std::move(task)); }

  // Elected master (or re-elected after a fence).
  void OnElected(int64_t epoch) {
    if (!serving()) {
      if (Status st = Promote(epoch); !st.ok()) {
        spdlog::error("broker group {}: promotion failed: {}; restarting", config_.group,
                      st.ToString());
        if (on_restart_) on_restart_("promotion failed: " + st.ToString());
      }
      return;
    }
    if (epoch > epoch_.load()) {
      // Master again under a new epoch (its lease was renewed after a fence): the log says
      // where the epoch starts, so that a replica's history can be compared with it.
      Status st = RecordEpoch(epoch);
      if (!st.ok()) spdlog::error("recording epoch {}: {}", epoch, st.ToString());
    }
  }

  void OnFollow(const std::string& master, const std::string& address,
                const std::string& repl_address, int64_t epoch) {
    {
      MutexLock lock(info_mu_);
      master_address_ = address;
    }
    if (serving()) {
      // A master that lost its place: what it wrote that the new master does not have must go
      // (truncation), which needs the store closed. The process starts again as a replica.
      const std::string why = "broker " + master + " is the master now (epoch " +
                              std::to_string(epoch) + "); rejoining as a replica";
      spdlog::warn("broker group {}: {}", config_.group, why);
      if (on_restart_) on_restart_(why);
      return;
    }
    if (repl_address.empty()) return;  // its member record is not there yet
    StartFollowing(repl_address);
  }

  std::string TruncateMarker() const { return JoinPath(config_.data_dir, "TRUNCATE_TO"); }

  // A replica told by its master that its log diverged truncates it before opening it
  // (docs/replication.md, "Truncation"): the log, then everything derived from it.
  Status TruncateIfMarked() {
    FileSystem* fs = FileSystem::Default();
    const std::string marker = TruncateMarker();
    if (!fs->Exists(marker)) return Status::Ok();
    ASSIGN_OR_RETURN(std::string text, fs->ReadFile(marker));
    int64_t to = -1;
    try {
      to = std::stoll(text);
    } catch (...) {
    }
    if (to < 0) return Corruption("truncation marker " + marker + " holds '" + text + "'");
    store::StoreOptions so = config_.ToStoreOptions();
    so.fs = fs_;
    RETURN_IF_ERROR(store::Store::TruncateLog(so, LogOffset(to)));
    // The timer and transaction indexes are rebuilt from the log by replay.
    RETURN_IF_ERROR(fs->RemoveAll(JoinPath(config_.data_dir, "timer")));
    RETURN_IF_ERROR(fs->RemoveAll(JoinPath(config_.data_dir, "txn")));
    RETURN_IF_ERROR(fs->Remove(marker));
    spdlog::warn("replication: truncated this broker's log to {} (it had diverged from the master's)",
                 to);
    return Status::Ok();
  }

  // The store with what is derived from it (timer and transaction indexes), and the
  // replication source of a grouped broker (one of the store's observers).
  Status OpenStore() {
    if (replica()) RETURN_IF_ERROR(TruncateIfMarked());
    stats_.start_ms = clock_->NowMs();
    store::StoreOptions so = config_.ToStoreOptions();
    so.clock = clock_;
    so.fs = fs_;
    so.replica = replica();
    if (coordinated()) {
      // Fencing (docs/replication.md): past its lease's write deadline a master's writer
      // refuses every group of appends; nothing reaches the log.
      so.write_gate = [this]() -> Status {
        cluster::GroupCoordinator* c = coordinator_ptr_.load(std::memory_order_acquire);
        if (c != nullptr && c->MayWrite(SystemClock::Get()->MonotonicMs())) return Status::Ok();
        return Status(Code::kNotMaster,
                      "this broker may not write: it is not the elected master of group " +
                          config_.group + " or its lease could not be renewed in time");
      };
    }
    // The timer index is derived from the log: open it first so the store replays into it.
    timer::TimerServiceOptions to;
    to.index_path = config_.data_dir + "/timer";
    RETURN_IF_ERROR(FileSystem::Default()->CreateDirs(config_.data_dir));
    to.start_ms = clock_->NowMs();
    ASSIGN_OR_RETURN(timer_, timer::TimerService::Open(to));
    // So is the transaction index.
    txn::TxnServiceOptions xo;
    xo.index_path = config_.data_dir + "/txn";
    xo.default_timeout_ms = config_.txn_check_timeout_ms;
    xo.check_backoff_ms = config_.txn_check_backoff_ms;
    xo.check_backoff_max_ms = config_.txn_check_backoff_max_ms;
    xo.max_checks = config_.txn_max_checks;
    ASSIGN_OR_RETURN(txn_, txn::TxnService::Open(xo));
    std::vector<store::Observer*> observers{timer_.get(), txn_.get(), &arrivals_};
    if (!config_.group.empty()) {
      cluster::ReplicationSourceOptions ro;
      ro.host = config_.host;
      ro.port = config_.repl_port != 0 ? config_.repl_port
                : config_.port != 0    ? static_cast<uint16_t>(config_.port + 1)
                                       : 0;
      ro.group = config_.group;
      ro.min_copies = config_.min_copies;
      ro.max_lag_ms = config_.repl_max_lag_ms;
      ro.ack_timeout_ms = config_.repl_ack_timeout_ms;
      ro.clock = clock_;
      replication_ = std::make_unique<cluster::ReplicationSource>(ro);
      observers.push_back(replication_.get());
    }
    ASSIGN_OR_RETURN(store_, store::Store::Open(so, observers));
    timer::TimerService* timer = timer_.get();
    store_->AddRetentionGuard([timer] { return timer->OldestPendingOffset(); });
    txn::TxnService* txn = txn_.get();
    store_->AddRetentionGuard([txn] { return txn->OldestPendingOffset(); });
    // What a replica runs: retention and purges (its disk is bounded like the master's).
    parts_ = std::make_unique<CoreParts>(CoreParts{config_, clock_, store_.get(), nullptr, nullptr,
                                                   &polls_, &stats_, io_, timer_.get(), nullptr,
                                                   txn_.get(), nullptr, nullptr, nullptr});
    return Status::Ok();
  }

  // A replica pulls the master's log until it is promoted (or told to truncate: then it
  // stops following; the broker restarts it to truncate and follow again).
  void StartFollowing(const std::string& repl_address) {
    if (fetcher_) {
      if (following_ == repl_address) return;
      fetcher_->Stop();
      fetcher_.reset();
    }
    following_ = repl_address;
    cluster::ReplicaFetcherOptions fo;
    fo.group = config_.group;
    fo.replica_id = config_.BrokerId();
    fo.master_address = repl_address;
    fo.sync_writes = config_.flush_policy == store::FlushPolicy::kSync;
    fetcher_ = std::make_unique<cluster::ReplicaFetcher>(store_.get(), fo, clock_);
    fetcher_->Start([this](LogOffset to) {
      // The store is open: truncation happens at the next start, which finds this marker.
      Status st = FileSystem::Default()->WriteFileAtomic(TruncateMarker(), std::to_string(to.value()));
      {
        MutexLock lock(info_mu_);
        truncate_to_ = to;
      }
      if (!st.ok()) {
        spdlog::error("replication: cannot record the truncation point: {}", st.ToString());
        return;
      }
      const std::string why = "the log diverged from the master's at log offset " +
                              std::to_string(to.value()) + ": restarting to truncate it";
      spdlog::warn("replication: {}", why);
      if (on_restart_) on_restart_(why);
    });
  }

  // The log records where `epoch` starts (at least the next after the log's last), before the
  // first write of it; replicas are served under it.
  Status RecordEpoch(int64_t elected) {
    ASSIGN_OR_RETURN(auto history, cluster::LoadEpochs(*store_));
    const int64_t epoch = std::max(elected, history.empty() ? 1 : history.back().epoch + 1);
    RETURN_IF_ERROR(store_->AppendMetaAndWait(cluster::EpochChange(epoch, store_->ConfirmedEnd())));
    ASSIGN_OR_RETURN(history, cluster::LoadEpochs(*store_));
    replication_->SetEpoch(epoch, std::move(history));
    epoch_ = epoch;
    return Status::Ok();
  }

  // A grouped broker serving as master: the next epoch starts at the log's end, recorded in
  // the log before the first write, and replicas are served.
  Status BecomeMaster(int64_t elected) {
    if (!replication_) return Status::Ok();
    RETURN_IF_ERROR(RecordEpoch(elected));
    const int64_t epoch = epoch_.load();
    if (!replication_started_) {
      RETURN_IF_ERROR(replication_->Start(store_.get()));
      replication_started_ = true;
    }
    spdlog::info("broker group {}: {} is the master, epoch {}; replicas connect to {}:{}",
                 config_.group, config_.BrokerId(), epoch, config_.host, replication_->port());
    return Status::Ok();
  }

  // Everything a master serves with: topics, groups, dead letters, scheduled delivery, the
  // transaction coordinator and the services.
  Status OpenServing() {
    timer::TimerService* timer = timer_.get();
    txn::TxnService* txn = txn_.get();
    scheduled_ = std::make_unique<ScheduledDelivery>(timer, store_.get(), clock_);
    txn_coordinator_ = std::make_unique<TxnCoordinator>(config_, txn, timer, store_.get(),
                                                        scheduled_.get(), clock_, io_);
    TxnCoordinator* coordinator = txn_coordinator_.get();
    scheduled_->SetVolatileHandler([this, coordinator](const timer::DueTimer& t) {
      if (t.tag == kTimerTagTxnCheck) coordinator->OnTimer();
      if (t.tag == kTimerTagConsumers) asio::post(*io_, [this] { OnConsumerTimer(); });
    });
    topics_ = std::make_unique<TopicManager>(store_.get());
    RETURN_IF_ERROR(topics_->Load());
    if (routing_) {
      ClusterRouting* routing = routing_.get();
      topics_->SetRoutedQueues(
          [routing](const std::string& topic) { return routing->RoutedQueues(topic); });
    }
    TopicManager* topics = topics_.get();
    // A scheduled message or a half waits for its topic as it was (its incarnation): deleted,
    // or deleted and created again, it is dropped where it would take effect, and counted.
    auto topic_current = [topics](const store::Record& r) {
      if (topics->IsCurrent(r)) return true;
      topics->CountStale();
      return false;
    };
    scheduled_->SetTopicCheck(topic_current);
    txn_coordinator_->SetTopicCheck(topic_current);
    // Where the final action parks transactions; readable like any topic.
    RETURN_IF_ERROR(
        topics_->Create(txn::kParkedTopic, 1, clock_->NowMs(), /*allow_system=*/true).status());
    consumers_ = std::make_unique<ConsumerManager>(store_.get(), topics_.get(), clock_, config_);
    if (routing_) {
      ClusterRouting* routing = routing_.get();
      consumers_->SetClusterGroups(
          {[routing](const std::string& name) { return routing->ConfiguredGroup(name); },
           [routing](const GroupConfig& c) { routing->Announce(c); }});
    }
    RETURN_IF_ERROR(consumers_->Load());
    trace_ = std::make_unique<TraceJournal>(store_.get(), config_.trace_consumption);
    consumers_->SetTrace(trace_.get());
    if (config_.retention_keep_unconsumed) {
      ConsumerManager* consumers = consumers_.get();
      store_->AddRetentionGuard([consumers] { return consumers->OldestUnconsumed(); });
    }
    dead_letters_ = std::make_unique<DeadLetters>(store_.get(), topics_.get(), clock_);
    RETURN_IF_ERROR(dead_letters_->Load());
    // Lease deadlines and in-place retries are volatile timers of the timer engine.
    consumers_->SetWakeup([timer, clock = clock_](int64_t monotonic_ms) {
      const int64_t wait = std::max<int64_t>(0, monotonic_ms - clock->MonotonicMs());
      timer->ScheduleVolatile(clock->NowMs() + wait, kTimerTagConsumers, 0);
    });
    consumers_->SetReadyNotifier([this](const std::string& topic) {
      for (auto& w : polls_.Notify(topic)) asio::post(*io_, std::move(w));
    });

    parts_ = std::make_unique<CoreParts>(CoreParts{
        config_, clock_, store_.get(), topics_.get(), consumers_.get(), &polls_, &stats_, io_,
        timer_.get(), scheduled_.get(), txn_.get(), txn_coordinator_.get(), dead_letters_.get(),
        replication_.get(), trace_.get()});
    if (replication_ && config_.min_copies > 1) {
      // Messages become visible as the in-sync replicas get them: wake their receivers.
      replication_->OnCommitAdvanced([this](LogOffset) { WakeWaiters(); });
    }
    if (routing_) parts_->cluster = routing_->membership();
    messages_ = std::make_unique<MessageService>(*parts_);
    admin_ = std::make_unique<AdminService>(*parts_);
    if (routing_) routing_->OnServing(topics_.get(), admin_.get(), consumers_.get());
    maintenance_ = std::make_unique<Maintenance>(*parts_);
    opened_ = true;
    serving_.store(true, std::memory_order_release);
    return Status::Ok();
  }

  void Start() {
    MutexLock lock(role_mu_);
    started_ = true;
    if (!serving()) {
      replica_maintenance_ = std::make_unique<Maintenance>(*parts_);
      replica_maintenance_->Start();
      return;
    }
    scheduled_->Start();
    txn_coordinator_->Start();
    maintenance_->Start();
  }

  bool serving() const { return serving_.load(std::memory_order_acquire); }

  // A replica becomes the master: it stops following, takes appends, starts the next epoch
  // and opens everything a master serves with (from the log it holds: topics, groups,
  // offsets, pending timers and transactions came with it).
  Status Promote(int64_t elected = 0) {
    MutexLock lock(role_mu_);
    if (serving()) return Status::Ok();
    if (fetcher_) fetcher_->Stop();
    if (replica_maintenance_) replica_maintenance_->Stop();
    RETURN_IF_ERROR(store_->Promote());
    promoted_ = true;
    RETURN_IF_ERROR(BecomeMaster(elected));
    RETURN_IF_ERROR(OpenServing());
    if (started_) {
      scheduled_->Start();
      txn_coordinator_->Start();
      maintenance_->Start();
    }
    spdlog::info("broker group {}: {} promoted to master", config_.group, config_.BrokerId());
    return Status::Ok();
  }

  Status NotServing() const {
    if (coordinated()) {
      const std::string master = MasterAddress();
      return Status(Code::kNotMaster,
                    "this broker (" + config_.BrokerId() + ") is not the master of broker group " +
                        config_.group +
                        (master.empty() ? "; no master is elected yet, try again shortly"
                                        : "; the master is at " + master));
    }
    if (replica()) {
      return Status(Code::kNotMaster, "this broker (" + config_.BrokerId() +
                                          ") is a replica in broker group " + config_.group +
                                          "; its master replicates from " +
                                          config_.replica_of);
    }
    return Status(Code::kUnavailable, "the broker is not serving");
  }

  std::string MasterAddress() const {
    MutexLock lock(info_mu_);
    return master_address_;
  }

  std::string MasterGrpcAddress() const {
    if (!coordinator_) return "";
    const cluster::ClusterStatus s = coordinator_->Status();
    for (const cluster::MemberStatus& m : s.members) {
      if (m.broker_id == s.master) return m.grpc_address;
    }
    return "";
  }

  std::string ClusterStatusJson() const {
    if (coordinator_) {
      // The group as etcd has it, with what this broker knows besides: the ack policy, and —
      // on the master — which replicas are connected to it right now (members in etcd are
      // the live ones).
      nlohmann::json j = nlohmann::json::parse(cluster::ClusterStatusJson(coordinator_->Status()),
                                               nullptr, /*allow_exceptions=*/false);
      if (!j.is_object()) return "{}";
      j["min_copies"] = config_.min_copies;
      std::map<std::string, bool> connected;
      if (replication_ && serving()) {
        for (const auto& r : replication_->Replicas()) connected[r.id] = r.connected;
      }
      if (j.contains("members") && j["members"].is_array()) {
        for (auto& m : j["members"]) {
          const std::string id = m.value("broker_id", "");
          const bool is_master = id == j.value("master", "");
          m["connected"] = is_master || connected.empty() || connected[id];
        }
      }
      return j.dump();
    }
    const ReplicationStatus r = Replication();
    nlohmann::json j;
    j["role"] = r.role;
    if (!r.group.empty()) {
      j["group"] = r.group;
      j["self"] = r.broker_id;
      j["epoch"] = r.epoch;
      j["min_in_sync"] = r.min_copies;
      j["master"] = r.role == "master" ? r.broker_id : "";
      j["master_address"] = r.role == "master" ? config_.ClientAddress() : "";
      nlohmann::json members = nlohmann::json::array();
      nlohmann::json in_sync = nlohmann::json::array();
      if (r.role == "master") {
        in_sync.push_back(r.broker_id);
        members.push_back({{"broker_id", r.broker_id}, {"address", config_.ClientAddress()},
                           {"role", "master"}, {"in_sync", true}, {"log_end", r.log_end},
                           {"lag_bytes", 0}, {"lag_ms", 0}});
        for (const auto& rep : r.replicas) {
          if (rep.in_sync) in_sync.push_back(rep.id);
          members.push_back({{"broker_id", rep.id}, {"address", rep.peer}, {"role", "replica"},
                             {"in_sync", rep.in_sync}, {"connected", rep.connected},
                             {"log_end", rep.written}, {"lag_bytes", r.log_end - rep.written}});
        }
      } else {
        j["following"] = r.master;
        j["connected"] = r.connected;
        j["master_log_end"] = r.master_end;
        members.push_back({{"broker_id", r.broker_id}, {"address", config_.ClientAddress()},
                           {"role", "replica"}, {"log_end", r.log_end},
                           {"lag_bytes", std::max<int64_t>(0, r.master_end - r.log_end)}});
        if (!r.last_error.empty()) j["note"] = r.last_error;
      }
      j["in_sync"] = in_sync;
      j["members"] = members;
    }
    return j.dump();
  }

  ReplicationStatus Replication() const {
    ReplicationStatus out;
    out.group = config_.group;
    out.broker_id = config_.BrokerId();
    out.role = config_.group.empty() ? "standalone" : serving() ? "master" : "replica";
    out.epoch = epoch_.load();
    out.min_copies = config_.min_copies;
    out.log_end = store_ ? store_->ConfirmedEnd().value() : 0;
    if (replication_ && serving()) {
      out.repl_port = replication_->port();
      out.commit_end = replication_->CommitEnd().value();
      for (const auto& r : replication_->Replicas()) {
        out.replicas.push_back(ReplicaStatus{r.id, r.peer, r.written.value(), r.in_sync,
                                             r.connected, r.last_fetch_ms});
      }
    }
    if (fetcher_ && !serving()) {
      const auto p = fetcher_->Progress();
      out.master = config_.replica_of;
      out.connected = p.connected;
      out.epoch = p.master_epoch;
      out.master_end = p.master_end.value();
      out.commit_end = p.commit_end.value();
      out.last_error = p.last_error;
      MutexLock lock(info_mu_);
      out.truncate_to = truncate_to_.value();
    }
    return out;
  }

  void WakeWaiters() {
    for (auto& w : polls_.TakeAll()) asio::post(*io_, std::move(w));
  }

  void EndWaits() {
    polls_.Stop();
    WakeWaiters();
  }

  void Close() {
    std::call_once(close_once_, [this] {
      // The coordinator first (its lease revoked: another broker takes over at once), then
      // the role thread; then a replica stops following: nothing more arrives.
      if (coordinator_) coordinator_->Stop(/*revoke=*/true);
      if (routing_) routing_->Stop();
      if (role_worker_) role_worker_->Stop();
      if (fetcher_) fetcher_->Stop();
      if (replica_maintenance_) replica_maintenance_->Stop();
      // Before the store closes; re-puts already handed to it complete as it closes.
      if (maintenance_) maintenance_->Stop();
      if (txn_coordinator_) txn_coordinator_->Stop();
      if (scheduled_) scheduled_->Stop();
      if (dead_letters_) dead_letters_->Stop();
      // Offsets are persisted only when they were loaded whole.
      if (consumers_ && opened_) {
        Status st = consumers_->FlushOffsets(/*sync=*/true);
        if (!st.ok()) spdlog::error("persisting consumer offsets: {}", st.ToString());
      }
      if (trace_) trace_->Flush();
      // A master stopping on purpose lets its replicas take the last records (the offsets just
      // flushed) before it stops serving them; bounded, so a stuck replica cannot hold it.
      if (replication_) {
        replication_->WaitCaughtUp(kReplicaDrainMs);
        replication_->Stop();
      }
      store_.reset();
      // After the store: its closing append callbacks use them; the timer persists its
      // checkpoint as it closes.
      scheduled_.reset();
      txn_coordinator_.reset();
      timer_.reset();
      txn_.reset();
    });
  }

  // Lapsed leases and due in-place retries; the parked receives of their topics are woken.
  void OnConsumerTimer() {
    for (const std::string& topic : consumers_->OnTimer()) {
      for (auto& w : polls_.Notify(topic)) asio::post(*io_, std::move(w));
    }
  }

  BrokerConfig config_;
  Clock* clock_;
  asio::io_context* io_;
  FileSystem* fs_;
  LongPolls polls_;
  ArrivalObserver arrivals_;
  BrokerStats stats_;
  std::atomic<uint64_t> next_channel_id_{0};
  std::unique_ptr<cluster::ReplicationSource> replication_;  // outlives store_ (its observer)
  std::unique_ptr<timer::TimerService> timer_;       // outlives store_ (its observer)
  std::unique_ptr<txn::TxnService> txn_;             // outlives store_ (its observer)
  std::unique_ptr<ScheduledDelivery> scheduled_;     // outlives store_ (append callbacks)
  std::unique_ptr<TxnCoordinator> txn_coordinator_;  // outlives store_ (append callbacks)
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<ConsumerManager> consumers_;
  std::unique_ptr<TraceJournal> trace_;
  std::unique_ptr<DeadLetters> dead_letters_;
  std::unique_ptr<CoreParts> parts_;
  std::unique_ptr<MessageService> messages_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<Maintenance> maintenance_;
  // Broker groups: the replica's fetcher and maintenance thread (the master's replication
  // source is declared with the store's observers above).
  std::unique_ptr<cluster::ReplicaFetcher> fetcher_;
  std::unique_ptr<Maintenance> replica_maintenance_;
  std::atomic<bool> serving_{false};
  std::atomic<bool> promoted_{false};
  std::atomic<int64_t> epoch_{0};
  mutable Mutex role_mu_;  // Start / Promote
  bool started_ GUARDED_BY(role_mu_) = false;
  mutable Mutex info_mu_;  // what status and errors tell
  LogOffset truncate_to_ GUARDED_BY(info_mu_) = kNoLogOffset;
  std::string master_address_ GUARDED_BY(info_mu_);
  // Coordinated groups: the etcd client, the coordinator (its pointer for the writer's gate),
  // and the role thread's tasks.
  std::unique_ptr<cluster::EtcdClient> etcd_;
  std::unique_ptr<cluster::GroupCoordinator> coordinator_;
  std::atomic<cluster::GroupCoordinator*> coordinator_ptr_{nullptr};
  std::unique_ptr<ClusterRouting> routing_;  // in a cluster (docs/cluster.md)
  // Role changes, in order, off the coordinator's thread (docs/replication.md).
  std::unique_ptr<SerialWorker> role_worker_;
  // The role thread only (Open before it starts).
  std::string following_;
  bool replication_started_ = false;
  std::function<void(const std::string&)> on_restart_;  // set before Open
  bool opened_ = false;
  std::once_flag close_once_;
};

BrokerCore::BrokerCore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BrokerCore::~BrokerCore() = default;

Result<std::unique_ptr<BrokerCore>> BrokerCore::Open(
    const BrokerConfig& config, Clock* clock, asio::io_context* io, FileSystem* fs,
    std::function<void(const std::string&)> on_restart) {
  auto impl = std::make_unique<Impl>(config, clock ? clock : SystemClock::Get(), io, fs);
  impl->on_restart_ = std::move(on_restart);
  RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<BrokerCore>(new BrokerCore(std::move(impl)));
}

void BrokerCore::Start() { impl_->Start(); }
void BrokerCore::WakeWaiters() { impl_->WakeWaiters(); }
void BrokerCore::EndWaits() { impl_->EndWaits(); }
void BrokerCore::Close() { impl_->Close(); }
bool BrokerCore::serving() const { return impl_->serving(); }
std::string BrokerCore::MasterAddress() const { return impl_->MasterAddress(); }
std::string BrokerCore::MasterGrpcAddress() const { return impl_->MasterGrpcAddress(); }
std::string BrokerCore::ClusterStatusJson() const { return impl_->ClusterStatusJson(); }
std::vector<std::pair<int64_t, int64_t>> BrokerCore::EpochHistory() const {
  std::vector<std::pair<int64_t, int64_t>> out;
  auto epochs = cluster::LoadEpochs(*impl_->store_);
  if (!epochs.ok()) return out;
  for (const cluster::EpochStart& e : *epochs) out.emplace_back(e.epoch, e.start.value());
  return out;
}
Status BrokerCore::NotServing() const { return impl_->NotServing(); }
Status BrokerCore::Promote() { return impl_->Promote(); }
ReplicationStatus BrokerCore::Replication() const { return impl_->Replication(); }
MetricsReport BrokerCore::Metrics() {
  // serving() stays true once it turned true, and the services stay until Close.
  if (serving()) return admin().Metrics();
  MetricsReport r;
  r.now_ms = impl_->clock_->NowMs();
  r.stats = BaseStats(impl_->config_, impl_->clock_, impl_->stats_, *impl_->store_);
  r.store = impl_->store_->Stats();
  r.append_latency_us = r.store.append_latency_us;
  r.sync_latency_us = r.store.sync_latency_us;
  return r;
}
MessageService& BrokerCore::messages() { return *impl_->messages_; }
AdminService& BrokerCore::admin() { return *impl_->admin_; }
BrokerStats& BrokerCore::stats() { return impl_->stats_; }
const BrokerConfig& BrokerCore::config() const { return impl_->config_; }
Clock* BrokerCore::clock() const { return impl_->clock_; }
uint64_t BrokerCore::NewChannelId() { return ++impl_->next_channel_id_; }

// ---- the cluster's routes (docs/cluster.md) ----

bool BrokerCore::clustered() const { return impl_->routing_ != nullptr; }

int64_t BrokerCore::RouteRevision() const {
  return impl_->routing_ ? impl_->routing_->revision() : 0;
}

RoutesInfo BrokerCore::Routes(const std::vector<std::string>& topics) const {
  if (impl_->routing_) return impl_->routing_->Routes(topics);
  // Outside a cluster: this broker's group alone, with its own topics.
  const BrokerConfig& c = impl_->config_;
  RoutesInfo out;
  GroupRouteInfo g;
  g.name = c.group;
  g.addresses.push_back(c.ClientAddress());
  if (serving()) {
    g.master_id = c.BrokerId();
    g.master_address = c.ClientAddress();
    if (c.grpc_port != 0) g.master_grpc_address = c.host + ":" + std::to_string(c.grpc_port);
    // Names and queue counts only: every client asks this once when it connects, and a
    // description (each queue's offsets) would cost a look-up per queue for nothing.
    auto add = [&](const Topic& t) { out.topics.push_back({t.name, {{g.name, t.queue_count}}}); };
    if (topics.empty()) {
      for (const Topic& t : impl_->topics_->List()) {
        if (!IsSystemTopic(t.name)) add(t);
      }
    } else {
      for (const std::string& name : topics) {
        if (auto t = impl_->topics_->Find(name); t && !IsSystemTopic(t->name)) add(*t);
      }
    }
  }
  out.groups.push_back(std::move(g));
  return out;
}

void BrokerCore::CreateTopicRoute(std::string topic, uint32_t queues,
                                  std::vector<std::string> groups, RouteDone done) {
  if (impl_->routing_) {
    return impl_->routing_->CreateTopic(std::move(topic), queues, std::move(groups),
                                        std::move(done));
  }
  if (!serving()) return done(NotServing());
  const std::string group = impl_->config_.group;
  admin().CreateTopic(topic, queues, [group, done = std::move(done)](Result<TopicInfo> t) {
    if (!t.ok()) return done(t.status());
    done(TopicRouteInfo{t->name, {{group, t->queue_count}}});
  });
}

void BrokerCore::ExtendTopic(std::string topic, uint32_t add, std::vector<std::string> groups,
                             RouteDone done) {
  if (impl_->routing_) {
    return impl_->routing_->ExtendTopic(std::move(topic), add, std::move(groups),
                                        std::move(done));
  }
  if (!serving()) return done(NotServing());
  const std::string group = impl_->config_.group;
  auto t = admin().ExtendTopic(topic, add);
  if (!t.ok()) return done(t.status());
  done(TopicRouteInfo{t->name, {{group, t->queue_count}}});
}

void BrokerCore::DeleteTopicRoute(std::string topic, std::function<void(Status)> done) {
  if (impl_->routing_) return impl_->routing_->DeleteTopic(std::move(topic), std::move(done));
  if (!serving()) return done(NotServing());
  admin().DeleteTopic(topic, [done = std::move(done)](const Status& st) { done(st); });
}

void BrokerCore::ChangeGroup(GroupAction action, std::string group, bool force,
                             std::function<void(Result<GroupRouteInfo>)> done) {
  if (!impl_->routing_) {
    return done(Status(Code::kFailedPrecondition,
                       "this broker is not in a cluster (start brokers with --group and --etcd)"));
  }
  impl_->routing_->ChangeGroup(action, std::move(group), force, std::move(done));
}

void BrokerCore::CreateConsumerGroup(GroupSpec spec, AdminService::GroupDone done) {
  if (!impl_->routing_) {
    if (!serving()) return done(NotServing());
    return admin().CreateGroup(std::move(spec), std::move(done));
  }
  impl_->routing_->CreateConsumerGroup(
      std::move(spec), [this, done = std::move(done)](Result<GroupConfig> c) mutable {
        if (!c.ok()) return done(c.status());
        // A replica answers with the configuration; its master applies it from the watch.
        if (!serving()) {
          GroupInfo info;
          info.config = *c;
          return done(std::move(info));
        }
        // The master applies it now (its watch would shortly), to answer with its queues.
        admin().CreateGroup(GroupSpec{*c, c->retry}, std::move(done));
      });
}

void BrokerCore::DeleteConsumerGroup(std::string name, AdminService::StatusDone done) {
  if (!impl_->routing_) {
    if (!serving()) return done(NotServing());
    return admin().DeleteGroup(name, std::move(done));
  }
  impl_->routing_->DeleteConsumerGroup(
      name, [this, name, done = std::move(done)](const Status& cluster) mutable {
        if (!cluster.ok() && cluster.code() != Code::kGroupNotFound) return done(cluster);
        if (!serving()) return done(cluster);
        // Here now (its watch would shortly); a group only this broker had (created while
        // etcd was away) goes too.
        admin().DeleteGroup(name, [cluster, done = std::move(done)](const Status& here) {
          done(here.ok() || here.code() != Code::kGroupNotFound ? here : cluster);
        });
      });
}

}  // namespace tidemq::broker
