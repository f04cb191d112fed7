// Following a broker group's master, against scripted brokers (tests/client/fake_broker.h):
// redirects by NOT_MASTER, the next address of the list, resends with the same message id
// after a broken connection or NOT_ENOUGH_REPLICAS, a hung broker left for the next, and a
// list of dead brokers failing with an error that names them. The real group is in
// failover_e2e_test.cc.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <memory>

#include "client/src/connection.h"
#include "tests/client/fake_broker.h"
#include "tidemq/producer.h"
#include "tidemq/simple_consumer.h"

namespace tidemq {
namespace {

using client::testing::FakeBroker;

Message Msg(const std::string& body) {
  return *Message::NewBuilder().Topic("orders").Key("k").Property("p", "v").Body(body).Build();
}

wire::Header SendOk(const wire::Frame& req) {
  wire::Header resp;
  for (int i = 0; i < req.header.send_request().messages_size(); ++i) {
    auto* r = resp.mutable_send_response()->add_results();
    r->set_message_id(req.header.send_request().messages(i).message_id());
    r->set_queue_offset(i);
  }
  return resp;
}

wire::Header NotMaster(const std::string& master_address) {
  wire::Header h;
  h.set_code(wire::NOT_MASTER);
  h.set_error_message("this broker is a replica");
  h.set_master_address(master_address);
  return h;
}

// The same message, as a resend must carry it.
void ExpectSameMessage(const wire::Frame& a, const wire::Frame& b) {
  ASSERT_EQ(a.header.kind(), wire::SEND);
  ASSERT_EQ(b.header.kind(), wire::SEND);
  const auto& ma = a.header.send_request().messages(0);
  const auto& mb = b.header.send_request().messages(0);
  EXPECT_FALSE(ma.message_id().empty());
  EXPECT_EQ(ma.message_id(), mb.message_id());
  EXPECT_EQ(ma.born_ms(), mb.born_ms());
  EXPECT_EQ(mb.properties().at("p"), "v");
  EXPECT_EQ(a.body, b.body);
}

std::string DeadAddress() {
  FakeBroker gone;
  return gone.endpoint();  // nothing listens there once `gone` is destroyed
}

TEST(EndpointListTest, ParsesCommaSeparatedLists) {
  auto l = client::ParseEndpoints("10.0.0.1:1, 10.0.0.2:2,10.0.0.1:1,[::1]:3");
  ASSERT_TRUE(l.ok()) << l.status().ToString();
  ASSERT_EQ(l->size(), 3u);  // the repeated one once
  EXPECT_EQ((*l)[1].ToString(), "10.0.0.2:2");
  EXPECT_EQ(client::JoinEndpoints(*l), "10.0.0.1:1,10.0.0.2:2,[::1]:3");
  EXPECT_EQ(client::ParseEndpoints("solo")->front().port, client::kDefaultPort);
  EXPECT_FALSE(client::ParseEndpoints("").ok());
  EXPECT_FALSE(client::ParseEndpoints("a:1,,b:2").ok());
  EXPECT_FALSE(client::ParseEndpoints("a:1,").ok());
  EXPECT_FALSE(client::ParseEndpoints("a:1,b:99999").ok());
  std::string many;
  for (int i = 1; i <= 65; ++i) many += (i > 1 ? "," : "") + ("h:" + std::to_string(i));
  EXPECT_FALSE(client::ParseEndpoints(many).ok());
  // The builders take lists (and vectors) the same way.
  EXPECT_EQ(Producer::NewBuilder().Endpoint("a:1,,b:2").Build().status().code(),
            Code::kInvalidArgument);
}

TEST(FailoverTest, ConnectsToTheFirstAddressThatAnswers) {
  FakeBroker live;
  const std::string dead = DeadAddress();
  client::ConnectionOptions o;
  o.endpoints = *client::ParseEndpoints(dead + "," + live.endpoint());
  client::Connection c(o);
  ASSERT_TRUE(c.Start().ok());
  EXPECT_EQ(c.current_endpoint(), live.endpoint());
}

TEST(FailoverTest, NotMasterWithAnAddressRedirectsTheSendThere) {
  FakeBroker replica;
  FakeBroker master;  // not in the producer's list
  auto producer = Producer::NewBuilder().Endpoint(replica.endpoint()).MaxSendAttempts(1).Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  replica.Accept();
  auto f = producer->SendFuture(Msg("to-the-master"));
  wire::Frame first = replica.ReadFrame();
  replica.Respond(first, NotMaster(master.endpoint()));
  master.Accept();
  wire::Frame second = master.ReadFrame();
  ExpectSameMessage(first, second);
  master.Respond(second, SendOk(second));
  auto r = f.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->message_id, first.header.send_request().messages(0).message_id());
}

TEST(FailoverTest, NotMasterWithoutAnAddressTriesTheNextAddress) {
  FakeBroker replica, master;
  auto producer = Producer::NewBuilder()
                      .Endpoints({replica.endpoint(), master.endpoint()})
                      .MaxSendAttempts(1)
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  replica.Accept();
  auto f = producer->SendFuture(Msg("x"));
  wire::Frame first = replica.ReadFrame();
  replica.Respond(first, NotMaster(""));
  master.Accept();
  wire::Frame second = master.ReadFrame();
  ExpectSameMessage(first, second);
  master.Respond(second, SendOk(second));
  EXPECT_TRUE(f.get().ok());
}

TEST(FailoverTest, ABrokenConnectionResendsToTheNextAddress) {
  FakeBroker old_master, new_master;
  auto producer = Producer::NewBuilder()
                      .Endpoint(old_master.endpoint() + "," + new_master.endpoint())
                      .MaxSendAttempts(1)
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  old_master.Accept();
  auto f = producer->SendFuture(Msg("in-flight"));
  wire::Frame first = old_master.ReadFrame();
  old_master.CloseConnection();  // the master dies with the send unanswered
  new_master.Accept();
  wire::Frame second = new_master.ReadFrame();
  ExpectSameMessage(first, second);
  new_master.Respond(second, SendOk(second));
  EXPECT_TRUE(f.get().ok());
}

TEST(FailoverTest, NotEnoughReplicasAndUnavailableAreResentWithTheSameId) {
  FakeBroker broker;
  // One attempt allowed: only the failover deadline lets these through.
  auto producer = Producer::NewBuilder().Endpoint(broker.endpoint()).MaxSendAttempts(1).Build();
  ASSERT_TRUE(producer.ok());
  broker.Accept();
  auto f = producer->SendFuture(Msg("x"));
  wire::Frame first = broker.ReadFrame();
  wire::Header short_of_copies;
  short_of_copies.set_code(wire::NOT_ENOUGH_REPLICAS);
  short_of_copies.set_error_message("1 of 2 copies");
  broker.Respond(first, short_of_copies);
  wire::Frame second = broker.ReadFrame();
  ExpectSameMessage(first, second);
  wire::Header down;
  down.set_code(wire::UNAVAILABLE);
  down.set_error_message("electing");
  broker.Respond(second, down);
  wire::Frame third = broker.ReadFrame();
  ExpectSameMessage(first, third);
  broker.Respond(third, SendOk(third));
  EXPECT_TRUE(f.get().ok());
}

TEST(FailoverTest, AHungBrokerIsLeftForTheNextAddress) {
  FakeBroker hung, master;
  auto producer = Producer::NewBuilder()
                      .Endpoints({hung.endpoint(), master.endpoint()})
                      .RequestTimeout(300)
                      .MaxSendAttempts(2)
                      .Build();
  ASSERT_TRUE(producer.ok());
  hung.Accept();
  auto f = producer->SendFuture(Msg("x"));
  wire::Frame first = hung.ReadFrame();  // never answered
  master.Accept();
  wire::Frame second = master.ReadFrame();
  ExpectSameMessage(first, second);
  master.Respond(second, SendOk(second));
  EXPECT_TRUE(f.get().ok());
}

TEST(FailoverTest, EveryAddressDeadFailsAfterTheDeadlineNamingThem) {
  const std::string dead1 = DeadAddress(), dead2 = DeadAddress();
  // At build time: one round of the list, then an error naming each address.
  auto none = Producer::NewBuilder().Endpoint(dead1 + "," + dead2).Build();
  ASSERT_EQ(none.status().code(), Code::kUnavailable);
  EXPECT_NE(none.status().message().find(dead1), std::string::npos) << none.status().ToString();
  EXPECT_NE(none.status().message().find(dead2), std::string::npos) << none.status().ToString();

  // Later: the broker that answered goes away too; a send keeps trying until the deadline.
  auto live = std::make_unique<FakeBroker>();
  const std::string live_address = live->endpoint();
  auto producer =
      Producer::NewBuilder().Endpoint(live_address + "," + dead1).FailoverDeadline(400).Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  live.reset();
  const auto start = std::chrono::steady_clock::now();
  auto r = producer->Send(Msg("x"));
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
  EXPECT_NE(r.status().message().find(live_address), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find(dead1), std::string::npos) << r.status().ToString();
  EXPECT_GE(waited, std::chrono::milliseconds(400));  // it did not give up early
}

TEST(FailoverTest, ReceiveAndAckFollowTheMaster) {
  FakeBroker replica, master;
  auto consumer = SimpleConsumer::NewBuilder()
                      .Endpoints({replica.endpoint(), master.endpoint()})
                      .Group("g")
                      .Topic("orders")
                      .AwaitDuration(1000)
                      .Build();
  ASSERT_TRUE(consumer.ok()) << consumer.status().ToString();
  replica.Accept();
  auto received = std::async(std::launch::async, [&] { return consumer->Receive(4); });
  wire::Frame r1 = replica.ReadFrame();
  ASSERT_EQ(r1.header.kind(), wire::RECEIVE);
  replica.Respond(r1, NotMaster(master.endpoint()));
  master.Accept();
  wire::Frame r2 = master.ReadFrame();
  ASSERT_EQ(r2.header.kind(), wire::RECEIVE);
  wire::Header resp;
  auto* m = resp.mutable_receive_response()->add_messages();
  m->set_topic("orders");
  m->set_message_id("id0");
  m->set_body_size(1);
  m->set_receipt_handle("h0");
  master.Respond(r2, resp, "x");
  auto batch = received.get();
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  ASSERT_EQ(batch->size(), 1u);

  // The master dies; the ack goes to the next address, which names the new master (the
  // first replica, promoted meanwhile: here the scripted `replica` itself).
  master.CloseConnection();
  auto acked = std::async(std::launch::async, [&] { return consumer->Ack((*batch)[0]); });
  replica.Accept();
  wire::Frame ack = replica.ReadFrame();
  ASSERT_EQ(ack.header.kind(), wire::ACK);
  EXPECT_EQ(ack.header.ack_request().receipt_handles(0), "h0");
  wire::Header ok;
  ok.mutable_ack_response()->add_results()->set_code(wire::OK);
  replica.Respond(ack, ok);
  EXPECT_TRUE(acked.get().ok());
}

TEST(FailoverTest, ATransactionEndFollowsTheMaster) {
  FakeBroker replica, master;
  auto producer = Producer::NewBuilder()
                      .Endpoints({replica.endpoint(), master.endpoint()})
                      .Group("pg")
                      .TransactionChecker(
                          [](const ReceivedMessage&) { return TransactionResolution::kUnknown; })
                      .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  SendReceipt half;
  half.message_id = "half-1";
  half.log_offset = 4096;
  replica.Accept();
  auto ended = std::async(std::launch::async, [&] {
    return producer->EndTransaction(half, TransactionResolution::kCommit);
  });
  wire::Frame first = replica.ReadFrame();
  ASSERT_EQ(first.header.kind(), wire::END_TXN);
  replica.Respond(first, NotMaster(master.endpoint()));
  master.Accept();
  wire::Frame second = master.ReadFrame();
  ASSERT_EQ(second.header.kind(), wire::END_TXN);
  EXPECT_EQ(second.header.end_txn_request().half_offset(), 4096);
  EXPECT_EQ(second.header.end_txn_request().message_id(), "half-1");
  EXPECT_EQ(second.header.end_txn_request().resolution(), wire::TXN_COMMIT);
  master.Respond(second, wire::Header());
  EXPECT_TRUE(ended.get().ok());
}

// Check-backs come over the connection a producer's heartbeat registered: after a redirect
// the first thing the new master hears is that heartbeat, naming the producer group.
TEST(FailoverTest, ATransactionalProducerRegistersWithTheMasterItWasRedirectedTo) {
  FakeBroker replica, master;
  auto producer =
      Producer::NewBuilder()
          .Endpoint(replica.endpoint())
          .Group("pg")
          .TransactionChecker([](const ReceivedMessage&) { return TransactionResolution::kCommit; })
          .Build();
  ASSERT_TRUE(producer.ok()) << producer.status().ToString();
  replica.Accept();
  wire::Frame hb = replica.ReadAnyFrame();
  ASSERT_EQ(hb.header.kind(), wire::HEARTBEAT);
  replica.Respond(hb, NotMaster(master.endpoint()));
  master.Accept();
  wire::Frame hb2 = master.ReadAnyFrame();
  ASSERT_EQ(hb2.header.kind(), wire::HEARTBEAT);
  ASSERT_EQ(hb2.header.heartbeat_request().producer_groups_size(), 1);
  EXPECT_EQ(hb2.header.heartbeat_request().producer_groups(0), "pg");
}

}  // namespace
}  // namespace tidemq
