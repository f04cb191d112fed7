#include "tidemq/push_consumer.h"

#include <gtest/gtest.h>

#include <map>
#include <stdexcept>

#include "tests/client/fake_broker.h"

namespace tidemq {
namespace {

using client::testing::FakeBroker;

TEST(PushConsumerTest, AcksSuccessNacksRetryAndExceptions) {
  FakeBroker broker;
  auto consumer =
      PushConsumer::NewBuilder()
          .Endpoint(broker.endpoint())
          .Group("g")
          .Topic("orders")
          .ConsumerThreads(2)
          .MaxInflight(8)
          .AwaitDuration(60000)
          .Listener([](const ReceivedMessage& m) {
            if (m.body() == "throw") throw std::runtime_error("boom");
            return m.body() == "ok" ? ConsumeResult::kSuccess : ConsumeResult::kRetryLater;
          })
          .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  broker.Accept();
  ASSERT_TRUE(consumer->Start().ok());
  EXPECT_EQ(consumer->Start().code(), Code::kFailedPrecondition);

  wire::Frame receive = broker.ReadFrame();
  ASSERT_EQ(receive.header.kind(), wire::RECEIVE);
  EXPECT_EQ(receive.header.receive_request().max_messages(), 8u);
  wire::Header resp;
  std::string bodies;
  for (std::string body : {"ok", "retry", "throw"}) {
    auto* m = resp.mutable_receive_response()->add_messages();
    m->set_topic("orders");
    m->set_message_id("id-" + body);
    m->set_receipt_handle("h-" + body);
    m->set_body_size(static_cast<uint32_t>(body.size()));
    bodies += body;
  }
  broker.Respond(receive, resp, bodies);

  // Three settlements arrive in any order, possibly mixed with the next long poll.
  std::map<std::string, wire::RequestKind> settled;
  while (settled.size() < 3) {
    wire::Frame f = broker.ReadFrame();
    if (f.header.kind() == wire::RECEIVE) continue;  // left hanging: Shutdown abandons it
    ASSERT_TRUE(f.header.kind() == wire::ACK || f.header.kind() == wire::NACK);
    const auto& handles = f.header.kind() == wire::ACK ? f.header.ack_request().receipt_handles()
                                                       : f.header.nack_request().receipt_handles();
    ASSERT_EQ(handles.size(), 1);
    settled[handles[0]] = f.header.kind();
    broker.Respond(f, wire::Header());
  }
  EXPECT_EQ(settled["h-ok"], wire::ACK);
  EXPECT_EQ(settled["h-retry"], wire::NACK);
  EXPECT_EQ(settled["h-throw"], wire::NACK);

  consumer->Shutdown();  // returns although a long poll is outstanding
  EXPECT_EQ(consumer->consumed(), 1u);
  EXPECT_EQ(consumer->failed(), 2u);
}

TEST(PushConsumerTest, BuildNeedsListener) {
  EXPECT_EQ(PushConsumer::NewBuilder().Group("g").Topic("t").Build().status().code(),
            Code::kInvalidArgument);
}

}  // namespace
}  // namespace tidemq
