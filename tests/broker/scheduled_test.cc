// Scheduled messages through a real in-process broker, in virtual time (ManualClock): delay
// and deliver_at, limits, cancel, the timer admin requests and restarts with pending ones.
#include <chrono>
#include <map>
#include <set>
#include <thread>

#include "tests/broker/broker_fixture.h"

namespace tidemq::testing {
namespace {

class ScheduledTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    c_ = Connect();
    ASSERT_EQ(c_->Call(CreateTopic("t", 2)).header.code(), wire::OK);
    ASSERT_EQ(c_->Call(CreateTopic("barrier", 1)).header.code(), wire::OK);
  }
  void TearDown() override {
    c_.reset();
    BrokerTest::TearDown();
  }

  // Sends one message with a delay or a deliver_at (the other 0); returns the response.
  wire::Frame SendAt(const std::string& id, int64_t delay_ms, int64_t deliver_at_ms,
                     const std::string& body = "b") {
    wire::Header h;
    h.set_kind(wire::SEND);
    auto* m = h.mutable_send_request()->add_messages();
    m->set_topic("t");
    m->set_queue_id(-1);
    m->set_message_id(id);
    m->set_tag("tg");
    m->add_keys("k-" + id);
    (*m->mutable_properties())["p"] = "v";
    m->set_delay_ms(delay_ms);
    m->set_deliver_at_ms(deliver_at_ms);
    m->set_body_size(static_cast<uint32_t>(body.size()));
    return c_->Call(std::move(h), {body});
  }

  wire::Frame Cancel(const std::string& id) {
    wire::Header h;
    h.set_kind(wire::CANCEL_SCHEDULED);
    h.mutable_cancel_scheduled_request()->set_message_id(id);
    return c_->Call(std::move(h));
  }

  // A consumer may see a re-put before the timer observer has counted it (the store makes a
  // record visible, then runs observers, then callbacks, all on its writer thread): a send's
  // reply means every earlier record went through the observers.
  void Barrier() { ASSERT_EQ(Send(*c_, "barrier", {{"x"}}).header.code(), wire::OK); }

  wire::TimerStatsResponse TimerStats() {
    Barrier();
    wire::Header h;
    h.set_kind(wire::TIMER_STATS);
    wire::Frame f = c_->Call(std::move(h));
    EXPECT_EQ(f.header.code(), wire::OK);
    return f.header.timer_stats_response();
  }

