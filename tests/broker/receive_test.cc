// RECEIVE replies bounded by bytes as well as count, and deliveries that never reached the
// client given back without burning an attempt (issue 10, item 6), on a real in-process broker.
#include <set>
#include <thread>

#include "tests/broker/broker_fixture.h"
#include "tests/broker/raw_socket.h"

namespace tidemq::testing {
namespace {

class ReceiveTest : public BrokerTest {
 protected:
  void SetUp() override {
    config_.max_receive_bytes = 512 << 10;
    BrokerTest::SetUp();
    c_ = Connect();
    ASSERT_EQ(c_->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  }
  void TearDown() override {
    c_.reset();
    BrokerTest::TearDown();
  }
  int64_t Counter(const std::string& name) {
    wire::Header s;
    s.set_kind(wire::STATS);
    wire::Frame f = c_->Call(s);
    const auto& counters = f.header.stats_response().counters();
    auto it = counters.find(name);
    return it == counters.end() ? -1 : it->second;
  }

  std::unique_ptr<WireClient> c_;
};

TEST_F(ReceiveTest, RepliesAreBoundedByBytesAndEveryMessageStillArrives) {
  // Ten 200 KiB messages: a 512 KiB reply holds two of them.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(Send(*c_, "t", {{std::string(200 << 10, static_cast<char>('a' + i))}}).header.code(),
              wire::OK);
  }
  std::set<std::string> bodies;
  for (int round = 0; round < 5; ++round) {
    auto got = Receive(*c_, "g", "t", 32, 0);
    EXPECT_EQ(got.size(), 2u) << "round " << round;
    for (const auto& m : got) {
      EXPECT_EQ(m.meta.delivery_attempt(), 1u);
      bodies.insert(m.body);
      EXPECT_EQ(Ack(*c_, "g", "t", m.meta.receipt_handle()), wire::OK);
    }
  }
  EXPECT_EQ(bodies.size(), 10u);
  EXPECT_TRUE(Receive(*c_, "g", "t", 32, 0).empty());
}

TEST_F(ReceiveTest, AMessageLargerThanTheBoundIsDeliveredAlone) {
  ASSERT_EQ(Send(*c_, "t", {{std::string(900 << 10, 'x')}}).header.code(), wire::OK);
  ASSERT_EQ(Send(*c_, "t", {{"small"}}).header.code(), wire::OK);
  auto got = Receive(*c_, "g", "t", 32, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body.size(), 900u << 10);
  got = Receive(*c_, "g", "t", 32, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "small");
}

TEST_F(ReceiveTest, ADeliveryThatNeverReachedTheClientDoesNotCountAnAttempt) {
  // A receive parks, then its client vanishes (reset) before anything arrives.
  {
    RawSocket gone(broker_->port());
    wire::Header h;
    h.set_kind(wire::RECEIVE);
    h.set_request_id(1);
    auto* r = h.mutable_receive_request();
    r->set_group("g");
    r->set_topic("t");
    r->set_wait_ms(30'000);
    std::string frame;
    wire::EncodeFrame(h, std::string_view(), &frame);
    ASSERT_TRUE(gone.Write(frame));
    for (int i = 0; i < 2000 && Counter("long_polls_parked") < 1; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ASSERT_EQ(Counter("long_polls_parked"), 1);
    gone.Reset();
  }
  for (int i = 0; i < 2000 && Counter("connections") > 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(Counter("connections"), 1);
  // The message wakes the orphaned receive: its lease is taken, the reply cannot be written.
  ASSERT_EQ(Send(*c_, "t", {{"m"}}).header.code(), wire::OK);
  for (int i = 0; i < 2000 && Counter("messages_delivered") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(Counter("messages_delivered"), 1);
  // Without any lease lapsing (the clock stands still), another member gets it, attempt 1.
  auto other = Connect();
  auto got = Receive(*other, "g", "t", 1, 10'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "m");
  EXPECT_EQ(got[0].meta.delivery_attempt(), 1u);
  EXPECT_EQ(Counter("deliveries_unsent"), 1);
}

}  // namespace
}  // namespace tidemq::testing
