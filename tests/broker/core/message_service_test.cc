// MessageService send admission and classification (broker/core/message_service.h) without a
// socket: what becomes a plain, scheduled or half record, which queue a message goes to, and
// what is refused with which code.
#include <gtest/gtest.h>

#include "tests/broker/core/core_fixture.h"

namespace tidemq::broker {
namespace {

class MessageServiceTest : public CoreTest {
 protected:
  void SetUp() override {
    CoreTest::SetUp();
    ASSERT_TRUE(CreateTopic("orders", 4).ok());
  }
};

TEST_F(MessageServiceTest, PlainMessageIsStoredInTheQueueAskedFor) {
  SendMessage m = Message("orders", "m-1");
  m.queue_id = 2;
  Sent sent = SendOne(std::move(m));
  ASSERT_TRUE(sent.status.ok()) << sent.status.ToString();
  ASSERT_EQ(sent.receipts.queues.size(), 1u);
  EXPECT_EQ(sent.receipts.queues[0], 2u);
  EXPECT_EQ(sent.receipts.appended[0].queue_offset, 0);  // visible at once
  EXPECT_EQ(Counter("messages_in"), 1);
  EXPECT_EQ(Counter("bytes_in"), 4);
}

TEST_F(MessageServiceTest, MessageGroupPinsOneQueue) {
  SendCommand c;
  for (int i = 0; i < 8; ++i) {
    SendMessage m = Message("orders", "g-" + std::to_string(i));
    m.message_group = "order-42";
    c.messages.push_back(std::move(m));
  }
  Sent sent = SendSync(std::move(c));
  ASSERT_TRUE(sent.status.ok()) << sent.status.ToString();
  for (uint32_t q : sent.receipts.queues) EXPECT_EQ(q, sent.receipts.queues[0]);
  for (size_t i = 0; i < sent.receipts.appended.size(); ++i) {
    EXPECT_EQ(sent.receipts.appended[i].queue_offset, static_cast<int64_t>(i));  // in order
  }
}

TEST_F(MessageServiceTest, FutureDueTimeIsScheduledAndPastOneDeliveredAtOnce) {
  SendMessage later = Message("orders", "later");
  later.delay_ms = 60'000;
  Sent sent = SendOne(std::move(later));
  ASSERT_TRUE(sent.status.ok()) << sent.status.ToString();
  EXPECT_EQ(sent.receipts.appended[0].queue_offset, -1);  // waits in the timer
  EXPECT_TRUE(WaitUntil([&] { return admin().TimerStats().stats.pending == 1; }));
  auto shown = admin().ShowScheduled("later");
  ASSERT_TRUE(shown.ok()) << shown.status().ToString();
  EXPECT_EQ(shown->entry.due_ms, clock_.NowMs() + 60'000);

  SendMessage past = Message("orders", "past");
  past.deliver_at_ms = clock_.NowMs() - 1000;
  sent = SendOne(std::move(past));
  ASSERT_TRUE(sent.status.ok()) << sent.status.ToString();
  EXPECT_GE(sent.receipts.appended[0].queue_offset, 0);
  EXPECT_EQ(admin().TimerStats().stats.pending, 1);
}

TEST_F(MessageServiceTest, HalfMessageNeedsAProducerGroupAndIsPending) {
  SendCommand no_group;
  no_group.half = true;
  no_group.messages.push_back(Message("orders", "h-1"));
  EXPECT_EQ(SendSync(std::move(no_group)).status.code(), Code::kInvalidArgument);

  SendCommand reserved;
  reserved.half = true;
  reserved.producer_group = "payments";
  SendMessage m = Message("orders", "h-2");
  m.properties.emplace_back(std::string(txn::kTxnPropertyPrefix) + "X", "1");
  reserved.messages.push_back(std::move(m));
  EXPECT_EQ(SendSync(std::move(reserved)).status.code(), Code::kInvalidArgument);

  SendCommand half;
  half.half = true;
  half.producer_group = "payments";
  half.messages.push_back(Message("orders", "h-3"));
  Sent sent = SendSync(std::move(half));
  ASSERT_TRUE(sent.status.ok()) << sent.status.ToString();
  EXPECT_EQ(sent.receipts.appended[0].queue_offset, -1);  // invisible until committed
  EXPECT_TRUE(WaitUntil([&] { return admin().TxnStats().index.pending == 1; }));
  auto txn = admin().ShowTxn("h-3", -1);
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  EXPECT_EQ(txn->producer_group, "payments");
  EXPECT_EQ(txn->timeout_ms, config_.txn_check_timeout_ms);
}

TEST_F(MessageServiceTest, BadSendsAreRefusedWithTypedErrors) {
  EXPECT_EQ(SendSync(SendCommand{}).status.code(), Code::kInvalidArgument);  // no message
  EXPECT_EQ(SendOne(Message("%DLQ%billing", "x")).status.code(), Code::kInvalidArgument);
  EXPECT_EQ(SendOne(Message("nowhere", "x")).status.code(), Code::kTopicNotFound);
  EXPECT_EQ(SendOne(Message("orders", "")).status.code(), Code::kInvalidArgument);
  EXPECT_EQ(SendOne(Message("orders", "big", std::string(config_.max_message_bytes + 1, 'x')))
                .status.code(),
            Code::kTooLarge);
  SendMessage both = Message("orders", "both");
  both.delay_ms = 10;
  both.deliver_at_ms = clock_.NowMs() + 10;
  EXPECT_EQ(SendOne(std::move(both)).status.code(), Code::kInvalidArgument);
  SendMessage far = Message("orders", "far");
  far.delay_ms = (config_.max_schedule_days + 1) * 24 * 3600 * 1000;
  EXPECT_EQ(SendOne(std::move(far)).status.code(), Code::kInvalidArgument);
  SendMessage no_queue = Message("orders", "q");
  no_queue.queue_id = 4;
  EXPECT_EQ(SendOne(std::move(no_queue)).status.code(), Code::kInvalidArgument);
  EXPECT_EQ(Counter("messages_in"), 0);
  EXPECT_GE(Counter("send_errors"), 6);
}

TEST_F(MessageServiceTest, EndTxnCommitsTheHalfAndRefusesTheOpposite) {
  SendCommand half;
  half.half = true;
  half.producer_group = "payments";
  half.messages.push_back(Message("orders", "t-1"));
  ASSERT_TRUE(SendSync(std::move(half)).status.ok());
  auto end = [&](TxnResolution resolution) {
    std::promise<Result<EndOutcome>> done;
    EndTxnCommand c;
    c.resolution = resolution;
    c.message_id = "t-1";
    messages().EndTxn(c, [&done](Result<EndOutcome> r) { done.set_value(std::move(r)); });
    return done.get_future().get();
  };
  EXPECT_EQ(end(TxnResolution::kUnknown).status().code(), Code::kInvalidArgument);
  auto committed = end(TxnResolution::kCommit);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_FALSE(committed->already_done);
  EXPECT_NE(committed->committed_at, kNoLogOffset);
  EXPECT_TRUE(WaitUntil([&] { return admin().TxnStats().index.committed == 1; }));
  EXPECT_TRUE(end(TxnResolution::kCommit)->already_done);
  EXPECT_EQ(end(TxnResolution::kRollback).status().code(), Code::kTxnConflict);
}

}  // namespace
}  // namespace tidemq::broker
