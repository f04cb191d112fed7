// The client library's public API against a real broker started in-process on an ephemeral
// port (tests/client/client_fake_broker_test.cc covers the wire details against a fake one).
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "broker/broker.h"
#include "tests/client/e2e_fixture.h"
#include "tidemq/tidemq.h"

namespace tidemq {
namespace {

using Clock = std::chrono::steady_clock;

TEST_F(ClientE2eTest, AdminTopicLifecycle) {
  Admin admin = NewAdmin();
  auto created = admin.CreateTopic("orders", 3);
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->name, "orders");
  EXPECT_EQ(created->queue_count, 3u);

  // Same queue count again: idempotent; a different one: AlreadyExists.
  EXPECT_TRUE(admin.CreateTopic("orders", 3).ok());
  EXPECT_EQ(admin.CreateTopic("orders", 5).status().code(), Code::kAlreadyExists);

  Producer producer = NewProducer();
  ASSERT_TRUE(producer.Send(Msg("orders", "one")).ok());
  ASSERT_TRUE(producer.Send(Msg("orders", "two")).ok());

  auto described = admin.DescribeTopic("orders");
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  ASSERT_EQ(described->queues.size(), 3u);
  int64_t stored = 0;
  for (const auto& q : described->queues) {
    EXPECT_EQ(q.min_offset, 0);
    stored += q.max_offset - q.min_offset;
  }
  EXPECT_EQ(stored, 2);

  auto listed = admin.ListTopics();
  ASSERT_TRUE(listed.ok()) << listed.status().ToString();
  std::set<std::string> names;
  for (const auto& t : *listed) {
    names.insert(t.name);
    EXPECT_NE(t.name.front(), '%') << "system topic listed without include_system";
  }
  EXPECT_TRUE(names.count("orders"));

