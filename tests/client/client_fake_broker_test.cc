// Producer, SimpleConsumer and Admin against the scripted broker: what goes on the wire and
// how answers come back through the public API.
#include <gtest/gtest.h>

#include <functional>
#include <future>

#include "tests/client/fake_broker.h"
#include "tidemq/admin.h"
#include "tidemq/producer.h"
#include "tidemq/simple_consumer.h"

namespace tidemq {
namespace {

using client::testing::FakeBroker;

Message Msg(const std::string& body) {
  return *Message::NewBuilder().Topic("orders").Tag("created").Key("k1").Body(body).Build();
}

wire::Header SendOk(const wire::Frame& req, int64_t first_offset) {
  wire::Header resp;
  for (int i = 0; i < req.header.send_request().messages_size(); ++i) {
    auto* r = resp.mutable_send_response()->add_results();
    r->set_message_id(req.header.send_request().messages(i).message_id());
    r->set_queue_id(1);
    r->set_queue_offset(first_offset + i);
    r->set_log_offset(1000 + i);
  }
  return resp;
}

// A consumer of group "g", topic "orders" on `broker`, which has received `n` one-byte
// messages "id<i>" with receipt handles "h<i>"; `fill` may add fields to each.
struct FakeBatch {
  std::unique_ptr<SimpleConsumer> consumer;
  std::vector<ReceivedMessage> messages;
};
FakeBatch ReceiveFakeBatch(FakeBroker& broker, int n,
                           const std::function<void(int, wire::Message*)>& fill = nullptr) {
  FakeBatch out;
  auto consumer = SimpleConsumer::NewBuilder()
                      .Endpoint(broker.endpoint())
                      .Group("g")
                      .Topic("orders")
                      .AwaitDuration(1000)
                      .Build();
  EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
  if (!consumer.ok()) return out;
  out.consumer = std::make_unique<SimpleConsumer>(std::move(consumer).value());
  broker.Accept();
  auto received = std::async(std::launch::async, [&] { return out.consumer->Receive(n); });
  wire::Frame req = broker.ReadFrame();
  wire::Header resp;
  for (int i = 0; i < n; ++i) {
    auto* m = resp.mutable_receive_response()->add_messages();
    m->set_topic("orders");
    m->set_message_id("id" + std::to_string(i));
    m->set_body_size(1);
    m->set_receipt_handle("h" + std::to_string(i));
    if (fill) fill(i, m);
  }
  broker.Respond(req, resp, std::string(n, 'x'));
  auto batch = received.get();
  EXPECT_TRUE(batch.ok()) << batch.status().ToString();
  if (batch.ok()) out.messages = std::move(batch).value();
  return out;
}

TEST(ProducerTest, SendPutsMetadataAndBodyOnTheWire) {
  FakeBroker broker;
  auto producer = Producer::NewBuilder().Endpoint(broker.endpoint()).Group("pg").Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  broker.Accept();
  auto f = producer->SendFuture(Msg("hello"));
  wire::Frame req = broker.ReadFrame();
  ASSERT_EQ(req.header.kind(), wire::SEND);
  const auto& sr = req.header.send_request();
  EXPECT_EQ(sr.producer_group(), "pg");
  ASSERT_EQ(sr.messages_size(), 1);
  EXPECT_EQ(sr.messages(0).topic(), "orders");
  EXPECT_EQ(sr.messages(0).tag(), "created");
  EXPECT_EQ(sr.messages(0).queue_id(), -1);
  EXPECT_EQ(sr.messages(0).body_size(), 5u);
  EXPECT_EQ(sr.messages(0).message_id().size(), 32u);
  EXPECT_EQ(req.body, "hello");
  broker.Respond(req, SendOk(req, 7));
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->message_id, sr.messages(0).message_id());
  EXPECT_EQ(r->queue_id, 1);
  EXPECT_EQ(r->queue_offset, 7);
}

TEST(ProducerTest, RetriesUnavailableWithTheSameMessageId) {
  FakeBroker broker;
  auto producer = Producer::NewBuilder().Endpoint(broker.endpoint()).MaxSendAttempts(3).Build();
  ASSERT_TRUE(producer.ok());
  broker.Accept();
  auto f = producer->SendFuture(Msg("x"));
  wire::Frame first = broker.ReadFrame();
  wire::Header busy;
  busy.set_code(wire::RESOURCE_EXHAUSTED);
  busy.set_error_message("queue full");
  broker.Respond(first, busy);
  wire::Frame second = broker.ReadFrame();
  EXPECT_NE(second.header.request_id(), first.header.request_id());
  EXPECT_EQ(second.header.send_request().messages(0).message_id(),
            first.header.send_request().messages(0).message_id());
  broker.Respond(second, SendOk(second, 0));
  EXPECT_TRUE(f.get().ok());
}

// Without a failover deadline, MaxSendAttempts alone bounds even failover errors.
TEST(ProducerTest, GivesUpAfterMaxAttempts) {
  FakeBroker broker;
  auto producer = Producer::NewBuilder()
                      .Endpoint(broker.endpoint())
                      .MaxSendAttempts(2)
                      .FailoverDeadline(0)
                      .Build();
  ASSERT_TRUE(producer.ok());
  broker.Accept();
  auto f = producer->SendFuture(Msg("x"));
  wire::Header down;
  down.set_code(wire::UNAVAILABLE);
  down.set_error_message("shutting down");
  broker.Respond(broker.ReadFrame(), down);
  broker.Respond(broker.ReadFrame(), down);
  auto r = f.get();
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_NE(r.status().message().find("shutting down"), std::string::npos);
}

TEST(ProducerTest, DoesNotRetryInvalidArgument) {
  FakeBroker broker;
  auto producer = Producer::NewBuilder().Endpoint(broker.endpoint()).MaxSendAttempts(5).Build();
  ASSERT_TRUE(producer.ok());
  broker.Accept();
  auto f = producer->SendFuture(Msg("x"));
  wire::Header bad;
  bad.set_code(wire::TOPIC_NOT_FOUND);
  bad.set_error_message("topic 'orders' does not exist");
  broker.Respond(broker.ReadFrame(), bad);
  auto r = f.get();
  EXPECT_EQ(r.status().code(), Code::kTopicNotFound);
  // Had it retried, the next frame would be a SEND; prove the next frame is our probe.
  auto probe = producer->SendFuture(Msg("probe"));
  wire::Frame next = broker.ReadFrame();
  EXPECT_EQ(next.body, "probe");
  broker.Respond(next, SendOk(next, 0));
  EXPECT_TRUE(probe.get().ok());
}

TEST(ProducerTest, BatchIsOneRequest) {
  FakeBroker broker;
  auto producer = Producer::NewBuilder().Endpoint(broker.endpoint()).Build();
  ASSERT_TRUE(producer.ok());
  broker.Accept();
  auto f = std::async(std::launch::async, [&] {
    return producer->SendBatch({Msg("a"), Msg("bb"), Msg("ccc")});
  });
  wire::Frame req = broker.ReadFrame();
  ASSERT_EQ(req.header.send_request().messages_size(), 3);
  EXPECT_EQ(req.body, "abbccc");
  broker.Respond(req, SendOk(req, 10));
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->size(), 3u);
  EXPECT_EQ((*r)[2].queue_offset, 12);
}

