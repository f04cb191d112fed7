// The RocketMQ 5 endpoint over a real in-process broker, driven by a grpc++ client of the
// published API: routes, the Telemetry settings handshake, sends of each served type landing
// in the same store the native protocol reads, clear errors for what is refused or not served
// yet, and garbage on the port leaving the endpoint serving.
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio.hpp>

#include "tests/rocketmq/rocketmq_fixture.h"

namespace tidemq::testing {
namespace {

TEST_F(RocketMqEndpointTest, QueryRouteNamesEveryQueueOfTheTopicAndRefusesAMissingTopic) {
  v2::QueryRouteRequest req;
  req.mutable_topic()->set_name("orders");
  v2::QueryRouteResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->QueryRoute(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::OK);
  ASSERT_EQ(resp.message_queues_size(), 4);
  for (int i = 0; i < 4; ++i) {
    const v2::MessageQueue& q = resp.message_queues(i);
    EXPECT_EQ(q.id(), i);
    EXPECT_EQ(q.topic().name(), "orders");
    EXPECT_EQ(q.permission(), v2::READ_WRITE);
    ASSERT_EQ(q.broker().endpoints().addresses_size(), 1);
    EXPECT_EQ(q.broker().endpoints().addresses(0).port(), endpoint_->port());
  }

  req.mutable_topic()->set_name("nowhere");
  v2::QueryRouteResponse missing;
  grpc::ClientContext ctx2;
  ASSERT_TRUE(stub_->QueryRoute(&ctx2, req, &missing).ok());
  EXPECT_EQ(missing.status().code(), v2::TOPIC_NOT_FOUND) << missing.status().message();
  EXPECT_EQ(missing.message_queues_size(), 0);
}

TEST_F(RocketMqEndpointTest, TelemetryAnswersTheSettingsWithTheBrokersLimits) {
  grpc::ClientContext ctx;
  auto stream = stub_->Telemetry(&ctx);
  v2::TelemetryCommand hello;
  auto* s = hello.mutable_settings();
  s->set_client_type(v2::PRODUCER);
  s->mutable_publishing()->add_topics()->set_name("orders");
  s->mutable_backoff_policy()->set_max_attempts(3);
  ASSERT_TRUE(stream->Write(hello));
  v2::TelemetryCommand answer;
  ASSERT_TRUE(stream->Read(&answer));
  EXPECT_EQ(answer.status().code(), v2::OK);
  ASSERT_TRUE(answer.has_settings());
  EXPECT_EQ(answer.settings().publishing().max_body_size(), 4 << 20);
  EXPECT_TRUE(answer.settings().publishing().validate_message_type());
  EXPECT_EQ(answer.settings().backoff_policy().max_attempts(), 3);
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(RocketMqEndpointTest, SentMessagesLandInTheStoreTheNativeProtocolReads) {
  v2::Message normal = NewMessage("01AA", "hello");
  normal.mutable_system_properties()->set_tag("paid");
  normal.mutable_system_properties()->add_keys("order-1");
  (*normal.mutable_user_properties())["region"] = "eu";
  v2::SendMessageResponse r = Send(normal);
  ASSERT_EQ(r.status().code(), v2::OK) << r.status().message();
  ASSERT_EQ(r.entries_size(), 1);
  EXPECT_EQ(r.entries(0).message_id(), "01AA");
  EXPECT_EQ(r.entries(0).status().code(), v2::OK);

  v2::Message fifo = NewMessage("01AB", "in order");
  fifo.mutable_system_properties()->set_message_type(v2::FIFO);
  fifo.mutable_system_properties()->set_message_group("customer-7");
  EXPECT_EQ(Send(fifo).status().code(), v2::OK);

  auto c = Connect();
  auto got = Receive(*c, "g", "orders", 10, 1000);
  ASSERT_EQ(got.size(), 2u);
  std::map<std::string, Received> by_id;
  for (auto& m : got) by_id[m.meta.message_id()] = m;
  ASSERT_EQ(by_id.count("01AA"), 1u);
  EXPECT_EQ(by_id["01AA"].body, "hello");
  EXPECT_EQ(by_id["01AA"].meta.tag(), "paid");
  ASSERT_EQ(by_id["01AA"].meta.keys_size(), 1);
  EXPECT_EQ(by_id["01AA"].meta.keys(0), "order-1");
  EXPECT_EQ(by_id["01AA"].meta.properties().at("region"), "eu");
  ASSERT_EQ(by_id.count("01AB"), 1u);
  EXPECT_EQ(by_id["01AB"].meta.message_group(), "customer-7");
}

TEST_F(RocketMqEndpointTest, ADelayedMessageIsDueAtItsDeliveryTimestamp) {
  v2::Message delayed = NewMessage("01AC", "later");
  delayed.mutable_system_properties()->set_message_type(v2::DELAY);
  const int64_t due_ms = clock_.NowMs() + 60'000;
  auto* ts = delayed.mutable_system_properties()->mutable_delivery_timestamp();
  ts->set_seconds(due_ms / 1000);
  ts->set_nanos(static_cast<int32_t>(due_ms % 1000) * 1'000'000);
  ASSERT_EQ(Send(delayed).status().code(), v2::OK);
  auto c = Connect();
  clock_.AdvanceMs(59'999);
  EXPECT_TRUE(Receive(*c, "g", "orders", 10, 0).empty());  // not due yet
  clock_.AdvanceMs(1);
  auto got = Receive(*c, "g", "orders", 10, 10'000);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].meta.message_id(), "01AC");
  EXPECT_EQ(got[0].body, "later");
  EXPECT_EQ(got[0].meta.properties().at("DELIVER_AT_MS"), std::to_string(due_ms));
}

TEST_F(RocketMqEndpointTest, MessagesThatContradictTheirTypeAreRefusedClearly) {
  v2::Message fifo = NewMessage("01AD", "x");
  fifo.mutable_system_properties()->set_message_type(v2::FIFO);  // without its group
  v2::SendMessageResponse r = Send(fifo);
  EXPECT_EQ(r.status().code(), v2::BAD_REQUEST);
  EXPECT_NE(r.status().message().find("message group"), std::string::npos);
  ASSERT_EQ(r.entries_size(), 1);
  EXPECT_EQ(r.entries(0).status().code(), v2::BAD_REQUEST);

  v2::Message unknown_topic = NewMessage("01AE", "x");
  unknown_topic.mutable_topic()->set_name("nowhere");
  EXPECT_EQ(Send(unknown_topic).status().code(), v2::TOPIC_NOT_FOUND);

  v2::SendMessageRequest empty;
  v2::SendMessageResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->SendMessage(&ctx, empty, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::BAD_REQUEST);
}

TEST_F(RocketMqEndpointTest, RpcsNotServedSaySoAndGarbageLeavesTheEndpointServing) {
  v2::UpdateOffsetRequest update;
  v2::UpdateOffsetResponse update_resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->UpdateOffset(&ctx, update, &update_resp).ok());
  EXPECT_EQ(update_resp.status().code(), v2::NOT_IMPLEMENTED);
  EXPECT_NE(update_resp.status().message().find("UpdateOffset"), std::string::npos);

  grpc::ClientContext rctx;
  v2::PullMessageRequest rreq;
  auto reader = stub_->PullMessage(&rctx, rreq);
  v2::PullMessageResponse rresp;
  ASSERT_TRUE(reader->Read(&rresp));
  EXPECT_EQ(rresp.status().code(), v2::NOT_IMPLEMENTED);
  EXPECT_TRUE(reader->Finish().ok());

  // Bytes that are not HTTP/2 at all, then a valid preface with a garbage frame.
  for (std::string junk : {std::string(4096, '\xff'),
                           std::string("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") + std::string(64, '\x7f')}) {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), endpoint_->port()});
    boost::system::error_code ec;
    boost::asio::write(s, boost::asio::buffer(junk), ec);
    char buf[256];
    s.read_some(boost::asio::buffer(buf), ec);  // whatever the server answers, or EOF
  }
  v2::QueryRouteRequest req;
  req.mutable_topic()->set_name("orders");
  v2::QueryRouteResponse resp;
  grpc::ClientContext qctx;
  ASSERT_TRUE(stub_->QueryRoute(&qctx, req, &resp).ok());
  EXPECT_EQ(resp.message_queues_size(), 4);
}

}  // namespace
}  // namespace tidemq::testing
