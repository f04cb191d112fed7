// The check-back loop of TxnCoordinator through a real in-process broker in virtual time
// (docs/txn.md "Check-back answers"): a test connection plays the producer and answers the
// broker's CHECK_TXN requests when and how the test says. The ManualClock decides when checks
// and final actions fall due; the test waits (bounded, in real time) only for the broker to act.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/broker/broker_fixture.h"

namespace tidemq::testing {
namespace {

using SteadyClock = std::chrono::steady_clock;

// Waits (bounded, real time) until pred() holds.
bool WaitUntil(const std::function<bool()>& pred, int seconds = 10) {
  const auto deadline = SteadyClock::now() + std::chrono::seconds(seconds);
  while (!pred()) {
    if (SteadyClock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A producer connection on the wire: announces its producer group, then reads the broker's
// check-backs with a deadline and answers them as told (plain POSIX socket, so a read can time
// out instead of hanging the test).
class WireProducer {
 public:
  WireProducer(uint16_t port, const std::string& group) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    wire::Header h;
    h.set_kind(wire::HEARTBEAT);
    h.mutable_heartbeat_request()->set_client_id("wire-producer");
    h.mutable_heartbeat_request()->add_producer_groups(group);
    Write(h);
  }
  ~WireProducer() { Close(); }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // The next CHECK_TXN request (other frames are skipped); false when none came in time.
  bool NextCheck(wire::Frame* check, int seconds = 10) {
    const auto deadline = SteadyClock::now() + std::chrono::seconds(seconds);
    while (true) {
      wire::Frame f;
      if (!ReadFrame(&f, deadline)) return false;
      if (!f.header.is_response() && f.header.kind() == wire::CHECK_TXN) {
        *check = std::move(f);
        return true;
      }
    }
  }

  // Answers `check`; with name_half the answer names its half (as current clients do), without
  // it the broker can only match the request id (older clients).
  void Answer(const wire::Frame& check, wire::TxnResolution resolution, bool name_half = false) {
    wire::Header h;
    h.set_kind(wire::CHECK_TXN);
    h.set_is_response(true);
    h.set_request_id(check.header.request_id());
    auto* r = h.mutable_check_txn_response();
    r->set_resolution(resolution);
    if (name_half) {
      r->set_half_offset(check.header.check_txn_request().message().log_offset());
      r->set_message_id(check.header.check_txn_request().message().message_id());
    }
    Write(h);
  }

  void Write(const wire::Header& h) {
    std::string out;
    wire::EncodeFrame(h, std::string_view(), &out);
    for (size_t done = 0; done < out.size();) {
      ssize_t n = ::send(fd_, out.data() + done, out.size() - done, MSG_NOSIGNAL);
      ASSERT_GT(n, 0);
      done += static_cast<size_t>(n);
    }
  }

 private:
  bool ReadExactly(char* p, size_t n, SteadyClock::time_point deadline) {
    while (n > 0) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now())
              .count();
      if (left <= 0) return false;
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, static_cast<int>(left)) <= 0) continue;
      ssize_t got = ::recv(fd_, p, n, 0);
      if (got <= 0) return false;
      p += got;
      n -= static_cast<size_t>(got);
    }
    return true;
  }

  bool ReadFrame(wire::Frame* f, SteadyClock::time_point deadline) {
    std::string prefix(wire::kPrefixSize, '\0');
    if (!ReadExactly(prefix.data(), prefix.size(), deadline)) return false;
    wire::FramePrefix p;
    if (!wire::ParsePrefix(prefix, wire::kDefaultMaxFrameBytes, &p).ok()) return false;
    std::string rest(p.remaining(), '\0');
    if (!ReadExactly(rest.data(), rest.size(), deadline)) return false;
    return wire::ParseRest(p, rest, f).ok();
  }

  int fd_ = -1;
};

