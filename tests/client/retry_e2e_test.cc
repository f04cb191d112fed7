// Retries and dead letters end to end, through the public client API against a real broker
// in-process: retry copies as consumers see them, the listener's own delay, exceptions,
// dead-lettering after max attempts, redrive, purge, the PushConsumer's graceful shutdown and
// lease renewal. Back-offs are short custom policies; the tests assert attempt numbers and
// order, never how fast something happened (waits are bounded only to turn a lost message
// into a failure instead of a hang).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/client/e2e_fixture.h"

namespace tidemq {
namespace {

using namespace std::chrono_literals;

constexpr auto kPatience = 20s;

class RetryE2eTest : public ClientE2eTest {
 protected:
  void CreateGroup(const std::string& name, const std::string& backoff, uint32_t max_attempts) {
    Admin admin = NewAdmin();
    GroupOptions options;
    options.max_attempts = max_attempts;
    auto policy = RetryPolicy::Parse(backoff);
    ASSERT_TRUE(policy.ok()) << policy.status().ToString();
    options.retry = *policy;
    auto g = admin.CreateGroup(name, options);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
  }

  std::string Send(const std::string& topic, const std::string& body,
                   const std::string& tag = "tag-a") {
    Producer producer = NewProducer();
    auto m = Message::NewBuilder().Topic(topic).Body(body).Tag(tag).Key("k-" + body).Build();
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    auto r = producer.Send(*m);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->message_id : "";
  }

  // Polls until pred() holds; false when it did not within kPatience.
  static bool Eventually(const std::function<bool()>& pred) {
    const auto deadline = std::chrono::steady_clock::now() + kPatience;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(20ms);
    }
    return true;
  }

  // The dead letters of `group` matching `filter`, once there are at least `count`.
  std::vector<ReceivedMessage> AwaitDeadLetters(const std::string& group, size_t count,
                                                const DeadLetterFilter& filter = {}) {
    Admin admin = NewAdmin();
    std::vector<ReceivedMessage> out;
    bool ok = Eventually([&] {
      auto page = admin.ListDeadLetters(group, filter, -1, 100, /*with_bodies=*/true);
      EXPECT_TRUE(page.ok()) << page.status().ToString();
      if (!page.ok()) return true;
      out = page->messages;
      return out.size() >= count;
    });
    EXPECT_TRUE(ok) << "only " << out.size() << " of " << count << " dead letters arrived";
    return out;
  }

  // Receives and nacks one message max_attempts times so it is dead-lettered; returns the
  // deliveries seen.
  std::vector<ReceivedMessage> FailUntilDead(SimpleConsumer& c, uint32_t max_attempts) {
    std::vector<ReceivedMessage> seen;
    for (uint32_t attempt = 1; attempt <= max_attempts; ++attempt) {
      auto got = ReceiveUpTo(c, 1, 50);
      EXPECT_EQ(got.size(), 1u) << "attempt " << attempt;
      if (got.empty()) break;
      seen.push_back(got[0]);
      Status st = c.Nack(got[0]);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    return seen;
  }
};

TEST_F(RetryE2eTest, RetryCopiesKeepTheIdAndTellTheirStory) {
  CreateTopic("orders", 1);
  CreateGroup("billing", "100ms", 5);
  const std::string id = Send("orders", "pay-me");
  SimpleConsumer c = NewConsumer("billing", "orders");

  auto first = ReceiveUpTo(c, 1);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].delivery_attempt(), 1u);
  EXPECT_EQ(first[0].first_failure_ms(), 0);
  EXPECT_TRUE(first[0].original_topic().empty());
  ASSERT_TRUE(c.Nack(first[0]).ok());

  int64_t first_failure = 0;
  for (uint32_t attempt = 2; attempt <= 3; ++attempt) {
    auto again = ReceiveUpTo(c, 1, 50);
    ASSERT_EQ(again.size(), 1u) << "attempt " << attempt;
    const ReceivedMessage& m = again[0];
    EXPECT_EQ(m.delivery_attempt(), attempt);
    EXPECT_EQ(m.message_id(), id);
    EXPECT_EQ(m.topic(), "orders");  // not %RETRY%billing
    EXPECT_EQ(m.original_topic(), "orders");
    EXPECT_EQ(m.body(), "pay-me");
    EXPECT_EQ(m.tag(), "tag-a");
    EXPECT_EQ(m.keys(), std::vector<std::string>{"k-pay-me"});
    EXPECT_GE(m.first_failure_ms(), m.born_ms());
    if (attempt == 2) first_failure = m.first_failure_ms();
    EXPECT_EQ(m.first_failure_ms(), first_failure);  // the first failure stays the first
    if (attempt < 3) {
      ASSERT_TRUE(c.Nack(m).ok());
    } else {
      ASSERT_TRUE(c.Ack(m).ok());
    }
  }
  EXPECT_TRUE(ReceiveUpTo(c, 1, 3).empty());

