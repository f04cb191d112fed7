// Crash tests: a real `tidemq-broker` process (sync flush, 1 MiB segments) is killed with SIGKILL
// while clients use it, restarted on the same data directory, and what survived is checked
// through the public client API.
//
// What the broker promises (and these tests hold it to):
//   - under --flush-policy sync, a send acknowledged OK survives a crash, body intact;
//   - recovery never duplicates or invents a message: every stored message appears once;
//   - consumer progress is at-least-once: after a crash, nothing that was not acked before is
//     lost (acked messages may come back, since offsets are persisted periodically).
#include <gtest/gtest.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "tests/crash/broker_process.h"
#include "tidemq/tidemq.h"

namespace tidemq::testing {
namespace {

constexpr int kProducers = 8;
constexpr int kCycles = 3;
constexpr int64_t kAckedPerCycle = 3000;
constexpr uint32_t kQueues = 4;

// Identifies one message a producer thread tried to send.
struct MsgId {
  int cycle = 0;
  int producer = 0;
  int64_t seq = 0;
  auto operator<=>(const MsgId&) const = default;
};

// ~400..600 bytes, so a cycle of 3000 messages rolls over a few 1 MiB segments. The filler is
// derived from the id so a torn or mixed-up body cannot pass for another message.
std::string MakeBody(const MsgId& id) {
  char head[64];
  int n = std::snprintf(head, sizeof(head), "c%d:p%d:s%lld:", id.cycle, id.producer,
                        static_cast<long long>(id.seq));
  std::string body(head, static_cast<size_t>(n));
  uint32_t x = static_cast<uint32_t>(id.cycle * 1'000'003 + id.producer * 7919 + id.seq * 31 + 1);
  size_t filler = 400 + static_cast<size_t>(id.seq % 200);
  for (size_t i = 0; i < filler; ++i) {
    x = x * 1664525u + 1013904223u;
    body.push_back(static_cast<char>('a' + (x >> 24) % 26));
  }
  return body;
}

std::string MakeKey(const MsgId& id) {
  return "k-" + std::to_string(id.cycle) + "-" + std::to_string(id.producer) + "-" +
         std::to_string(id.seq);
}

// Recovers the id a body claims to be; false when it is not one of ours.
bool ParseBody(const std::string& body, MsgId* id) {
  int c = 0, p = 0;
  long long s = 0;
  if (std::sscanf(body.c_str(), "c%d:p%d:s%lld:", &c, &p, &s) != 3) return false;
  *id = {c, p, s};
  return true;
}

// What one producer thread did in one cycle. Written by that thread only, read after join.
struct ProducerLog {
  int64_t attempted = 0;       // seqs [0, attempted) were handed to Send
  std::vector<int64_t> acked;  // seqs whose Send returned OK
  Status last_error;           // why the thread stopped
};

struct Drained {
  std::vector<ReceivedMessage> messages;
  std::string error;  // empty when the drain completed
};

// Receives everything a fresh look at `topic` by `group` yields, acking each message, until
// three receives in a row come back empty.
Drained DrainTopic(const std::string& address, const std::string& topic, const std::string& group,
                   size_t sanity_limit) {
  Drained out;
  auto consumer = SimpleConsumer::NewBuilder()
                      .Endpoint(address)
                      .Group(group)
                      .Topic(topic)
                      .AwaitDuration(300)
                      .LeaseDuration(120'000)
                      .Build();
  if (!consumer.ok()) {
    out.error = "consumer: " + consumer.status().ToString();
    return out;
  }
  int empty_in_a_row = 0;
  while (empty_in_a_row < 3) {
    auto batch = consumer->Receive(256);
    if (!batch.ok()) {
      out.error = "receive: " + batch.status().ToString();
      return out;
    }
    if (batch->empty()) {
      ++empty_in_a_row;
      continue;
    }
    empty_in_a_row = 0;
    for (auto& m : *batch) {
      Status st = consumer->Ack(m);
      if (!st.ok()) {
        out.error = "ack: " + st.ToString();
        return out;
      }
      out.messages.push_back(std::move(m));
    }
    if (out.messages.size() > sanity_limit) {
      out.error = "more than " + std::to_string(sanity_limit) + " messages: redelivery loop?";
      return out;
    }
  }
  return out;
}

class CrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(broker_.usable()) << "no temp dir or free port";
    Status st = broker_.Start();
    ASSERT_TRUE(st.ok()) << st.ToString();
  }
  // broker_'s destructor kills the child (by PID) if still running and removes the temp dir.

  Admin NewAdmin() {
    auto admin = Admin::NewBuilder().Endpoint(broker_.address()).Build();
    EXPECT_TRUE(admin.ok()) << admin.status().ToString();
    return std::move(admin).value();
  }

