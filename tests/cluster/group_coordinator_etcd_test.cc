// Three group coordinators in one process against a real etcd: elections, failover when a
// master stops renewing its lease (as a hung process would), fencing by the lease clock, CAS
// races on the in-sync set, etcd restarted and etcd unreachable. Short TTLs (etcd's minimum
// is 1 s with the fixture's raft timing); every wait is on a condition with a deadline.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <thread>

#include "cluster/etcd_client.h"
#include "cluster/group_coordinator.h"
#include "common/mutex.h"
#include "tests/common/etcd_server.h"
#include "tests/common/eventually.h"

namespace tidemq::cluster {
namespace {

using ::tidemq::testing::Eventually;

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// The real client, whose lease calls can be made to hang (each hung call returns kTimeout at
// its timeout, as a call to an etcd that never answers would): a master that stops renewing.
class HangableEtcd final : public EtcdApi {
 public:
  explicit HangableEtcd(EtcdApi* real) : real_(real) {}
  void Hang(bool v) {
    {
      MutexLock l(mu_);
      hang_ = v;
    }
    cv_.notify_all();
  }
  Result<int64_t> GrantLease(int64_t ttl_s, int64_t* granted) override {
    RETURN_IF_ERROR(MaybeHang(2000));
    return real_->GrantLease(ttl_s, granted);
  }
  Result<int64_t> KeepAliveOnce(int64_t lease, int64_t timeout_ms) override {
    RETURN_IF_ERROR(MaybeHang(timeout_ms > 0 ? timeout_ms : 2000));
    return real_->KeepAliveOnce(lease, timeout_ms);
  }
  Status Revoke(int64_t lease) override { return real_->Revoke(lease); }
  Result<LeaseInfo> TimeToLive(int64_t lease) override { return real_->TimeToLive(lease); }
  Result<std::optional<KeyValue>> Get(const std::string& key) override { return real_->Get(key); }
  Result<RangeResult> GetPrefix(const std::string& p) override { return real_->GetPrefix(p); }
  Result<int64_t> Put(const std::string& k, const std::string& v, int64_t lease,
                      int64_t timeout_ms) override {
    return real_->Put(k, v, lease, timeout_ms);
  }
  Result<int64_t> Delete(const std::string& key) override { return real_->Delete(key); }
  Result<TxnResult> Txn(const std::vector<Compare>& c, const std::vector<TxnOp>& s,
                        const std::vector<TxnOp>& f, int64_t timeout_ms) override {
    return real_->Txn(c, s, f, timeout_ms);
  }

 private:
  Status MaybeHang(int64_t timeout_ms) {
    MutexLock l(mu_);
    if (!hang_) return Status::Ok();
    auto until = steady_clock::now() + milliseconds(timeout_ms);
    while (hang_ && steady_clock::now() < until) cv_.wait_until(l, until);
    return Status(Code::kTimeout, "hung");
  }
  EtcdApi* real_;
  Mutex mu_;
  CondVar cv_;
  bool hang_ GUARDED_BY(mu_) = false;
};

// One broker: its own etcd client (as in separate processes), its callbacks' record.
struct Member {
  std::string id;
  std::unique_ptr<EtcdClient> client;
  std::unique_ptr<HangableEtcd> etcd;
  std::unique_ptr<GroupCoordinator> coord;
  std::atomic<int64_t> log_end{0};

  Mutex mu;
  std::vector<std::string> events GUARDED_BY(mu);
  int64_t master_epoch GUARDED_BY(mu) = 0;    // the last OnMaster's epoch (0: not master)
  int64_t mastered_at GUARDED_BY(mu) = 0;     // monotonic ms of the last OnMaster
  int64_t fenced_at GUARDED_BY(mu) = 0;       // monotonic ms of the last OnFenced
  int64_t floor_at_fence GUARDED_BY(mu) = 0;  // its lease floor when it was fenced

  bool IsMaster() {
    MutexLock l(mu);
    return master_epoch > 0;
  }
  int64_t Epoch() {
    MutexLock l(mu);
    return master_epoch;
  }
  std::vector<std::string> Events() {
    MutexLock l(mu);
    return events;
  }
};

class GroupCoordinatorEtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status st = etcd_.Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  void TearDown() override {
    for (auto& [id, m] : members_) m->coord->Stop(false);
  }