  ASSERT_TRUE(admin.DeleteTopic("orders").ok());
  EXPECT_EQ(admin.DescribeTopic("orders").status().code(), Code::kTopicNotFound);
  EXPECT_EQ(admin.DeleteTopic("orders").code(), Code::kTopicNotFound);
  EXPECT_EQ(producer.Send(Msg("orders", "three")).status().code(), Code::kTopicNotFound);
  listed = admin.ListTopics();
  ASSERT_TRUE(listed.ok());
  for (const auto& t : *listed) EXPECT_NE(t.name, "orders");
}

TEST_F(ClientE2eTest, AdminGroupsAndLag) {
  CreateTopic("lagged", 1);
  Admin admin = NewAdmin();
  auto fifo = admin.CreateGroup("fifo-group", /*broadcast=*/false, /*fifo=*/true, 5);
  ASSERT_TRUE(fifo.ok()) << fifo.status().ToString();
  EXPECT_TRUE(fifo->fifo);
  EXPECT_FALSE(fifo->broadcast);
  EXPECT_EQ(fifo->max_attempts, 5u);
  auto bc = admin.CreateGroup("bc-group", /*broadcast=*/true);
  ASSERT_TRUE(bc.ok()) << bc.status().ToString();
  EXPECT_TRUE(bc->broadcast);
  auto plain = admin.CreateGroup("plain-group");
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();

  auto groups = admin.ListGroups();
  ASSERT_TRUE(groups.ok()) << groups.status().ToString();
  std::set<std::string> names;
  for (const auto& g : *groups) names.insert(g.name);
  EXPECT_TRUE(names.count("fifo-group") && names.count("bc-group") && names.count("plain-group"));

  Producer producer = NewProducer();
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(producer.Send(Msg("lagged", std::to_string(i))).ok());

  SimpleConsumer consumer = NewConsumer("plain-group", "lagged");
  auto first = ReceiveUpTo(consumer, 4);
  ASSERT_EQ(first.size(), 4u);
  for (const auto& m : first) ASSERT_TRUE(consumer.Ack(m).ok());
  auto leased = ReceiveUpTo(consumer, 2);
  ASSERT_EQ(leased.size(), 2u);

  auto described = admin.DescribeGroup("plain-group");
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  ASSERT_EQ(described->queues.size(), 1u);
  const QueueLag& q = described->queues[0];
  EXPECT_EQ(q.topic, "lagged");
  EXPECT_EQ(q.committed_offset, 4);
  EXPECT_EQ(q.max_offset, 10);
  EXPECT_EQ(q.lag, 6);
  EXPECT_EQ(q.inflight, 2);
  EXPECT_EQ(described->total_lag, 6);

  // Broadcasting: every member reads every message.
  SimpleConsumer a = NewConsumer("bc-group", "lagged", "member-a");
  SimpleConsumer b = NewConsumer("bc-group", "lagged", "member-b");
  EXPECT_EQ(ReceiveUpTo(a, 10).size(), 10u);
  EXPECT_EQ(ReceiveUpTo(b, 10).size(), 10u);

  ASSERT_TRUE(admin.DeleteGroup("plain-group").ok());
  EXPECT_EQ(admin.DescribeGroup("plain-group").status().code(), Code::kGroupNotFound);
}

TEST_F(ClientE2eTest, ProducerSendFormsAndQueries) {
  CreateTopic("forms", 1);
  Producer producer = NewProducer();

  auto sync = producer.Send(Msg("forms", "sync-body", "key-sync"));
  ASSERT_TRUE(sync.ok()) << sync.status().ToString();

  std::promise<Result<SendReceipt>> async_done;
  producer.SendAsync(Msg("forms", "async-body", "key-async"),
                     [&](const Result<SendReceipt>& r) { async_done.set_value(r); });
  auto async = async_done.get_future().get();
  ASSERT_TRUE(async.ok()) << async.status().ToString();

  auto future = producer.SendFuture(Msg("forms", "future-body", "key-shared")).get();
  ASSERT_TRUE(future.ok()) << future.status().ToString();

  std::vector<Message> batch;
  for (int i = 0; i < 5; ++i)
    batch.push_back(Msg("forms", "batch-" + std::to_string(i), "key-shared"));
  auto batched = producer.SendBatch(std::move(batch));
  ASSERT_TRUE(batched.ok()) << batched.status().ToString();
  ASSERT_EQ(batched->size(), 5u);

  // One queue: offsets follow send order, batch members are consecutive; ids are unique.
  std::vector<SendReceipt> receipts = {*sync, *async, *future};
  receipts.insert(receipts.end(), batched->begin(), batched->end());
  std::set<std::string> ids;
  std::set<int64_t> log_offsets;
  for (size_t i = 0; i < receipts.size(); ++i) {
    EXPECT_EQ(receipts[i].queue_id, 0);
    EXPECT_EQ(receipts[i].queue_offset, static_cast<int64_t>(i));
    EXPECT_EQ(receipts[i].message_id.size(), 32u);
    ids.insert(receipts[i].message_id);
    log_offsets.insert(receipts[i].log_offset);
  }
  EXPECT_EQ(ids.size(), receipts.size());
  EXPECT_EQ(log_offsets.size(), receipts.size());

  Admin admin = NewAdmin();
  auto by_id = admin.QueryById(async->message_id, "forms");
  ASSERT_TRUE(by_id.ok()) << by_id.status().ToString();
  ASSERT_EQ(by_id->size(), 1u);
  EXPECT_EQ((*by_id)[0].body(), "async-body");
  EXPECT_EQ((*by_id)[0].keys(), std::vector<std::string>{"key-async"});
  EXPECT_EQ((*by_id)[0].tag(), "tag-a");
  EXPECT_EQ((*by_id)[0].queue_offset(), 1);
  EXPECT_TRUE((*by_id)[0].receipt_handle().empty());

  auto by_id_any_topic = admin.QueryById(sync->message_id);
  ASSERT_TRUE(by_id_any_topic.ok()) << by_id_any_topic.status().ToString();
  ASSERT_EQ(by_id_any_topic->size(), 1u);
  EXPECT_EQ((*by_id_any_topic)[0].body(), "sync-body");

  auto by_key = admin.QueryByKey("forms", "key-shared");
  ASSERT_TRUE(by_key.ok()) << by_key.status().ToString();
  std::set<std::string> bodies;
  for (const auto& m : *by_key) bodies.insert(m.body());
  EXPECT_EQ(bodies, (std::set<std::string>{"future-body", "batch-0", "batch-1", "batch-2",
                                           "batch-3", "batch-4"}));

  auto limited = admin.QueryByKey("forms", "key-shared", 2);
  ASSERT_TRUE(limited.ok()) << limited.status().ToString();
  EXPECT_LE(limited->size(), 2u);

  auto by_offset = admin.QueryByOffset(future->log_offset);
  ASSERT_TRUE(by_offset.ok()) << by_offset.status().ToString();
  ASSERT_EQ(by_offset->size(), 1u);
  EXPECT_EQ((*by_offset)[0].body(), "future-body");
  EXPECT_EQ((*by_offset)[0].message_id(), future->message_id);

  // No match is an error, not an empty list.
  EXPECT_EQ(admin.QueryByKey("forms", "no-such-key").status().code(), Code::kNotFound);
  EXPECT_EQ(admin.QueryById("0123456789abcdef0123456789abcdef").status().code(), Code::kNotFound);
}

TEST_F(ClientE2eTest, SimpleConsumerAckNackChangeLease) {
  CreateTopic("leases", 1);
  Producer producer = NewProducer();
  for (const char* body : {"acked", "nacked", "re-leased"}) {
    ASSERT_TRUE(producer.Send(Msg("leases", body)).ok());
  }
  SimpleConsumer consumer = NewConsumer("lease-group", "leases");
  auto got = ReceiveUpTo(consumer, 3);
  ASSERT_EQ(got.size(), 3u);
  std::map<std::string, ReceivedMessage> by_body;
  for (auto& m : got) {
    EXPECT_EQ(m.delivery_attempt(), 1u);
    EXPECT_FALSE(m.receipt_handle().empty());
    EXPECT_EQ(m.topic(), "leases");
    by_body[m.body()] = m;
  }
  ASSERT_EQ(by_body.size(), 3u);

  // Ack: once only.
  ASSERT_TRUE(consumer.Ack(by_body["acked"]).ok());
  EXPECT_EQ(consumer.Ack(by_body["acked"]).code(), Code::kReceiptInvalid);

  // Nack: comes back at once with the attempt counted.
  ASSERT_TRUE(consumer.Nack(by_body["nacked"]).ok());
  auto again = ReceiveUpTo(consumer, 1);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].body(), "nacked");
  EXPECT_EQ(again[0].delivery_attempt(), 2u);
  ASSERT_TRUE(consumer.Ack(again[0]).ok());

  // ChangeLease: the new handle replaces the old one; a short lease lapses into a redelivery.
  ReceivedMessage old_lease = by_body["re-leased"];
  ReceivedMessage m = old_lease;
  EXPECT_EQ(consumer.ChangeLease(m, 300).code(), Code::kInvalidArgument) << "under 1 s";
  EXPECT_EQ(m.receipt_handle(), old_lease.receipt_handle());
  Status changed = consumer.ChangeLease(m, 1000);
  ASSERT_TRUE(changed.ok()) << changed.ToString();
  EXPECT_NE(m.receipt_handle(), old_lease.receipt_handle());
  EXPECT_EQ(consumer.Ack(old_lease).code(), Code::kReceiptInvalid);
  auto lapsed = ReceiveUpTo(consumer, 1, /*empty_polls=*/50);
  ASSERT_EQ(lapsed.size(), 1u);
  EXPECT_EQ(lapsed[0].body(), "re-leased");
  EXPECT_EQ(lapsed[0].delivery_attempt(), 2u);
  EXPECT_EQ(consumer.Ack(m).code(), Code::kReceiptInvalid) << "the lapsed lease still acks";
  ASSERT_TRUE(consumer.Ack(lapsed[0]).ok());

  // Everything settled: nothing more arrives, and the group has no lag.
  EXPECT_TRUE(ReceiveUpTo(consumer, 1, /*empty_polls=*/2).empty());
  auto described = NewAdmin().DescribeGroup("lease-group");
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(described->total_lag, 0);
}

