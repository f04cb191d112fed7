// Retries and dead letters through a real in-process broker, in virtual time (ManualClock):
// each back-off kind, the per-nack delay, lapsed leases, max attempts -> %DLQ%<group>, DLQ
// list / redrive / purge, FIFO retries in place, release, and retry copies across a restart.
#include <set>

#include "tests/broker/broker_fixture.h"

namespace tidemq::testing {
namespace {

class RetryTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    c_ = Connect();
    ASSERT_EQ(c_->Call(CreateTopic("t", 2)).header.code(), wire::OK);
  }
  void TearDown() override {
    c_.reset();
    BrokerTest::TearDown();
  }

  // backoff: RetryPolicy text ("" = the broker's default).
  wire::ErrorCode MakeGroup(const std::string& name, const std::string& backoff,
                            uint32_t max_attempts, bool fifo = false, bool fifo_block = false) {
    wire::Header h = CreateGroup(name, false, fifo);
    auto* c = h.mutable_create_group_request()->mutable_config();
    c->set_max_attempts(max_attempts);
    c->set_fifo_block(fifo_block);
    if (!backoff.empty()) {
      auto p = RetryPolicy::Parse(backoff);
      EXPECT_TRUE(p.ok()) << backoff;
      auto* r = c->mutable_retry();
      if (p->kind == RetryPolicy::Kind::kCustom) {
        r->set_kind(wire::RetryPolicy::CUSTOM);
        for (int64_t d : p->delays_ms) r->add_delays_ms(d);
      } else if (p->kind == RetryPolicy::Kind::kExponential) {
        r->set_kind(wire::RetryPolicy::EXPONENTIAL);
        r->set_initial_ms(p->initial_ms);
        r->set_multiplier(p->multiplier);
        r->set_max_ms(p->max_ms);
      }
    }
    return c_->Call(std::move(h)).header.code();
  }

  std::vector<Received> Get(const std::string& group, int64_t wait_ms = 0,
                            const std::string& topic = "t", int64_t lease_ms = 30'000) {
    return Receive(*c_, group, topic, 16, wait_ms, "", "", lease_ms);
  }
  // Exactly one delivery, waiting (real time) for the timer thread to notice the clock.
  Received GetOne(const std::string& group, const std::string& topic = "t") {
    auto got = Get(group, 5000, topic);
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? Received{} : got[0];
  }
  wire::ErrorCode Nack(const std::string& group, const Received& m, int64_t delay_ms = 0,
                       bool release = false) {
    wire::Header h;
    h.set_kind(wire::NACK);
    auto* n = h.mutable_nack_request();
    n->set_group(group);
    n->set_topic(m.meta.topic());
    n->set_delay_ms(delay_ms);
    n->set_release(release);
    n->add_receipt_handles(m.meta.receipt_handle());
    wire::Frame f = c_->Call(std::move(h));
    if (f.header.code() != wire::OK) return f.header.code();
    return f.header.nack_response().results(0).code();
  }
  // The failed message comes back exactly when its back-off has passed on the broker clock.
  Received ExpectBackAfter(const std::string& group, int64_t delay_ms) {
    if (delay_ms > 1) clock_.AdvanceMs(delay_ms - 1);
    EXPECT_TRUE(Get(group).empty()) << "back before its back-off of " << delay_ms << " ms";
    clock_.AdvanceMs(delay_ms > 1 ? 1 : delay_ms);
    return GetOne(group);
  }

  wire::Frame DlqList(const std::string& group, const wire::DlqFilter& filter = {},
                      bool bodies = false) {
    wire::Header h;
    h.set_kind(wire::DLQ_LIST);
    auto* l = h.mutable_dlq_list_request();
    l->set_group(group);
    *l->mutable_filter() = filter;
    l->set_after_offset(-1);
    l->set_with_bodies(bodies);
    return c_->Call(std::move(h));
  }
  wire::Frame Redrive(const std::string& group, const wire::DlqFilter& filter, bool all,
                      wire::DlqRedriveRequest::Target target) {
    wire::Header h;
    h.set_kind(wire::DLQ_REDRIVE);
    auto* r = h.mutable_dlq_redrive_request();
    r->set_group(group);
    *r->mutable_filter() = filter;
    r->set_all(all);
    r->set_target(target);
    return c_->Call(std::move(h));
  }
  wire::Frame Purge(const std::string& group, const wire::DlqFilter& filter, bool all) {
    wire::Header h;
    h.set_kind(wire::DLQ_PURGE);
    auto* p = h.mutable_dlq_purge_request();
    p->set_group(group);
    *p->mutable_filter() = filter;
    p->set_all(all);
    return c_->Call(std::move(h));
  }
  wire::GroupInfo Describe(const std::string& group) {
    wire::Header h;
    h.set_kind(wire::DESCRIBE_GROUP);
    h.mutable_describe_group_request()->set_group(group);
    return c_->Call(std::move(h)).header.describe_group_response().group();
  }
  // Sends each body with the given tag and key; returns the message ids.
  std::vector<std::string> SendAll(const std::vector<Msg>& msgs) {
    wire::Frame f = Send(*c_, "t", msgs);
    EXPECT_EQ(f.header.code(), wire::OK);
    std::vector<std::string> ids;
    for (const auto& r : f.header.send_response().results()) ids.push_back(r.message_id());
    return ids;
  }
  // Receives everything deliverable now and fails it (nack with the group's back-off).
  int FailAllNow(const std::string& group) {
    int n = 0;
    for (auto& m : Get(group)) {
      EXPECT_EQ(Nack(group, m), wire::OK);
      ++n;
    }
    return n;
  }