TEST(ProducerTest, BuildFailsWhenBrokerUnreachable) {
  uint16_t port;
  {
    FakeBroker gone;
    port = gone.port();
  }
  auto producer = Producer::NewBuilder().Endpoint("127.0.0.1:" + std::to_string(port)).Build();
  EXPECT_EQ(producer.status().code(), Code::kUnavailable);
  EXPECT_EQ(Producer::NewBuilder().Endpoint("nohost:").Build().status().code(),
            Code::kInvalidArgument);
}

TEST(SimpleConsumerTest, ReceiveAckNackChangeLease) {
  FakeBroker broker;
  auto consumer = SimpleConsumer::NewBuilder()
                      .Endpoint(broker.endpoint())
                      .Group("g")
                      .Topic("orders")
                      .TagFilter("created||paid")
                      .AwaitDuration(1500)
                      .LeaseDuration(20000)
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  broker.Accept();

  auto received = std::async(std::launch::async, [&] { return consumer->Receive(8); });
  wire::Frame req = broker.ReadFrame();
  ASSERT_EQ(req.header.kind(), wire::RECEIVE);
  const auto& rr = req.header.receive_request();
  EXPECT_EQ(rr.group(), "g");
  EXPECT_EQ(rr.topic(), "orders");
  EXPECT_EQ(rr.tag_filter(), "created||paid");
  EXPECT_EQ(rr.max_messages(), 8u);
  EXPECT_EQ(rr.wait_ms(), 1500);
  EXPECT_EQ(rr.lease_ms(), 20000);
  EXPECT_FALSE(rr.client_id().empty());
  wire::Header resp;
  for (int i = 0; i < 2; ++i) {
    auto* m = resp.mutable_receive_response()->add_messages();
    m->set_topic("orders");
    m->set_message_id("id" + std::to_string(i));
    m->set_tag("created");
    m->add_keys("k");
    m->set_body_size(i == 0 ? 3 : 4);
    m->set_receipt_handle("h" + std::to_string(i));
    m->set_delivery_attempt(1 + i);
    m->set_delivered_queue_id(3);
    m->set_queue_offset(40 + i);
  }
  broker.Respond(req, resp, "onetwo!");
  auto batch = received.get();
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[0].body(), "one");
  EXPECT_EQ((*batch)[1].body(), "two!");
  EXPECT_EQ((*batch)[1].queue_id(), 3);
  EXPECT_EQ((*batch)[1].queue_offset(), 41);
  EXPECT_EQ((*batch)[1].delivery_attempt(), 2u);

  // ChangeLease stores the new handle in the message; Ack then uses it.
  ReceivedMessage first = (*batch)[0];
  auto changed =
      std::async(std::launch::async, [&] { return consumer->ChangeLease(first, 60000); });
  wire::Frame cl = broker.ReadFrame();
  EXPECT_EQ(cl.header.change_lease_request().receipt_handle(), "h0");
  EXPECT_EQ(cl.header.change_lease_request().lease_ms(), 60000);
  wire::Header cl_resp;
  cl_resp.mutable_change_lease_response()->set_receipt_handle("h0-renewed");
  broker.Respond(cl, cl_resp);
  ASSERT_TRUE(changed.get().ok());
  EXPECT_EQ(first.receipt_handle(), "h0-renewed");

  auto acked = std::async(std::launch::async, [&] { return consumer->Ack(first); });
  wire::Frame ack = broker.ReadFrame();
  ASSERT_EQ(ack.header.kind(), wire::ACK);
  EXPECT_EQ(ack.header.ack_request().receipt_handles(0), "h0-renewed");
  wire::Header ack_resp;
  auto* hr = ack_resp.mutable_ack_response()->add_results();
  hr->set_code(wire::RECEIPT_INVALID);
  hr->set_error_message("receipt handle expired");
  broker.Respond(ack, ack_resp);
  Status st = acked.get();
  EXPECT_EQ(st.code(), Code::kReceiptInvalid);
  EXPECT_EQ(st.message(), "receipt handle expired");

  auto nacked = std::async(std::launch::async, [&] { return consumer->Nack((*batch)[1], 500); });
  wire::Frame nack = broker.ReadFrame();
  ASSERT_EQ(nack.header.kind(), wire::NACK);
  EXPECT_EQ(nack.header.nack_request().receipt_handles(0), "h1");
  EXPECT_EQ(nack.header.nack_request().delay_ms(), 500);
  broker.Respond(nack, wire::Header());
  EXPECT_TRUE(nacked.get().ok());
}