TEST_F(ClientE2eTest, PushConsumerRetriesFailedAndThrowingListeners) {
  constexpr int kMessages = 40;
  CreateTopic("pushed", 2);
  Producer producer = NewProducer();
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_TRUE(producer.Send(Msg("pushed", std::to_string(i))).ok());
  }
  auto fails_first = [](int i) { return i % 5 == 0; };   // kRetryLater on attempt 1
  auto throws_first = [](int i) { return i % 7 == 3; };  // throws on attempt 1
  int expected_failures = 0;
  for (int i = 0; i < kMessages; ++i) expected_failures += fails_first(i) || throws_first(i);

  std::mutex mu;
  std::condition_variable cv;
  std::map<int, uint32_t> succeeded_at;  // GUARDED_BY(mu): body -> attempt that succeeded
  std::map<int, int> calls;              // GUARDED_BY(mu)
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(address_)
                      .Group("push-group")
                      .Topic("pushed")
                      .ConsumerThreads(3)
                      .AwaitDuration(200)
                      .Listener([&](const ReceivedMessage& m) {
                        int i = std::stoi(m.body());
                        {
                          std::lock_guard<std::mutex> lock(mu);
                          ++calls[i];
                        }
                        if (m.delivery_attempt() == 1 && fails_first(i)) {
                          return ConsumeResult::kRetryLater;
                        }
                        if (m.delivery_attempt() == 1 && throws_first(i)) {
                          throw std::runtime_error("listener failure");
                        }
                        std::lock_guard<std::mutex> lock(mu);
                        succeeded_at.emplace(i, m.delivery_attempt());
                        cv.notify_all();
                        return ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE(consumer->Start().ok());
  {
    std::unique_lock<std::mutex> lock(mu);
    // The bound only turns a lost message into a failure instead of a hang.
    cv.wait_for(lock, std::chrono::seconds(20),
                [&] { return succeeded_at.size() == static_cast<size_t>(kMessages); });
  }
  consumer->Shutdown();

  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(succeeded_at.size(), static_cast<size_t>(kMessages));
  for (int i = 0; i < kMessages; ++i) {
    if (fails_first(i) || throws_first(i)) {
      EXPECT_GE(succeeded_at[i], 2u) << "message " << i;
      EXPECT_GE(calls[i], 2) << "message " << i;
    } else {
      EXPECT_EQ(succeeded_at[i], 1u) << "message " << i;
    }
  }
  EXPECT_EQ(consumer->consumed(), static_cast<uint64_t>(kMessages));
  EXPECT_EQ(consumer->failed(), static_cast<uint64_t>(expected_failures));

  // Shutdown settled everything: the group is caught up.
  auto described = NewAdmin().DescribeGroup("push-group");
  ASSERT_TRUE(described.ok()) << described.status().ToString();
  EXPECT_EQ(described->total_lag, 0);
  for (const auto& q : described->queues) EXPECT_EQ(q.inflight, 0);
}

// Sends kPerGroup messages for each of kGroups message groups, interleaved; bodies "mgG:I".
// Returns the queue each message group went to.
std::map<std::string, int32_t> SendInterleavedGroups(Producer& producer, const std::string& topic,
                                                     int groups, int per_group) {
  std::map<std::string, int32_t> queue_of_group;
  for (int i = 0; i < per_group; ++i) {
    for (int g = 0; g < groups; ++g) {
      std::string group = "mg" + std::to_string(g);
      auto m = Message::NewBuilder()
                   .Topic(topic)
                   .Body(group + ":" + std::to_string(i))
                   .MessageGroup(group)
                   .Build();
      EXPECT_TRUE(m.ok()) << m.status().ToString();
      auto r = producer.Send(*m);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) return queue_of_group;
      auto [it, inserted] = queue_of_group.emplace(group, r->queue_id);
      EXPECT_EQ(it->second, r->queue_id) << "one message group, one queue";
    }
  }
  return queue_of_group;
}