  std::unique_ptr<WireClient> c_;
};

TEST_F(RetryTest, CustomBackoffThenDeadLetter) {
  ASSERT_EQ(MakeGroup("g", "1s,5s", 3), wire::OK);
  SendAll({{"poison"}});
  Received first = GetOne("g");
  const int64_t failed_at = clock_.NowMs();
  ASSERT_EQ(Nack("g", first), wire::OK);
  Received second = ExpectBackAfter("g", 1000);
  EXPECT_EQ(second.meta.delivery_attempt(), 2u);
  EXPECT_EQ(second.meta.message_id(), first.meta.message_id());
  EXPECT_EQ(second.meta.topic(), "t");
  EXPECT_EQ(second.meta.first_failure_ms(), failed_at);
  EXPECT_EQ(second.body, "poison");
  ASSERT_EQ(Nack("g", second), wire::OK);
  Received third = ExpectBackAfter("g", 5000);
  EXPECT_EQ(third.meta.delivery_attempt(), 3u);
  EXPECT_EQ(third.meta.first_failure_ms(), failed_at);
  ASSERT_EQ(Nack("g", third), wire::OK);  // the third of 3 attempts: dead-lettered

  clock_.AdvanceMs(3600'000);
  EXPECT_TRUE(Get("g", 200).empty());
  wire::Frame dlq = DlqList("g", {}, /*bodies=*/true);
  ASSERT_EQ(dlq.header.code(), wire::OK) << dlq.header.error_message();
  const auto& list = dlq.header.dlq_list_response();
  EXPECT_EQ(list.total(), 1);
  ASSERT_EQ(list.messages_size(), 1);
  const wire::Message& d = list.messages(0);
  EXPECT_EQ(d.message_id(), first.meta.message_id());
  EXPECT_EQ(d.topic(), "%DLQ%g");
  EXPECT_EQ(d.original_topic(), "t");
  EXPECT_EQ(d.delivery_attempt(), 3u);
  EXPECT_EQ(d.first_failure_ms(), failed_at);
  EXPECT_EQ(d.dead_letter_reason(), "max_attempts");
  EXPECT_EQ(d.dlq_offset(), 0);
  EXPECT_EQ(dlq.body, "poison");
  wire::GroupInfo info = Describe("g");
  EXPECT_EQ(info.retried(), 2);
  EXPECT_EQ(info.dead_lettered(), 1);
  EXPECT_EQ(info.dlq_messages(), 1);
  EXPECT_EQ(info.total_lag(), 0);
  // The DLQ is readable like any topic, by any group.
  auto read = Receive(*c_, "ops", "%DLQ%g", 10, 1000);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0].body, "poison");
}

TEST_F(RetryTest, ExponentialBackoffGrowsToItsCap) {
  ASSERT_EQ(MakeGroup("g", "exponential:1s,3,20s", 6), wire::OK);
  SendAll({{"x"}});
  Received m = GetOne("g");
  uint32_t attempt = 1;
  for (int64_t delay : {1000, 3000, 9000, 20000, 20000}) {
    ASSERT_EQ(Nack("g", m), wire::OK);
    m = ExpectBackAfter("g", delay);
    EXPECT_EQ(m.meta.delivery_attempt(), ++attempt);
  }
}