TEST(SimpleConsumerTest, BatchAckSendsEveryHandleInOneRequest) {
  FakeBroker broker;
  FakeBatch fb = ReceiveFakeBatch(broker, 3);
  ASSERT_EQ(fb.messages.size(), 3u);
  SimpleConsumer* consumer = fb.consumer.get();
  std::vector<ReceivedMessage>* batch = &fb.messages;

  // All acked.
  auto acked = std::async(std::launch::async, [&] { return consumer->Ack(*batch); });
  wire::Frame ack = broker.ReadFrame();
  ASSERT_EQ(ack.header.kind(), wire::ACK);
  EXPECT_EQ(ack.header.ack_request().group(), "g");
  EXPECT_EQ(ack.header.ack_request().topic(), "orders");
  ASSERT_EQ(ack.header.ack_request().receipt_handles_size(), 3);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(ack.header.ack_request().receipt_handles(i), "h" + std::to_string(i));
  }
  wire::Header ok_resp;
  for (int i = 0; i < 3; ++i) ok_resp.mutable_ack_response()->add_results();
  broker.Respond(ack, ok_resp);
  EXPECT_TRUE(acked.get().ok());

  // Two of three refused: the first refusal is the answer, with the count.
  acked = std::async(std::launch::async, [&] { return consumer->Ack(*batch); });
  ack = broker.ReadFrame();
  wire::Header mixed;
  auto* results = mixed.mutable_ack_response();
  results->add_results();
  for (int i = 0; i < 2; ++i) {
    auto* r = results->add_results();
    r->set_code(wire::RECEIPT_INVALID);
    r->set_error_message("receipt handle h" + std::to_string(i + 1) + " expired");
  }
  broker.Respond(ack, mixed);
  Status st = acked.get();
  EXPECT_EQ(st.code(), Code::kReceiptInvalid);
  EXPECT_EQ(st.message(), "receipt handle h1 expired (2 of 3 handles failed)");

  // Nothing to ack: no request at all.
  EXPECT_TRUE(consumer->Ack(std::vector<ReceivedMessage>{}).ok());
}

