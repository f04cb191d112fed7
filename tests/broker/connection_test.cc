// Hostile and broken clients against a real in-process broker (issue 10, item 9): bad frames are
// counted, the handshake / frame / idle timeouts close what they should and nothing else (in
// virtual time), the connection cap refuses and counts, and a client that never reads its
// replies is held back (TCP back-pressure) without holding up anyone else.
#include <set>
#include <thread>

#include "tests/broker/broker_fixture.h"
#include "tests/broker/raw_socket.h"

namespace tidemq::testing {
namespace {

// Generous real-time bound for something the broker does on its own (a close, a pause); the
// tests assert what happens, not how fast.
constexpr int kEventuallyMs = 10'000;

class BrokerConnectionTest : public BrokerTest {
 protected:
  // The counter `name` from STATS, -1 when the broker has no such counter.
  int64_t Counter(const std::string& name) {
    if (!admin_) admin_ = Connect();
    wire::Header s;
    s.set_kind(wire::STATS);
    wire::Frame f = admin_->Call(s);
    if (f.header.code() == wire::UNAVAILABLE) {  // closed meanwhile (idle tests): once more
      admin_ = Connect();
      f = admin_->Call(s);
    }
    EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
    const auto& counters = f.header.stats_response().counters();
    auto it = counters.find(name);
    return it == counters.end() ? -1 : it->second;
  }
  // Waits (bounded, real time) until the counter reaches at least `value`.
  bool CounterReaches(const std::string& name, int64_t value) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kEventuallyMs);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Counter(name) >= value) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
  }
  static wire::Header Stats() {
    wire::Header s;
    s.set_kind(wire::STATS);
    return s;
  }

  std::unique_ptr<WireClient> admin_;
};

TEST_F(BrokerConnectionTest, BadFramesAreCountedAndCloseOnlyTheirConnection) {
  for (std::string junk : {std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                           RawSocket::Prefix(100u << 20, 0),  // over --max-frame-bytes
                           RawSocket::Prefix(20, 8) + std::string(16, '\xff')}) {
    RawSocket bad(broker_->port());
    ASSERT_TRUE(bad.Write(junk));
    EXPECT_TRUE(bad.WaitClosed(kEventuallyMs));
  }
  EXPECT_EQ(Counter("bad_frames"), 3);
}