  // Receives (long-polling) until `n` messages came or a wait returned none.
  std::vector<Received> ReceiveN(const std::string& group, size_t n) {
    std::vector<Received> out;
    while (out.size() < n) {
      auto got = Receive(*c_, group, "t", 1024, 10'000);
      if (got.empty()) break;
      for (auto& r : got) {
        EXPECT_EQ(Ack(*c_, group, "t", r.meta.receipt_handle()), wire::OK);
        out.push_back(std::move(r));
      }
    }
    return out;
  }

  std::unique_ptr<WireClient> c_;
};

TEST_F(ScheduledTest, DelayedMessageArrivesWhenDueWithItsFieldsAndDueTime) {
  const int64_t due = clock_.NowMs() + 1500;
  wire::Frame sent = SendAt("d1", 1500, 0, "hello");
  ASSERT_EQ(sent.header.code(), wire::OK) << sent.header.error_message();
  EXPECT_EQ(sent.header.send_response().results(0).message_id(), "d1");
  EXPECT_EQ(sent.header.send_response().results(0).queue_offset(), -1);

  EXPECT_TRUE(Receive(*c_, "g", "t", 32, 0).empty());
  EXPECT_EQ(TimerStats().pending(), 1);
  EXPECT_EQ(TimerStats().next_due_ms(), due);
  clock_.AdvanceMs(1499);
  EXPECT_TRUE(Receive(*c_, "g", "t", 32, 0).empty());

  clock_.AdvanceMs(1);
  auto got = ReceiveN("g", 1);
  ASSERT_EQ(got.size(), 1u);
  const wire::Message& m = got[0].meta;
  EXPECT_EQ(got[0].body, "hello");
  EXPECT_EQ(m.message_id(), "d1");
  EXPECT_EQ(m.tag(), "tg");
  ASSERT_EQ(m.keys_size(), 1);
  EXPECT_EQ(m.keys(0), "k-d1");
  EXPECT_EQ(m.properties().at("p"), "v");
  EXPECT_EQ(m.properties().at("DELIVER_AT_MS"), std::to_string(due));
  EXPECT_EQ(m.deliver_at_ms(), due);
  EXPECT_EQ(TimerStats().pending(), 0);
  EXPECT_EQ(TimerStats().fired(), 1);
}

TEST_F(ScheduledTest, DeliverAtIsAbsolute) {
  const int64_t due = clock_.NowMs() + 60'000;
  ASSERT_EQ(SendAt("a1", 0, due).header.code(), wire::OK);
  clock_.AdvanceMs(59'999);
  EXPECT_TRUE(Receive(*c_, "g", "t", 32, 0).empty());
  clock_.AdvanceMs(1);
  auto got = ReceiveN("g", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].meta.properties().at("DELIVER_AT_MS"), std::to_string(due));
}

TEST_F(ScheduledTest, DueTimeInThePastIsDeliveredAtOnce) {
  ASSERT_EQ(SendAt("past", 0, clock_.NowMs() - 5000).header.code(), wire::OK);
  ASSERT_EQ(SendAt("now", 0, clock_.NowMs()).header.code(), wire::OK);
  auto got = Receive(*c_, "g", "t", 32, 0);
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(TimerStats().pending(), 0);
}

TEST_F(ScheduledTest, BadScheduleRequestsAreRefused) {
  const int64_t day = 24 * 3600 * 1000;
  wire::Frame far = SendAt("far", 401 * day, 0);
  EXPECT_EQ(far.header.code(), wire::INVALID_ARGUMENT);
  EXPECT_NE(far.header.error_message().find("400 days"), std::string::npos)
      << far.header.error_message();
  EXPECT_EQ(SendAt("far2", 0, clock_.NowMs() + 401 * day).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(SendAt("both", 10, clock_.NowMs() + 10).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(SendAt("neg", -10, 0).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(SendAt("ok", 399 * day, 0).header.code(), wire::OK);
  EXPECT_EQ(TimerStats().pending(), 1);
}

TEST_F(ScheduledTest, CancelBeforeFireStopsIt) {
  ASSERT_EQ(SendAt("c1", 1000, 0).header.code(), wire::OK);
  ASSERT_EQ(SendAt("c2", 1000, 0).header.code(), wire::OK);
  wire::Frame f = Cancel("c1");
  ASSERT_EQ(f.header.code(), wire::OK) << f.header.error_message();
  EXPECT_EQ(f.header.cancel_scheduled_response().outcome(),
            wire::CancelScheduledResponse::CANCELLED);
  EXPECT_EQ(f.header.cancel_scheduled_response().due_ms(), clock_.NowMs() + 1000);
  // A second cancel finds nothing pending.
  EXPECT_EQ(Cancel("c1").header.code(), wire::NOT_FOUND);

  clock_.AdvanceMs(5000);
  auto got = ReceiveN("g", 1);  // c2 arrives; c1 never does
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].meta.message_id(), "c2");
  EXPECT_TRUE(Receive(*c_, "g", "t", 32, 0).empty());
  auto stats = TimerStats();
  EXPECT_EQ(stats.cancelled(), 1);
  EXPECT_EQ(stats.fired(), 1);
  EXPECT_EQ(stats.pending(), 0);
}

TEST_F(ScheduledTest, CancelAfterFireSaysAlreadyFiredAndUnknownIsNotFound) {
  ASSERT_EQ(SendAt("f1", 100, 0).header.code(), wire::OK);
  clock_.AdvanceMs(100);
  ASSERT_EQ(ReceiveN("g", 1).size(), 1u);
  wire::Frame f = Cancel("f1");
  ASSERT_EQ(f.header.code(), wire::OK) << f.header.error_message();
  EXPECT_EQ(f.header.cancel_scheduled_response().outcome(),
            wire::CancelScheduledResponse::ALREADY_FIRED);
  EXPECT_EQ(Cancel("nobody").header.code(), wire::NOT_FOUND);
  wire::Header empty;
  empty.set_kind(wire::CANCEL_SCHEDULED);
  EXPECT_EQ(c_->Call(empty).header.code(), wire::INVALID_ARGUMENT);
}

TEST_F(ScheduledTest, ShowAndStatsDescribeThePendingOne) {
  ASSERT_EQ(SendAt("s1", 2500, 0).header.code(), wire::OK);
  wire::Header h;
  h.set_kind(wire::TIMER_SHOW);
  h.mutable_timer_show_request()->set_message_id("s1");
  wire::Frame f = c_->Call(h);
  ASSERT_EQ(f.header.code(), wire::OK) << f.header.error_message();
  EXPECT_EQ(f.header.timer_show_response().due_ms(), clock_.NowMs() + 2500);
  EXPECT_EQ(f.header.timer_show_response().topic(), "t");
  EXPECT_FALSE(f.header.timer_show_response().firing());
  h.mutable_timer_show_request()->set_message_id("nope");
  EXPECT_EQ(c_->Call(h).header.code(), wire::NOT_FOUND);

  wire::Header s;
  s.set_kind(wire::STATS);
  wire::Frame st = c_->Call(s);
  EXPECT_EQ(st.header.stats_response().counters().at("timer_pending"), 1);

  clock_.AdvanceMs(2500);
  ASSERT_EQ(ReceiveN("g", 1).size(), 1u);
  auto ts = TimerStats();
  EXPECT_EQ(ts.fired(), 1);
  int64_t fires = 0;
  for (const auto& b : ts.lateness()) fires += b.count();
  EXPECT_EQ(fires, 1);
  EXPECT_EQ(c_->Call(s).header.stats_response().counters().at("timer_fired"), 1);
}

TEST_F(ScheduledTest, ManyInTheSameMillisecondAllArrive) {
  const int64_t due = clock_.NowMs() + 700;
  constexpr int kN = 500;
  for (int i = 0; i < kN; ++i) {
    ASSERT_EQ(SendAt("m" + std::to_string(i), 0, due).header.code(), wire::OK);
  }
  EXPECT_EQ(TimerStats().pending(), kN);
  clock_.AdvanceMs(700);
  auto got = ReceiveN("g", kN);
  std::set<std::string> ids;
  for (const auto& r : got) ids.insert(r.meta.message_id());
  EXPECT_EQ(got.size(), static_cast<size_t>(kN));
  EXPECT_EQ(ids.size(), static_cast<size_t>(kN));
}

TEST_F(ScheduledTest, PendingSurviveARestartAndFireExactlyOnce) {
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(SendAt("r" + std::to_string(i), 1000 + 100 * i, 0).header.code(), wire::OK);
  }
  // Half fire and are consumed before the restart.
  clock_.AdvanceMs(1950);
  auto first = ReceiveN("g", 10);
  ASSERT_EQ(first.size(), 10u);

  c_.reset();
  RestartBroker();
  c_ = Connect();
  EXPECT_EQ(TimerStats().pending(), 10);
  EXPECT_EQ(TimerStats().fired(), 10);
  clock_.AdvanceMs(10'000);
  auto second = ReceiveN("g", 10);
  ASSERT_EQ(second.size(), 10u);
  EXPECT_TRUE(Receive(*c_, "g", "t", 32, 0).empty());

  // Once more: nothing fires twice, and a fresh group sees each id exactly once.
  c_.reset();
  RestartBroker();
  c_ = Connect();
  clock_.AdvanceMs(10'000);
  EXPECT_EQ(TimerStats().pending(), 0);
  EXPECT_EQ(TimerStats().fired(), 20);
  std::map<std::string, int> seen;
  for (const auto& r : Receive(*c_, "fresh", "t", 1024, 0)) ++seen[r.meta.message_id()];
  EXPECT_EQ(seen.size(), 20u);
  for (const auto& [id, n] : seen) EXPECT_EQ(n, 1) << id;
}

}  // namespace
}  // namespace tidemq::testing

namespace tidemq::testing {
namespace {

TEST_F(ScheduledTest, AMessageWhoseTopicWasDeletedIsDroppedAtItsDueTime) {
  ASSERT_EQ(SendAt("gone", 1000, 0).header.code(), wire::OK);
  ASSERT_EQ(SendAt("gone-too", 1000, 0).header.code(), wire::OK);
  wire::Header del;
  del.set_kind(wire::DELETE_TOPIC);
  del.mutable_delete_topic_request()->set_topic("t");
  ASSERT_EQ(c_->Call(del).header.code(), wire::OK);
  clock_.AdvanceMs(2000);
  // The timer thread notices the virtual clock within its 10 ms tick; bounded wait.
  wire::TimerStatsResponse stats;
  for (int i = 0; i < 500; ++i) {
    stats = TimerStats();
    if (stats.pending() == 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // poll interval
  }
  EXPECT_EQ(stats.pending(), 0);
  EXPECT_EQ(stats.fired(), 0);
  EXPECT_EQ(stats.cancelled(), 2);
  // A topic of the same name made later does not receive them.
  ASSERT_EQ(c_->Call(CreateTopic("t", 2)).header.code(), wire::OK);
  EXPECT_TRUE(Receive(*c_, "g", "t", 32, 0).empty());
  wire::Header st;
  st.set_kind(wire::STATS);
  wire::Frame f = c_->Call(st);
  EXPECT_EQ(f.header.stats_response().counters().at("timer_dropped_topic_deleted"), 2);
}

}  // namespace
}  // namespace tidemq::testing