TEST(SimpleConsumerTest, ReleaseIsANackThatDoesNotCount) {
  FakeBroker broker;
  FakeBatch fb = ReceiveFakeBatch(broker, 2, [](int i, wire::Message* m) {
    m->set_original_topic("orders");
    m->set_first_failure_ms(1'700'000'000'000 + i);
    m->set_delivery_attempt(3);
  });
  ASSERT_EQ(fb.messages.size(), 2u);
  SimpleConsumer* consumer = fb.consumer.get();
  std::vector<ReceivedMessage>* batch = &fb.messages;
  EXPECT_EQ((*batch)[1].original_topic(), "orders");
  EXPECT_EQ((*batch)[1].first_failure_ms(), 1'700'000'000'001);
  EXPECT_EQ((*batch)[1].dlq_offset(), -1);  // not a dead letter

  auto released = std::async(std::launch::async, [&] { return consumer->Release(*batch); });
  wire::Frame nack = broker.ReadFrame();
  ASSERT_EQ(nack.header.kind(), wire::NACK);
  EXPECT_TRUE(nack.header.nack_request().release());
  EXPECT_EQ(nack.header.nack_request().delay_ms(), 0);
  ASSERT_EQ(nack.header.nack_request().receipt_handles_size(), 2);
  broker.Respond(nack, wire::Header());
  EXPECT_TRUE(released.get().ok());

  released = std::async(std::launch::async, [&] { return consumer->Release((*batch)[0]); });
  nack = broker.ReadFrame();
  EXPECT_TRUE(nack.header.nack_request().release());
  EXPECT_EQ(nack.header.nack_request().receipt_handles(0), "h0");
  broker.Respond(nack, wire::Header());
  EXPECT_TRUE(released.get().ok());

  // Refused before reaching the wire.
  EXPECT_EQ(consumer->Nack((*batch)[0], -1).code(), Code::kInvalidArgument);
  EXPECT_EQ(consumer->Nack((*batch)[0], 25 * 3600 * 1000LL).code(), Code::kInvalidArgument);
  EXPECT_EQ(consumer->Release(ReceivedMessage()).code(), Code::kInvalidArgument);
}

