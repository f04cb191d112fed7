// Transactions and recalls through the RocketMQ 5 endpoint: ends from the producer (idempotent,
// conflicts refused), a check-back sent down the producer's Telemetry stream and answered by an
// EndTransaction from the check (the message then appears exactly once), and the recall of a
// scheduled message before it fires.
#include <chrono>

#include "tests/rocketmq/rocketmq_fixture.h"

namespace tidemq::testing {
namespace {

class RocketMqTxnTest : public RocketMqEndpointTest {
 protected:
  v2::SendResultEntry SendHalf(const std::string& id, const std::string& body) {
    v2::Message m = NewMessage(id, body);
    m.mutable_system_properties()->set_message_type(v2::TRANSACTION);
    v2::SendMessageResponse r = Send(m);
    EXPECT_EQ(r.status().code(), v2::OK) << r.status().message();
    EXPECT_EQ(r.entries_size(), 1);
    return r.entries_size() == 1 ? r.entries(0) : v2::SendResultEntry();
  }

  v2::Status End(const std::string& id, const std::string& txn_id, v2::TransactionResolution res,
                 v2::TransactionSource source, const std::string& client_id = "producer-1") {
    v2::EndTransactionRequest req;
    req.mutable_topic()->set_name("orders");
    req.set_message_id(id);
    req.set_transaction_id(txn_id);
    req.set_resolution(res);
    req.set_source(source);
    v2::EndTransactionResponse resp;
    grpc::ClientContext ctx;
    ctx.AddMetadata("x-mq-client-id", client_id);
    EXPECT_TRUE(stub_->EndTransaction(&ctx, req, &resp).ok());
    return resp.status();
  }
};

TEST_F(RocketMqTxnTest, TheProducerCommitsOrRollsBackAndEndsAreIdempotent) {
  const v2::SendResultEntry kept = SendHalf("01TC", "kept");
  const v2::SendResultEntry dropped = SendHalf("01TR", "dropped");
  ASSERT_FALSE(kept.transaction_id().empty());
  EXPECT_TRUE(ReceiveGrpc("g", "orders", 32, 10'000, 0).messages.empty());  // halves are hidden

  EXPECT_EQ(End("01TC", kept.transaction_id(), v2::COMMIT, v2::SOURCE_CLIENT).code(), v2::OK);
  EXPECT_EQ(End("01TR", dropped.transaction_id(), v2::ROLLBACK, v2::SOURCE_CLIENT).code(), v2::OK);
  EXPECT_EQ(End("01TC", kept.transaction_id(), v2::COMMIT, v2::SOURCE_CLIENT).code(), v2::OK);
  EXPECT_EQ(End("01TC", kept.transaction_id(), v2::ROLLBACK, v2::SOURCE_CLIENT).code(),
            v2::PRECONDITION_FAILED);
  EXPECT_EQ(End("01TC", "not-an-id", v2::COMMIT, v2::SOURCE_CLIENT).code(),
            v2::INVALID_TRANSACTION_ID);

  GrpcReceived got = ReceiveGrpc("g", "orders", 32, 10'000, 5'000);
  ASSERT_EQ(got.messages.size(), 1u);
  EXPECT_EQ(got.messages[0].system_properties().message_id(), "01TC");
  EXPECT_EQ(got.messages[0].body(), "kept");
  EXPECT_EQ(AckGrpc("g", got.messages[0]).code(), v2::OK);
  EXPECT_TRUE(ReceiveGrpc("g", "orders", 32, 10'000, 0).messages.empty());
}

TEST_F(RocketMqTxnTest, AnOpenTransactionIsCheckedBackOverTelemetryAndCommittedOnce) {
  grpc::ClientContext tctx;
  tctx.AddMetadata("x-mq-client-id", "producer-1");
  tctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto stream = stub_->Telemetry(&tctx);
  v2::TelemetryCommand hello;
  hello.mutable_settings()->set_client_type(v2::PRODUCER);
  hello.mutable_settings()->mutable_publishing()->add_topics()->set_name("orders");
  ASSERT_TRUE(stream->Write(hello));
  v2::TelemetryCommand answer;
  ASSERT_TRUE(stream->Read(&answer));
  ASSERT_TRUE(answer.has_settings());

  const v2::SendResultEntry half = SendHalf("01CK", "checked");
  clock_.AdvanceMs(broker::BrokerConfig{}.txn_check_timeout_ms + 1);
  v2::TelemetryCommand check;
  ASSERT_TRUE(stream->Read(&check));  // the deadline fails the test rather than hanging it
  ASSERT_TRUE(check.has_recover_orphaned_transaction_command());
  const auto& rc = check.recover_orphaned_transaction_command();
  EXPECT_EQ(rc.message().system_properties().message_id(), "01CK");
  EXPECT_EQ(rc.message().body(), "checked");
  EXPECT_EQ(rc.message().system_properties().message_type(), v2::TRANSACTION);
  EXPECT_EQ(rc.message().system_properties().body_digest().checksum(),
            rocketmq::Md5Hex("checked"));
  // The check's id names the same half as the send's.
  EXPECT_EQ(rc.transaction_id().substr(0, half.transaction_id().size() + 1),
            half.transaction_id() + ".");

  EXPECT_EQ(End("01CK", rc.transaction_id(), v2::COMMIT, v2::SOURCE_SERVER_CHECK).code(), v2::OK);
  GrpcReceived got = ReceiveGrpc("g", "orders", 32, 10'000, 10'000);
  ASSERT_EQ(got.messages.size(), 1u);
  EXPECT_EQ(got.messages[0].system_properties().message_id(), "01CK");
  EXPECT_EQ(AckGrpc("g", got.messages[0]).code(), v2::OK);
  // A late second answer changes nothing: exactly one copy.
  EXPECT_EQ(End("01CK", rc.transaction_id(), v2::COMMIT, v2::SOURCE_SERVER_CHECK).code(), v2::OK);
  EXPECT_TRUE(ReceiveGrpc("g", "orders", 32, 10'000, 0).messages.empty());
  stream->WritesDone();
  EXPECT_TRUE(stream->Finish().ok());
}

TEST_F(RocketMqTxnTest, AScheduledMessageIsRecalledBeforeItFires) {
  v2::Message delayed = NewMessage("01RC", "never");
  delayed.mutable_system_properties()->set_message_type(v2::DELAY);
  *delayed.mutable_system_properties()->mutable_delivery_timestamp() =
      rocketmq::ToTimestamp(clock_.NowMs() + 10'000);
  v2::SendMessageResponse sent = Send(delayed);
  ASSERT_EQ(sent.status().code(), v2::OK);
  const std::string handle = sent.entries(0).recall_handle();
  ASSERT_FALSE(handle.empty());

  v2::RecallMessageRequest req;
  req.mutable_topic()->set_name("orders");
  req.set_recall_handle(handle);
  v2::RecallMessageResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub_->RecallMessage(&ctx, req, &resp).ok());
  ASSERT_EQ(resp.status().code(), v2::OK) << resp.status().message();
  EXPECT_EQ(resp.message_id(), "01RC");

  clock_.AdvanceMs(11'000);
  EXPECT_TRUE(ReceiveGrpc("g", "orders", 32, 10'000, 1'000).messages.empty());
  grpc::ClientContext ctx2;
  ASSERT_TRUE(stub_->RecallMessage(&ctx2, req, &resp).ok());
  EXPECT_NE(resp.status().code(), v2::OK);
}

}  // namespace
}  // namespace tidemq::testing
