// Clients on a real broker group in one process: a master and a replica with static
// replication (--group, --replica-of; docs/replication.md), the replica promoted by hand
// (Broker::Promote) after the master stops. The clients are given both addresses and must find
// the master, follow it through the failover and lose nothing (duplicates allowed, counted).
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker.h"
#include "tests/common/eventually.h"
#include "tidemq/tidemq.h"

namespace tidemq {
namespace {

using ::tidemq::testing::Eventually;

using Clock = std::chrono::steady_clock;

class FailoverE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (std::string* dir : {&master_dir_, &replica_dir_}) {
      char tmpl[] = "/tmp/tidemq-failover-e2e-XXXXXX";
      const char* d = mkdtemp(tmpl);
      ASSERT_NE(d, nullptr);
      *dir = d;
    }
    config_.port = 0;
    config_.segment_bytes = 1 << 20;
    config_.housekeeping_interval_ms = 10;
    config_.offset_flush_interval_ms = 10;
    config_.group = "g1";

    broker::BrokerConfig mc = config_;
    mc.data_dir = master_dir_;
    mc.broker_id = "b1";
    auto m = broker::Broker::Start(mc);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    master_ = std::move(m).value();
    master_address_ = master_->address();

    broker::BrokerConfig rc = config_;
    rc.data_dir = replica_dir_;
    rc.broker_id = "b2";
    rc.replica_of = "127.0.0.1:" + std::to_string(master_->replication().repl_port);
    auto r = broker::Broker::Start(rc);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    replica_ = std::move(r).value();
    replica_address_ = replica_->address();
    ASSERT_EQ(replica_->replication().role, "replica");
  }

  void TearDown() override {
    replica_.reset();
    master_.reset();
    for (const std::string& dir : {master_dir_, replica_dir_}) {
      if (!dir.empty()) std::filesystem::remove_all(dir);
    }
  }

  bool ReplicaCaughtUp() {
    return replica_->replication().log_end == master_->replication().log_end;
  }

  static Message Msg(const std::string& body) {
    return *Message::NewBuilder().Topic("orders").Body(body).Build();
  }

  SimpleConsumer NewConsumer(const std::string& endpoints) {
    auto c = SimpleConsumer::NewBuilder()
                 .Endpoint(endpoints)
                 .Group("billing")
                 .Topic("orders")
                 .AwaitDuration(200)
                 .Build();
    EXPECT_TRUE(c.ok()) << c.status().ToString();
    return std::move(c).value();
  }

  broker::BrokerConfig config_;
  std::string master_dir_, replica_dir_;
  std::unique_ptr<broker::Broker> master_, replica_;
  std::string master_address_, replica_address_;
};