  Admin admin = NewAdmin();
  auto g = admin.DescribeGroup("billing");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->retried, 2);
  EXPECT_EQ(g->dead_lettered, 0);
  EXPECT_EQ(g->retry.ToString(), "100ms");
  EXPECT_EQ(g->max_attempts, 5u);
}

TEST_F(RetryE2eTest, ListenerDelayOverridesTheGroupBackoffAndExceptionsUseIt) {
  CreateTopic("orders", 1);
  // A back-off no test waits for: what comes back within the test came back by its own delay.
  CreateGroup("slow-backoff", "1h", 5);
  Send("orders", "own-delay");
  Send("orders", "late");

  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::pair<std::string, uint32_t>> deliveries;  // GUARDED_BY(mu)
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(address_)
                      .Group("slow-backoff")
                      .Topic("orders")
                      .AwaitDuration(200)
                      .Listener([&](const ReceivedMessage& m) {
                        {
                          std::lock_guard lock(mu);
                          deliveries.emplace_back(m.body(), m.delivery_attempt());
                          cv.notify_all();
                        }
                        if (m.delivery_attempt() > 1) return ConsumeResult::kSuccess;
                        return m.body() == "late" ? ConsumeResult::RetryLater(1500ms)
                                                  : ConsumeResult::RetryLater(100ms);
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE(consumer->Start().ok());
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, kPatience, [&] { return deliveries.size() >= 4; });
  }
  consumer->Shutdown();
  std::lock_guard lock(mu);
  ASSERT_EQ(deliveries.size(), 4u);
  // Each came back once, the one that asked for 100 ms before the one that asked for 1500 ms.
  auto at = [&](const std::string& body, uint32_t attempt) {
    return std::find(deliveries.begin(), deliveries.end(), std::make_pair(body, attempt)) -
           deliveries.begin();
  };
  EXPECT_LT(at("own-delay", 1), at("own-delay", 2));
  EXPECT_LT(at("late", 1), at("late", 2));
  EXPECT_LT(at("own-delay", 2), at("late", 2));
  EXPECT_LT(at("late", 2), 4);
  EXPECT_EQ(consumer->failed(), 2u);
  EXPECT_EQ(consumer->consumed(), 2u);
}

TEST_F(RetryE2eTest, ListenerExceptionRetriesAfterTheGroupBackoff) {
  CreateTopic("orders", 1);
  CreateGroup("throwers", "100ms", 5);
  const std::string id = Send("orders", "boom");
  std::mutex mu;
  std::condition_variable cv;
  std::vector<ReceivedMessage> seen;  // GUARDED_BY(mu)
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(address_)
                      .Group("throwers")
                      .Topic("orders")
                      .AwaitDuration(200)
                      .Listener([&](const ReceivedMessage& m) {
                        {
                          std::lock_guard lock(mu);
                          seen.push_back(m);
                          cv.notify_all();
                        }
                        if (m.delivery_attempt() == 1) throw std::runtime_error("listener bug");
                        return ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE(consumer->Start().ok());
  {
    std::unique_lock lock(mu);
    cv.wait_for(lock, kPatience, [&] { return seen.size() >= 2; });
  }
  consumer->Shutdown();
  std::lock_guard lock(mu);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].message_id(), id);
  EXPECT_EQ(seen[1].delivery_attempt(), 2u);
  EXPECT_EQ(seen[1].original_topic(), "orders");
  EXPECT_GT(seen[1].first_failure_ms(), 0);
  EXPECT_EQ(consumer->failed(), 1u);
  EXPECT_EQ(consumer->consumed(), 1u);
}