class TxnCoordinatorTest : public BrokerTest {
 protected:
  void SetUp() override {
    config_.txn_check_backoff_ms = 1000;
    config_.txn_check_backoff_max_ms = 1000;
    config_.txn_max_checks = 5;
    config_.txn_check_answer_timeout_ms = 30'000;
    Configure();
    BrokerTest::SetUp();
    c_ = Connect();
    ASSERT_EQ(c_->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  }
  virtual void Configure() {}

  // Stores a half of producer group "g" whose first check is due 1 s later; its log offset.
  int64_t SendHalf(const std::string& id, const std::string& body) {
    wire::Header h;
    h.set_kind(wire::SEND_HALF);
    auto* sr = h.mutable_send_request();
    sr->set_producer_group("g");
    auto* m = sr->add_messages();
    m->set_topic("t");
    m->set_message_id(id);
    m->set_body_size(static_cast<uint32_t>(body.size()));
    m->set_txn_check_timeout_ms(1000);
    wire::Frame f = c_->Call(h, {body});
    EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
    return f.header.send_response().results(0).log_offset();
  }

  wire::TxnInfo Show(const std::string& id) {
    wire::Header h;
    h.set_kind(wire::TXN_SHOW);
    h.mutable_txn_show_request()->set_message_id(id);
    wire::Frame f = c_->Call(h);
    EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
    return f.header.txn_show_response().transaction();
  }

  wire::TxnStatsResponse Stats() {
    wire::Header h;
    h.set_kind(wire::TXN_STATS);
    return c_->Call(h).header.txn_stats_response();
  }

  // Everything a fresh consumer group can receive from t (acked).
  std::vector<std::string> Drain(const std::string& group) {
    std::vector<std::string> bodies;
    for (auto& r : Receive(*c_, group, "t", 32, 0)) {
      bodies.push_back(r.body);
      EXPECT_EQ(Ack(*c_, group, "t", r.meta.receipt_handle()), wire::OK);
    }
    return bodies;
  }

  std::unique_ptr<WireClient> c_;
};

TEST_F(TxnCoordinatorTest, CommitAnswerToASupersededCheckCommits) {
  WireProducer p(broker_->port(), "g");
  const int64_t half = SendHalf("tx-1", "order");
  clock_.AdvanceMs(1000);
  wire::Frame first, second;
  ASSERT_TRUE(p.NextCheck(&first));
  EXPECT_EQ(first.header.check_txn_request().check_number(), 1u);
  EXPECT_EQ(first.header.check_txn_request().message().log_offset(), half);
  clock_.AdvanceMs(1000);
  ASSERT_TRUE(p.NextCheck(&second));
  EXPECT_EQ(second.header.check_txn_request().check_number(), 2u);

  // The slow producer answers the first check only now, as an older client would (by request
  // id alone): the answer is the producer's decision all the same.
  p.Answer(first, wire::TXN_COMMIT);
  ASSERT_TRUE(WaitUntil([&] { return Show("tx-1").state() == wire::TXN_COMMITTED; }))
      << "state " << wire::TxnState_Name(Show("tx-1").state());
  EXPECT_EQ(Show("tx-1").end_reason(), "check");
  // Its answer to the later check changes nothing.
  p.Answer(second, wire::TXN_COMMIT);
  ASSERT_TRUE(WaitUntil([&] { return Stats().answers_commit() == 2; }));
  EXPECT_EQ(Drain("c"), std::vector<std::string>{"order"});
  const wire::TxnStatsResponse s = Stats();
  EXPECT_EQ(s.committed(), 1);
  EXPECT_EQ(s.rolled_back(), 0);
  EXPECT_EQ(s.answers_failed(), 0);
  EXPECT_EQ(s.answers_unmatched(), 0);
  EXPECT_EQ(s.checks_in_flight(), 0);
}

class TxnFinalActionWaitTest : public TxnCoordinatorTest {
 protected:
  void Configure() override { config_.txn_max_checks = 2; }

