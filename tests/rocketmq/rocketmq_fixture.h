// A real in-process broker with its RocketMQ 5 endpoint on a free port, and a grpc++ client of
// the published API with helpers for the calls tests make (send, receive, ack, Telemetry).
#pragma once

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <vector>

#include "rocketmq/convert.h"
#include "rocketmq/endpoint.h"
#include "rocketmq/v2/service.grpc.pb.h"
#include "tests/broker/broker_fixture.h"

namespace tidemq::testing {

namespace v2 = ::apache::rocketmq::v2;

class RocketMqEndpointTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    rocketmq::EndpointOptions o;
    o.port = 0;
    auto e = rocketmq::Endpoint::Start(broker_->core(), o);
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    endpoint_ = std::move(*e);
    channel_ = grpc::CreateChannel(endpoint_->address(), grpc::InsecureChannelCredentials());
    stub_ = v2::MessagingService::NewStub(channel_);
    auto c = Connect();
    ASSERT_EQ(c->Call(CreateTopic("orders", 4)).header.code(), wire::OK);
  }
  void TearDown() override {
    endpoint_.reset();
    BrokerTest::TearDown();
  }

  static v2::Message NewMessage(const std::string& id, const std::string& body) {
    v2::Message m;
    m.mutable_topic()->set_name("orders");
    m.mutable_system_properties()->set_message_id(id);
    m.mutable_system_properties()->set_message_type(v2::NORMAL);
    m.set_body(body);
    return m;
  }

  v2::SendMessageResponse Send(const v2::Message& m) {
    v2::SendMessageRequest req;
    *req.add_messages() = m;
    v2::SendMessageResponse resp;
    grpc::ClientContext ctx;
    grpc::Status st = stub_->SendMessage(&ctx, req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp;
  }

  struct GrpcReceived {
    v2::Status status;
    std::vector<v2::Message> messages;
  };

  // A receive of `group` on `topic` (TAG filter "*" unless given).
  GrpcReceived ReceiveGrpc(const std::string& group, const std::string& topic, int batch,
                       int64_t invisible_ms, int64_t long_poll_ms, const std::string& tags = "*",
                       const std::string& client_id = "client-1") {
    v2::ReceiveMessageRequest req;
    req.mutable_group()->set_name(group);
    req.mutable_message_queue()->mutable_topic()->set_name(topic);
    req.mutable_message_queue()->set_id(-1);
    req.mutable_filter_expression()->set_type(v2::TAG);
    req.mutable_filter_expression()->set_expression(tags);
    req.set_batch_size(batch);
    if (invisible_ms > 0) *req.mutable_invisible_duration() = rocketmq::ToDuration(invisible_ms);
    *req.mutable_long_polling_timeout() = rocketmq::ToDuration(long_poll_ms);
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-mq-client-id", client_id);
    auto reader = stub_->ReceiveMessage(&ctx, req);
    GrpcReceived out;
    v2::ReceiveMessageResponse resp;
    while (reader->Read(&resp)) {
      if (resp.has_status()) out.status = resp.status();
      if (resp.has_message()) out.messages.push_back(resp.message());
    }
    EXPECT_TRUE(reader->Finish().ok());
    return out;
  }

  v2::Status AckGrpc(const std::string& group, const v2::Message& m) {
    v2::AckMessageRequest req;
    req.mutable_group()->set_name(group);
    *req.mutable_topic() = m.topic();
    auto* e = req.add_entries();
    e->set_message_id(m.system_properties().message_id());
    e->set_receipt_handle(m.system_properties().receipt_handle());
    v2::AckMessageResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(stub_->AckMessage(&ctx, req, &resp).ok());
    return resp.status();
  }

  std::unique_ptr<rocketmq::Endpoint> endpoint_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v2::MessagingService::Stub> stub_;
};

}  // namespace tidemq::testing