  BrokerProcess broker_;
};

// Producers send until kAckedPerCycle sends are acknowledged, the broker is SIGKILLed with
// sends in flight, restarted, and the whole topic is read back. Three cycles, so the second
// and third recoveries start from a log that was itself recovered.
TEST_F(CrashTest, AcknowledgedSendsSurviveRepeatedKillsExactlyOnce) {
  const std::string topic = "crash-sends";
  {
    Admin admin = NewAdmin();
    auto created = admin.CreateTopic(topic, kQueues);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }

  // logs[cycle][producer]
  std::vector<std::vector<ProducerLog>> logs(kCycles, std::vector<ProducerLog>(kProducers));

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    std::mutex mu;
    std::condition_variable cv;
    int64_t total_acked = 0;  // GUARDED_BY(mu)
    int stopped = 0;          // GUARDED_BY(mu)

    std::vector<std::thread> threads;
    for (int p = 0; p < kProducers; ++p) {
      threads.emplace_back([&, p] {
        ProducerLog& log = logs[cycle][p];
        // One attempt per send: a retry could legitimately store a message twice, and this
        // test wants to see duplicates only if recovery makes them.
        auto producer = Producer::NewBuilder()
                            .Endpoint(broker_.address())
                            .MaxSendAttempts(1)
                            .ClientId("crash-p" + std::to_string(p))
                            .Build();
        if (!producer.ok()) {
          log.last_error = producer.status();
        } else {
          for (int64_t seq = 0;; ++seq) {
            MsgId id{cycle, p, seq};
            auto msg = Message::NewBuilder()
                           .Topic(topic)
                           .Tag("t" + std::to_string(p))
                           .Key(MakeKey(id))
                           .Body(MakeBody(id))
                           .Build();
            if (!msg.ok()) {
              log.last_error = msg.status();
              break;
            }
            log.attempted = seq + 1;
            auto receipt = producer->Send(*msg);
            if (!receipt.ok()) {
              log.last_error = receipt.status();
              break;
            }
            log.acked.push_back(seq);
            std::lock_guard<std::mutex> lock(mu);
            ++total_acked;
            cv.notify_all();
          }
        }
        std::lock_guard<std::mutex> lock(mu);
        ++stopped;
        cv.notify_all();
      });
    }

    bool reached;
    {
      std::unique_lock<std::mutex> lock(mu);
      // The bound only keeps a wedged broker from hanging the test.
      reached = cv.wait_for(lock, std::chrono::seconds(25),
                            [&] { return total_acked >= kAckedPerCycle || stopped == kProducers; });
      reached = reached && stopped == 0;
    }
    // Kill while every producer is still sending.
    bool killed_by_us = broker_.Kill();
    for (auto& t : threads) t.join();
    ASSERT_TRUE(reached) << "producers did not reach " << kAckedPerCycle
                         << " acks before stopping; first error: "
                         << logs[cycle][0].last_error.ToString() << "\nbroker log:\n"
                         << ReadFile(broker_.log_path());
    ASSERT_TRUE(killed_by_us) << "the broker died before the SIGKILL; log:\n"
                              << ReadFile(broker_.log_path());

    int64_t unacknowledged = 0;
    for (const auto& log : logs[cycle]) {
      unacknowledged += log.attempted - static_cast<int64_t>(log.acked.size());
      EXPECT_FALSE(log.last_error.ok()) << "a producer stopped without an error";
    }
    EXPECT_EQ(unacknowledged, kProducers) << "each producer has exactly its last send unanswered";

    Status st = broker_.Start();
    ASSERT_TRUE(st.ok()) << "restart after kill: " << st.ToString();

    // Expected: every acked message of every cycle so far; allowed: anything attempted.
    std::set<MsgId> acked;
    size_t attempted_total = 0;
    for (int c = 0; c <= cycle; ++c) {
      for (int p = 0; p < kProducers; ++p) {
        for (int64_t s : logs[c][p].acked) acked.insert({c, p, s});
        attempted_total += static_cast<size_t>(logs[c][p].attempted);
      }
    }

    Drained drained = DrainTopic(broker_.address(), topic, "verify-" + std::to_string(cycle),
                                 2 * attempted_total + 100);
    ASSERT_TRUE(drained.error.empty()) << drained.error;

    std::map<MsgId, int> seen;
    std::set<std::pair<int32_t, int64_t>> positions;
    int bad = 0;
    for (const auto& m : drained.messages) {
      MsgId id;
      if (!ParseBody(m.body(), &id) || id.cycle < 0 || id.cycle > cycle || id.producer < 0 ||
          id.producer >= kProducers || id.seq < 0 ||
          id.seq >= logs[id.cycle][id.producer].attempted) {
        if (++bad <= 5) ADD_FAILURE() << "a message nobody sent: " << m.body().substr(0, 64);
        continue;
      }
      if (m.body() != MakeBody(id)) {
        if (++bad <= 5) ADD_FAILURE() << "body of " << MakeKey(id) << " is damaged";
        continue;
      }
      if (m.keys() != std::vector<std::string>{MakeKey(id)} ||
          m.tag() != "t" + std::to_string(id.producer)) {
        if (++bad <= 5) ADD_FAILURE() << "key or tag of " << MakeKey(id) << " is wrong";
      }
      if (!positions.insert({m.queue_id(), m.queue_offset()}).second) {
        if (++bad <= 5)
          ADD_FAILURE() << "queue " << m.queue_id() << " offset " << m.queue_offset()
                        << " delivered twice";
      }
      if (++seen[id] == 2 && ++bad <= 5) ADD_FAILURE() << MakeKey(id) << " stored twice";
    }
    EXPECT_EQ(bad, 0) << "damaged, foreign or duplicate deliveries";

    std::vector<MsgId> lost;
    for (const MsgId& id : acked) {
      if (!seen.count(id)) lost.push_back(id);
    }
    EXPECT_TRUE(lost.empty()) << lost.size() << " of " << acked.size()
                              << " acknowledged messages lost, e.g. " << MakeKey(lost.front());
    EXPECT_GE(drained.messages.size(), acked.size());
    EXPECT_LE(drained.messages.size(), attempted_total);

    // Every stored queue entry was delivered: no holes the consumer silently skipped.
    Admin admin = NewAdmin();
    auto described = admin.DescribeTopic(topic);
    ASSERT_TRUE(described.ok()) << described.status().ToString();
    int64_t stored = 0;
    for (const auto& q : described->queues) stored += q.max_offset - q.min_offset;
    EXPECT_EQ(stored, static_cast<int64_t>(drained.messages.size()));
    if (HasFailure()) return;
  }