  // Sends a half, lets its two checks go out (answering the first UNKNOWN), then lets the final
  // action fall due while the second is unanswered; returns the second check.
  wire::Frame ReachFinalActionWithACheckInFlight(WireProducer& p) {
    SendHalf("tx-1", "order");
    clock_.AdvanceMs(1000);
    wire::Frame first, second;
    EXPECT_TRUE(p.NextCheck(&first));
    p.Answer(first, wire::TXN_UNKNOWN, /*name_half=*/true);
    EXPECT_TRUE(WaitUntil([&] { return Stats().answers_unknown() == 1; }));
    clock_.AdvanceMs(1000);
    EXPECT_TRUE(p.NextCheck(&second));
    EXPECT_EQ(second.header.check_txn_request().check_number(), 2u);
    clock_.AdvanceMs(1000);  // the final action is due
    EXPECT_TRUE(WaitUntil([&] {
      return Stats().final_actions_deferred() >= 1 || Show("tx-1").state() != wire::TXN_PENDING;
    }));
    return second;
  }
};

TEST_F(TxnFinalActionWaitTest, LastCheckAnsweredCommitAfterADelayCommitsOnce) {
  WireProducer p(broker_->port(), "g");
  wire::Frame last = ReachFinalActionWithACheckInFlight(p);
  // The answer is on its way: no rollback, no park.
  wire::TxnInfo t = Show("tx-1");
  EXPECT_EQ(t.state(), wire::TXN_PENDING) << t.end_reason();
  EXPECT_FALSE(t.parked());
  EXPECT_EQ(Stats().final_actions_waiting(), 1);

  clock_.AdvanceMs(5000);  // later, but within the answer timeout
  p.Answer(last, wire::TXN_COMMIT, /*name_half=*/true);
  ASSERT_TRUE(WaitUntil([&] { return Show("tx-1").state() == wire::TXN_COMMITTED; }))
      << "state " << wire::TxnState_Name(Show("tx-1").state());
  EXPECT_EQ(Show("tx-1").end_reason(), "check");
  EXPECT_FALSE(Show("tx-1").parked());
  // Long after: nothing else happens to it (no final action, no second delivery).
  clock_.AdvanceMs(120'000);
  EXPECT_TRUE(WaitUntil([&] { return Stats().final_actions_waiting() == 0; }));
  EXPECT_EQ(Drain("c"), std::vector<std::string>{"order"});
  EXPECT_TRUE(Drain("c").empty());
  const wire::TxnStatsResponse s = Stats();
  EXPECT_EQ(s.committed(), 1);
  EXPECT_EQ(s.rolled_back(), 0);
  EXPECT_EQ(s.parked(), 0);
  EXPECT_EQ(s.checks_sent(), 2);
  EXPECT_EQ(s.answers_commit(), 1);
  EXPECT_TRUE(Receive(*c_, "inspector", "%TXN_PARKED%", 32, 0).empty());
}

TEST_F(TxnFinalActionWaitTest, FinalActionWaitsOnlyUntilTheAnswerTimeout) {
  WireProducer p(broker_->port(), "g");
  wire::Frame last = ReachFinalActionWithACheckInFlight(p);
  EXPECT_EQ(Show("tx-1").state(), wire::TXN_PENDING);
  clock_.AdvanceMs(config_.txn_check_answer_timeout_ms);
  ASSERT_TRUE(WaitUntil([&] { return Show("tx-1").parked(); }));
  EXPECT_EQ(Show("tx-1").state(), wire::TXN_ROLLED_BACK);
  EXPECT_EQ(Show("tx-1").end_reason(), "max_checks");
  EXPECT_EQ(Stats().answers_failed(), 1);  // the check that timed out
  EXPECT_EQ(Stats().checks_in_flight(), 0);

  // Too late: the answer still counts, but cannot undo the rollback.
  p.Answer(last, wire::TXN_COMMIT, /*name_half=*/true);
  ASSERT_TRUE(WaitUntil([&] { return Stats().answers_late() == 1; }));
  EXPECT_EQ(Stats().answers_commit(), 1);
  EXPECT_EQ(Show("tx-1").state(), wire::TXN_ROLLED_BACK);
  EXPECT_TRUE(Drain("c").empty());
}

TEST_F(TxnFinalActionWaitTest, UnknownAnswerToTheLastCheckLetsTheFinalActionGo) {
  WireProducer p(broker_->port(), "g");
  wire::Frame last = ReachFinalActionWithACheckInFlight(p);
  EXPECT_EQ(Show("tx-1").state(), wire::TXN_PENDING);
  p.Answer(last, wire::TXN_UNKNOWN, /*name_half=*/true);
  ASSERT_TRUE(WaitUntil([&] { return Show("tx-1").parked(); }));
  EXPECT_EQ(Show("tx-1").end_reason(), "max_checks");
  EXPECT_EQ(Stats().answers_unknown(), 2);
  EXPECT_EQ(Stats().answers_failed(), 0);
}

TEST_F(TxnCoordinatorTest, AnswerNamingItsHalfCommitsAfterItsCheckWasForgotten) {
  WireProducer p(broker_->port(), "g");
  SendHalf("tx-1", "order");
  // More checks in flight than the broker keeps per transaction: the oldest is forgotten.
  std::vector<wire::Frame> checks;
  for (int i = 0; i < 5; ++i) {
    clock_.AdvanceMs(1000);
    wire::Frame f;
    ASSERT_TRUE(p.NextCheck(&f)) << i;
    checks.push_back(std::move(f));
  }
  ASSERT_TRUE(WaitUntil([&] { return Stats().answers_failed() == 1; }));
  EXPECT_EQ(Stats().checks_in_flight(), 4);

  // A connection of no producer of the group cannot end it by naming the half.
  WireProducer stranger(broker_->port(), "other-group");
  stranger.Answer(checks[0], wire::TXN_COMMIT, /*name_half=*/true);
  ASSERT_TRUE(WaitUntil([&] { return Stats().answers_unmatched() == 1; }));
  EXPECT_EQ(Show("tx-1").state(), wire::TXN_PENDING);

  p.Answer(checks[0], wire::TXN_COMMIT, /*name_half=*/true);
  ASSERT_TRUE(WaitUntil([&] { return Show("tx-1").state() == wire::TXN_COMMITTED; }));
  EXPECT_EQ(Stats().answers_late(), 1);
  // The others are answered as they come: harmless.
  for (size_t i = 1; i < checks.size(); ++i) p.Answer(checks[i], wire::TXN_COMMIT);
  ASSERT_TRUE(WaitUntil([&] { return Stats().answers_commit() == 5; }));
  EXPECT_EQ(Stats().checks_in_flight(), 0);
  EXPECT_EQ(Drain("c"), std::vector<std::string>{"order"});
}

TEST_F(TxnCoordinatorTest, ClosedConnectionDropsItsChecksInFlight) {
  auto p = std::make_unique<WireProducer>(broker_->port(), "g");
  SendHalf("tx-1", "order");
  clock_.AdvanceMs(1000);
  wire::Frame f;
  ASSERT_TRUE(p->NextCheck(&f));
  ASSERT_TRUE(WaitUntil([&] { return Stats().checks_in_flight() == 1; }));
  p->Close();
  ASSERT_TRUE(WaitUntil([&] { return Stats().checks_in_flight() == 0; }));
  EXPECT_EQ(Stats().answers_failed(), 1);
  // The next producer of the group is asked at the next check and its answer ends it.
  WireProducer again(broker_->port(), "g");
  clock_.AdvanceMs(1000);
  ASSERT_TRUE(again.NextCheck(&f));
  again.Answer(f, wire::TXN_ROLLBACK, /*name_half=*/true);
  ASSERT_TRUE(WaitUntil([&] { return Show("tx-1").state() == wire::TXN_ROLLED_BACK; }));
  EXPECT_FALSE(Show("tx-1").parked());
  EXPECT_TRUE(Drain("c").empty());
}

}  // namespace
}  // namespace tidemq::testing