TEST_F(RetryE2eTest, DeadLetteredAfterMaxAttemptsAndListedByAdmin) {
  CreateTopic("orders", 1);
  CreateGroup("dlq-group", "50ms", 3);
  const std::string good = Send("orders", "fine", "good");
  const std::string bad = Send("orders", "poison", "bad");
  SimpleConsumer c = NewConsumer("dlq-group", "orders");

  // The good one is acked at once; the poison one fails every delivery.
  std::vector<ReceivedMessage> poison_deliveries;
  for (int polls = 0; poison_deliveries.size() < 3 && polls < 200; ++polls) {
    auto batch = c.Receive(8, 200);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    for (const auto& m : *batch) {
      if (m.message_id() == good) {
        ASSERT_TRUE(c.Ack(m).ok());
        continue;
      }
      poison_deliveries.push_back(m);
      ASSERT_TRUE(c.Nack(m).ok());
    }
  }
  ASSERT_EQ(poison_deliveries.size(), 3u);
  for (uint32_t i = 0; i < 3; ++i) EXPECT_EQ(poison_deliveries[i].delivery_attempt(), i + 1);
  EXPECT_TRUE(ReceiveUpTo(c, 1, 3).empty());  // max attempts used: it is not delivered again

  auto dead = AwaitDeadLetters("dlq-group", 1);
  ASSERT_EQ(dead.size(), 1u);
  const ReceivedMessage& d = dead[0];
  EXPECT_EQ(d.message_id(), bad);
  EXPECT_EQ(d.original_topic(), "orders");
  EXPECT_EQ(d.tag(), "bad");
  EXPECT_EQ(d.body(), "poison");
  EXPECT_EQ(d.delivery_attempt(), 3u);
  EXPECT_EQ(d.dead_letter_reason(), "max_attempts");
  EXPECT_EQ(d.first_failure_ms(), poison_deliveries[1].first_failure_ms());
  EXPECT_GE(d.store_ms(), d.first_failure_ms());  // store_ms: when it was dead-lettered
  EXPECT_GE(d.dlq_offset(), 0);

  Admin admin = NewAdmin();
  DeadLetterFilter by_tag;
  by_tag.tag = "good";
  auto none = admin.ListDeadLetters("dlq-group", by_tag);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->messages.empty());
  EXPECT_EQ(none->total, 1);
  DeadLetterFilter by_topic;
  by_topic.original_topic = "other";
  EXPECT_TRUE(admin.ListDeadLetters("dlq-group", by_topic)->messages.empty());
  DeadLetterFilter by_id;
  by_id.message_id = bad;
  auto one = admin.ListDeadLetters("dlq-group", by_id);
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->messages.size(), 1u);
  EXPECT_TRUE(one->messages[0].body().empty());  // no bodies unless asked for

  auto g = admin.DescribeGroup("dlq-group");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->retried, 2);
  EXPECT_EQ(g->dead_lettered, 1);
  EXPECT_EQ(g->dlq_messages, 1);
}

TEST_F(RetryE2eTest, RedriveToTheRetryQueueAndToTheOriginalTopic) {
  CreateTopic("orders", 1);
  CreateGroup("redrive-group", "50ms", 2);
  const std::string a = Send("orders", "a");
  SimpleConsumer c = NewConsumer("redrive-group", "orders");
  ASSERT_EQ(FailUntilDead(c, 2).size(), 2u);
  const std::string b = Send("orders", "b");
  ASSERT_EQ(FailUntilDead(c, 2).size(), 2u);
  auto dead = AwaitDeadLetters("redrive-group", 2);
  ASSERT_EQ(dead.size(), 2u);

  Admin admin = NewAdmin();
  EXPECT_EQ(admin.RedriveDeadLetters("redrive-group", {}).status().code(),
            Code::kInvalidArgument);  // nothing selected, and not all

  DeadLetterFilter only_a;
  only_a.message_id = a;
  auto n = admin.RedriveDeadLetters("redrive-group", only_a, false, RedriveTarget::kRetryQueue);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  auto again = ReceiveUpTo(c, 1, 50);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message_id(), a);
  EXPECT_EQ(again[0].delivery_attempt(), 1u);  // attempts start again
  EXPECT_EQ(again[0].topic(), "orders");
  EXPECT_EQ(again[0].body(), "a");
  ASSERT_TRUE(c.Ack(again[0]).ok());

  DeadLetterFilter only_b;
  only_b.dlq_offset = dead[1].message_id() == b ? dead[1].dlq_offset() : dead[0].dlq_offset();
  n = admin.RedriveDeadLetters("redrive-group", only_b, false, RedriveTarget::kOriginalTopic);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  again = ReceiveUpTo(c, 1, 50);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].message_id(), b);
  EXPECT_EQ(again[0].delivery_attempt(), 1u);
  EXPECT_EQ(again[0].topic(), "orders");
  ASSERT_TRUE(c.Ack(again[0]).ok());

  auto left = admin.ListDeadLetters("redrive-group");
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  EXPECT_TRUE(left->messages.empty());
  EXPECT_EQ(left->total, 0);
  EXPECT_EQ(admin.DescribeGroup("redrive-group")->dlq_messages, 0);
}

