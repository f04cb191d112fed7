// A broker group in one process: a master and a replica Broker with static replication
// (--group, --replica-of, --min-copies), driven over the native protocol (docs/replication.md).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <thread>

#include "broker/broker.h"
#include "tests/broker/broker_fixture.h"
#include "tests/common/eventually.h"

namespace tidemq::testing {
namespace {

class GroupTest : public BrokerTest {
 protected:
  GroupTest() {
    config_.group = "g1";
    config_.broker_id = "b1";
    config_.offset_flush_interval_ms = 10;
  }
  void SetUp() override {
    BrokerTest::SetUp();  // the master
    char tmpl[] = "/tmp/tidemq-replica-test-XXXXXX";
    replica_dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    replica_.reset();
    BrokerTest::TearDown();
    std::filesystem::remove_all(replica_dir_);
  }

  void StartReplica() {
    broker::BrokerConfig rc = config_;
    rc.data_dir = replica_dir_;
    rc.broker_id = "b2";
    rc.replica_of = "127.0.0.1:" + std::to_string(broker_->replication().repl_port);
    auto b = broker::Broker::Start(rc, &clock_);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    replica_ = std::move(b).value();
  }

  bool ReplicaCaughtUp() {
    return replica_->replication().log_end == broker_->replication().log_end;
  }

  std::string replica_dir_;
  std::unique_ptr<broker::Broker> replica_;
};

TEST_F(GroupTest, AReplicaAnswersNotMasterAndNamesItsGroup) {
  StartReplica();
  WireClient c(replica_->port());
  wire::Frame f = c.Call(CreateTopic("orders", 2));
  EXPECT_EQ(f.header.code(), wire::NOT_MASTER);
  EXPECT_NE(f.header.error_message().find("g1"), std::string::npos) << f.header.error_message();
  f = Send(c, "orders", {{"x"}});
  EXPECT_EQ(f.header.code(), wire::NOT_MASTER);
  const broker::ReplicationStatus st = replica_->replication();
  EXPECT_EQ(st.role, "replica");
  ASSERT_TRUE(Eventually([&] { return replica_->replication().connected; }));
  EXPECT_EQ(broker_->replication().role, "master");
  EXPECT_EQ(broker_->replication().epoch, 1);
}

TEST_F(GroupTest, APromotedReplicaServesWhatTheMasterHad) {
  std::set<std::string> unacked;
  {
    WireClient c(broker_->port());
    ASSERT_EQ(c.Call(CreateTopic("orders", 2)).header.code(), wire::OK);
    ASSERT_EQ(c.Call(CreateGroup("billing", false, false)).header.code(), wire::OK);
    for (int i = 0; i < 20; ++i) {
      ASSERT_EQ(Send(c, "orders", {{"m" + std::to_string(i)}}).header.code(), wire::OK);
      unacked.insert("m" + std::to_string(i));
    }
    // Consume and ack eight: the group's offsets reach the log with the next flush.
    auto got = Receive(c, "billing", "orders", 8, 1000);
    ASSERT_EQ(got.size(), 8u);
    for (const auto& r : got) {
      ASSERT_EQ(Ack(c, "billing", "orders", r.meta.receipt_handle()), wire::OK);
      unacked.erase(r.body);
    }
  }
  StartReplica();
  ASSERT_TRUE(Eventually([&] { return ReplicaCaughtUp(); }));
  // The master's offsets flush (every 10 ms of its clock) appends a record of the acks.
  const int64_t before = broker_->replication().log_end;
  clock_.AdvanceMs(1000);
  ASSERT_TRUE(Eventually([&] { return broker_->replication().log_end > before; }));
  ASSERT_TRUE(Eventually([&] { return ReplicaCaughtUp(); }));

  broker_->Stop();  // the master goes away (it lets the replica take its last records)
  broker_.reset();
  ASSERT_TRUE(replica_->Promote().ok());
  EXPECT_EQ(replica_->replication().role, "master");
  EXPECT_EQ(replica_->replication().epoch, 2);

  WireClient c(replica_->port());
  std::set<std::string> bodies;
  for (int round = 0; round < 5 && bodies.size() < 12; ++round) {
    for (const auto& r : Receive(c, "billing", "orders", 32, 200)) {
      bodies.insert(r.body);
      EXPECT_EQ(Ack(c, "billing", "orders", r.meta.receipt_handle()), wire::OK);
    }
  }
  // The twelve not acknowledged on the old master, and not the eight that were.
  EXPECT_EQ(bodies, unacked);
  // And it takes writes, continuing the queues.
  EXPECT_EQ(Send(c, "orders", {{"after"}}).header.code(), wire::OK);
}

class SyncGroupTest : public GroupTest {
 protected:
  SyncGroupTest() { config_.min_copies = 2; }
};

TEST_F(SyncGroupTest, SendsNeedTheReplicasCopy) {
  WireClient c(broker_->port());
  ASSERT_EQ(c.Call(CreateTopic("orders", 2)).header.code(), wire::OK);
  // No replica in sync: refused before anything is stored.
  wire::Frame f = Send(c, "orders", {{"lonely"}});
  EXPECT_EQ(f.header.code(), wire::NOT_ENOUGH_REPLICAS) << f.header.error_message();

  StartReplica();
  ASSERT_TRUE(Eventually([&] {
    auto st = broker_->replication();
    return !st.replicas.empty() && st.replicas[0].in_sync;
  }));
  f = Send(c, "orders", {{"replicated"}});
  ASSERT_EQ(f.header.code(), wire::OK) << f.header.error_message();
  // Acknowledged: the replica holds it.
  const int64_t end = f.header.send_response().results(0).log_offset();
  EXPECT_GT(replica_->replication().log_end, end);
}

}  // namespace
}  // namespace tidemq::testing