TEST_F(BrokerConnectionTest, LargeFrameArrivingInPiecesIsServed) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  // A 900 KiB send split into odd-sized writes: the buffer grows as the pieces arrive.
  wire::Header h;
  h.set_kind(wire::SEND);
  h.set_request_id(7);
  auto* m = h.mutable_send_request()->add_messages();
  m->set_topic("t");
  m->set_message_id("big-1");
  std::string body(900u << 10, 'b');
  m->set_body_size(static_cast<uint32_t>(body.size()));
  std::string frame;
  wire::EncodeFrame(h, body, &frame);
  for (size_t i = 0; i < frame.size(); i += 30'011) {
    c->SendRaw(std::string_view(frame).substr(i, 30'011));
  }
  wire::Frame reply;
  ASSERT_TRUE(c->Read(&reply));
  EXPECT_EQ(reply.header.code(), wire::OK) << reply.header.error_message();
  auto got = Receive(*c, "g", "t", 1, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, body);
}

class ConnectionTimeoutTest : public BrokerConnectionTest {
 protected:
  void SetUp() override {
    config_.handshake_timeout_ms = 5'000;
    config_.frame_timeout_ms = 20'000;
    config_.idle_timeout_ms = 60'000;
    BrokerConnectionTest::SetUp();
  }
};

TEST_F(ConnectionTimeoutTest, SilentNewConnectionIsClosedAfterTheHandshakeTimeout) {
  auto good = Connect();
  ASSERT_EQ(good->Call(Stats()).header.code(), wire::OK);
  RawSocket silent(broker_->port());
  RawSocket half_prefix(broker_->port());
  ASSERT_TRUE(half_prefix.Write(RawSocket::Prefix(1000, 0).substr(0, 6)));
  ASSERT_TRUE(CounterReaches("connections", 4));  // good, silent, half_prefix, admin
  clock_.AdvanceMs(5'001);
  EXPECT_TRUE(silent.WaitClosed(kEventuallyMs));
  EXPECT_TRUE(half_prefix.WaitClosed(kEventuallyMs));
  EXPECT_EQ(Counter("connections_timed_out"), 2);
  // A connection that completed a frame is not affected.
  EXPECT_EQ(good->Call(Stats()).header.code(), wire::OK);
}

TEST_F(ConnectionTimeoutTest, TrickledFrameIsClosedAfterTheFrameTimeout) {
  RawSocket slow(broker_->port());
  std::string frame;
  wire::EncodeFrame(Stats(), std::string_view(), &frame);
  ASSERT_TRUE(slow.Write(frame));  // handshake done: one complete frame
  // Then a frame announced at 1000 bytes, fed a few bytes every 6 s (virtual): bytes keep
  // coming, but the frame never completes. The 20 s frame timeout closes it after a few
  // rounds (more if the broker sees the prefix late); 20 rounds are 120 s.
  ASSERT_TRUE(slow.Write(RawSocket::Prefix(1000, 0)));
  bool closed = false;
  for (int i = 0; i < 20 && !closed; ++i) {
    clock_.AdvanceMs(6'000);
    closed = !slow.Write("abc") || slow.WaitClosed(200);
  }
  EXPECT_TRUE(closed);
  EXPECT_EQ(Counter("connections_timed_out"), 1);
}

TEST_F(ConnectionTimeoutTest, IdleConnectionIsClosedButAParkedLongPollIsNot) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  RawSocket idle(broker_->port());
  std::string frame;
  wire::EncodeFrame(Stats(), std::string_view(), &frame);
  ASSERT_TRUE(idle.Write(frame));

  // A receive parked for up to 30 s (real time) while 61 s of virtual time pass.
  std::vector<Received> got;
  std::thread waiter([&] {
    auto w = Connect();
    got = Receive(*w, "g", "t", 1, 30'000);
  });
  ASSERT_TRUE(CounterReaches("long_polls_parked", 1));
  clock_.AdvanceMs(61'000);
  EXPECT_TRUE(idle.WaitClosed(kEventuallyMs));
  // The idle close has run (`c`, idle too, is gone as well); the parked receive's connection
  // is still there to answer.
  auto fresh = Connect();
  EXPECT_EQ(Send(*fresh, "t", {{"wake"}}).header.code(), wire::OK);
  waiter.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "wake");
}

class ConnectionCapTest : public BrokerConnectionTest {
 protected:
  void SetUp() override {
    config_.max_connections = 3;
    BrokerConnectionTest::SetUp();
  }
};

TEST_F(ConnectionCapTest, ConnectionsBeyondTheCapAreRefusedAndCounted) {
  admin_ = Connect();
  ASSERT_EQ(admin_->Call(Stats()).header.code(), wire::OK);
  auto a = Connect();
  ASSERT_EQ(a->Call(Stats()).header.code(), wire::OK);
  auto b = std::make_unique<WireClient>(broker_->port());
  ASSERT_EQ(b->Call(Stats()).header.code(), wire::OK);
  RawSocket over(broker_->port());
  EXPECT_TRUE(over.WaitClosed(kEventuallyMs));
  EXPECT_EQ(Counter("connections_refused"), 1);
  EXPECT_EQ(Counter("connections"), 3);
  // Room again once one goes.
  b.reset();
  for (int i = 0; i < 1000 && Counter("connections") > 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  auto d = Connect();
  EXPECT_EQ(d->Call(Stats()).header.code(), wire::OK);
}

class BackPressureTest : public BrokerConnectionTest {
 protected:
  void SetUp() override {
    config_.max_connection_inflight_bytes = 1 << 20;
    config_.max_inflight_bytes = 3 << 20;
    config_.max_frame_bytes = 2 << 20;
    BrokerConnectionTest::SetUp();
  }

  // `n` receives of one 100 KiB message each, every one for a new group (so each finds the
  // message), in one write.
  static std::string PipelinedReceives(int n) {
    std::string out;
    for (int i = 0; i < n; ++i) {
      wire::Header h;
      h.set_kind(wire::RECEIVE);
      h.set_request_id(static_cast<uint64_t>(i + 1));
      auto* r = h.mutable_receive_request();
      r->set_group("g" + std::to_string(i));
      r->set_topic("t");
      r->set_max_messages(1);
      wire::EncodeFrame(h, std::string_view(), &out);
    }
    return out;
  }
};

TEST_F(BackPressureTest, ClientsThatNeverReadAreHeldBackAndOthersKeepWorking) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{std::string(100 << 10, 'x')}}).header.code(), wire::OK);

  // Three clients ask for 200 replies of 100 KiB each (20 MiB apiece) and read none of them.
  // (The kernel's socket buffers take a few MiB of each before the broker holds any.)
  constexpr int kReceives = 200;
  std::vector<std::unique_ptr<RawSocket>> readers;
  for (int i = 0; i < 3; ++i) {
    readers.push_back(std::make_unique<RawSocket>(broker_->port(), /*rcvbuf=*/4096));
    ASSERT_TRUE(readers.back()->Write(PipelinedReceives(kReceives)));
  }
  // The broker stops reading from each of them.
  ASSERT_TRUE(CounterReaches("reads_paused", 3));
  const int64_t served = Counter("receive_requests");
  EXPECT_LT(served, 3 * kReceives / 2);
  // What they hold stays within the broker-wide limit plus one reply per connection.
  EXPECT_LE(Counter("inflight_bytes"), (3 << 20) + 3 * (200 << 10));

  // Meanwhile a well-behaved client sends and receives.
  auto good = Connect();
  ASSERT_EQ(Send(*good, "t", {{"small"}}).header.code(), wire::OK);
  auto got = Receive(*good, "other", "t", 10, 0);
  EXPECT_EQ(got.size(), 2u);

  // Closing them gives their bytes back: what is left is less than one of their 100 KiB
  // replies — the STATS exchange asking (its request, and the previous STATS reply, a few KiB,
  // whose write completion may still be on its way).
  constexpr int64_t kStatsExchange = 16 << 10;
  readers.clear();
  for (int i = 0; i < 2000 && Counter("inflight_bytes") > kStatsExchange; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_LE(Counter("inflight_bytes"), kStatsExchange);
}

TEST_F(BackPressureTest, PausedReaderResumesAndGetsEveryReply) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{std::string(100 << 10, 'x')}}).header.code(), wire::OK);
  // A client that writes 200 receives (20 MiB of replies, more than the kernel's socket
  // buffers hold) before it reads anything.
  constexpr size_t kReceives = 200;
  WireClient slow(broker_->port());
  slow.SendRaw(PipelinedReceives(kReceives));
  ASSERT_TRUE(CounterReaches("reads_paused", 1));
  // Then it reads: the broker resumes and answers every one.
  std::set<uint64_t> answered;
  wire::Frame f;
  while (answered.size() < kReceives && slow.Read(&f)) {
    EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
    EXPECT_EQ(f.header.receive_response().messages_size(), 1);
    answered.insert(f.header.request_id());
  }
  EXPECT_EQ(answered.size(), kReceives);
}

TEST_F(BackPressureTest, AReceiveWithNoRoomForItsReplyGetsResourceExhausted) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{"m"}}).header.code(), wire::OK);
  // A receive whose own frame (1.5 MiB of padding) is more than the connection may hold: it
  // is admitted (the connection held nothing), but leaves no room for a reply.
  wire::Header h;
  h.set_kind(wire::RECEIVE);
  h.mutable_receive_request()->set_group("g");
  h.mutable_receive_request()->set_topic("t");
  wire::Frame f = c->Call(h, {std::string(3 << 19, 'p')});
  EXPECT_EQ(f.header.code(), wire::RESOURCE_EXHAUSTED) << f.header.error_message();
  EXPECT_EQ(Counter("receives_refused"), 1);
  // Nothing was leased; the connection goes on.
  auto got = Receive(*c, "g", "t", 1, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].meta.delivery_attempt(), 1u);
}

}  // namespace
}  // namespace tidemq::testing
