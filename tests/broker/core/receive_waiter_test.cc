// Receives through the core's transport-neutral waiter (MessageService::Receive): completed at
// once when messages are there, parked until a message arrives or the wait runs out, refused
// when the transport has no room; deliveries that never reached the consumer come back.
#include <gtest/gtest.h>

#include "tests/broker/core/core_fixture.h"

namespace tidemq::broker {
namespace {

class ReceiveWaiterTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    ASSERT_TRUE(CreateTopic("orders", 2).ok());
  }

  static ReceiveCommand Receive(int64_t wait_ms) {
    ReceiveCommand c;
    c.args.group = "billing";
    c.args.topic = "orders";
    c.wait_ms = wait_ms;
    return c;
  }
};

TEST_F(ReceiveWaiterTest, NoWaitCompletesAtOnceWithWhatThereIs) {
  auto empty = std::make_shared<FakeWaiter>();
  messages().Receive(Receive(0), *empty);
  ASSERT_EQ(empty->completions(), 1);  // inline, before Receive returned
  ASSERT_TRUE(empty->result().ok());
  EXPECT_TRUE(empty->result()->empty());

  ASSERT_TRUE(SendOne(Message("orders", "m-1", "hello")).status.ok());
  auto one = std::make_shared<FakeWaiter>();
  messages().Receive(Receive(0), *one);
  ASSERT_EQ(one->completions(), 1);
  EXPECT_EQ(one->parks(), 0);  // answered at once: nothing parked, nothing allocated for it
  ASSERT_EQ(one->result()->size(), 1u);
  const Delivery& d = one->result()->front();
  EXPECT_EQ(d.record.message_id, "m-1");
  EXPECT_EQ(d.record.body, "hello");
  EXPECT_EQ(d.attempt, 1u);
  EXPECT_FALSE(d.receipt.empty());
}

TEST_F(ReceiveWaiterTest, ParkedReceiveCompletesWhenAMessageArrives) {
  auto waiter = std::make_shared<FakeWaiter>();
  messages().Receive(Receive(60'000), *waiter);
  EXPECT_EQ(waiter->completions(), 0);
  EXPECT_EQ(waiter->parks(), 1);
  EXPECT_EQ(Counter("long_polls_parked"), 1);
  ASSERT_TRUE(SendOne(Message("orders", "m-2", "late")).status.ok());
  ASSERT_TRUE(WaitUntil([&] { return waiter->completions() == 1; }));
  ASSERT_TRUE(waiter->result().ok());
  ASSERT_EQ(waiter->result()->size(), 1u);
  EXPECT_EQ(waiter->result()->front().record.body, "late");
  EXPECT_EQ(Counter("long_polls_parked"), 0);
}

TEST_F(ReceiveWaiterTest, ParkedReceiveCompletesEmptyWhenTheWaitRunsOut) {
  auto waiter = std::make_shared<FakeWaiter>();
  messages().Receive(Receive(20), *waiter);
  ASSERT_TRUE(WaitUntil([&] { return waiter->completions() == 1; }));
  ASSERT_TRUE(waiter->result().ok());
  EXPECT_TRUE(waiter->result()->empty());
}

TEST_F(ReceiveWaiterTest, NoRoomForAReplyRefusesTheReceive) {
  ASSERT_TRUE(SendOne(Message("orders", "m-3")).status.ok());
  auto waiter = std::make_shared<FakeWaiter>(Status(Code::kResourceExhausted, "full"));
  messages().Receive(Receive(0), *waiter);
  ASSERT_EQ(waiter->completions(), 1);
  EXPECT_EQ(waiter->result().status().code(), Code::kResourceExhausted);
  EXPECT_EQ(Counter("receives_refused"), 1);
  EXPECT_EQ(Counter("messages_delivered"), 0);
}

TEST_F(ReceiveWaiterTest, BadWaitIsRefused) {
  auto waiter = std::make_shared<FakeWaiter>();
  messages().Receive(Receive(config_.max_wait_ms + 1), *waiter);
  ASSERT_EQ(waiter->completions(), 1);
  EXPECT_EQ(waiter->result().status().code(), Code::kInvalidArgument);
}

TEST_F(ReceiveWaiterTest, UnsentDeliveriesComeBackWithoutCountingTheAttempt) {
  ASSERT_TRUE(SendOne(Message("orders", "m-4")).status.ok());
  auto first = std::make_shared<FakeWaiter>();
  messages().Receive(Receive(0), *first);
  ASSERT_EQ(first->result()->size(), 1u);
  messages().ReleaseUnsent("billing", "orders", {first->result()->front().receipt});
  EXPECT_EQ(Counter("deliveries_unsent"), 1);
  auto again = std::make_shared<FakeWaiter>();
  messages().Receive(Receive(0), *again);
  ASSERT_EQ(again->result()->size(), 1u);
  EXPECT_EQ(again->result()->front().record.message_id, "m-4");
  EXPECT_EQ(again->result()->front().attempt, 1u);
  EXPECT_TRUE(messages().Ack("billing", again->result()->front().receipt).ok());
  EXPECT_EQ(messages().Ack("billing", again->result()->front().receipt).code(),
            Code::kReceiptInvalid);
}

}  // namespace
}  // namespace tidemq::broker
