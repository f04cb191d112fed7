// The message lifecycle trace (TRACE; docs/console.md, "Trace") through a real in-process
// broker in virtual time: a message scheduled, fired, delivered, nacked twice, dead-lettered
// and redriven shows every step in order, with the group, the client and the attempt of each
// delivery; a trace by key finds the same; consumption events survive a restart (they are
// records in the log); a message of an earlier topic of the same name does not lend its
// events to a new one; and with --trace-consumption off only the log's own records show.
#include <algorithm>
#include <chrono>
#include <thread>

#include "tests/broker/broker_fixture.h"

namespace tidemq::testing {
namespace {

struct Step {
  std::string kind;
  std::map<std::string, std::string> detail;
  int64_t time_ms = 0;
};

class TraceTest : public BrokerTest {
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

  wire::ErrorCode MakeGroup(const std::string& name, uint32_t max_attempts,
                            const std::vector<int64_t>& backoff_ms) {
    wire::Header h = CreateGroup(name, false, false);
    auto* c = h.mutable_create_group_request()->mutable_config();
    c->set_max_attempts(max_attempts);
    c->mutable_retry()->set_kind(wire::RetryPolicy::CUSTOM);
    for (int64_t d : backoff_ms) c->mutable_retry()->add_delays_ms(d);
    return c_->Call(std::move(h)).header.code();
  }

  wire::Frame SendDelayed(const std::string& id, const std::string& key, int64_t delay_ms) {
    wire::Header h;
    h.set_kind(wire::SEND);
    auto* m = h.mutable_send_request()->add_messages();
    m->set_topic("t");
    m->set_queue_id(-1);
    m->set_message_id(id);
    m->add_keys(key);
    m->set_delay_ms(delay_ms);
    m->set_body_size(5);
    return c_->Call(std::move(h), {"order"});
  }

  // Exactly one delivery, waiting (real time) for the timer thread to notice the clock.
  Received GetOne(const std::string& group, const std::string& client) {
    auto got = Receive(*c_, group, "t", 16, 5000, client);
    EXPECT_EQ(got.size(), 1u);
    return got.empty() ? Received{} : got[0];
  }

  wire::ErrorCode Nack(const std::string& group, const Received& m) {
    wire::Header h;
    h.set_kind(wire::NACK);
    auto* n = h.mutable_nack_request();
    n->set_group(group);
    n->set_topic(m.meta.topic());
    n->add_receipt_handles(m.meta.receipt_handle());
    wire::Frame f = c_->Call(std::move(h));
    if (f.header.code() != wire::OK) return f.header.code();
    return f.header.nack_response().results(0).code();
  }

  wire::Frame Trace(const std::string& id, const std::string& topic = "",
                    const std::string& key = "") {
    wire::Header h;
    h.set_kind(wire::TRACE);
    auto* t = h.mutable_trace_request();
    t->set_message_id(id);
    t->set_topic(topic);
    t->set_key(key);
    return c_->Call(std::move(h));
  }

  static std::vector<Step> StepsOf(const wire::MessageTrace& t) {
    std::vector<Step> out;
    for (const auto& s : t.steps()) {
      Step step{s.kind(), {}, s.time_ms()};
      for (const auto& d : s.detail()) step.detail[d.key()] = d.value();
      out.push_back(std::move(step));
    }
    return out;
  }
  static std::vector<std::string> Kinds(const std::vector<Step>& steps) {
    std::vector<std::string> out;
    for (const Step& s : steps) out.push_back(s.kind);
    return out;
  }

