#include "client/src/connection.h"

#include <gtest/gtest.h>

#include <future>
#include <map>
#include <memory>
#include <set>

#include "tests/client/fake_broker.h"

namespace tidemq::client {
namespace {

using testing::FakeBroker;

ConnectionOptions OptionsFor(const FakeBroker& broker) {
  ConnectionOptions o;
  o.endpoints = {*ParseEndpoint(broker.endpoint())};
  o.connect_timeout_ms = 5000;
  return o;
}

wire::Header CreateTopic(const std::string& name) {
  wire::Header h;
  h.set_kind(wire::CREATE_TOPIC);
  h.mutable_create_topic_request()->mutable_config()->set_name(name);
  return h;
}

std::future<Result<wire::Frame>> CallFuture(Connection& c, wire::Header h, int64_t timeout_ms,
                                            std::string_view body = {}) {
  auto p = std::make_shared<std::promise<Result<wire::Frame>>>();
  auto f = p->get_future();
  std::vector<std::string_view> bodies;
  if (!body.empty()) bodies.push_back(body);
  c.Call(std::move(h), bodies, timeout_ms,
         [p](Result<wire::Frame> r) { p->set_value(std::move(r)); });
  return f;
}

TEST(EndpointTest, Parses) {
  auto a = ParseEndpoint("10.0.0.1:1234");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->host, "10.0.0.1");
  EXPECT_EQ(a->port, 1234);
  auto b = ParseEndpoint("broker.local");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->port, kDefaultPort);
  auto c = ParseEndpoint("[::1]:9000");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->host, "::1");
  EXPECT_EQ(c->ToString(), "[::1]:9000");
  EXPECT_FALSE(ParseEndpoint("").ok());
  EXPECT_FALSE(ParseEndpoint(":9000").ok());
  EXPECT_FALSE(ParseEndpoint("host:").ok());
  EXPECT_FALSE(ParseEndpoint("host:70000").ok());
  EXPECT_FALSE(ParseEndpoint("host:12ab").ok());
  EXPECT_FALSE(ParseEndpoint("::1:9000").ok());
}

TEST(ConnectionTest, StartFailsWhenNothingListens) {
  uint16_t port;
  {
    FakeBroker gone;
    port = gone.port();
  }
  ConnectionOptions o;
  o.endpoints = {{"127.0.0.1", port}};
  Connection c(o);
  Status st = c.Start();
  EXPECT_EQ(st.code(), Code::kUnavailable) << st.ToString();
  // A call while unreachable fails with Unavailable once its deadline passes.
  auto r = CallFuture(c, CreateTopic("t"), 50).get();
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
}

TEST(ConnectionTest, PipelinedResponsesMatchOutOfOrder) {
  FakeBroker broker;
  Connection c(OptionsFor(broker));
  ASSERT_TRUE(c.Start().ok());
  broker.Accept();

  constexpr int kCalls = 5;
  std::vector<std::future<Result<wire::Frame>>> futures;
  for (int i = 0; i < kCalls; ++i) {
    futures.push_back(
        CallFuture(c, CreateTopic("t" + std::to_string(i)), 10000, "body" + std::to_string(i)));
  }
  std::vector<wire::Frame> requests;
  std::set<uint64_t> ids;
  for (int i = 0; i < kCalls; ++i) {
    requests.push_back(broker.ReadFrame());
    EXPECT_FALSE(requests.back().header.is_response());
    ids.insert(requests.back().header.request_id());
  }
  EXPECT_EQ(ids.size(), size_t{kCalls});
  // Answer newest first; each response names the topic its request carried.
  for (int i = kCalls - 1; i >= 0; --i) {
    wire::Header resp;
    resp.mutable_create_topic_response()->mutable_topic()->mutable_config()->set_name(
        requests[i].header.create_topic_request().config().name());
    broker.Respond(requests[i], resp, requests[i].body);
  }
  for (int i = 0; i < kCalls; ++i) {
    auto r = futures[i].get();
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->header.create_topic_response().topic().config().name(), "t" + std::to_string(i));
    EXPECT_EQ(r->body, "body" + std::to_string(i));
  }
}