TEST_F(RetryTest, DefaultLadderAndPerNackDelay) {
  ASSERT_EQ(MakeGroup("g", "", 0), wire::OK);  // the broker's defaults: ladder, 16
  wire::GroupInfo info = Describe("g");
  EXPECT_EQ(info.config().max_attempts(), 16u);
  EXPECT_EQ(info.config().retry().kind(), wire::RetryPolicy::LADDER);
  SendAll({{"a"}});
  Received m = GetOne("g");
  ASSERT_EQ(Nack("g", m), wire::OK);
  m = ExpectBackAfter("g", 10'000);
  ASSERT_EQ(Nack("g", m), wire::OK);
  m = ExpectBackAfter("g", 30'000);
  // A nack's own delay wins over the ladder (which would wait 1 m now).
  ASSERT_EQ(Nack("g", m, /*delay_ms=*/2500), wire::OK);
  m = ExpectBackAfter("g", 2500);
  EXPECT_EQ(m.meta.delivery_attempt(), 4u);
  EXPECT_EQ(Ack(*c_, "g", "t", m.meta.receipt_handle()), wire::OK);
  EXPECT_EQ(Describe("g").total_lag(), 0);
}

TEST_F(RetryTest, LapsedLeaseIsAFailedAttempt) {
  ASSERT_EQ(MakeGroup("g", "1s", 2), wire::OK);
  SendAll({{"slow"}});
  auto got = Get("g", 0, "t", /*lease_ms=*/2000);
  ASSERT_EQ(got.size(), 1u);
  clock_.AdvanceMs(1999);
  EXPECT_TRUE(Get("g").empty());
  clock_.AdvanceMs(1);  // the lease lapses: back at once (the lease was its wait)
  auto again = Receive(*c_, "g", "t", 16, 5000, "", "", 2000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].meta.delivery_attempt(), 2u);
  EXPECT_EQ(Ack(*c_, "g", "t", got[0].meta.receipt_handle()), wire::RECEIPT_INVALID);
  clock_.AdvanceMs(2000);  // lapses again: the second of 2 attempts -> DLQ
  for (int i = 0; i < 100 && Describe("g").dlq_messages() == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Describe("g").dlq_messages(), 1);
  EXPECT_TRUE(Get("g").empty());
}

TEST_F(RetryTest, ReleaseGivesBackWithoutCountingTheAttempt) {
  ASSERT_EQ(MakeGroup("g", "1h", 2), wire::OK);
  SendAll({{"r"}});
  Received m = GetOne("g");
  ASSERT_EQ(Nack("g", m, 0, /*release=*/true), wire::OK);
  Received again = GetOne("g");  // at once, no back-off
  EXPECT_EQ(again.meta.delivery_attempt(), 1u);
  EXPECT_EQ(again.meta.original_topic(), "");
  EXPECT_EQ(Nack("g", m), wire::RECEIPT_INVALID);  // the old handle is gone
}

TEST_F(RetryTest, RetryCopiesGoOnlyToTheirTopicsReceivers) {
  ASSERT_EQ(c_->Call(CreateTopic("u", 1)).header.code(), wire::OK);
  ASSERT_EQ(MakeGroup("g", "1s", 5), wire::OK);
  SendAll({{"from-t"}});
  ASSERT_EQ(Send(*c_, "u", {{"from-u"}}).header.code(), wire::OK);
  Received t = GetOne("g", "t");
  Received u = GetOne("g", "u");
  ASSERT_EQ(Nack("g", t), wire::OK);
  ASSERT_EQ(Nack("g", u), wire::OK);
  clock_.AdvanceMs(1000);
  Received t2 = GetOne("g", "t");
  EXPECT_EQ(t2.body, "from-t");
  EXPECT_TRUE(Get("g", 0, "t").empty());
  Received u2 = GetOne("g", "u");
  EXPECT_EQ(u2.body, "from-u");
  EXPECT_EQ(u2.meta.topic(), "u");
  EXPECT_EQ(Ack(*c_, "g", "t", t2.meta.receipt_handle()), wire::OK);
  EXPECT_EQ(Ack(*c_, "g", "u", u2.meta.receipt_handle()), wire::OK);
  EXPECT_EQ(Describe("g").total_lag(), 0);
}

TEST_F(RetryTest, RetryCopiesSurviveARestart) {
  ASSERT_EQ(MakeGroup("g", "1m", 5), wire::OK);
  SendAll({{"durable"}});
  ASSERT_EQ(Nack("g", GetOne("g")), wire::OK);
  c_.reset();
  RestartBroker();
  c_ = Connect();
  EXPECT_TRUE(Get("g").empty());
  clock_.AdvanceMs(60'000);
  Received m = GetOne("g");
  EXPECT_EQ(m.body, "durable");
  EXPECT_EQ(m.meta.delivery_attempt(), 2u);
  EXPECT_EQ(Ack(*c_, "g", "t", m.meta.receipt_handle()), wire::OK);
}

TEST_F(RetryTest, RedriveOneByFilterOrAllAndPurge) {
  ASSERT_EQ(MakeGroup("g", "1s", 1), wire::OK);  // the first failure dead-letters
  auto ids = SendAll({{"a0", "a", "k0"}, {"a1", "a", "k1"}, {"b0", "b", "k2"},
                      {"b1", "b", "k3"}, {"c0", "c", "k4"}, {"c1", "c", "k5"}});
  ASSERT_EQ(FailAllNow("g"), 6);
  for (int i = 0; i < 100 && Describe("g").dlq_messages() < 6; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(Describe("g").dlq_messages(), 6);

  // Selecting nothing is refused; so is an unknown group.
  EXPECT_EQ(Redrive("g", {}, false, wire::DlqRedriveRequest::ORIGINAL_TOPIC).header.code(),
            wire::INVALID_ARGUMENT);
  EXPECT_EQ(Purge("g", {}, false).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(DlqList("nobody").header.code(), wire::GROUP_NOT_FOUND);

  // One, by id, to the retry queue: only this group gets it, attempts start again.
  wire::DlqFilter one;
  one.set_message_id(ids[0]);
  wire::Frame r1 = Redrive("g", one, false, wire::DlqRedriveRequest::RETRY_QUEUE);
  ASSERT_EQ(r1.header.code(), wire::OK) << r1.header.error_message();
  EXPECT_EQ(r1.header.dlq_redrive_response().redriven(), 1);
  Received back = GetOne("g");
  EXPECT_EQ(back.body, "a0");
  EXPECT_EQ(back.meta.delivery_attempt(), 1u);
  EXPECT_EQ(Ack(*c_, "g", "t", back.meta.receipt_handle()), wire::OK);
  EXPECT_EQ(Describe("g").dlq_messages(), 5);

  // By tag, to the original topic: a fresh message there (another group sees it too).
  wire::DlqFilter tag_b;
  tag_b.set_tag("b");
  wire::Frame listed = DlqList("g", tag_b);
  ASSERT_EQ(listed.header.dlq_list_response().messages_size(), 2);
  wire::Frame r2 = Redrive("g", tag_b, false, wire::DlqRedriveRequest::ORIGINAL_TOPIC);
  ASSERT_EQ(r2.header.code(), wire::OK) << r2.header.error_message();
  EXPECT_EQ(r2.header.dlq_redrive_response().redriven(), 2);
  std::set<std::string> bodies;
  for (auto& m : Get("g", 1000)) {
    bodies.insert(m.body);
    EXPECT_EQ(m.meta.delivery_attempt(), 1u);
    EXPECT_EQ(m.meta.original_topic(), "");
    EXPECT_EQ(m.meta.properties().at("REDRIVEN_FROM_DLQ"), "g");
    EXPECT_EQ(Ack(*c_, "g", "t", m.meta.receipt_handle()), wire::OK);
  }
  EXPECT_EQ(bodies, (std::set<std::string>{"b0", "b1"}));
  EXPECT_EQ(DlqList("g", tag_b).header.dlq_list_response().messages_size(), 0);

  // Purge one by key, then redrive the rest (all).
  wire::DlqFilter key;
  key.set_key("k4");
  EXPECT_EQ(Purge("g", key, false).header.dlq_purge_response().purged(), 1);
  EXPECT_EQ(Describe("g").dlq_messages(), 2);
  wire::Frame r3 = Redrive("g", {}, true, wire::DlqRedriveRequest::RETRY_QUEUE);
  EXPECT_EQ(r3.header.dlq_redrive_response().redriven(), 2);
  bodies.clear();
  for (auto& m : Get("g", 1000)) bodies.insert(m.body);
  EXPECT_EQ(bodies, (std::set<std::string>{"a1", "c1"}));
  EXPECT_EQ(Describe("g").dlq_messages(), 0);

  // Purge all, and what is removed stays removed across a restart.
  ASSERT_EQ(FailAllNow("g"), 0);  // still leased; let them fail by lease instead
  clock_.AdvanceMs(30'000);
  for (int i = 0; i < 100 && Describe("g").dlq_messages() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(Describe("g").dlq_messages(), 2);
  EXPECT_EQ(Purge("g", {}, true).header.dlq_purge_response().purged(), 2);
  EXPECT_EQ(Describe("g").dlq_messages(), 0);
  c_.reset();
  RestartBroker();
  c_ = Connect();
  EXPECT_EQ(Describe("g").dlq_messages(), 0);
  EXPECT_EQ(DlqList("g").header.dlq_list_response().messages_size(), 0);
}

TEST_F(RetryTest, FifoRetriesInPlaceThenDeadLettersAndMovesOn) {
  ASSERT_EQ(MakeGroup("fifo", "1s", 2, /*fifo=*/true), wire::OK);
  Send(*c_, "t", {{"s0", "", "", "order-1"}, {"s1", "", "", "order-1"}, {"s2", "", "", "order-1"}});
  std::vector<std::string> order;
  Received m = GetOne("fifo");
  order.push_back(m.body);
  ASSERT_EQ(Nack("fifo", m), wire::OK);
  EXPECT_TRUE(Get("fifo").empty()) << "the queue waits for its first message";
  m = ExpectBackAfter("fifo", 1000);
  order.push_back(m.body);
  EXPECT_EQ(m.meta.delivery_attempt(), 2u);
  EXPECT_EQ(m.meta.queue_offset(), 0);  // in place, not a copy
  ASSERT_EQ(Nack("fifo", m), wire::OK);  // max attempts: dead-lettered, the queue moves on
  for (int i = 0; i < 2; ++i) {
    Received next = GetOne("fifo");
    order.push_back(next.body);
    EXPECT_EQ(Ack(*c_, "fifo", "t", next.meta.receipt_handle()), wire::OK);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"s0", "s0", "s1", "s2"}));
  wire::Frame dlq = DlqList("fifo", {}, true);
  ASSERT_EQ(dlq.header.dlq_list_response().messages_size(), 1);
  EXPECT_EQ(dlq.body, "s0");
  // FIFO groups retry in place: there is no retry queue to redrive to.
  EXPECT_EQ(Redrive("fifo", {}, true, wire::DlqRedriveRequest::RETRY_QUEUE).header.code(),
            wire::FAILED_PRECONDITION);
}

TEST_F(RetryTest, FifoBlockKeepsRetryingPastTheMaximum) {
  ASSERT_EQ(MakeGroup("fifo", "1s", 2, /*fifo=*/true, /*fifo_block=*/true), wire::OK);
  Send(*c_, "t", {{"s0", "", "", "order-1"}, {"s1", "", "", "order-1"}});
  Received m = GetOne("fifo");
  for (uint32_t attempt = 2; attempt <= 4; ++attempt) {
    ASSERT_EQ(Nack("fifo", m), wire::OK);
    m = ExpectBackAfter("fifo", 1000);
    EXPECT_EQ(m.body, "s0");
    EXPECT_EQ(m.meta.delivery_attempt(), attempt);
  }
  EXPECT_EQ(Ack(*c_, "fifo", "t", m.meta.receipt_handle()), wire::OK);
  EXPECT_EQ(GetOne("fifo").body, "s1");
  EXPECT_EQ(Describe("fifo").dlq_messages(), 0);
}

TEST_F(RetryTest, BadRetrySettingsAreRefused) {
  EXPECT_EQ(MakeGroup("g", "", 5000), wire::INVALID_ARGUMENT);
  wire::Header h = CreateGroup("g", false, false);
  auto* r = h.mutable_create_group_request()->mutable_config()->mutable_retry();
  r->set_kind(wire::RetryPolicy::CUSTOM);  // no delays
  EXPECT_EQ(c_->Call(h).header.code(), wire::INVALID_ARGUMENT);
  r->set_kind(wire::RetryPolicy::EXPONENTIAL);
  r->set_initial_ms(1000);
  r->set_multiplier(0.5);
  r->set_max_ms(5000);
  EXPECT_EQ(c_->Call(h).header.code(), wire::INVALID_ARGUMENT);
  wire::Header block = CreateGroup("g", false, false);
  block.mutable_create_group_request()->mutable_config()->set_fifo_block(true);
  EXPECT_EQ(c_->Call(block).header.code(), wire::INVALID_ARGUMENT);
  wire::Header nack;
  nack.set_kind(wire::NACK);
  nack.mutable_nack_request()->set_group("g");
  nack.mutable_nack_request()->add_receipt_handles("garbage");
  wire::Frame f = c_->Call(nack);
  ASSERT_EQ(f.header.code(), wire::OK);
  EXPECT_NE(f.header.nack_response().results(0).code(), wire::OK);
}

}  // namespace
}  // namespace tidemq::testing