TEST(SimpleConsumerTest, BatchNackIsOneRequestAndCanBeAsync) {
  FakeBroker broker;
  FakeBatch fb = ReceiveFakeBatch(broker, 2);
  ASSERT_EQ(fb.messages.size(), 2u);
  SimpleConsumer* consumer = fb.consumer.get();
  std::vector<ReceivedMessage>* batch = &fb.messages;

  auto nacked = std::async(std::launch::async, [&] { return consumer->Nack(*batch, 250); });
  wire::Frame nack = broker.ReadFrame();
  ASSERT_EQ(nack.header.kind(), wire::NACK);
  EXPECT_FALSE(nack.header.nack_request().release());
  EXPECT_EQ(nack.header.nack_request().delay_ms(), 250);
  ASSERT_EQ(nack.header.nack_request().receipt_handles_size(), 2);
  broker.Respond(nack, wire::Header());
  EXPECT_TRUE(nacked.get().ok());

  // The async form returns at once; the callback brings the broker's answer.
  std::promise<Status> outcome;
  consumer->NackAsync(*batch, 0, [&outcome](const Status& st) { outcome.set_value(st); });
  nack = broker.ReadFrame();
  ASSERT_EQ(nack.header.kind(), wire::NACK);
  EXPECT_EQ(nack.header.nack_request().delay_ms(), 0);
  wire::Header refused;
  for (int i = 0; i < 2; ++i) {
    auto* r = refused.mutable_nack_response()->add_results();
    r->set_code(wire::RECEIPT_INVALID);
    r->set_error_message("receipt handle expired");
  }
  broker.Respond(nack, refused);
  Status st = outcome.get_future().get();
  EXPECT_EQ(st.code(), Code::kReceiptInvalid);
  EXPECT_EQ(st.message(), "receipt handle expired (2 of 2 handles failed)");

  // A bad delay is refused before the wire, through the callback too.
  std::promise<Status> bad;
  consumer->NackAsync(*batch, -1, [&bad](const Status& s) { bad.set_value(s); });
  EXPECT_EQ(bad.get_future().get().code(), Code::kInvalidArgument);
}

TEST(SimpleConsumerTest, BuildValidatesNames) {
  EXPECT_EQ(SimpleConsumer::NewBuilder().Topic("t").Build().status().code(),
            Code::kInvalidArgument);  // no group
  EXPECT_EQ(SimpleConsumer::NewBuilder().Group("g").Topic("bad topic").Build().status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(
      SimpleConsumer::NewBuilder().Group("g").Topic("t").TagFilter("a|b").Build().status().code(),
      Code::kInvalidArgument);
}

TEST(AdminTest, DescribeGroupMapsLag) {
  FakeBroker broker;
  auto admin = Admin::NewBuilder().Endpoint(broker.endpoint()).Build();
  ASSERT_TRUE(admin.ok());
  broker.Accept();
  auto f = std::async(std::launch::async, [&] { return admin->DescribeGroup("g"); });
  wire::Frame req = broker.ReadFrame();
  EXPECT_EQ(req.header.describe_group_request().group(), "g");
  wire::Header resp;
  auto* g = resp.mutable_describe_group_response()->mutable_group();
  g->mutable_config()->set_name("g");
  g->mutable_config()->set_fifo(true);
  auto* q = g->add_queues();
  q->set_topic("orders");
  q->set_queue_id(2);
  q->set_committed_offset(5);
  q->set_max_offset(9);
  q->set_lag(4);
  q->set_inflight(1);
  g->set_total_lag(4);
  broker.Respond(req, resp);
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->fifo);
  EXPECT_FALSE(r->broadcast);
  ASSERT_EQ(r->queues.size(), 1u);
  EXPECT_EQ(r->queues[0].lag, 4);
  EXPECT_EQ(r->queues[0].inflight, 1);
  EXPECT_EQ(r->total_lag, 4);
}

TEST(AdminTest, QueryByIdDoesNotAskForOffsetZero) {
  FakeBroker broker;
  auto admin = Admin::NewBuilder().Endpoint(broker.endpoint()).Build();
  ASSERT_TRUE(admin.ok());
  broker.Accept();
  auto f = std::async(std::launch::async, [&] { return admin->QueryById("ABC"); });
  wire::Frame req = broker.ReadFrame();
  EXPECT_EQ(req.header.query_message_request().message_id(), "ABC");
  EXPECT_LT(req.header.query_message_request().log_offset(), 0);
  wire::Header resp;
  auto* m = resp.mutable_query_message_response()->add_messages();
  m->set_message_id("ABC");
  m->set_body_size(2);
  broker.Respond(req, resp, "hi");
  auto r = f.get();
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ((*r)[0].body(), "hi");
}

