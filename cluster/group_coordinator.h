// GroupCoordinator: one broker's side of its broker group in etcd (keys: cluster/group_state.h;
// protocol and failure cases: docs/replication.md).
//
// It keeps the broker's member key alive on a lease, elects a master by compare-and-set, tells
// the broker its role, and fences a master by its own lease clock:
//
//   * Election. With no leader key, the one live member of the state's in-sync set with the
//     largest log_end (ties: the smallest broker id) runs one Txn: leader absent AND state
//     mod_revision unchanged -> leader = me (on my lease), state = {master me, epoch + 1,
//     in_sync [me]}. A member outside the in-sync set never becomes master (it may lack
//     acknowledged messages): with no live in-sync member the group waits, and Status() says so.
//     With no state yet (bootstrap): options.bootstrap_master if set, else the first to try.
//   * Fencing. etcd renews a lease when it receives the keepalive, so the lease lives at least
//     until (keepalive sent + TTL granted). The master may accept writes only before
//     WriteDeadlineMs() = that - safety_margin_ms; MayWrite(now) is two atomic loads, for the
//     broker's hot path. Past it the coordinator calls OnFenced; once etcd answers again it
//     resumes as master if its lease and leader key survived (etcd down for everyone, e.g.
//     restarted), else registers a new lease and runs the election again (master again, keeping
//     its data, or replica).
//
// Threads: the coordinator's own thread ("tidemq-cluster") runs the state machine and makes
// every callback, in order. Status(), MayWrite(), WriteDeadlineMs() and SetInSync() from any
// thread (SetInSync blocks on etcd: never call it from a network thread). Tests without
// Start() drive the state machine with Tick() on their own thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_api.h"
#include "cluster/group_state.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace tidemq::cluster {

class EtcdWatch;

struct GroupCoordinatorOptions {
  std::string prefix = "/tidemq";
  std::string group;
  std::string broker_id;
  std::string address;       // host:port of this broker (clients)
  std::string repl_address;  // host:port of its replication listener
  std::string grpc_address;  // host:port of its RocketMQ 5 endpoint ("" when none)
  int64_t lease_ttl_s = 6;
  int64_t keepalive_interval_ms = 0;  // 0: ttl / 3
  int64_t safety_margin_ms = 0;       // 0: max(100, ttl / 10)
  int64_t poll_interval_ms = 1000;    // re-read the group at least this often
  int64_t retry_interval_ms = 200;    // after an etcd error
  std::string bootstrap_master;       // empty: with no state yet, the first member to try wins
  int64_t min_in_sync = 1;            // for the first state
  // Endpoints for a watch of the group's keys that wakes the state machine at once when a
  // leader or member key changes (empty: polling only).
  std::vector<std::string> watch_endpoints;
  Clock* clock = nullptr;  // nullptr: SystemClock
};

struct GroupCallbacks {
  std::function<MemberProgress()> progress;  // this broker's log, read on every refresh
  std::function<void(int64_t epoch)> on_master;
  // master_repl_address: where the master serves its replicas ("" when its member record is
  // not there yet: the coordinator calls again once it is).
  std::function<void(const std::string& master_id, const std::string& master_address,
                     const std::string& master_repl_address, int64_t epoch)>
      on_replica;
  std::function<void(const std::string& reason)> on_fenced;  // stop writing now
};

enum class Role { kStarting, kCandidate, kMaster, kReplica, kFenced };
std::string_view RoleName(Role role);

struct MemberStatus {
  std::string broker_id;
  std::string address;
  std::string grpc_address;  // its RocketMQ 5 endpoint ("" when none)
  std::string role;  // "master" / "replica"
  bool in_sync = false;
  int64_t log_end = 0;
  int64_t flushed = 0;
  int64_t epoch = 0;
  int64_t lag_bytes = 0;  // master's log_end - this member's (0 for the master)
  int64_t lag_ms = 0;     // master's updated_ms - this member's (how stale its report is)
  int64_t updated_ms = 0;
};

struct ClusterStatus {
  std::string group;
  std::string self;
  Role role = Role::kStarting;
  std::string note;  // why this broker is not master / replica, the last etcd error, ...
  std::string master;
  std::string master_address;
  int64_t epoch = 0;
  std::vector<std::string> in_sync;
  int64_t min_in_sync = 1;
  int64_t last_failover_ms = 0;
  std::string previous_master;
  std::vector<MemberStatus> members;  // live members, by broker id
  int64_t lease = 0;
  int64_t write_deadline_ms = 0;  // monotonic, 0 when not allowed to write
};