TEST_F(ClientE2eTest, FifoOrderPerMessageGroup) {
  constexpr int kGroups = 3;
  constexpr int kPerGroup = 15;
  CreateTopic("fifo", 4);
  Admin admin = NewAdmin();
  ASSERT_TRUE(admin.CreateGroup("fifo-consumers", false, /*fifo=*/true).ok());
  Producer producer = NewProducer();
  auto queue_of_group = SendInterleavedGroups(producer, "fifo", kGroups, kPerGroup);
  ASSERT_EQ(queue_of_group.size(), static_cast<size_t>(kGroups));

  // One message per receive: see FifoBatchHoldsBackTheRestOfTheQueue for batches.
  SimpleConsumer consumer = NewConsumer("fifo-consumers", "fifo");
  std::map<std::string, int> next;  // message group -> the index expected next
  bool nacked = false;
  int delivered = 0;
  for (int empty = 0; delivered < kGroups * kPerGroup && empty < 20;) {
    auto batch = consumer.Receive(1);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (batch->empty()) ++empty;
    for (const auto& m : *batch) {
      size_t colon = m.body().find(':');
      ASSERT_NE(colon, std::string::npos);
      std::string group = m.body().substr(0, colon);
      int index = std::stoi(m.body().substr(colon + 1));
      EXPECT_EQ(m.queue_id(), queue_of_group[group]);
      ASSERT_EQ(index, next[group]) << "out of order in " << group;
      // A nacked FIFO message is redelivered before anything behind it.
      if (group == "mg0" && index == 5 && !nacked) {
        nacked = true;
        ASSERT_TRUE(consumer.Nack(m).ok());
        continue;
      }
      if (group == "mg0" && index == 5) {
        EXPECT_EQ(m.delivery_attempt(), 2u);
      }
      ASSERT_TRUE(consumer.Ack(m).ok());
      next[group] = index + 1;
      ++delivered;
    }
  }
  EXPECT_TRUE(nacked);
  EXPECT_EQ(delivered, kGroups * kPerGroup);
  for (int g = 0; g < kGroups; ++g) EXPECT_EQ(next["mg" + std::to_string(g)], kPerGroup);
}