  Member& Add(const std::string& id, int64_t ttl_s) {
    auto m = std::make_unique<Member>();
    m->id = id;
    m->client = std::make_unique<EtcdClient>(EtcdClientOptions{{etcd_.endpoint()}, 3000, 1000});
    m->etcd = std::make_unique<HangableEtcd>(m->client.get());
    GroupCoordinatorOptions o;
    o.group = "g";
    o.broker_id = id;
    o.address = "127.0.0.1:" + std::to_string(9810 + members_.size());
    o.lease_ttl_s = ttl_s;
    o.safety_margin_ms = 500;
    o.poll_interval_ms = 200;
    o.retry_interval_ms = 100;
    o.watch_endpoints = {etcd_.endpoint()};
    Member* raw = m.get();
    GroupCallbacks cb;
    cb.progress = [raw] { return MemberProgress{raw->log_end.load(), 1, raw->log_end.load()}; };
    cb.on_master = [raw](int64_t epoch) {
      MutexLock l(raw->mu);
      raw->master_epoch = epoch;
      raw->mastered_at = SystemClock::Get()->MonotonicMs();
      raw->events.push_back("master " + std::to_string(epoch));
    };
    cb.on_replica = [raw](const std::string& master, const std::string&, const std::string&,
                          int64_t epoch) {
      MutexLock l(raw->mu);
      raw->master_epoch = 0;
      raw->events.push_back("replica " + master + " " + std::to_string(epoch));
    };
    cb.on_fenced = [raw](const std::string&) {
      MutexLock l(raw->mu);
      raw->master_epoch = 0;
      raw->fenced_at = SystemClock::Get()->MonotonicMs();
      raw->floor_at_fence = raw->coord->LeaseFloorMs();
      raw->events.push_back("fenced");
    };
    m->coord = std::make_unique<GroupCoordinator>(m->etcd.get(), o, cb);
    members_[id] = std::move(m);
    return *raw;
  }
  Member& Start3(int64_t ttl_s) {
    for (const char* id : {"a", "b", "c"}) Add(id, ttl_s);
    for (auto& [id, m] : members_) EXPECT_TRUE(m->coord->Start().ok());
    Member* master = nullptr;
    EXPECT_TRUE(Eventually([&] {
      master = nullptr;
      int n = 0;
      for (auto& [id, m] : members_) {
        if (m->IsMaster()) {
          master = m.get();
          ++n;
        }
      }
      return n == 1 && AllFollow(master->id);
    }));
    return *master;
  }
  bool AllFollow(const std::string& master) {
    for (auto& [id, m] : members_) {
      ClusterStatus s = m->coord->Status();
      if (s.master != master || s.members.size() != members_.size()) return false;
    }
    return true;
  }
  int Masters() {
    int n = 0;
    for (auto& [id, m] : members_) n += m->IsMaster();
    return n;
  }
  GroupState State() {
    EtcdClient c(EtcdClientOptions{{etcd_.endpoint()}, 3000, 1000});
    auto kv = c.Get(GroupKeys("/tidemq", "g").State());
    GroupState s;
    EXPECT_TRUE(kv.ok() && kv->has_value());
    if (kv.ok() && kv->has_value()) {
      EXPECT_TRUE(DecodeState((*kv)->value, &s).ok());
    }
    return s;
  }