TEST(AdminTest, CreateGroupSendsTheRetryPolicy) {
  FakeBroker broker;
  auto admin = Admin::NewBuilder().Endpoint(broker.endpoint()).Build();
  ASSERT_TRUE(admin.ok());
  broker.Accept();
  GroupOptions options;
  options.max_attempts = 4;
  options.retry = *RetryPolicy::Parse("1s,2s,4s");
  auto f = std::async(std::launch::async, [&] { return admin->CreateGroup("g", options); });
  wire::Frame req = broker.ReadFrame();
  ASSERT_EQ(req.header.kind(), wire::CREATE_GROUP);
  const auto& c = req.header.create_group_request().config();
  EXPECT_EQ(c.max_attempts(), 4u);
  ASSERT_TRUE(c.has_retry());
  EXPECT_EQ(c.retry().kind(), wire::RetryPolicy::CUSTOM);
  ASSERT_EQ(c.retry().delays_ms_size(), 3);
  EXPECT_EQ(c.retry().delays_ms(2), 4000);
  wire::Header resp;
  auto* g = resp.mutable_create_group_response()->mutable_group();
  *g->mutable_config() = c;
  g->set_retried(7);
  g->set_dead_lettered(2);
  g->set_dlq_messages(1);
  broker.Respond(req, resp);
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->retry, *options.retry);
  EXPECT_EQ(r->retry.ToString(), "1s,2s,4s");
  EXPECT_EQ(r->max_attempts, 4u);
  EXPECT_EQ(r->retried, 7);
  EXPECT_EQ(r->dead_lettered, 2);
  EXPECT_EQ(r->dlq_messages, 1);

  // No policy given: none sent, the broker keeps its default.
  auto plain = std::async(std::launch::async, [&] { return admin->CreateGroup("p"); });
  req = broker.ReadFrame();
  EXPECT_FALSE(req.header.create_group_request().config().has_retry());
  wire::Header presp;
  presp.mutable_create_group_response()->mutable_group()->mutable_config()->set_name("p");
  broker.Respond(req, presp);
  EXPECT_TRUE(plain.get().ok());
}

TEST(AdminTest, CreateGroupValidatesBeforeSending) {
  FakeBroker broker;
  auto admin = Admin::NewBuilder().Endpoint(broker.endpoint()).Build();
  ASSERT_TRUE(admin.ok());
  GroupOptions block_without_fifo;
  block_without_fifo.fifo_block = true;
  EXPECT_EQ(admin->CreateGroup("g", block_without_fifo).status().code(), Code::kInvalidArgument);
  GroupOptions bad_policy;
  bad_policy.retry = RetryPolicy{};
  bad_policy.retry->kind = RetryPolicy::Kind::kCustom;  // no delays
  EXPECT_EQ(admin->CreateGroup("g", bad_policy).status().code(), Code::kInvalidArgument);
}