TEST(ConnectionTest, ErrorResponseBecomesStatus) {
  FakeBroker broker;
  Connection c(OptionsFor(broker));
  ASSERT_TRUE(c.Start().ok());
  broker.Accept();
  auto f = CallFuture(c, CreateTopic("t"), 10000);
  wire::Frame req = broker.ReadFrame();
  wire::Header resp;
  resp.set_code(wire::ALREADY_EXISTS);
  resp.set_error_message("topic 't' already exists");
  broker.Respond(req, resp);
  auto r = f.get();
  EXPECT_EQ(r.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(r.status().message(), "topic 't' already exists");
}

TEST(ConnectionTest, UnansweredRequestTimesOutAndLateAnswerIsIgnored) {
  FakeBroker broker;
  Connection c(OptionsFor(broker));
  ASSERT_TRUE(c.Start().ok());
  broker.Accept();
  auto slow = CallFuture(c, CreateTopic("slow"), 100);
  wire::Frame slow_req = broker.ReadFrame();
  auto r = slow.get();  // nobody answers
  EXPECT_EQ(r.status().code(), Code::kTimeout) << r.status().ToString();

  // The late answer arrives, then a fresh call still works on the same connection.
  broker.Respond(slow_req, wire::Header());
  auto next = CallFuture(c, CreateTopic("next"), 10000);
  wire::Frame next_req = broker.ReadFrame();
  EXPECT_EQ(next_req.header.create_topic_request().config().name(), "next");
  broker.Respond(next_req, wire::Header());
  EXPECT_TRUE(next.get().ok());
  EXPECT_EQ(c.connect_count(), 1u);
}

TEST(ConnectionTest, ReconnectsAfterServerClosesAndFailsInflight) {
  FakeBroker broker;
  ConnectionOptions o = OptionsFor(broker);
  o.min_reconnect_backoff_ms = 10;
  Connection c(o);
  ASSERT_TRUE(c.Start().ok());
  broker.Accept();
  auto inflight = CallFuture(c, CreateTopic("lost"), 10000);
  broker.ReadFrame();
  broker.CloseConnection();
  auto r = inflight.get();
  EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();

  broker.Accept();  // the client comes back on its own
  auto again = CallFuture(c, CreateTopic("again"), 10000);
  wire::Frame req = broker.ReadFrame();
  EXPECT_EQ(req.header.create_topic_request().config().name(), "again");
  broker.Respond(req, wire::Header());
  EXPECT_TRUE(again.get().ok());
  EXPECT_EQ(c.connect_count(), 2u);
}

TEST(ConnectionTest, UnknownBrokerRequestIsAnsweredUnsupported) {
  FakeBroker broker;
  Connection c(OptionsFor(broker));
  ASSERT_TRUE(c.Start().ok());
  broker.Accept();
  wire::Header req;
  req.set_request_id(4242);
  req.set_kind(static_cast<wire::RequestKind>(100));
  broker.WriteFrame(req);
  wire::Frame resp = broker.ReadFrame();
  EXPECT_TRUE(resp.header.is_response());
  EXPECT_EQ(resp.header.request_id(), 4242u);
  EXPECT_EQ(resp.header.kind(), 100);
  EXPECT_EQ(resp.header.code(), wire::UNSUPPORTED);
  EXPECT_FALSE(resp.header.error_message().empty());
}

TEST(ConnectionTest, RegisteredHandlerAnswersBrokerRequest) {
  FakeBroker broker;
  Connection c(OptionsFor(broker));
  auto kind = static_cast<wire::RequestKind>(101);
  c.RegisterHandler(kind, [](wire::Frame request, Connection::Responder respond) {
    wire::Header resp;
    resp.set_error_message("echo:" + request.body);  // carries the answer for the test
    respond(std::move(resp), request.body);
  });
  ASSERT_TRUE(c.Start().ok());
  broker.Accept();
  wire::Header req;
  req.set_request_id(7);
  req.set_kind(kind);
  broker.WriteFrame(req, "ping");
  wire::Frame resp = broker.ReadFrame();
  EXPECT_TRUE(resp.header.is_response());
  EXPECT_EQ(resp.header.request_id(), 7u);
  EXPECT_EQ(resp.header.code(), wire::OK);
  EXPECT_EQ(resp.header.error_message(), "echo:ping");
  EXPECT_EQ(resp.body, "ping");
}

TEST(ConnectionTest, CloseFailsPendingCallsWithCancelled) {
  FakeBroker broker;
  auto c = std::make_unique<Connection>(OptionsFor(broker));
  ASSERT_TRUE(c->Start().ok());
  broker.Accept();
  auto f = CallFuture(*c, CreateTopic("t"), 60000);
  broker.ReadFrame();
  c->Close();
  EXPECT_EQ(f.get().status().code(), Code::kCancelled);
  // After Close, calls fail at once.
  EXPECT_EQ(CallFuture(*c, CreateTopic("u"), 60000).get().status().code(), Code::kCancelled);
}

TEST(ConnectionTest, CancelFailsOneCall) {
  FakeBroker broker;
  Connection c(OptionsFor(broker));
  ASSERT_TRUE(c.Start().ok());
  broker.Accept();
  auto p = std::make_shared<std::promise<Result<wire::Frame>>>();
  uint64_t id = c.Call(CreateTopic("t"), {}, 60000,
                       [p](Result<wire::Frame> r) { p->set_value(std::move(r)); });
  broker.ReadFrame();
  c.Cancel(id, Status(Code::kCancelled, "stop"));
  auto r = p->get_future().get();
  EXPECT_EQ(r.status().code(), Code::kCancelled);
  EXPECT_EQ(r.status().message(), "stop");
}

TEST(ConnectionTest, BlockingCallFromCallbackIsRefused) {
  FakeBroker broker;
  Connection c(OptionsFor(broker));
  ASSERT_TRUE(c.Start().ok());
  broker.Accept();
  std::promise<Status> inner;
  c.RunAfter(
      0, [&](bool closed) { inner.set_value(c.CallSync(CreateTopic("t"), {}, 1000).status()); });
  EXPECT_EQ(inner.get_future().get().code(), Code::kFailedPrecondition);
}

}  // namespace
}  // namespace tidemq::client