// The snapshot as JSON (`tidemq cluster status --json`): {"group", "self", "role", "note",
// "master", "master_address", "epoch", "in_sync", "min_in_sync", "last_failover_ms",
// "previous_master", "members": [{"broker_id", "address", "role", "in_sync", "log_end",
// "flushed", "epoch", "lag_bytes", "lag_ms", "updated_ms"}]}.
std::string ClusterStatusJson(const ClusterStatus& status);

class GroupCoordinator {
 public:
  // `etcd` must outlive the coordinator.
  GroupCoordinator(EtcdApi* etcd, GroupCoordinatorOptions options, GroupCallbacks callbacks);
  ~GroupCoordinator();  // Stop(false)
  GroupCoordinator(const GroupCoordinator&) = delete;
  GroupCoordinator& operator=(const GroupCoordinator&) = delete;

  // Checks the options and starts the coordinator's thread, which registers the member (lease,
  // member key) and runs the state machine, retrying while etcd does not answer.
  ::tidemq::Status Start();
  // Stops the thread (waiting for an etcd call in progress, at most the client's call timeout);
  // revoke: also revoke the lease (the member and leader keys go at once, so another broker
  // takes over without waiting for the TTL). MayWrite() is false from here on.
  void Stop(bool revoke = true);

  // One pass of the state machine on the caller's thread (tests without Start()).
  void Tick();

  // Hot path: may the broker accept a write at monotonic time now_ms? Master, not fenced, and
  // before the write deadline.
  bool MayWrite(int64_t now_ms) const {
    return now_ms < write_deadline_ms_.load(std::memory_order_acquire);
  }
  int64_t WriteDeadlineMs() const { return write_deadline_ms_.load(std::memory_order_acquire); }
  // The earliest time (monotonic) etcd may expire this broker's lease: last keepalive sent +
  // TTL etcd answered. WriteDeadlineMs() is this minus the safety margin.
  int64_t LeaseFloorMs() const { return lease_floor_ms_.load(std::memory_order_acquire); }

  // The master changes the in-sync set (it must contain the master): a CAS on the state's
  // mod_revision and on the leader key naming this broker, retried on a race with a fresh read.
  // kFailedPrecondition when this broker is not the master.
  ::tidemq::Status SetInSync(std::vector<std::string> in_sync);

  ClusterStatus Status() const;

 private:
  struct View;  // one consistent read of the group's keys
  void Run();
  void WaitForWork(int64_t wait_ms);
  void Wake();

  bool EnsureRegistered();
  bool KeepAlive();
  ::tidemq::Status RefreshMember();
  // One Txn reading the leader, the state and the members at one revision.
  ::tidemq::Result<View> ReadView(int64_t timeout_ms) const;
  void Decide(const View& view);
  void TryElect(const View& view);
  void BecomeMaster(int64_t epoch);
  void BecomeReplica(const std::string& master, const std::string& address,
                     const std::string& repl_address, int64_t epoch);
  void Fence(const std::string& reason);
  void DropLease(const std::string& why);
  void SetNote(std::string note);
  void Publish(const View& view);
  int64_t NowMono() const { return clock_->MonotonicMs(); }
  // A master's etcd calls end by its write deadline, so that the coordinator is free to fence
  // at it (0: the client's default).
  int64_t CallTimeoutMs() const;

  EtcdApi* const etcd_;
  const GroupCoordinatorOptions options_;
  const GroupCallbacks callbacks_;
  const GroupKeys keys_;
  Clock* const clock_;
  const int64_t keepalive_interval_ms_;
  const int64_t safety_margin_ms_;

  // State machine: the coordinator's thread only (or the Tick() caller).
  Role role_ = Role::kStarting;
  int64_t lease_ = 0;
  int64_t lease_ttl_ms_ = 0;
  int64_t next_keepalive_ms_ = 0;
  int64_t next_read_ms_ = 0;
  int64_t epoch_ = 0;  // of the master this broker follows or is
  std::string master_;
  std::string master_repl_address_;
  bool reread_ = false;  // a decision changed the group: read it again before waiting

  std::atomic<int64_t> write_deadline_ms_{0};
  std::atomic<bool> is_master_{false};
  std::atomic<int64_t> lease_floor_ms_{0};

  mutable Mutex mu_;
  CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool woken_ GUARDED_BY(mu_) = false;
  ClusterStatus status_ GUARDED_BY(mu_);
  std::thread thread_;
  std::unique_ptr<EtcdWatch> watch_;
};

}  // namespace tidemq::cluster