TEST(AdminTest, ListDeadLettersSendsTheFilterAndReadsBodies) {
  FakeBroker broker;
  auto admin = Admin::NewBuilder().Endpoint(broker.endpoint()).Build();
  ASSERT_TRUE(admin.ok());
  broker.Accept();
  DeadLetterFilter filter;
  filter.tag = "created";
  filter.from_ms = 1000;
  auto f = std::async(std::launch::async,
                      [&] { return admin->ListDeadLetters("g", filter, 4, 10, true); });
  wire::Frame req = broker.ReadFrame();
  ASSERT_EQ(req.header.kind(), wire::DLQ_LIST);
  const auto& lr = req.header.dlq_list_request();
  EXPECT_EQ(lr.group(), "g");
  EXPECT_EQ(lr.filter().tag(), "created");
  EXPECT_EQ(lr.filter().from_ms(), 1000);
  EXPECT_EQ(lr.filter().dlq_offset(), -1);  // "any", never offset 0
  EXPECT_EQ(lr.after_offset(), 4);
  EXPECT_EQ(lr.limit(), 10u);
  EXPECT_TRUE(lr.with_bodies());
  wire::Header resp;
  for (int i = 0; i < 2; ++i) {
    auto* m = resp.mutable_dlq_list_response()->add_messages();
    m->set_topic("orders");
    m->set_original_topic("orders");
    m->set_message_id("id" + std::to_string(i));
    m->set_dlq_offset(5 + i);
    m->set_delivery_attempt(16);
    m->set_first_failure_ms(100);
    m->set_store_ms(200);
    m->set_dead_letter_reason("max_attempts");
    m->set_body_size(i == 0 ? 2 : 3);
  }
  resp.mutable_dlq_list_response()->set_total(9);
  broker.Respond(req, resp, "ab\x01\x02\x03");
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->total, 9);
  ASSERT_EQ(r->messages.size(), 2u);
  EXPECT_EQ(r->messages[0].body(), "ab");
  EXPECT_EQ(r->messages[1].body(), "\x01\x02\x03");
  EXPECT_EQ(r->messages[1].dlq_offset(), 6);
  EXPECT_EQ(r->messages[1].dead_letter_reason(), "max_attempts");
  EXPECT_EQ(r->messages[1].delivery_attempt(), 16u);
  EXPECT_EQ(r->messages[1].original_topic(), "orders");

  // Without bodies nothing follows the header, whatever body_size says.
  auto nobody = std::async(std::launch::async, [&] { return admin->ListDeadLetters("g"); });
  req = broker.ReadFrame();
  EXPECT_FALSE(req.header.dlq_list_request().with_bodies());
  wire::Header resp2;
  auto* m = resp2.mutable_dlq_list_response()->add_messages();
  m->set_message_id("id0");
  m->set_dlq_offset(0);
  m->set_body_size(10);
  broker.Respond(req, resp2);
  auto r2 = nobody.get();
  ASSERT_TRUE(r2.ok()) << r2.status().ToString();
  ASSERT_EQ(r2->messages.size(), 1u);
  EXPECT_EQ(r2->messages[0].dlq_offset(), 0);
  EXPECT_TRUE(r2->messages[0].body().empty());
}

TEST(AdminTest, RedriveAndPurgeNeedASelectionOrAll) {
  FakeBroker broker;
  auto admin = Admin::NewBuilder().Endpoint(broker.endpoint()).Build();
  ASSERT_TRUE(admin.ok());
  broker.Accept();
  // Refused without a request: nothing selected, or a bad filter.
  EXPECT_EQ(admin->RedriveDeadLetters("g", {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(admin->PurgeDeadLetters("g", {}).status().code(), Code::kInvalidArgument);
  DeadLetterFilter backwards;
  backwards.from_ms = 2000;
  backwards.to_ms = 1000;
  EXPECT_EQ(admin->PurgeDeadLetters("g", backwards).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(admin->ListDeadLetters("g", {}, -1, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(admin->ListDeadLetters("bad group!").status().code(), Code::kInvalidArgument);

  DeadLetterFilter one;
  one.dlq_offset = 0;
  EXPECT_FALSE(one.empty());
  auto redriven = std::async(std::launch::async, [&] {
    return admin->RedriveDeadLetters("g", one, false, RedriveTarget::kRetryQueue);
  });
  wire::Frame req = broker.ReadFrame();
  ASSERT_EQ(req.header.kind(), wire::DLQ_REDRIVE);
  EXPECT_EQ(req.header.dlq_redrive_request().filter().dlq_offset(), 0);
  EXPECT_FALSE(req.header.dlq_redrive_request().all());
  EXPECT_EQ(req.header.dlq_redrive_request().target(), wire::DlqRedriveRequest::RETRY_QUEUE);
  wire::Header resp;
  resp.mutable_dlq_redrive_response()->set_redriven(1);
  broker.Respond(req, resp);
  auto r = redriven.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, 1);

  auto purged =
      std::async(std::launch::async, [&] { return admin->PurgeDeadLetters("g", {}, true); });
  req = broker.ReadFrame();
  ASSERT_EQ(req.header.kind(), wire::DLQ_PURGE);
  EXPECT_TRUE(req.header.dlq_purge_request().all());
  EXPECT_EQ(req.header.dlq_purge_request().filter().dlq_offset(), -1);
  wire::Header presp;
  presp.mutable_dlq_purge_response()->set_purged(3);
  broker.Respond(req, presp);
  auto p = purged.get();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(*p, 3);
}

}  // namespace
}  // namespace tidemq