  // The trace of `id` once it holds `want` steps: consumption events reach the log with the
  // next housekeeping pass (real time), so the trace is asked again until then (10 s at most).
  std::vector<Step> TraceOnce(const std::string& id, size_t want) {
    std::vector<Step> steps;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    do {
      wire::Frame f = Trace(id);
      EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
      if (f.header.code() != wire::OK || f.header.trace_response().traces_size() != 1) return {};
      steps = StepsOf(f.header.trace_response().traces(0));
      if (steps.size() >= want) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (std::chrono::steady_clock::now() < deadline);
    return steps;
  }

  std::unique_ptr<WireClient> c_;
};

TEST_F(TraceTest, ScheduledNackedTwiceDeadLetteredAndRedrivenShowsEveryStepInOrder) {
  ASSERT_EQ(MakeGroup("billing", 3, {1000, 5000}), wire::OK);
  ASSERT_EQ(SendDelayed("order-42-msg", "order-42", 2000).header.code(), wire::OK);
  clock_.AdvanceMs(2000);
  Received first = GetOne("billing", "worker-a");
  ASSERT_EQ(first.meta.delivery_attempt(), 1u);
  ASSERT_EQ(Nack("billing", first), wire::OK);
  clock_.AdvanceMs(1000);
  Received second = GetOne("billing", "worker-b");
  ASSERT_EQ(second.meta.delivery_attempt(), 2u);
  ASSERT_EQ(Nack("billing", second), wire::OK);
  clock_.AdvanceMs(5000);
  Received third = GetOne("billing", "worker-a");
  ASSERT_EQ(third.meta.delivery_attempt(), 3u);
  ASSERT_EQ(Nack("billing", third), wire::OK);  // the last of 3 attempts: dead-lettered

  wire::Header h;
  h.set_kind(wire::DLQ_REDRIVE);
  auto* r = h.mutable_dlq_redrive_request();
  r->set_group("billing");
  r->mutable_filter()->set_message_id("order-42-msg");
  wire::Frame redriven = c_->Call(std::move(h));
  ASSERT_EQ(redriven.header.code(), wire::OK) << redriven.header.error_message();
  ASSERT_EQ(redriven.header.dlq_redrive_response().redriven(), 1);
  Received again = GetOne("billing", "worker-c");
  EXPECT_EQ(again.meta.delivery_attempt(), 1u);

  // sent (as scheduled) -> fired -> delivered 1 -> nacked -> retry copy (scheduled, due) ->
  // delivered 2 -> nacked -> retry -> delivered 3 -> nacked -> dead-lettered -> redriven ->
  // delivered again.
  const std::vector<std::string> want = {
      "scheduled",       "fired",     "delivered", "nacked",    "retry_scheduled",
      "retry_due",       "delivered", "nacked",    "retry_scheduled", "retry_due",
      "delivered",       "nacked",    "dead_lettered", "redriven", "delivered"};
  std::vector<Step> steps = TraceOnce("order-42-msg", want.size());
  ASSERT_EQ(Kinds(steps), want);
  // Time never goes back along the trace.
  for (size_t i = 1; i < steps.size(); ++i) EXPECT_LE(steps[i - 1].time_ms, steps[i].time_ms) << i;
  // Each delivery names its group, client and attempt; each nack its group.
  std::vector<std::pair<std::string, std::string>> deliveries;
  for (const Step& s : steps) {
    if (s.kind == "delivered") {
      EXPECT_EQ(s.detail.at("group"), "billing");
      deliveries.emplace_back(s.detail.at("client"), s.detail.at("attempt"));
      EXPECT_GT(std::stoll(s.detail.at("lease_until_ms")), s.time_ms);
    }
    if (s.kind == "nacked") EXPECT_EQ(s.detail.at("group"), "billing");
  }
  const std::vector<std::pair<std::string, std::string>> want_deliveries = {
      {"worker-a", "1"}, {"worker-b", "2"}, {"worker-a", "3"}, {"worker-c", "1"}};
  EXPECT_EQ(deliveries, want_deliveries);
  EXPECT_EQ(steps[0].detail.at("due_ms"), std::to_string(steps[0].time_ms + 2000));
  EXPECT_EQ(steps[0].detail.at("keys"), "order-42");
  EXPECT_EQ(steps[12].detail.at("group"), "billing");
  EXPECT_EQ(steps[12].detail.at("reason"), "max_attempts");
  EXPECT_EQ(steps[13].detail.at("from_group"), "billing");

  // By key: the same message, once, with the same steps.
  wire::Frame by_key = Trace("", "t", "order-42");
  ASSERT_EQ(by_key.header.code(), wire::OK) << by_key.header.error_message();
  ASSERT_EQ(by_key.header.trace_response().traces_size(), 1);
  EXPECT_EQ(by_key.header.trace_response().traces(0).message_id(), "order-42-msg");
  EXPECT_EQ(Kinds(StepsOf(by_key.header.trace_response().traces(0))), want);

  // The consumption events are records of the log: a restarted broker traces the same.
  c_.reset();
  RestartBroker();
  c_ = Connect();
  EXPECT_EQ(Kinds(TraceOnce("order-42-msg", want.size())), want);
}

TEST_F(TraceTest, AcksReleasesAndUnknownMessages) {
  ASSERT_EQ(c_->Call(CreateGroup("g", false, false)).header.code(), wire::OK);
  wire::Frame sent = Send(*c_, "t", {{.body = "x", .key = "k1"}});
  ASSERT_EQ(sent.header.code(), wire::OK);
  const std::string id = sent.header.send_response().results(0).message_id();
  Received m = GetOne("g", "c1");
  ASSERT_EQ(Ack(*c_, "g", "t", m.meta.receipt_handle()), wire::OK);
  EXPECT_EQ(Kinds(TraceOnce(id, 3)), (std::vector<std::string>{"sent", "delivered", "acked"}));

  wire::Frame none = Trace("no-such-message");
  EXPECT_EQ(none.header.code(), wire::NOT_FOUND);
  EXPECT_EQ(Trace("", "t", "no-such-key").header.code(), wire::NOT_FOUND);
  EXPECT_EQ(Trace("", "", "k1").header.code(), wire::INVALID_ARGUMENT);  // a key needs a topic
}

TEST_F(TraceTest, ATopicCreatedAgainDoesNotInheritTheOldTopicsEvents) {
  ASSERT_EQ(c_->Call(CreateGroup("g", false, false)).header.code(), wire::OK);
  wire::Frame old_send = Send(*c_, "t", {{.body = "old"}});
  ASSERT_EQ(old_send.header.code(), wire::OK);
  const auto& old_result = old_send.header.send_response().results(0);
  Received m = GetOne("g", "c1");
  ASSERT_EQ(Ack(*c_, "g", "t", m.meta.receipt_handle()), wire::OK);
  ASSERT_EQ(Kinds(TraceOnce(old_result.message_id(), 3)).size(), 3u);

  wire::Header del;
  del.set_kind(wire::DELETE_TOPIC);
  del.mutable_delete_topic_request()->set_topic("t");
  ASSERT_EQ(c_->Call(std::move(del)).header.code(), wire::OK);
  ASSERT_EQ(c_->Call(CreateTopic("t", 2)).header.code(), wire::OK);
  // The new message takes the same queue position as the old one.
  wire::Header h;
  h.set_kind(wire::SEND);
  auto* msg = h.mutable_send_request()->add_messages();
  msg->set_topic("t");
  msg->set_queue_id(static_cast<int32_t>(old_result.queue_id()));
  msg->set_message_id("new-message");
  msg->set_body_size(3);
  wire::Frame sent = c_->Call(std::move(h), {"new"});
  ASSERT_EQ(sent.header.code(), wire::OK) << sent.header.error_message();
  ASSERT_EQ(sent.header.send_response().results(0).queue_offset(), old_result.queue_offset());
  // Let a housekeeping pass go by: nothing is pending, so nothing may be added.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(Kinds(TraceOnce("new-message", 1)), std::vector<std::string>{"sent"});
}

TEST_F(TraceTest, ACancelledScheduledMessageShowsItsCancel) {
  ASSERT_EQ(SendDelayed("later", "k-later", 60'000).header.code(), wire::OK);
  wire::Header h;
  h.set_kind(wire::CANCEL_SCHEDULED);
  h.mutable_cancel_scheduled_request()->set_message_id("later");
  wire::Frame f = c_->Call(std::move(h));
  ASSERT_EQ(f.header.code(), wire::OK) << f.header.error_message();
  ASSERT_EQ(f.header.cancel_scheduled_response().outcome(), wire::CancelScheduledResponse::CANCELLED);
  EXPECT_EQ(Kinds(TraceOnce("later", 2)), (std::vector<std::string>{"scheduled", "cancelled"}));
}

class UntracedConsumptionTest : public TraceTest {
 protected:
  void SetUp() override {
    config_.trace_consumption = false;
    TraceTest::SetUp();
  }
};

TEST_F(UntracedConsumptionTest, OnlyTheLogsOwnRecordsShow) {
  ASSERT_EQ(c_->Call(CreateGroup("g", false, false)).header.code(), wire::OK);
  wire::Frame sent = Send(*c_, "t", {{.body = "x"}});
  const std::string id = sent.header.send_response().results(0).message_id();
  Received m = GetOne("g", "c1");
  ASSERT_EQ(Ack(*c_, "g", "t", m.meta.receipt_handle()), wire::OK);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  wire::Frame f = Trace(id);
  ASSERT_EQ(f.header.code(), wire::OK);
  EXPECT_FALSE(f.header.trace_response().consumption_traced());
  EXPECT_EQ(Kinds(StepsOf(f.header.trace_response().traces(0))), std::vector<std::string>{"sent"});
}

}  // namespace
}  // namespace tidemq::testing
