// The group coordinator's state machine on an in-memory etcd (fake_etcd.h) in virtual time:
// every step is a Tick() on the test thread and the lease clock moves only when the test says.
#include "cluster/group_coordinator.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "tests/cluster/fake_etcd.h"

namespace tidemq::cluster {
namespace {

using testing::FakeEtcd;

// What one broker's callbacks saw, and the progress it reports.
struct Broker {
  std::string id;
  MemberProgress progress;
  std::vector<std::string> events;  // "master 2", "replica b 2", "fenced"
  std::unique_ptr<GroupCoordinator> coord;
};

class GroupCoordinatorTest : public ::testing::Test {
 protected:
  static constexpr int64_t kTtlS = 6;
  static constexpr int64_t kMarginMs = 600;

  Broker& Add(const std::string& id, std::string bootstrap = "") {
    auto b = std::make_unique<Broker>();
    b->id = id;
    GroupCoordinatorOptions o;
    o.group = "g1";
    o.broker_id = id;
    o.address = "127.0.0.1:" + std::to_string(9000 + brokers_.size());
    o.lease_ttl_s = kTtlS;
    o.safety_margin_ms = kMarginMs;
    o.bootstrap_master = std::move(bootstrap);
    o.clock = &clock_;
    Broker* raw = b.get();
    GroupCallbacks cb;
    cb.progress = [raw] { return raw->progress; };
    cb.on_master = [raw](int64_t e) { raw->events.push_back("master " + std::to_string(e)); };
    cb.on_replica = [raw](const std::string& m, const std::string&, const std::string&, int64_t e) {
      raw->events.push_back("replica " + m + " " + std::to_string(e));
    };
    cb.on_fenced = [raw](const std::string&) { raw->events.push_back("fenced"); };
    b->coord = std::make_unique<GroupCoordinator>(&etcd_, o, cb);
    brokers_[id] = std::move(b);
    return *raw;
  }
  void TickAll() {
    for (auto& [id, b] : brokers_) b->coord->Tick();
  }
  int Masters() {
    int n = 0;
    for (auto& [id, b] : brokers_) n += b->coord->Status().role == Role::kMaster;
    return n;
  }
  GroupState State() {
    auto kv = etcd_.Get(GroupKeys("/tidemq", "g1").State());
    EXPECT_TRUE(kv.ok() && kv->has_value());
    GroupState s;
    EXPECT_TRUE(DecodeState((*kv)->value, &s).ok());
    return s;
  }