// DESIGN.md 2.4: "FIFO groups deliver the next message of a queue only after the previous one
// is acked or dead-lettered". A batch receive must therefore hold at most one message per
// queue; otherwise a consumer that nacks one message has already been handed the ones behind
// it, and order is lost.
TEST_F(ClientE2eTest, FifoBatchHoldsBackTheRestOfTheQueue) {
  CreateTopic("fifo-batch", 1);
  Admin admin = NewAdmin();
  ASSERT_TRUE(admin.CreateGroup("fifo-batch-consumers", false, /*fifo=*/true).ok());
  Producer producer = NewProducer();
  SendInterleavedGroups(producer, "fifo-batch", 1, 5);

  SimpleConsumer consumer = NewConsumer("fifo-batch-consumers", "fifo-batch");
  auto first = consumer.Receive(16);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), 1u) << "a FIFO queue handed out more than its head";
  EXPECT_EQ((*first)[0].body(), "mg0:0");
  ASSERT_TRUE(consumer.Nack((*first)[0]).ok());
  auto again = consumer.Receive(16);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->size(), 1u);
  EXPECT_EQ((*again)[0].body(), "mg0:0");
  EXPECT_EQ((*again)[0].delivery_attempt(), 2u);
}

TEST_F(ClientE2eTest, ReceivedMessageCarriesMessageGroup) {
  CreateTopic("grouped", 2);
  Producer producer = NewProducer();
  ASSERT_TRUE(producer.Send(Msg("grouped", "with-group", "key-g", "order-7")).ok());
  SimpleConsumer consumer = NewConsumer("grouped-consumers", "grouped");
  auto got = ReceiveUpTo(consumer, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_group(), "order-7");
  auto queried = NewAdmin().QueryByKey("grouped", "key-g");
  ASSERT_TRUE(queried.ok()) << queried.status().ToString();
  ASSERT_EQ(queried->size(), 1u);
  EXPECT_EQ((*queried)[0].message_group(), "order-7");
}