TEST_F(RetryE2eTest, PurgeDropsSelectedDeadLetters) {
  CreateTopic("orders", 1);
  CreateGroup("purge-group", "50ms", 1);  // the first failure dead-letters
  SimpleConsumer c = NewConsumer("purge-group", "orders");
  std::vector<std::string> ids;
  for (const char* tag : {"x", "y", "y"}) {
    ids.push_back(Send("orders", std::string("body-") + tag, tag));
    ASSERT_EQ(FailUntilDead(c, 1).size(), 1u);
  }
  ASSERT_EQ(AwaitDeadLetters("purge-group", 3).size(), 3u);

  Admin admin = NewAdmin();
  EXPECT_EQ(admin.PurgeDeadLetters("purge-group", {}).status().code(), Code::kInvalidArgument);
  DeadLetterFilter ys;
  ys.tag = "y";
  auto n = admin.PurgeDeadLetters("purge-group", ys);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 2);
  auto left = admin.ListDeadLetters("purge-group");
  ASSERT_TRUE(left.ok()) << left.status().ToString();
  ASSERT_EQ(left->messages.size(), 1u);
  EXPECT_EQ(left->messages[0].message_id(), ids[0]);
  EXPECT_EQ(left->total, 1);

  n = admin.PurgeDeadLetters("purge-group", {}, /*all=*/true);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, 1);
  EXPECT_EQ(admin.ListDeadLetters("purge-group")->total, 0);
  EXPECT_TRUE(ReceiveUpTo(c, 1, 3).empty());  // purged is gone, not redelivered
}

// A gate one listener call waits at until the test opens it.
class Gate {
 public:
  void Arrive() {
    std::unique_lock lock(mu_);
    arrived_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  bool AwaitArrival() {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kPatience, [this] { return arrived_; });
  }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool arrived_ = false;
  bool open_ = false;
};

TEST_F(RetryE2eTest, GracefulShutdownReleasesUnstartedMessagesToOtherConsumers) {
  CreateTopic("orders", 1);
  CreateGroup("shutdown-group", "1h", 5);  // a counted failure would not come back in time
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(Send("orders", "m" + std::to_string(i)));

  Gate gate;
  std::mutex mu;
  std::string held;  // GUARDED_BY(mu): the message the one worker is processing
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(address_)
                      .Group("shutdown-group")
                      .Topic("orders")
                      .ConsumerThreads(1)
                      .MaxInflight(8)
                      .AwaitDuration(200)
                      .Listener([&](const ReceivedMessage& m) {
                        {
                          std::lock_guard lock(mu);
                          if (!held.empty()) return ConsumeResult::kSuccess;
                          held = m.message_id();
                        }
                        gate.Arrive();
                        return ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE(consumer->Start().ok());
  ASSERT_TRUE(gate.AwaitArrival());

  std::thread stopper([&] { consumer->Shutdown(); });
  // Another member of the group gets the released messages at once, as first attempts; one
  // whose lease had to lapse would come back only after 30 s, and after a 1 h back-off.
  SimpleConsumer other = NewConsumer("shutdown-group", "orders");
  auto got = ReceiveUpTo(other, 4, 25);
  gate.Open();
  stopper.join();

  std::string held_id;
  {
    std::lock_guard lock(mu);
    held_id = held;
  }
  ASSERT_EQ(got.size(), 4u);
  for (const auto& m : got) {
    EXPECT_NE(m.message_id(), held_id);
    EXPECT_EQ(m.delivery_attempt(), 1u) << m.body();
    ASSERT_TRUE(other.Ack(m).ok());
  }
  EXPECT_GE(consumer->released(), 1u);
  EXPECT_EQ(consumer->consumed(), 1u);  // the running one was settled, not released
  EXPECT_TRUE(ReceiveUpTo(other, 1, 3).empty());
}

TEST_F(RetryE2eTest, LeaseRenewalKeepsALongHandlersMessage) {
  CreateTopic("orders", 1);
  CreateGroup("slow-group", "100ms", 5);  // a lapsed lease would be redelivered quickly
  Send("orders", "slow");

  std::atomic<int> calls{0};
  Gate gate;
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(address_)
                      .Group("slow-group")
                      .Topic("orders")
                      .LeaseDuration(1000)
                      .AwaitDuration(200)
                      .Listener([&](const ReceivedMessage& m) {
                        calls++;
                        EXPECT_EQ(m.delivery_attempt(), 1u);
                        gate.Arrive();
                        return ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  ASSERT_TRUE(consumer->Start().ok());
  ASSERT_TRUE(gate.AwaitArrival());
  // The handler runs for 3 leases while another member keeps asking for the message.
  SimpleConsumer other = NewConsumer("slow-group", "orders");
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    auto batch = other.Receive(1, 200);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    EXPECT_TRUE(batch->empty()) << "redelivered while its handler ran: attempt "
                                << (*batch)[0].delivery_attempt();
  }
  gate.Open();
  ASSERT_TRUE(Eventually([&] { return consumer->consumed() == 1; }));
  consumer->Shutdown();
  EXPECT_EQ(calls.load(), 1);
  EXPECT_GE(consumer->lease_renewals(), 2u);
  EXPECT_TRUE(ReceiveUpTo(other, 1, 3).empty());  // acked with the renewed handle
  auto g = NewAdmin().DescribeGroup("slow-group");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->retried, 0);
}

}  // namespace
}  // namespace tidemq