  ManualClock clock_;
  FakeEtcd etcd_{&clock_};
  std::map<std::string, std::unique_ptr<Broker>> brokers_;
};

TEST_F(GroupCoordinatorTest, FirstToTryBecomesMasterAndTheOthersFollow) {
  Broker& a = Add("a");
  Broker& b = Add("b");
  Broker& c = Add("c");
  TickAll();
  TickAll();
  EXPECT_EQ(a.events, (std::vector<std::string>{"master 1"}));
  EXPECT_EQ(b.events, (std::vector<std::string>{"replica a 1"}));
  EXPECT_EQ(c.events, (std::vector<std::string>{"replica a 1"}));
  EXPECT_EQ(Masters(), 1);
  GroupState s = State();
  EXPECT_EQ(s.master, "a");
  EXPECT_EQ(s.epoch, 1);
  EXPECT_EQ(s.in_sync, std::vector<std::string>{"a"});
  EXPECT_EQ(s.last_failover_ms, 0);
  ClusterStatus st = b.coord->Status();
  EXPECT_EQ(st.master, "a");
  EXPECT_EQ(st.role, Role::kReplica);
  ASSERT_EQ(st.members.size(), 3u);
  EXPECT_EQ(st.members[0].role, "master");
  EXPECT_EQ(st.members[1].role, "replica");
  std::string json = ClusterStatusJson(st);
  EXPECT_NE(json.find(R"("role":"replica")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("address":"127.0.0.1:9000")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("epoch":1)"), std::string::npos) << json;
}

TEST_F(GroupCoordinatorTest, BootstrapMasterOptionWaitsForThatBroker) {
  Broker& a = Add("a", "b");
  Broker& b = Add("b", "b");
  a.coord->Tick();
  EXPECT_TRUE(a.events.empty());
  EXPECT_NE(a.coord->Status().note.find("bootstrap master b"), std::string::npos);
  b.coord->Tick();
  a.coord->Tick();
  EXPECT_EQ(b.events, (std::vector<std::string>{"master 1"}));
  EXPECT_EQ(a.events, (std::vector<std::string>{"replica b 1"}));
}

TEST_F(GroupCoordinatorTest, LapsedMasterIsFencedByItsClockAndTheBestInSyncReplicaWins) {
  Broker& a = Add("a");
  Broker& b = Add("b");
  Broker& c = Add("c");
  TickAll();
  ASSERT_TRUE(a.coord->SetInSync({"a", "b", "c"}).ok());
  b.progress.log_end = 200;
  c.progress.log_end = 100;
  clock_.AdvanceMs(2000);  // keepalives due: the members report their progress
  TickAll();
  int64_t floor = a.coord->LeaseFloorMs();
  int64_t deadline = a.coord->WriteDeadlineMs();
  EXPECT_EQ(deadline, floor - kMarginMs);
  EXPECT_TRUE(a.coord->MayWrite(clock_.MonotonicMs()));

  // a hangs (no more ticks, so no keepalives). Its right to write ends before its lease can.
  clock_.AdvanceMs(deadline - clock_.MonotonicMs());
  EXPECT_FALSE(a.coord->MayWrite(clock_.MonotonicMs()));
  EXPECT_LT(clock_.MonotonicMs(), floor);
  // The others keep their leases alive meanwhile; a's lease expires at etcd.
  b.coord->Tick();
  c.coord->Tick();
  clock_.AdvanceMs(floor - clock_.MonotonicMs());
  c.coord->Tick();  // c is in sync but b has more data: c waits
  EXPECT_EQ(c.events, (std::vector<std::string>{"replica a 1"}));
  EXPECT_NE(c.coord->Status().note.find("waiting for b"), std::string::npos);
  b.coord->Tick();
  EXPECT_EQ(b.events, (std::vector<std::string>{"replica a 1", "master 2"}));
  c.coord->Tick();
  EXPECT_EQ(c.events.back(), "replica b 2");
  // a wakes up: fenced first, then follows b (after registering a new lease).
  a.coord->Tick();
  a.coord->Tick();
  ASSERT_GE(a.events.size(), 3u);
  EXPECT_EQ(a.events[1], "fenced");
  EXPECT_EQ(a.events.back(), "replica b 2");
  GroupState s = State();
  EXPECT_EQ(s.master, "b");
  EXPECT_EQ(s.epoch, 2);
  EXPECT_EQ(s.previous_master, "a");
  EXPECT_EQ(s.last_failover_ms, clock_.NowMs());
  EXPECT_EQ(Masters(), 1);
}

TEST_F(GroupCoordinatorTest, MemberOutsideTheInSyncSetNeverBecomesMaster) {
  Broker& a = Add("a");
  Broker& c = Add("c");
  TickAll();
  c.progress.log_end = 1'000'000;  // more data than anyone, but not known to be in sync
  ASSERT_TRUE(a.coord->SetInSync({"a"}).ok());
  // a hangs; c keeps ticking past a's lease.
  for (int i = 0; i < 10; ++i) {
    clock_.AdvanceMs(1000);
    c.coord->Tick();
  }
  EXPECT_EQ(c.events, (std::vector<std::string>{"replica a 1"}));
  EXPECT_NE(c.coord->Status().note.find("not in the in-sync set"), std::string::npos)
      << c.coord->Status().note;
  EXPECT_FALSE(etcd_.Get(GroupKeys("/tidemq", "g1").Leader())->has_value());  // no master at all
  // a comes back, is re-elected (the only in-sync member), epoch 2.
  a.coord->Tick();
  a.coord->Tick();
  EXPECT_EQ(a.events.back(), "master 2");
}

TEST_F(GroupCoordinatorTest, SetInSyncRetriesARacingWriteAndRefusesNonMasters) {
  Broker& a = Add("a");
  Broker& b = Add("b");
  TickAll();
  TickAll();
  // Another writer changes the state between the read and the CAS: the first CAS fails, the
  // retry with a fresh read succeeds and keeps the other writer's change.
  etcd_.BeforeNextCasTxn([this] {
    GroupState s = State();
    s.min_in_sync = 2;
    ASSERT_TRUE(etcd_.Put(GroupKeys("/tidemq", "g1").State(), EncodeState(s)).ok());
  });
  ASSERT_TRUE(a.coord->SetInSync({"a", "b"}).ok());
  GroupState s = State();
  EXPECT_EQ(s.in_sync, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.min_in_sync, 2);
  EXPECT_EQ(b.coord->SetInSync({"a", "b"}).code(), Code::kFailedPrecondition);
  EXPECT_EQ(a.coord->SetInSync({"b"}).code(), Code::kInvalidArgument);
  EXPECT_EQ(a.coord->SetInSync({"a", "a"}).code(), Code::kInvalidArgument);
}

TEST_F(GroupCoordinatorTest, ElectionWhoseAnswerIsLostIsRecognisedOnTheNextRead) {
  Broker& a = Add("a");
  etcd_.LoseNextCasAnswer();
  a.coord->Tick();
  a.coord->Tick();
  EXPECT_EQ(a.events, (std::vector<std::string>{"master 1"}));
  EXPECT_EQ(State().epoch, 1);
}

TEST_F(GroupCoordinatorTest, UnreachableEtcdFencesTheMasterWhichResumesOnItsLiveLease) {
  Broker& a = Add("a");
  Broker& b = Add("b");
  TickAll();
  TickAll();
  ASSERT_EQ(a.events, (std::vector<std::string>{"master 1"}));
  etcd_.SetUnreachable(true);
  clock_.AdvanceMs(a.coord->WriteDeadlineMs() - clock_.MonotonicMs());
  int64_t floor = a.coord->LeaseFloorMs();
  a.coord->Tick();
  EXPECT_EQ(a.events, (std::vector<std::string>{"master 1", "fenced"}));
  EXPECT_LT(clock_.MonotonicMs(), floor);  // fenced before the lease could expire
  EXPECT_EQ(a.coord->WriteDeadlineMs(), 0);
  EXPECT_EQ(a.coord->Status().role, Role::kFenced);
  // etcd answers again before the lease expired at etcd: a resumes on the same epoch.
  etcd_.SetUnreachable(false);
  a.coord->Tick();
  EXPECT_EQ(a.events, (std::vector<std::string>{"master 1", "fenced", "master 1"}));
  EXPECT_TRUE(a.coord->MayWrite(clock_.MonotonicMs()));
  b.coord->Tick();
  EXPECT_EQ(b.events, (std::vector<std::string>{"replica a 1"}));
}

TEST_F(GroupCoordinatorTest, MasterWhoseLeaseExpiredRegistersAgainAndIsReelected) {
  Broker& a = Add("a");
  TickAll();
  ASSERT_EQ(a.events, (std::vector<std::string>{"master 1"}));
  etcd_.SetUnreachable(true);
  clock_.AdvanceMs(kTtlS * 1000 + 1);
  a.coord->Tick();
  etcd_.SetUnreachable(false);
  a.coord->Tick();  // keepalive: lease gone
  a.coord->Tick();  // new lease, election
  EXPECT_EQ(a.events, (std::vector<std::string>{"master 1", "fenced", "master 2"}));
  EXPECT_EQ(State().previous_master, "a");
}

TEST_F(GroupCoordinatorTest, StaleLeaderKeyOfAnEarlierRunIsRevoked) {
  Broker& a = Add("a");
  a.coord->Tick();
  ASSERT_EQ(a.events, (std::vector<std::string>{"master 1"}));
  // The broker restarts: a new coordinator while the old lease still holds the leader key.
  a.coord.reset();
  Broker& a2 = Add("a");
  a2.coord->Tick();
  a2.coord->Tick();
  EXPECT_EQ(a2.events, (std::vector<std::string>{"master 2"}));
}

}  // namespace
}  // namespace tidemq::cluster