  tidemq::testing::EtcdServer etcd_;
  std::map<std::string, std::unique_ptr<Member>> members_;
};

TEST_F(GroupCoordinatorEtcdTest,
       HungMasterIsFencedBeforeItsLeaseExpiresAndTheBestInSyncReplicaWins) {
  Member& old = Start3(2);
  EXPECT_EQ(old.Epoch(), 1);
  EXPECT_EQ(State().epoch, 1);
  // The two others: the one with more data must win; the master reports the least.
  std::vector<Member*> others;
  for (auto& [id, m] : members_) {
    if (m.get() != &old) others.push_back(m.get());
  }
  Member& best = *others[0];
  Member& second = *others[1];
  best.log_end = 2000;
  second.log_end = 1000;
  ASSERT_TRUE(old.coord->SetInSync({"a", "b", "c"}).ok());
  ASSERT_TRUE(Eventually([&] {  // the progress reached etcd
    for (const auto& ms : second.coord->Status().members) {
      if (ms.broker_id == best.id && ms.log_end != 2000) return false;
      if (ms.broker_id == second.id && ms.log_end != 1000) return false;
    }
    return second.coord->Status().in_sync.size() == 3;
  }));

  old.etcd->Hang(true);  // no more keepalives from the master
  ASSERT_TRUE(Eventually([&] { return best.IsMaster(); }));
  EXPECT_EQ(best.Epoch(), 2);
  {
    MutexLock lo(old.mu);
    MutexLock lb(best.mu);
    ASSERT_GT(old.fenced_at, 0) << "the old master was never fenced";
    // Fenced before etcd could have expired its lease, so before anyone could be elected.
    EXPECT_LT(old.fenced_at, old.floor_at_fence);
    EXPECT_LT(old.fenced_at, best.mastered_at);
    // Figures for docs/replication.md (printed, not asserted).
    std::printf(
        "failover (ttl 2 s, margin 500 ms): fenced %lld ms before its lease floor; new "
        "master %lld ms after it\n",
        static_cast<long long>(old.floor_at_fence - old.fenced_at),
        static_cast<long long>(best.mastered_at - old.floor_at_fence));
  }
  EXPECT_FALSE(old.coord->MayWrite(SystemClock::Get()->MonotonicMs()));
  EXPECT_FALSE(second.IsMaster());
  GroupState s = State();
  EXPECT_EQ(s.master, best.id);
  EXPECT_EQ(s.previous_master, old.id);
  EXPECT_GT(s.last_failover_ms, 0);

  old.etcd->Hang(false);  // it comes back: a replica of the new master
  ASSERT_TRUE(Eventually([&] {
    auto ev = old.Events();
    return !ev.empty() && ev.back() == "replica " + best.id + " 2";
  }));
  EXPECT_EQ(Masters(), 1);
  ASSERT_TRUE(Eventually([&] { return AllFollow(best.id); }));
  ClusterStatus st = second.coord->Status();
  for (const auto& ms : st.members) {
    EXPECT_EQ(ms.role, ms.broker_id == best.id ? "master" : "replica");
    if (ms.broker_id == second.id) {
      EXPECT_EQ(ms.lag_bytes, 1000);
    }
  }
}

TEST_F(GroupCoordinatorEtcdTest, ReplicaOutsideTheInSyncSetNeverWins) {
  Member& old = Start3(2);
  Member* in = nullptr;
  Member* out = nullptr;
  for (auto& [id, m] : members_) {
    if (m.get() == &old) continue;
    (in == nullptr ? in : out) = m.get();
  }
  out->log_end = 1'000'000;  // the most data, but not known to be in sync
  in->log_end = 10;
  ASSERT_TRUE(old.coord->SetInSync({old.id, in->id}).ok());
  ASSERT_TRUE(Eventually([&] { return out->coord->Status().in_sync.size() == 2; }));
  old.etcd->Hang(true);
  ASSERT_TRUE(Eventually([&] { return in->IsMaster(); }));
  EXPECT_FALSE(out->IsMaster());
  for (const auto& e : out->Events()) EXPECT_EQ(e.rfind("master", 0), std::string::npos) << e;
  old.etcd->Hang(false);
}

TEST_F(GroupCoordinatorEtcdTest, SetInSyncRacesAreResolvedByCas) {
  Member& master = Start3(3);
  std::vector<std::vector<std::string>> sets = {{master.id}, {"a", "b", "c"}};
  for (auto& s : sets) std::sort(s.begin(), s.end());
  std::atomic<int> failures{0};
  auto writer = [&](int which) {
    for (int i = 0; i < 10; ++i) {
      if (!master.coord->SetInSync(sets[(which + i) % 2]).ok()) ++failures;
    }
  };
  std::thread t1(writer, 0), t2(writer, 1);
  t1.join();
  t2.join();
  EXPECT_EQ(failures.load(), 0);
  GroupState s = State();
  EXPECT_TRUE(s.in_sync == sets[0] || s.in_sync == sets[1]);
  EXPECT_EQ(s.master, master.id);
  EXPECT_EQ(s.epoch, 1);
  for (auto& [id, m] : members_) {
    if (m.get() != &master) {
      EXPECT_EQ(m->coord->SetInSync({"a", "b", "c"}).code(), Code::kFailedPrecondition);
    }
  }
}

TEST_F(GroupCoordinatorEtcdTest, EtcdRestartKeepsTheMaster) {
  Member& master = Start3(4);
  ASSERT_TRUE(etcd_.Restart().ok());
  // Keepalives resume on the same lease (etcd restores leases on restart): same master, same
  // epoch, no election. It may have been fenced meanwhile if the restart outlasted the margin.
  ASSERT_TRUE(Eventually([&] {
    return master.IsMaster() && master.coord->MayWrite(SystemClock::Get()->MonotonicMs()) &&
           master.coord->Status().note.empty();
  }));
  EXPECT_EQ(master.Epoch(), 1);
  EXPECT_EQ(State().epoch, 1);
  EXPECT_EQ(State().master, master.id);
  EXPECT_EQ(Masters(), 1);
  for (auto& [id, m] : members_) {
    for (const auto& e : m->Events()) {
      if (m.get() != &master) {
        EXPECT_EQ(e.rfind("master", 0), std::string::npos) << id << ": " << e;
      }
    }
  }
}

TEST_F(GroupCoordinatorEtcdTest, UnreachableEtcdFencesTheMasterWhichRecoversAfter) {
  Member& master = Start3(2);
  ASSERT_TRUE(etcd_.Pause().ok());
  ASSERT_TRUE(Eventually([&] {
    MutexLock l(master.mu);
    return master.fenced_at > 0;
  }));
  {
    MutexLock l(master.mu);
    EXPECT_LT(master.fenced_at, master.floor_at_fence);
  }
  EXPECT_FALSE(master.coord->MayWrite(SystemClock::Get()->MonotonicMs()));
  EXPECT_EQ(Masters(), 0);
  // Past the lease TTL (etcd is stopped: its own clock runs on) before it answers again.
  ASSERT_TRUE(Eventually(
      [&] { return SystemClock::Get()->MonotonicMs() > master.coord->LeaseFloorMs() + 500; }));
  ASSERT_TRUE(etcd_.Resume().ok());
  ASSERT_TRUE(Eventually([&] {
    if (Masters() != 1) return false;
    for (auto& [id, m] : members_) {
      if (m->IsMaster()) return m->coord->MayWrite(SystemClock::Get()->MonotonicMs());
    }
    return false;
  }));
  EXPECT_GE(State().epoch, 1);
}

}  // namespace
}  // namespace tidemq::cluster
