// Consuming through the RocketMQ 5 endpoint: receive (batches, tag filters, long polls, the
// system properties clients verify), ack, invisible-duration changes, lapsed leases retried
// with the attempt counted, forwards to the DLQ, and a message crossing protocols both ways.
#include <zlib.h>

#include <algorithm>
#include <thread>

#include "tests/common/eventually.h"
#include "tests/rocketmq/rocketmq_fixture.h"

namespace tidemq::testing {
namespace {

TEST_F(RocketMqEndpointTest, ReceivedMessagesCarryWhatClientsVerifyAndAckSettlesThem) {
  for (int i = 0; i < 3; ++i) {
    v2::Message m = NewMessage("01R" + std::to_string(i), "body-" + std::to_string(i));
    m.mutable_system_properties()->set_tag(i == 2 ? "refund" : "paid");
    m.mutable_system_properties()->add_keys("order-" + std::to_string(i));
    *m.mutable_system_properties()->mutable_born_timestamp() = rocketmq::ToTimestamp(1'700'000'000'123);
    (*m.mutable_user_properties())["region"] = "eu";
    ASSERT_EQ(Send(m).status().code(), v2::OK);
  }
  GrpcReceived got = ReceiveGrpc("g", "orders", 32, 30'000, 0, "paid || other");
  ASSERT_EQ(got.status.code(), v2::OK) << got.status.message();
  ASSERT_EQ(got.messages.size(), 2u);  // the refund is filtered out
  for (const v2::Message& m : got.messages) {
    const v2::SystemProperties& sp = m.system_properties();
    EXPECT_EQ(m.topic().name(), "orders");
    EXPECT_EQ(sp.tag(), "paid");
    EXPECT_EQ(sp.body_digest().type(), v2::MD5);
    EXPECT_EQ(sp.body_digest().checksum(), rocketmq::Md5Hex(m.body()));
    EXPECT_EQ(sp.delivery_attempt(), 1);
    EXPECT_EQ(sp.message_type(), v2::NORMAL);
    EXPECT_EQ(rocketmq::ToMs(sp.born_timestamp()), 1'700'000'000'123);
    EXPECT_TRUE(sp.has_store_timestamp());
    EXPECT_FALSE(sp.receipt_handle().empty());
    EXPECT_EQ(rocketmq::ToMs(sp.invisible_duration()), 30'000);
    EXPECT_EQ(m.user_properties().at("region"), "eu");
    EXPECT_EQ(AckGrpc("g", m).code(), v2::OK);
    EXPECT_EQ(AckGrpc("g", m).code(), v2::INVALID_RECEIPT_HANDLE);  // settled already
  }
  // MD5 of "body-0" (md5sum), as the clients compute it: upper-case hex.
  EXPECT_EQ(rocketmq::Md5Hex("body-0"), "0FF85A33EE8C8AA4F59A843D5199909F");

  // The filter is the group's subscription: what it left out is not the group's to receive
  // (as in RocketMQ); another group subscribed to it gets it.
  GrpcReceived none = ReceiveGrpc("g", "orders", 32, 30'000, 0);
  EXPECT_EQ(none.status.code(), v2::MESSAGE_NOT_FOUND);
  EXPECT_TRUE(none.messages.empty());
  GrpcReceived refunds = ReceiveGrpc("refunds", "orders", 32, 30'000, 0, "refund");
  ASSERT_EQ(refunds.messages.size(), 1u);
  EXPECT_EQ(refunds.messages[0].system_properties().tag(), "refund");
  EXPECT_EQ(AckGrpc("refunds", refunds.messages[0]).code(), v2::OK);
}

TEST_F(RocketMqEndpointTest, ALongPollIsAnsweredWhenAMessageArrives) {
  GrpcReceived got;
  std::thread receiver([&] { got = ReceiveGrpc("g", "orders", 32, 30'000, 20'000); });
  // No timing assertion: the receive parks (or not yet) and must end with the message either way.
  ASSERT_EQ(Send(NewMessage("01LP", "wake up")).status().code(), v2::OK);
  receiver.join();
  ASSERT_EQ(got.status.code(), v2::OK);
  ASSERT_EQ(got.messages.size(), 1u);
  EXPECT_EQ(got.messages[0].body(), "wake up");
}

int64_t Counter(const broker::StatsReport& r, const std::string& name) {
  for (const auto& [k, v] : r.counters) {
    if (k == name) return v;
  }
  return -1;
}

// Stopping the endpoint answers its parked receives (no messages) instead of waiting out their
// long polls: a client sees MESSAGE_NOT_FOUND and a clean end of the stream.
TEST_F(RocketMqEndpointTest, StoppingTheEndpointAnswersParkedReceives) {
  constexpr int kReceivers = 8;
  std::vector<GrpcReceived> got(kReceivers);
  std::vector<std::thread> receivers;
  for (int i = 0; i < kReceivers; ++i) {
    receivers.emplace_back([&, i] { got[i] = ReceiveGrpc("g", "orders", 8, 30'000, 50'000); });
  }
  ASSERT_TRUE(Eventually([&] {
    return Counter(broker_->core()->admin().Stats(), "long_polls_parked") == kReceivers;
  }));
  endpoint_->Stop();
  for (auto& t : receivers) t.join();
  for (const GrpcReceived& r : got) {
    EXPECT_EQ(r.status.code(), v2::MESSAGE_NOT_FOUND) << r.status.message();
    EXPECT_TRUE(r.messages.empty());
  }
}

TEST_F(RocketMqEndpointTest, ChangingTheInvisibleDurationGivesANewHandleAndALapseRetries) {
  auto c = Connect();
  wire::Header group = CreateGroup("g", false, false);
  auto* retry = group.mutable_create_group_request()->mutable_config()->mutable_retry();
  retry->set_kind(wire::RetryPolicy::CUSTOM);
  retry->add_delays_ms(1000);
  ASSERT_EQ(c->Call(group).header.code(), wire::OK);
  ASSERT_EQ(Send(NewMessage("01CI", "slow work")).status().code(), v2::OK);

  GrpcReceived got = ReceiveGrpc("g", "orders", 1, 10'000, 0);
  ASSERT_EQ(got.messages.size(), 1u);
  const v2::Message first = got.messages[0];
  v2::ChangeInvisibleDurationRequest req;
  req.mutable_group()->set_name("g");
  *req.mutable_topic() = first.topic();
  req.set_receipt_handle(first.system_properties().receipt_handle());
  req.set_message_id("01CI");
  *req.mutable_invisible_duration() = rocketmq::ToDuration(5'000);
  v2::ChangeInvisibleDurationResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ChangeInvisibleDuration(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  ASSERT_FALSE(resp.receipt_handle().empty());
  EXPECT_NE(resp.receipt_handle(), first.system_properties().receipt_handle());
  EXPECT_EQ(AckGrpc("g", first).code(), v2::INVALID_RECEIPT_HANDLE);  // the old handle is gone

  // The new lease lapses unacked: the message comes back after the group's back-off, its
  // attempt counted.
  clock_.AdvanceMs(5'001);
  clock_.AdvanceMs(1'001);
  GrpcReceived again = ReceiveGrpc("g", "orders", 1, 10'000, 10'000);
  ASSERT_EQ(again.messages.size(), 1u);
  EXPECT_EQ(again.messages[0].system_properties().message_id(), "01CI");
  EXPECT_EQ(again.messages[0].system_properties().delivery_attempt(), 2);
  EXPECT_EQ(again.messages[0].topic().name(), "orders");  // a retry copy looks like the original
  EXPECT_EQ(AckGrpc("g", again.messages[0]).code(), v2::OK);
}

TEST_F(RocketMqEndpointTest, AForwardedMessageGoesToTheDeadLetterQueueAtOnce) {
  ASSERT_EQ(Send(NewMessage("01DL", "poison")).status().code(), v2::OK);
  GrpcReceived got = ReceiveGrpc("g", "orders", 1, 10'000, 0);
  ASSERT_EQ(got.messages.size(), 1u);
  v2::ForwardMessageToDeadLetterQueueRequest req;
  req.mutable_group()->set_name("g");
  req.mutable_topic()->set_name("orders");
  req.set_receipt_handle(got.messages[0].system_properties().receipt_handle());
  req.set_message_id("01DL");
  req.set_delivery_attempt(1);
  req.set_max_delivery_attempts(16);
  v2::ForwardMessageToDeadLetterQueueResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->ForwardMessageToDeadLetterQueue(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.status().code(), v2::OK) << resp.status().message();

  auto page = broker_->core()->admin().ListDeadLetters("g", broker::DlqFilter{}, -1, 10);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->messages.size(), 1u);
  EXPECT_EQ(page->messages[0].record.message_id, "01DL");
  EXPECT_TRUE(ReceiveGrpc("g", "orders", 1, 10'000, 0).messages.empty());
  // Forwarding the same delivery again is refused: it is settled.
  grpc::ClientContext ctx2;
  ASSERT_TRUE(stub_->ForwardMessageToDeadLetterQueue(&ctx2, req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::INVALID_RECEIPT_HANDLE);
}

// `tidemq group status` lists RocketMQ clients beside native ones, by their x-mq-client-id.
TEST_F(RocketMqEndpointTest, GroupStatusListsTheClientsThatHeartbeat) {
  v2::HeartbeatRequest req;
  req.mutable_group()->set_name("billing");
  req.set_client_type(v2::SIMPLE_CONSUMER);
  v2::HeartbeatResponse resp;
  grpc::ClientContext ctx;
  ctx.AddMetadata("x-mq-client-id", "host-a@4242@1@mx6emu82");
  ASSERT_TRUE(stub_->Heartbeat(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  ASSERT_EQ(ReceiveGrpc("billing", "orders", 1, 10'000, 0, "*", "host-a@4242@1@mx6emu82")
                .status.code(),
            v2::MESSAGE_NOT_FOUND);
  auto info = broker_->core()->admin().DescribeGroup("billing");
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_NE(std::find(info->clients.begin(), info->clients.end(), "host-a@4242@1@mx6emu82"),
            info->clients.end());
}

TEST_F(RocketMqEndpointTest, MessagesCrossProtocolsBothWays) {
  auto c = Connect();
  ASSERT_EQ(BrokerTest::Send(*c, "orders", {{.body = "from native", .tag = "t"}}).header.code(),
            wire::OK);
  GrpcReceived got = ReceiveGrpc("g", "orders", 32, 10'000, 0);
  ASSERT_EQ(got.messages.size(), 1u);
  EXPECT_EQ(got.messages[0].body(), "from native");
  EXPECT_EQ(got.messages[0].system_properties().body_digest().checksum(),
            rocketmq::Md5Hex("from native"));
  EXPECT_EQ(AckGrpc("g", got.messages[0]).code(), v2::OK);

  ASSERT_EQ(Send(NewMessage("01XP", "from grpc")).status().code(), v2::OK);
  auto native = Receive(*c, "g", "orders", 10, 1000);
  ASSERT_EQ(native.size(), 1u);
  EXPECT_EQ(native[0].body, "from grpc");
  EXPECT_EQ(native[0].meta.message_id(), "01XP");
}

std::string Gzip(const std::string& in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// Clients compress large bodies: they are stored inflated, so every consumer reads what was
// sent; a body that does not inflate, or inflates past the limit, is refused.
TEST_F(RocketMqEndpointTest, AGzipBodyIsStoredInflated) {
  const std::string body(100'000, 'z');
  v2::Message m = NewMessage("01GZ", Gzip(body));
  m.mutable_system_properties()->set_body_encoding(v2::GZIP);
  ASSERT_EQ(Send(m).status().code(), v2::OK);
  GrpcReceived got = ReceiveGrpc("g", "orders", 32, 10'000, 0);
  ASSERT_EQ(got.messages.size(), 1u);
  EXPECT_EQ(got.messages[0].body(), body);
  EXPECT_EQ(got.messages[0].system_properties().body_encoding(), v2::IDENTITY);

  v2::Message junk = NewMessage("01GJ", "not gzip at all");
  junk.mutable_system_properties()->set_body_encoding(v2::GZIP);
  EXPECT_EQ(Send(junk).status().code(), v2::BAD_REQUEST);
  v2::Message truncated = NewMessage("01GT", Gzip(body).substr(0, 20));
  truncated.mutable_system_properties()->set_body_encoding(v2::GZIP);
  EXPECT_EQ(Send(truncated).status().code(), v2::BAD_REQUEST);
  v2::Message bomb = NewMessage("01GB", Gzip(std::string(5 << 20, 'b')));  // > the 4 MiB limit
  bomb.mutable_system_properties()->set_body_encoding(v2::GZIP);
  EXPECT_EQ(Send(bomb).status().code(), v2::MESSAGE_BODY_TOO_LARGE);
}

TEST_F(RocketMqEndpointTest, NamespacesNameTheirOwnTopicsAndGroups) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("prod%orders", 2)).header.code(), wire::OK);
  v2::Message m = NewMessage("01NS", "namespaced");
  m.mutable_topic()->set_resource_namespace("prod");
  ASSERT_EQ(Send(m).status().code(), v2::OK);
  EXPECT_TRUE(ReceiveGrpc("g", "orders", 32, 10'000, 0).messages.empty());  // another topic

  v2::ReceiveMessageRequest req;
  req.mutable_group()->set_name("g");
  req.mutable_group()->set_resource_namespace("prod");
  req.mutable_message_queue()->mutable_topic()->set_name("orders");
  req.mutable_message_queue()->mutable_topic()->set_resource_namespace("prod");
  req.set_batch_size(8);
  grpc::ClientContext ctx;
  auto reader = stub_->ReceiveMessage(&ctx, req);
  v2::ReceiveMessageResponse resp;
  std::vector<v2::Message> got;
  while (reader->Read(&resp)) {
    if (resp.has_message()) got.push_back(resp.message());
  }
  ASSERT_TRUE(reader->Finish().ok());
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].topic().name(), "orders");
  EXPECT_EQ(got[0].topic().resource_namespace(), "prod");
  auto groups = broker_->core()->admin().ListGroups();
  bool found = false;
  for (const auto& g : groups) found = found || g.config.name == "prod%g";
  EXPECT_TRUE(found);
}

TEST_F(RocketMqEndpointTest, SignedRequestsAndSqlFiltersAreRefusedClearly) {
  v2::QueryRouteRequest req;
  req.mutable_topic()->set_name("orders");
  v2::QueryRouteResponse resp;
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "MQv2-HMAC-SHA1 Credential=ak, SignedHeaders=x-mq-date-time, "
                                   "Signature=00");
  ASSERT_TRUE(stub_->QueryRoute(&ctx, req, &resp).ok());
  EXPECT_EQ(resp.status().code(), v2::UNAUTHORIZED);
  EXPECT_EQ(resp.message_queues_size(), 0);

  v2::ReceiveMessageRequest rreq;
  rreq.mutable_group()->set_name("g");
  rreq.mutable_message_queue()->mutable_topic()->set_name("orders");
  rreq.mutable_filter_expression()->set_type(v2::SQL);
  rreq.mutable_filter_expression()->set_expression("a > 1");
  grpc::ClientContext rctx;
  auto reader = stub_->ReceiveMessage(&rctx, rreq);
  v2::ReceiveMessageResponse rresp;
  ASSERT_TRUE(reader->Read(&rresp));
  EXPECT_EQ(rresp.status().code(), v2::UNSUPPORTED);
  EXPECT_NE(rresp.status().message().find("SQL92"), std::string::npos);
  EXPECT_TRUE(reader->Finish().ok());
}

}  // namespace
}  // namespace tidemq::testing
