// Every fact in the log (issue 11): a real `tidemq-broker` runs a workload — topics created
// and deleted (one created again under the same name), groups created and deleted, committed
// offsets, scheduled messages, a pending transaction, retries, dead letters and a redrive —
// then stops; everything in its data directory but the CommitLog segments is deleted (consume
// queues, the index with the metadata, the timer and transaction indexes), and the broker
// restarts from the log alone. It must show the same topics, groups, committed offsets,
// pending timers and transactions and DLQ contents; a deleted topic stays deleted; the
// pending scheduled message still fires and the pending transaction is checked back. Once
// after a clean stop, once after a SIGKILL (the offsets as last flushed).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/crash/broker_process.h"
#include "tidemq/tidemq.h"

namespace tidemq::testing {
namespace {

// Everything the restart must keep, as text so a mismatch shows what differs.
std::string DescribeState(Admin& admin) {
  std::ostringstream out;
  auto topics = admin.ListTopics(/*include_system=*/true);
  EXPECT_TRUE(topics.ok()) << topics.status().ToString();
  if (topics.ok()) {
    for (const TopicInfo& t : *topics) {
      out << "topic " << t.name << " queues=" << t.queue_count;
      for (const QueueInfo& q : t.queues) {
        out << " [" << q.queue_id << ":" << q.min_offset << ".." << q.max_offset << "]";
      }
      out << "\n";
    }
  }
  auto groups = admin.ListGroups();
  EXPECT_TRUE(groups.ok()) << groups.status().ToString();
  if (groups.ok()) {
    for (const GroupInfo& g : *groups) {
      out << "group " << g.name << " broadcast=" << g.broadcast << " fifo=" << g.fifo
          << " max_attempts=" << g.max_attempts << " retry=" << g.retry.ToString()
          << " lag=" << g.total_lag << " dlq=" << g.dlq_messages << "\n";
      for (const QueueLag& q : g.queues) {
        out << "  " << q.topic << ":" << q.queue_id << " client=" << q.client_id
            << " committed=" << q.committed_offset << " max=" << q.max_offset << "\n";
      }
      auto dlq = admin.ListDeadLetters(g.name);
      EXPECT_TRUE(dlq.ok()) << dlq.status().ToString();
      if (dlq.ok()) {
        for (const auto& m : dlq->messages) {
          out << "  dead letter " << m.message_id() << " from " << m.original_topic() << " at "
              << m.dlq_offset() << "\n";
        }
      }
    }
  }
  auto timers = admin.TimerStats();
  EXPECT_TRUE(timers.ok());
  if (timers.ok()) out << "timers pending=" << timers->pending << "\n";
  auto txns = admin.ListTransactions();
  EXPECT_TRUE(txns.ok());
  if (txns.ok()) {
    for (const TransactionInfo& t : *txns) {
      out << "txn " << t.message_id << " " << ToString(t.state) << " " << t.topic << "\n";
    }
  }
  return out.str();
}

Message Msg(const std::string& topic, const std::string& body, int64_t delay_ms = 0) {
  auto b = Message::NewBuilder().Topic(topic).Key("key-" + body).Body(body);
  if (delay_ms > 0) b.Delay(delay_ms);
  auto m = b.Build();
  EXPECT_TRUE(m.ok()) << m.status().ToString();
  return std::move(m).value();
}

Result<SimpleConsumer> Consumer(const BrokerProcess& broker, const std::string& group,
                                const std::string& topic) {
  return SimpleConsumer::NewBuilder()
      .Endpoint(broker.address())
      .Group(group)
      .Topic(topic)
      .AwaitDuration(200)
      .LeaseDuration(60'000)
      .Build();
}

// Receives until `want` messages came or the (generous) deadline passed.
std::vector<ReceivedMessage> ReceiveN(SimpleConsumer& c, size_t want, bool ack) {
  std::vector<ReceivedMessage> got;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (got.size() < want && std::chrono::steady_clock::now() < deadline) {
    auto batch = c.Receive(static_cast<uint32_t>(want - got.size()));
    if (!batch.ok()) {
      ADD_FAILURE() << batch.status().ToString();
      break;
    }
    if (ack && !batch->empty()) {
      EXPECT_TRUE(c.Ack(*batch).ok());
    }
    for (auto& m : *batch) got.push_back(std::move(m));
  }
  return got;
}

// Runs the workload, stops the broker (SIGTERM, or SIGKILL once the offsets were flushed),
// wipes everything but the log and checks the broker that starts from it.
void WorkloadThenRestartFromTheLogAlone(bool kill) {
  BrokerProcess broker;
  ASSERT_TRUE(broker.usable());
  const std::vector<std::string> flags = {"--auto-create-topics", "false"};
  Status st = broker.Start(flags);
  ASSERT_TRUE(st.ok()) << st.ToString();
  auto admin = Admin::NewBuilder().Endpoint(broker.address()).Build();
  ASSERT_TRUE(admin.ok()) << admin.status().ToString();
  auto producer = Producer::NewBuilder().Endpoint(broker.address()).Build();
  ASSERT_TRUE(producer.ok());

  // Topics: kept, deleted, deleted and created again.
  for (const char* t : {"orders", "gone", "reborn", "sched", "payments"}) {
    ASSERT_TRUE(admin->CreateTopic(t, std::string(t) == "orders" ? 4 : 1).ok()) << t;
  }
  ASSERT_TRUE(producer->Send(Msg("reborn", "old")).ok());
  ASSERT_TRUE(producer->Send(Msg("gone", "lost")).ok());
  // Groups: kept (three modes) and deleted.
  GroupOptions billing;
  billing.max_attempts = 2;
  ASSERT_TRUE(admin->CreateGroup("billing", billing).ok());
  ASSERT_TRUE(admin->CreateGroup("audit", /*broadcast=*/true).ok());
  ASSERT_TRUE(admin->CreateGroup("fifo-g", /*broadcast=*/false, /*fifo=*/true).ok());
  ASSERT_TRUE(admin->CreateGroup("temp").ok());
  {
    auto c = Consumer(broker, "billing", "gone");
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(ReceiveN(*c, 1, /*ack=*/true).size(), 1u);
  }
  ASSERT_TRUE(admin->DeleteTopic("gone").ok());
  ASSERT_TRUE(admin->DeleteTopic("reborn").ok());
  ASSERT_TRUE(admin->CreateTopic("reborn", 1).ok());
  ASSERT_TRUE(producer->Send(Msg("reborn", "new")).ok());
  ASSERT_TRUE(admin->DeleteGroup("temp").ok());

  // Messages, committed offsets, retries, dead letters and a redrive.
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(producer->Send(Msg("orders", std::to_string(i))).ok());
  {
    auto c = Consumer(broker, "billing", "orders");
    ASSERT_TRUE(c.ok());
    auto first = ReceiveN(*c, 12, /*ack=*/false);
    ASSERT_EQ(first.size(), 12u);
    std::vector<ReceivedMessage> failing(first.end() - 2, first.end());
    first.resize(10);
    ASSERT_TRUE(c->Ack(first).ok());
    ASSERT_TRUE(c->Nack(failing, /*delay_ms=*/1).ok());  // retry copies
    auto retried = ReceiveN(*c, 2, /*ack=*/false);
    ASSERT_EQ(retried.size(), 2u);
    ASSERT_TRUE(c->Nack(retried, 1).ok());  // second failure of two attempts: dead letters
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (admin->DescribeGroup("billing")->dlq_messages < 2) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
    }
    DeadLetterFilter one;
    one.message_id = failing[0].message_id();
    ASSERT_EQ(*admin->RedriveDeadLetters("billing", one), 1);
    ASSERT_EQ(ReceiveN(*c, 1, /*ack=*/true).size(), 1u);  // the redriven copy
  }
  {
    auto c = Consumer(broker, "audit", "orders");
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(ReceiveN(*c, 13, /*ack=*/true).size(), 13u);
  }
  // A pending transaction (the producer answers "unknown" to every check).
  std::string txn_id;
  {
    auto tp = Producer::NewBuilder()
                  .Endpoint(broker.address())
                  .Group("tx-producers")
                  .TransactionChecker(
                      [](const ReceivedMessage&) { return TransactionResolution::kUnknown; })
                  .Build();
    ASSERT_TRUE(tp.ok()) << tp.status().ToString();
    auto r = tp->SendInTransaction(Msg("payments", "pay-1"), [&](const SendReceipt& half) {
      txn_id = half.message_id;
      return TransactionResolution::kUnknown;
    });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  // Scheduled: two far in the future, one due a few seconds after the stop.
  ASSERT_TRUE(producer->Send(Msg("sched", "far-1", 3'600'000)).ok());
  ASSERT_TRUE(producer->Send(Msg("sched", "far-2", 3'600'000)).ok());
  ASSERT_TRUE(producer->Send(Msg("sched", "soon", 10'000)).ok());

  const std::string before = DescribeState(*admin);
  ASSERT_NE(before.find("timers pending=3"), std::string::npos) << before;
  ASSERT_NE(before.find("dead letter"), std::string::npos) << before;
  ASSERT_EQ(before.find("topic gone"), std::string::npos) << before;
  if (kill) {
    // Offsets are flushed about once a second: wait for two flushes begun after the last ack.
    auto flushes = [&] { return admin->Stats()->counters["offset_flushes"]; };
    const int64_t flushed = flushes();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (flushes() < flushed + 2) {
      ASSERT_LT(std::chrono::steady_clock::now(), deadline);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
    }
    ASSERT_TRUE(broker.Kill());
  } else {
    ASSERT_TRUE(broker.Stop());
  }

  // Everything but the CommitLog goes.
  size_t removed = 0;
  for (const auto& entry : std::filesystem::directory_iterator(broker.data_dir())) {
    if (entry.path().filename() == "commitlog") continue;
    std::filesystem::remove_all(entry.path());
    ++removed;
  }
  ASSERT_GE(removed, 4u);  // consumequeue, index, timer, txn
  st = broker.Start(flags);
  ASSERT_TRUE(st.ok()) << st.ToString();
  admin = Admin::NewBuilder().Endpoint(broker.address()).Build();
  ASSERT_TRUE(admin.ok());
  EXPECT_EQ(DescribeState(*admin), before);
  EXPECT_EQ(admin->DescribeTopic("gone").status().code(), Code::kTopicNotFound);

  // The state works, not only looks the same: the re-created topic holds only its new message,
  // the pending scheduled message fires, the pending transaction is checked back.
  {
    auto c = Consumer(broker, "fresh", "reborn");
    ASSERT_TRUE(c.ok());
    auto got = ReceiveN(*c, 1, /*ack=*/true);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body(), "new");
    auto more = c->Receive(10);
    ASSERT_TRUE(more.ok());
    EXPECT_TRUE(more->empty()) << more->front().body();
  }
  {
    auto c = Consumer(broker, "fresh", "sched");
    ASSERT_TRUE(c.ok());
    auto got = ReceiveN(*c, 1, /*ack=*/true);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body(), "soon");
  }
  {
    // The pending half is checked back: a producer of its group now answers "commit".
    auto checker = Producer::NewBuilder()
                       .Endpoint(broker.address())
                       .Group("tx-producers")
                       .TransactionChecker(
                           [](const ReceivedMessage&) { return TransactionResolution::kCommit; })
                       .Build();
    ASSERT_TRUE(checker.ok()) << checker.status().ToString();
    auto c = Consumer(broker, "fresh", "payments");
    ASSERT_TRUE(c.ok());
    auto got = ReceiveN(*c, 1, /*ack=*/true);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].body(), "pay-1");
    auto txn = admin->ShowTransaction(txn_id);
    ASSERT_TRUE(txn.ok()) << txn.status().ToString();
    EXPECT_EQ(txn->state, TransactionState::kCommitted);
    EXPECT_EQ(txn->end_reason, "check");
  }
  // And billing's dead letter is still there to redrive.
  auto dlq = admin->ListDeadLetters("billing");
  ASSERT_TRUE(dlq.ok());
  EXPECT_EQ(dlq->messages.size(), 1u);
}

TEST(LogOnlyRestartTest, AfterACleanStop) { WorkloadThenRestartFromTheLogAlone(/*kill=*/false); }

TEST(LogOnlyRestartTest, AfterASigkill) { WorkloadThenRestartFromTheLogAlone(/*kill=*/true); }

}  // namespace
}  // namespace tidemq::testing