TEST_F(ClientE2eTest, ErrorsSurfaceAsTypedCodes) {
  CreateTopic("typed", 1);
  Producer producer = NewProducer();
  Admin admin = NewAdmin();

  // Broker-side.
  auto missing = Message::NewBuilder().Topic("no-such-topic").Body("x").Build();
  ASSERT_TRUE(missing.ok());
  EXPECT_EQ(producer.Send(*missing).status().code(), Code::kTopicNotFound);
  EXPECT_EQ(admin.DescribeTopic("no-such-topic").status().code(), Code::kTopicNotFound);
  EXPECT_EQ(admin.DescribeGroup("no-such-group").status().code(), Code::kGroupNotFound);
  auto over_broker_limit =
      Message::NewBuilder().Topic("typed").Body(std::string(config_.max_message_bytes + 1, 'x'));
  auto big = over_broker_limit.Build();
  ASSERT_TRUE(big.ok()) << "under the client's limit: " << big.status().ToString();
  EXPECT_EQ(producer.Send(*big).status().code(), Code::kTooLarge);

  // Client-side: refused before reaching the wire.
  EXPECT_EQ(Message::NewBuilder().Topic("bad topic!").Body("x").Build().status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(admin.CreateTopic("bad topic!", 1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(Message::NewBuilder()
                .Topic("typed")
                .Body(std::string(kMaxMessageBodyBytes + 1, 'x'))
                .Build()
                .status()
                .code(),
            Code::kTooLarge);
  EXPECT_EQ(SimpleConsumer::NewBuilder().Endpoint(address_).Topic("typed").Build().status().code(),
            Code::kInvalidArgument)
      << "a consumer needs a group";
  EXPECT_EQ(admin.CreateTopic("zero-queues", 0).status().code(), Code::kInvalidArgument);

  // Nothing of the refused sends was stored.
  auto described = admin.DescribeTopic("typed");
  ASSERT_TRUE(described.ok());
  EXPECT_EQ(described->queues[0].max_offset, 0);
}

// Stops the in-process broker and starts a new one on the same port and data directory.
TEST_F(ClientE2eTest, ProducerReconnectsAfterBrokerRestart) {
  CreateTopic("restart", 1);
  auto producer = Producer::NewBuilder().Endpoint(address_).Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  auto before = producer->Send(Msg("restart", "before"));
  ASSERT_TRUE(before.ok()) << before.status().ToString();

  config_.port = broker_->port();
  broker_.reset();
  StartBroker();
  ASSERT_EQ(broker_->port(), config_.port);

  // The connection notices the drop and reconnects with back-off; a send in between fails
  // Unavailable (after the producer's own retries), a later one succeeds.
  Result<SendReceipt> after = Status(Code::kUnavailable, "not sent yet");
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!after.ok() && Clock::now() < deadline) {
    after = producer->Send(Msg("restart", "after"));
    if (!after.ok()) {
      ASSERT_EQ(after.status().code(), Code::kUnavailable) << after.status().ToString();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval
    }
  }
  ASSERT_TRUE(after.ok()) << after.status().ToString();

  SimpleConsumer consumer = NewConsumer("restart-group", "restart");
  auto got = ReceiveUpTo(consumer, 8, /*empty_polls=*/3);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.front().body(), "before");
  EXPECT_EQ(got.back().body(), "after");
  EXPECT_EQ(got.back().message_id(), after->message_id);
}

// A send that failed because the broker was down must not reach the broker later: the caller
// was told it failed (and, with retries, may already have sent it again).
TEST_F(ClientE2eTest, SendThatFailedWhileBrokerWasDownIsNotDeliveredLater) {
  CreateTopic("ghost", 1);
  auto producer =
      Producer::NewBuilder()
          .Endpoint(address_)
          .MaxSendAttempts(1)
          .RequestTimeout(500)
          .FailoverDeadline(1000)  // the send waits that long for the broker, then fails
          .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  ASSERT_TRUE(producer->Send(Msg("ghost", "before")).ok());

  config_.port = broker_->port();
  broker_.reset();
  EXPECT_EQ(producer->Send(Msg("ghost", "while-down")).status().code(), Code::kUnavailable);
  StartBroker();

  Result<SendReceipt> after = Status(Code::kUnavailable, "not sent yet");
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (!after.ok() && Clock::now() < deadline) {
    after = producer->Send(Msg("ghost", "after"));
  }
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->queue_offset, 1) << "something was stored between 'before' and 'after'";
  SimpleConsumer consumer = NewConsumer("ghost-group", "ghost");
  std::vector<std::string> bodies;
  for (const auto& m : ReceiveUpTo(consumer, 8, /*empty_polls=*/3)) bodies.push_back(m.body());
  EXPECT_EQ(bodies, (std::vector<std::string>{"before", "after"}));
}

