// Transaction check-backs routed through ProducerChannels (broker/core/producer_channel.h):
// the core picks a live channel of the half's producer group, hands it a neutral TxnCheck,
// and a CheckAnswer on that channel ends the transaction. Fake channels, virtual time.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>

#include "tests/broker/core/core_fixture.h"

namespace tidemq::broker {
namespace {

class FakeChannel final : public ProducerChannel {
 public:
  explicit FakeChannel(uint64_t id) : id_(id) {}

  struct Sent {
    uint64_t request_id;
    std::string message_id;
    std::string body;
    int64_t half_offset;
    std::string producer_group;
    uint32_t check_number;
  };

  uint64_t channel_id() const override { return id_; }
  bool closed() const override { return closed_.load(); }
  void SendCheck(const TxnCheck& c) override {
    std::lock_guard lock(mu_);
    sent_.push_back(Sent{c.request_id, c.half->message_id, c.half->body, c.half_offset.value(),
                         c.producer_group, c.check_number});
  }

  void Close() { closed_ = true; }
  std::vector<Sent> sent() const {
    std::lock_guard lock(mu_);
    return sent_;
  }

 private:
  const uint64_t id_;
  std::atomic<bool> closed_{false};
  mutable std::mutex mu_;
  std::vector<Sent> sent_;
};

class ProducerChannelTest : public CoreTest {
 protected:
  void SetUp() override {
    config_.txn_check_timeout_ms = 1000;
    CoreTest::SetUp();
    ASSERT_TRUE(CreateTopic("orders", 1).ok());
  }

  std::shared_ptr<FakeChannel> Producer(const std::string& group) {
    auto channel = std::make_shared<FakeChannel>(core_->NewChannelId());
    HeartbeatCommand hb;
    hb.client_id = "producer-" + group;
    hb.producer_groups.push_back(group);
    EXPECT_TRUE(messages().Heartbeat(hb, channel).ok());
    return channel;
  }

  void SendHalf(const std::string& group, const std::string& id) {
    SendCommand c;
    c.half = true;
    c.producer_group = group;
    c.messages.push_back(Message("orders", id, "payload-" + id));
    Sent sent = SendSync(std::move(c));
    ASSERT_TRUE(sent.status.ok()) << sent.status.ToString();
  }
};

TEST_F(ProducerChannelTest, CheckGoesToAChannelOfTheHalfsGroupAndItsAnswerCommits) {
  auto payments = Producer("payments");
  auto shipping = Producer("shipping");
  SendHalf("payments", "order-1");
  clock_.AdvanceMs(1500);  // past the check timeout
  ASSERT_TRUE(WaitUntil([&] { return !payments->sent().empty(); }));
  const FakeChannel::Sent check = payments->sent().front();
  EXPECT_EQ(check.message_id, "order-1");
  EXPECT_EQ(check.body, "payload-order-1");
  EXPECT_EQ(check.producer_group, "payments");
  EXPECT_EQ(check.check_number, 1u);
  EXPECT_TRUE(shipping->sent().empty());

  CheckAnswer answer;
  answer.request_id = check.request_id;
  answer.answered = true;
  answer.action = txn::TxnAction::kCommit;
  messages().CheckAnswered(*payments, answer);
  ASSERT_TRUE(WaitUntil([&] { return admin().TxnStats().index.committed == 1; }));
  EXPECT_EQ(admin().TxnStats().checks.answers_commit, 1);
  // The committed message is visible in its topic.
  ReceiveCommand rc;
  rc.args.group = "billing";
  rc.args.topic = "orders";
  rc.wait_ms = 10'000;
  auto waiter = std::make_shared<FakeWaiter>();
  messages().Receive(rc, *waiter);
  ASSERT_TRUE(WaitUntil([&] { return waiter->completions() == 1; }));
  ASSERT_TRUE(waiter->result().ok());
  ASSERT_EQ(waiter->result()->size(), 1u);
  EXPECT_EQ(waiter->result()->front().record.message_id, "order-1");
}

TEST_F(ProducerChannelTest, AnswerFromAnotherChannelMatchesNoCheck) {
  auto payments = Producer("payments");
  auto stranger = Producer("shipping");
  SendHalf("payments", "order-2");
  clock_.AdvanceMs(1500);
  ASSERT_TRUE(WaitUntil([&] { return !payments->sent().empty(); }));
  CheckAnswer answer;
  answer.request_id = payments->sent().front().request_id;
  answer.answered = true;
  answer.action = txn::TxnAction::kCommit;
  messages().CheckAnswered(*stranger, answer);
  EXPECT_EQ(admin().TxnStats().checks.answers_unmatched, 1);
  EXPECT_EQ(admin().TxnStats().index.pending, 1);
}

TEST_F(ProducerChannelTest, ClosedChannelGetsNoChecksAndItsGroupWaits) {
  auto payments = Producer("payments");
  payments->Close();
  messages().ChannelClosed(*payments);
  SendHalf("payments", "order-3");
  clock_.AdvanceMs(1500);
  ASSERT_TRUE(WaitUntil([&] { return admin().TxnStats().checks.waiting_groups == 1; }));
  EXPECT_TRUE(payments->sent().empty());
  // A new producer of the group gets the check.
  auto again = Producer("payments");
  ASSERT_TRUE(WaitUntil([&] { return !again->sent().empty(); }));
  EXPECT_EQ(again->sent().front().message_id, "order-3");
}

}  // namespace
}  // namespace tidemq::broker
