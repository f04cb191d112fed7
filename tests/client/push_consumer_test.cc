#include "tidemq/push_consumer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "tests/client/fake_broker.h"

namespace tidemq {
namespace {

using client::testing::FakeBroker;

TEST(PushConsumerTest, AcksSuccessNacksRetryAndExceptions) {
  FakeBroker broker;
  auto consumer =
      PushConsumer::NewBuilder()
          .Endpoint(broker.endpoint())
          .Group("g")
          .Topic("orders")
          .ConsumerThreads(2)
          .MaxInflight(8)
          .AwaitDuration(60000)
          .Listener([](const ReceivedMessage& m) {
            if (m.body() == "throw") throw std::runtime_error("boom");
            return m.body() == "ok" ? ConsumeResult::kSuccess : ConsumeResult::kRetryLater;
          })
          .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  broker.Accept();
  ASSERT_TRUE(consumer->Start().ok());
  EXPECT_EQ(consumer->Start().code(), Code::kFailedPrecondition);

  wire::Frame receive = broker.ReadFrame();
  ASSERT_EQ(receive.header.kind(), wire::RECEIVE);
  EXPECT_EQ(receive.header.receive_request().max_messages(), 8u);
  wire::Header resp;
  std::string bodies;
  for (std::string body : {"ok", "retry", "throw"}) {
    auto* m = resp.mutable_receive_response()->add_messages();
    m->set_topic("orders");
    m->set_message_id("id-" + body);
    m->set_receipt_handle("h-" + body);
    m->set_body_size(static_cast<uint32_t>(body.size()));
    bodies += body;
  }
  broker.Respond(receive, resp, bodies);

  // Three settlements arrive in any order, possibly mixed with the next long poll.
  std::map<std::string, wire::RequestKind> settled;
  while (settled.size() < 3) {
    wire::Frame f = broker.ReadFrame();
    if (f.header.kind() == wire::RECEIVE) continue;  // left hanging: Shutdown abandons it
    ASSERT_TRUE(f.header.kind() == wire::ACK || f.header.kind() == wire::NACK);
    const auto& handles = f.header.kind() == wire::ACK ? f.header.ack_request().receipt_handles()
                                                       : f.header.nack_request().receipt_handles();
    ASSERT_EQ(handles.size(), 1);
    settled[handles[0]] = f.header.kind();
    broker.Respond(f, wire::Header());
  }
  EXPECT_EQ(settled["h-ok"], wire::ACK);
  EXPECT_EQ(settled["h-retry"], wire::NACK);
  EXPECT_EQ(settled["h-throw"], wire::NACK);

  consumer->Shutdown();  // returns although a long poll is outstanding
  EXPECT_EQ(consumer->consumed(), 1u);
  EXPECT_EQ(consumer->failed(), 2u);
}

using namespace std::chrono_literals;

static_assert(ConsumeResult::kSuccess.success());
static_assert(!ConsumeResult::kRetryLater.success());
static_assert(ConsumeResult::RetryLater(0ms) == ConsumeResult::kRetryLater);
static_assert(ConsumeResult::RetryLater(-5s) == ConsumeResult::kRetryLater);
static_assert(ConsumeResult::RetryLater(1500ms).retry_delay() == 1500ms);
static_assert(ConsumeResult::RetryLater(std::chrono::hours(48)).retry_delay() ==
              ConsumeResult::kMaxRetryDelay);

TEST(ConsumeResultTest, IsAValueWithEquality) {
  ConsumeResult r = ConsumeResult::kSuccess;
  EXPECT_TRUE(r == ConsumeResult::kSuccess);
  EXPECT_FALSE(r == ConsumeResult::kRetryLater);
  r = ConsumeResult::RetryLater(2s);
  EXPECT_FALSE(r.success());
  EXPECT_EQ(r.retry_delay(), 2000ms);
  EXPECT_NE(r, ConsumeResult::kRetryLater);  // a delay is not the group's back-off
  EXPECT_EQ(r, ConsumeResult::RetryLater(2000ms));
  EXPECT_EQ(ConsumeResult::kSuccess.retry_delay(), 0ms);
}

// One message per body, handle "h-<body>", in one RECEIVE reply.
wire::Header Batch(const std::vector<std::string>& bodies, std::string* payload) {
  wire::Header resp;
  for (const auto& body : bodies) {
    auto* m = resp.mutable_receive_response()->add_messages();
    m->set_topic("orders");
    m->set_message_id("id-" + body);
    m->set_receipt_handle("h-" + body);
    m->set_delivery_attempt(1);
    m->set_body_size(static_cast<uint32_t>(body.size()));
    *payload += body;
  }
  return resp;
}

// The next frame that is not a RECEIVE (the consumer's next long polls are left hanging).
wire::Frame NextSettlement(FakeBroker& broker) {
  while (true) {
    wire::Frame f = broker.ReadFrame();
    if (f.header.kind() != wire::RECEIVE) return f;
  }
}

// A gate a listener waits at until the test opens it.
class Gate {
 public:
  void Arrive() {
    std::unique_lock lock(mu_);
    arrived_ = true;
    cv_.notify_all();
    cv_.wait(lock, [this] { return open_; });
  }
  void AwaitArrival() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [this] { return arrived_; });
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

TEST(PushConsumerTest, NackCarriesTheListenersDelay) {
  FakeBroker broker;
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(broker.endpoint())
                      .Group("g")
                      .Topic("orders")
                      .ConsumerThreads(2)
                      .AwaitDuration(60000)
                      .Listener([](const ReceivedMessage& m) {
                        if (m.body() == "later") return ConsumeResult::RetryLater(1500ms);
                        if (m.body() == "throw") throw std::runtime_error("boom");
                        return ConsumeResult::kRetryLater;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  broker.Accept();
  ASSERT_TRUE(consumer->Start().ok());
  wire::Frame receive = broker.ReadFrame();
  std::string payload;
  wire::Header batch = Batch({"later", "throw", "backoff"}, &payload);
  broker.Respond(receive, batch, payload);

  std::map<std::string, wire::NackRequest> nacks;
  while (nacks.size() < 3) {
    wire::Frame f = NextSettlement(broker);
    ASSERT_EQ(f.header.kind(), wire::NACK);
    ASSERT_EQ(f.header.nack_request().receipt_handles_size(), 1);
    nacks[f.header.nack_request().receipt_handles(0)] = f.header.nack_request();
    broker.Respond(f, wire::Header());
  }
  EXPECT_EQ(nacks["h-later"].delay_ms(), 1500);
  EXPECT_EQ(nacks["h-throw"].delay_ms(), 0);  // 0: the group's back-off
  EXPECT_EQ(nacks["h-backoff"].delay_ms(), 0);
  for (const auto& [_, n] : nacks) EXPECT_FALSE(n.release());
  consumer->Shutdown();
  EXPECT_EQ(consumer->failed(), 3u);
  EXPECT_EQ(consumer->released(), 0u);
}

TEST(PushConsumerTest, RenewsTheLeaseOfALongHandlerAndSettlesWithTheNewestHandle) {
  FakeBroker broker;
  Gate gate;
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(broker.endpoint())
                      .Group("g")
                      .Topic("orders")
                      .LeaseDuration(1000)
                      .AwaitDuration(60000)
                      .Listener([&](const ReceivedMessage&) {
                        gate.Arrive();
                        return ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  broker.Accept();
  ASSERT_TRUE(consumer->Start().ok());
  wire::Frame receive = broker.ReadFrame();
  std::string payload;
  wire::Header batch = Batch({"slow"}, &payload);
  broker.Respond(receive, batch, payload);
  gate.AwaitArrival();

  // Each renewal names the handle the previous one returned.
  std::string current = "h-slow";
  for (int i = 1; i <= 2; ++i) {
    wire::Frame f = NextSettlement(broker);
    ASSERT_EQ(f.header.kind(), wire::CHANGE_LEASE);
    EXPECT_EQ(f.header.change_lease_request().receipt_handle(), current);
    EXPECT_EQ(f.header.change_lease_request().lease_ms(), 1000);
    EXPECT_EQ(f.header.change_lease_request().group(), "g");
    current = "h-slow-" + std::to_string(i);
    wire::Header resp;
    resp.mutable_change_lease_response()->set_receipt_handle(current);
    broker.Respond(f, resp);
  }
  gate.Open();
  // A renewal may still slip in before the listener's return is seen; the ack names the last.
  while (true) {
    wire::Frame f = NextSettlement(broker);
    if (f.header.kind() == wire::CHANGE_LEASE) {
      EXPECT_EQ(f.header.change_lease_request().receipt_handle(), current);
      current += "+";
      wire::Header resp;
      resp.mutable_change_lease_response()->set_receipt_handle(current);
      broker.Respond(f, resp);
      continue;
    }
    ASSERT_EQ(f.header.kind(), wire::ACK);
    ASSERT_EQ(f.header.ack_request().receipt_handles_size(), 1);
    EXPECT_EQ(f.header.ack_request().receipt_handles(0), current);
    broker.Respond(f, wire::Header());
    break;
  }
  consumer->Shutdown();
  EXPECT_GE(consumer->lease_renewals(), 2u);
  EXPECT_EQ(consumer->consumed(), 1u);
}

TEST(PushConsumerTest, ShutdownReleasesUnstartedMessagesAndSettlesRunningOnes) {
  FakeBroker broker;
  Gate gate;
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(broker.endpoint())
                      .Group("g")
                      .Topic("orders")
                      .ConsumerThreads(1)
                      .MaxInflight(8)
                      .AwaitDuration(60000)
                      .Listener([&](const ReceivedMessage& m) {
                        if (m.body() == "first") gate.Arrive();
                        return ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  broker.Accept();
  ASSERT_TRUE(consumer->Start().ok());
  wire::Frame receive = broker.ReadFrame();
  std::string payload;
  wire::Header batch = Batch({"first", "second", "third"}, &payload);
  broker.Respond(receive, batch, payload);
  gate.AwaitArrival();  // the one worker holds "first"; the others wait in the queue

  std::thread stopper([&] { consumer->Shutdown(); });
  wire::Frame release = NextSettlement(broker);
  ASSERT_EQ(release.header.kind(), wire::NACK);
  const auto& nr = release.header.nack_request();
  EXPECT_TRUE(nr.release());
  EXPECT_EQ(nr.delay_ms(), 0);
  ASSERT_EQ(nr.receipt_handles_size(), 2);  // one request for all of them
  EXPECT_EQ(nr.receipt_handles(0), "h-second");
  EXPECT_EQ(nr.receipt_handles(1), "h-third");
  broker.Respond(release, wire::Header());

  gate.Open();  // Shutdown waits for the running listener, then settles it
  wire::Frame ack = NextSettlement(broker);
  ASSERT_EQ(ack.header.kind(), wire::ACK);
  EXPECT_EQ(ack.header.ack_request().receipt_handles(0), "h-first");
  broker.Respond(ack, wire::Header());
  stopper.join();
  EXPECT_EQ(consumer->consumed(), 1u);
  EXPECT_EQ(consumer->released(), 2u);
  consumer->Shutdown();  // idempotent
}

TEST(PushConsumerTest, ALongPollAnsweredDuringShutdownIsReleased) {
  FakeBroker broker;
  Gate gate;
  auto consumer = PushConsumer::NewBuilder()
                      .Endpoint(broker.endpoint())
                      .Group("g")
                      .Topic("orders")
                      .ConsumerThreads(1)
                      .AwaitDuration(60000)
                      .Listener([&](const ReceivedMessage& m) {
                        if (m.body() == "first") gate.Arrive();
                        return ConsumeResult::kSuccess;
                      })
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  broker.Accept();
  ASSERT_TRUE(consumer->Start().ok());
  wire::Frame receive = broker.ReadFrame();
  std::string payload;
  wire::Header batch = Batch({"first"}, &payload);
  broker.Respond(receive, batch, payload);
  gate.AwaitArrival();
  wire::Frame open_poll = broker.ReadFrame();  // the next long poll, left open
  ASSERT_EQ(open_poll.header.kind(), wire::RECEIVE);

  std::thread stopper([&] { consumer->Shutdown(); });
  // The broker answers the open poll anyway: nobody will process those, so they go back.
  std::string late_payload;
  wire::Header late = Batch({"late-1", "late-2"}, &late_payload);
  broker.Respond(open_poll, late, late_payload);
  std::vector<std::string> released;
  while (released.size() < 2) {
    wire::Frame f = NextSettlement(broker);
    ASSERT_EQ(f.header.kind(), wire::NACK);
    EXPECT_TRUE(f.header.nack_request().release());
    for (const auto& h : f.header.nack_request().receipt_handles()) released.push_back(h);
    broker.Respond(f, wire::Header());
  }
  EXPECT_EQ(released, (std::vector<std::string>{"h-late-1", "h-late-2"}));
  gate.Open();
  wire::Frame ack = NextSettlement(broker);
  ASSERT_EQ(ack.header.kind(), wire::ACK);
  EXPECT_EQ(ack.header.ack_request().receipt_handles(0), "h-first");
  broker.Respond(ack, wire::Header());
  stopper.join();
  EXPECT_EQ(consumer->consumed(), 1u);
}

TEST(PushConsumerTest, BuildValidatesMaxProcessingTime) {
  auto listener = [](const ReceivedMessage&) { return ConsumeResult::kSuccess; };
  EXPECT_EQ(PushConsumer::NewBuilder()
                .Group("g")
                .Topic("t")
                .Listener(listener)
                .MaxProcessingTime(-1)
                .Build()
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(PushConsumer::NewBuilder()
                .Group("g")
                .Topic("t")
                .Listener(listener)
                .MaxProcessingTime(25 * 3600 * 1000LL)
                .Build()
                .status()
                .code(),
            Code::kInvalidArgument);
}

TEST(PushConsumerTest, BuildNeedsListener) {
  EXPECT_EQ(PushConsumer::NewBuilder().Group("g").Topic("t").Build().status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace tidemq