  // The setup this test relies on: sync flush, and a log that rolled over several segments.
  auto stats = NewAdmin().Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->info["flush_policy"], "sync");
  EXPECT_GE(stats->counters["log_segments"], kCycles);
}

// A consumer group acks a prefix of the topic and leaves a few messages leased but unacked;
// the broker is killed while idle. Offsets are flushed about once a second, so acked messages
// may come back; nothing that was not acked may be missing.
TEST_F(CrashTest, KillWhileIdleLosesNoConsumerProgressBeyondAtLeastOnce) {
  const std::string topic = "crash-idle";
  const std::string group = "idle-group";
  constexpr int kMessages = 400;
  constexpr size_t kAckFirst = 200;
  {
    Admin admin = NewAdmin();
    auto created = admin.CreateTopic(topic, kQueues);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    auto g = admin.CreateGroup(group);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
  }
  {
    auto producer = Producer::NewBuilder().Endpoint(broker_.address()).Build();
    ASSERT_TRUE(producer.ok()) << producer.status().ToString();
    for (int i = 0; i < kMessages; ++i) {
      auto msg = Message::NewBuilder().Topic(topic).Body("idle-" + std::to_string(i)).Build();
      ASSERT_TRUE(msg.ok());
      auto r = producer->Send(*msg);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }

  std::set<std::string> acked_before;
  size_t leased_unacked = 0;
  {
    auto consumer = SimpleConsumer::NewBuilder()
                        .Endpoint(broker_.address())
                        .Group(group)
                        .Topic(topic)
                        .AwaitDuration(1000)
                        .LeaseDuration(120'000)
                        .Build();
    ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
    while (acked_before.size() < kAckFirst) {
      auto batch = consumer->Receive(32);
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      ASSERT_FALSE(batch->empty()) << "ran dry after " << acked_before.size() << " acks";
      for (const auto& m : *batch) {
        if (acked_before.size() >= kAckFirst) {
          ++leased_unacked;  // left leased: must come back after the crash
          continue;
        }
        Status st = consumer->Ack(m);
        ASSERT_TRUE(st.ok()) << st.ToString();
        acked_before.insert(m.body());
      }
    }
    auto more = consumer->Receive(8);  // a few more leased, never settled
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    leased_unacked += more->size();
  }
  EXPECT_GT(leased_unacked, 0u);

  ASSERT_TRUE(broker_.Kill()) << "the broker died before the SIGKILL";
  Status st = broker_.Start();
  ASSERT_TRUE(st.ok()) << st.ToString();

  Drained drained = DrainTopic(broker_.address(), topic, group, 4 * kMessages);
  ASSERT_TRUE(drained.error.empty()) << drained.error;
  std::set<std::string> received_after;
  for (const auto& m : drained.messages) {
    EXPECT_EQ(m.body().rfind("idle-", 0), 0u) << "a message nobody sent: " << m.body();
    received_after.insert(m.body());
  }
  std::vector<std::string> lost;
  for (int i = 0; i < kMessages; ++i) {
    std::string body = "idle-" + std::to_string(i);
    if (!acked_before.count(body) && !received_after.count(body)) lost.push_back(body);
  }
  EXPECT_TRUE(lost.empty()) << lost.size() << " messages neither acked before the crash nor "
                            << "delivered after it, e.g. " << lost.front();
  EXPECT_GE(received_after.size(), static_cast<size_t>(kMessages) - kAckFirst);
}

}  // namespace
}  // namespace tidemq::testing