TEST_F(ClientE2eTest, DelayedMessageArrivesAndAPendingOneCanBeCancelled) {
  CreateTopic("sched", 2);
  Producer producer = NewProducer();
  Admin admin = NewAdmin();
  auto soon = Message::NewBuilder().Topic("sched").Body("soon").Tag("t").Delay(300).Build();
  auto later = Message::NewBuilder().Topic("sched").Body("later").Delay(600'000).Build();
  ASSERT_TRUE(soon.ok() && later.ok());
  auto r1 = producer.Send(*soon);
  ASSERT_TRUE(r1.ok()) << r1.status().ToString();
  EXPECT_EQ(r1->queue_offset, -1);  // not in a queue until it is due
  auto r2 = producer.Send(*later);
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();

  auto shown = admin.ShowTimer(r2->message_id);
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ(shown->topic, "sched");
  EXPECT_FALSE(shown->firing);
  auto cancelled = admin.CancelScheduled(r2->message_id);
  ASSERT_TRUE(cancelled.ok()) << cancelled.status().ToString();
  EXPECT_TRUE(cancelled->cancelled);
  EXPECT_EQ(cancelled->due_ms, shown->due_ms);
  EXPECT_EQ(admin.CancelScheduled(r2->message_id).status().code(), Code::kNotFound);
  EXPECT_EQ(admin.ShowTimer(r2->message_id).status().code(), Code::kNotFound);

  // "soon" arrives (the long poll returns when the timer re-puts it), "later" never does.
  SimpleConsumer consumer = NewConsumer("g", "sched");
  std::vector<ReceivedMessage> got;
  for (int polls = 0; polls < 50 && got.empty(); ++polls) {
    auto batch = consumer.Receive(32, 1000);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    got = std::move(batch).value();
  }
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id(), r1->message_id);
  EXPECT_EQ(got[0].body(), "soon");
  EXPECT_EQ(got[0].tag(), "t");
  EXPECT_EQ(got[0].properties().count("DELIVER_AT_MS"), 1u);
  ASSERT_TRUE(consumer.Ack(got[0]).ok());

  auto fired = admin.CancelScheduled(r1->message_id);
  ASSERT_TRUE(fired.ok()) << fired.status().ToString();
  EXPECT_FALSE(fired->cancelled);
  // A send's reply means the store's observers (the timer) saw every earlier record.
  CreateTopic("barrier", 1);
  ASSERT_TRUE(producer.Send(*Message::NewBuilder().Topic("barrier").Body("x").Build()).ok());
  auto stats = admin.TimerStats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->pending, 0);
  EXPECT_EQ(stats->cancelled, 1);
  EXPECT_FALSE(stats->lateness.empty());
}

}  // namespace
}  // namespace tidemq