TEST_F(FailoverE2eTest, ClientsGivenTheReplicaFirstFindTheMaster) {
  const std::string list = replica_address_ + "," + master_address_;
  auto admin = Admin::NewBuilder().Endpoint(list).Build();
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  ASSERT_TRUE(admin->CreateTopic("orders", 2).ok());
  ASSERT_TRUE(admin->CreateGroup("billing").ok());

  auto producer = Producer::NewBuilder().Endpoint(list).Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  std::set<std::string> sent;
  for (int i = 0; i < 10; ++i) {
    auto r = producer->Send(Msg("m" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    sent.insert("m" + std::to_string(i));
  }
  SimpleConsumer consumer = NewConsumer(list);
  std::set<std::string> got;
  for (int empty = 0; got.size() < sent.size() && empty < 20;) {
    auto batch = consumer.Receive(16);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (batch->empty()) ++empty;
    for (const auto& m : *batch) {
      got.insert(m.body());
      ASSERT_TRUE(consumer.Ack(m).ok());
    }
  }
  EXPECT_EQ(got, sent);
  // The master has them; the replica only copied them.
  EXPECT_EQ(master_->replication().role, "master");
}

TEST_F(FailoverE2eTest, AFailoverLosesNoMessage) {
  const std::string list = master_address_ + "," + replica_address_;
  {
    auto admin = Admin::NewBuilder().Endpoint(list).Build();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    ASSERT_TRUE(admin->CreateTopic("orders", 2).ok());
    ASSERT_TRUE(admin->CreateGroup("billing").ok());
  }
  auto producer = Producer::NewBuilder().Endpoint(list).Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  SimpleConsumer consumer = NewConsumer(list);

  std::set<std::string> sent;  // every body whose send was acknowledged
  for (int i = 0; i < 20; ++i) {
    auto r = producer->Send(Msg("before-" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    sent.insert("before-" + std::to_string(i));
  }
  std::map<std::string, int> received;  // body -> deliveries
  auto consume = [&](size_t at_most) {
    size_t n = 0;
    for (int empty = 0; n < at_most && empty < 5;) {
      auto batch = consumer.Receive(static_cast<uint32_t>(std::min<size_t>(16, at_most - n)));
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      if (batch->empty()) ++empty;
      for (const auto& m : *batch) {
        ++received[m.body()];
        ++n;
        ASSERT_TRUE(consumer.Ack(m).ok());
      }
    }
  };
  consume(10);
  ASSERT_TRUE(Eventually([&] { return ReplicaCaughtUp(); }));

  // A producer keeps sending while the master goes away and the replica is promoted.
  std::atomic<bool> promoted{false};
  Clock::time_point stopped_at, promoted_at, first_ack_after;  // reported, not asserted
  std::vector<std::string> during;
  Status send_error;
  std::thread sender([&] {
    int after_promotion = 0;
    for (int i = 0; after_promotion < 10 && i < 100000; ++i) {
      const bool was_promoted = promoted.load();
      const std::string body = "during-" + std::to_string(i);
      auto r = producer->Send(Msg(body));
      if (!r.ok()) {
        send_error = r.status();
        return;
      }
      during.push_back(body);
      if (promoted.load() && first_ack_after == Clock::time_point()) first_ack_after = Clock::now();
      if (was_promoted) ++after_promotion;
    }
  });
  ASSERT_TRUE(Eventually([&] { return during.size() >= 1 || !send_error.ok(); }));
  stopped_at = Clock::now();
  master_->Stop();
  master_.reset();
  ASSERT_TRUE(replica_->Promote().ok());
  promoted_at = Clock::now();
  promoted = true;
  sender.join();
  ASSERT_TRUE(send_error.ok()) << send_error.ToString();
  sent.insert(during.begin(), during.end());

  // The consumer, on the same list, gets everything that was not acked before the failover.
  consume(sent.size());
  for (int round = 0; round < 20; ++round) {
    bool all = true;
    for (const auto& body : sent) all = all && received.count(body) > 0;
    if (all) break;
    consume(sent.size());
  }
  std::vector<std::string> lost;
  int duplicates = 0;
  for (const auto& body : sent) {
    if (received.count(body) == 0) lost.push_back(body);
  }
  for (const auto& [body, n] : received) duplicates += n - 1;
  EXPECT_TRUE(lost.empty()) << lost.size() << " of " << sent.size() << " lost, e.g. "
                            << lost.front();
  RecordProperty("duplicates", duplicates);
  auto ms = [](Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count() / 1000.0;
  };
  std::printf(
      "failover: %zu sent (%zu during the failover), %d duplicate deliveries; master stop + "
      "promotion took %.1f ms, first send acked after the promotion %.1f ms later\n",
      sent.size(), during.size(), duplicates, ms(promoted_at - stopped_at),
      ms(first_ack_after - promoted_at));
  EXPECT_EQ(replica_->replication().role, "master");
}

TEST_F(FailoverE2eTest, APushConsumerFollowsTheMaster) {
  const std::string list = master_address_ + "," + replica_address_;
  {
    auto admin = Admin::NewBuilder().Endpoint(list).Build();
    ASSERT_TRUE(admin.ok()) << admin.status().ToString();
    ASSERT_TRUE(admin->CreateTopic("orders", 2).ok());
    ASSERT_TRUE(admin->CreateGroup("billing").ok());
  }
  std::mutex mu;
  std::map<std::string, int> received;  // body -> deliveries
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(list)
                      .Group("billing")
                      .Topic("orders")
                      .AwaitDuration(200)
                      .ConsumerThreads(2)
                      .Listener([&](const ReceivedMessage& m) {
                        std::lock_guard<std::mutex> lock(mu);
                        ++received[m.body()];
                        return ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE(consumer->Start().ok());
  auto producer = Producer::NewBuilder().Endpoint(list).Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  auto all_received = [&](const std::string& prefix, int n) {
    std::lock_guard<std::mutex> lock(mu);
    for (int i = 0; i < n; ++i) {
      if (received.count(prefix + std::to_string(i)) == 0) return false;
    }
    return true;
  };
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(producer->Send(Msg("before-" + std::to_string(i))).ok());
  ASSERT_TRUE(Eventually([&] { return all_received("before-", 10); }));
  ASSERT_TRUE(Eventually([&] { return ReplicaCaughtUp(); }));

  master_->Stop();
  master_.reset();
  ASSERT_TRUE(replica_->Promote().ok());
  for (int i = 0; i < 10; ++i) {
    auto r = producer->Send(Msg("after-" + std::to_string(i)));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // Its long poll, broken with the master, goes on at the new master.
  EXPECT_TRUE(Eventually([&] { return all_received("after-", 10); }));
  consumer->Shutdown();
  std::lock_guard<std::mutex> lock(mu);
  int duplicates = 0;
  for (const auto& [body, n] : received) duplicates += n - 1;
  RecordProperty("duplicates", duplicates);
}

TEST_F(FailoverE2eTest, WithTheWholeGroupGoneASendFailsNamingEveryAddress) {
  auto producer = Producer::NewBuilder()
                      .Endpoint(master_address_ + "," + replica_address_)
                      .FailoverDeadline(500)
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  replica_.reset();
  master_.reset();
  auto r = producer->Send(Msg("nowhere"));
  ASSERT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find(master_address_), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find(replica_address_), std::string::npos)
      << r.status().ToString();
}

}  // namespace
}  // namespace tidemq
