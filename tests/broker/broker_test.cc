// Integration tests: a real broker in-process, driven over TCP at the frame level.
#include <thread>

#include "tests/broker/broker_fixture.h"

namespace tidemq::testing {
namespace {

TEST_F(BrokerTest, SendReceiveAck) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("orders", 2)).header.code(), wire::OK);
  std::vector<Msg> msgs;
  for (int i = 0; i < 10; ++i) msgs.push_back({"body-" + std::to_string(i), "created", "k" + std::to_string(i), ""});
  wire::Frame sent = Send(*c, "orders", msgs);
  ASSERT_EQ(sent.header.code(), wire::OK) << sent.header.error_message();
  ASSERT_EQ(sent.header.send_response().results_size(), 10);

  auto got = Receive(*c, "billing", "orders", 32, 0);
  ASSERT_EQ(got.size(), 10u);
  std::set<std::string> bodies;
  for (const auto& r : got) {
    bodies.insert(r.body);
    EXPECT_EQ(r.meta.tag(), "created");
    EXPECT_EQ(r.meta.delivery_attempt(), 1u);
    EXPECT_EQ(r.meta.properties().at("p"), "v");
    EXPECT_EQ(r.meta.keys_size(), 1);
    EXPECT_FALSE(r.meta.receipt_handle().empty());
  }
  EXPECT_EQ(bodies.size(), 10u);
  for (const auto& r : got) EXPECT_EQ(Ack(*c, "billing", "orders", r.meta.receipt_handle()), wire::OK);
  EXPECT_TRUE(Receive(*c, "billing", "orders", 32, 0).empty());

  wire::Header d;
  d.set_kind(wire::DESCRIBE_GROUP);
  d.mutable_describe_group_request()->set_group("billing");
  wire::Frame desc = c->Call(d);
  ASSERT_EQ(desc.header.code(), wire::OK);
  EXPECT_EQ(desc.header.describe_group_response().group().total_lag(), 0);
  EXPECT_EQ(desc.header.describe_group_response().group().queues_size(), 2);  // both queues
  int64_t committed = 0;
  for (const auto& q : desc.header.describe_group_response().group().queues()) committed += q.committed_offset();
  EXPECT_EQ(committed, 10);
}

TEST_F(BrokerTest, SecondAckOfSameHandleIsRefused) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{"x"}}).header.code(), wire::OK);
  auto got = Receive(*c, "g", "t", 1, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(Ack(*c, "g", "t", got[0].meta.receipt_handle()), wire::OK);
  EXPECT_EQ(Ack(*c, "g", "t", got[0].meta.receipt_handle()), wire::RECEIPT_INVALID);
  EXPECT_EQ(Ack(*c, "g", "t", "garbage"), wire::RECEIPT_INVALID);
}

TEST_F(BrokerTest, NackRedelivers) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{"retry-me"}}).header.code(), wire::OK);
  auto first = Receive(*c, "g", "t", 1, 0);
  ASSERT_EQ(first.size(), 1u);
  const int64_t failed_at = clock_.NowMs();
  wire::Frame n = Settle(*c, wire::NACK, "g", "t", {first[0].meta.receipt_handle()});
  ASSERT_EQ(n.header.code(), wire::OK);
  EXPECT_EQ(n.header.nack_response().results(0).code(), wire::OK);
  // The group's back-off (the default ladder: 10 s first) runs on the broker's clock.
  EXPECT_TRUE(Receive(*c, "g", "t", 1, 0).empty());
  clock_.AdvanceMs(10'000);
  auto second = Receive(*c, "g", "t", 1, 5000);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].body, "retry-me");
  EXPECT_EQ(second[0].meta.delivery_attempt(), 2u);
  // A retry copy: delivered as a message of its topic, same id, with its history.
  EXPECT_EQ(second[0].meta.topic(), "t");
  EXPECT_EQ(second[0].meta.original_topic(), "t");
  EXPECT_EQ(second[0].meta.message_id(), first[0].meta.message_id());
  EXPECT_EQ(second[0].meta.first_failure_ms(), failed_at);
  // The first lease is gone: its handle no longer acks.
  EXPECT_EQ(Ack(*c, "g", "t", first[0].meta.receipt_handle()), wire::RECEIPT_INVALID);
  EXPECT_EQ(Ack(*c, "g", "t", second[0].meta.receipt_handle()), wire::OK);
}

TEST_F(BrokerTest, NackWithDelayWaitsForTheClock) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{"later"}}).header.code(), wire::OK);
  auto first = Receive(*c, "g", "t", 1, 0);
  ASSERT_EQ(first.size(), 1u);
  ASSERT_EQ(Settle(*c, wire::NACK, "g", "t", {first[0].meta.receipt_handle()}, 60'000).header.code(),
            wire::OK);
  EXPECT_TRUE(Receive(*c, "g", "t", 1, 0).empty());  // not due yet (virtual time stands still)
  clock_.AdvanceMs(60'001);
  auto again = Receive(*c, "g", "t", 1, 10'000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].meta.delivery_attempt(), 2u);
}

TEST_F(BrokerTest, LapsedLeaseRedelivers) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{"slow"}}).header.code(), wire::OK);
  auto first = Receive(*c, "g", "t", 1, 0, "", "", /*lease_ms=*/5000);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(Receive(*c, "g", "t", 1, 0).empty());  // invisible while leased
  clock_.AdvanceMs(5001);
  // The broker's lease check sees the lapse and wakes this long-poll.
  auto again = Receive(*c, "g", "t", 1, 10'000);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].body, "slow");
  EXPECT_EQ(again[0].meta.delivery_attempt(), 2u);
  EXPECT_EQ(Ack(*c, "g", "t", first[0].meta.receipt_handle()), wire::RECEIPT_INVALID);
}

TEST_F(BrokerTest, ChangeLeaseKeepsMessageInvisible) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{"long-job"}}).header.code(), wire::OK);
  auto got = Receive(*c, "g", "t", 1, 0, "", "", 5000);
  ASSERT_EQ(got.size(), 1u);
  wire::Header h;
  h.set_kind(wire::CHANGE_LEASE);
  h.mutable_change_lease_request()->set_group("g");
  h.mutable_change_lease_request()->set_topic("t");
  h.mutable_change_lease_request()->set_receipt_handle(got[0].meta.receipt_handle());
  h.mutable_change_lease_request()->set_lease_ms(60'000);
  wire::Frame f = c->Call(h);
  ASSERT_EQ(f.header.code(), wire::OK);
  clock_.AdvanceMs(10'000);  // past the first lease, within the new one
  EXPECT_TRUE(Receive(*c, "g", "t", 1, 100).empty());
  EXPECT_EQ(Ack(*c, "g", "t", f.header.change_lease_response().receipt_handle()), wire::OK);
}

TEST_F(BrokerTest, ClusteringSplitsMessagesAcrossMembers) {
  auto a = Connect();
  auto b = Connect();
  ASSERT_EQ(a->Call(CreateTopic("t", 4)).header.code(), wire::OK);
  std::vector<Msg> msgs;
  for (int i = 0; i < 40; ++i) msgs.push_back({"m" + std::to_string(i)});
  ASSERT_EQ(Send(*a, "t", msgs).header.code(), wire::OK);
  std::multiset<std::string> seen;
  size_t from_a = 0, from_b = 0;
  for (int round = 0; round < 10; ++round) {
    for (auto& r : Receive(*a, "g", "t", 4, 0, "member-a")) { seen.insert(r.body); ++from_a; }
    for (auto& r : Receive(*b, "g", "t", 4, 0, "member-b")) { seen.insert(r.body); ++from_b; }
  }
  EXPECT_EQ(seen.size(), 40u);
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 40u);  // no duplicates
  EXPECT_GT(from_a, 0u);
  EXPECT_GT(from_b, 0u);
}

TEST_F(BrokerTest, BroadcastingGivesEveryMemberEveryMessage) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 2)).header.code(), wire::OK);
  ASSERT_EQ(c->Call(CreateGroup("bc", true, false)).header.code(), wire::OK);
  std::vector<Msg> msgs;
  for (int i = 0; i < 6; ++i) msgs.push_back({"m" + std::to_string(i)});
  ASSERT_EQ(Send(*c, "t", msgs).header.code(), wire::OK);
  for (const char* member : {"one", "two"}) {
    auto got = Receive(*c, "bc", "t", 32, 0, member);
    EXPECT_EQ(got.size(), 6u) << member;
    for (auto& r : got) EXPECT_EQ(Ack(*c, "bc", "t", r.meta.receipt_handle()), wire::OK);
  }
  wire::ErrorCode code;
  Receive(*c, "bc", "t", 32, 0, "", "", 30'000, &code);
  EXPECT_EQ(code, wire::INVALID_ARGUMENT);  // broadcasting needs a client id
}

TEST_F(BrokerTest, FifoDeliversNextOnlyAfterAck) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 4)).header.code(), wire::OK);
  ASSERT_EQ(c->Call(CreateGroup("ordered", false, true)).header.code(), wire::OK);
  std::vector<Msg> msgs;
  for (int i = 0; i < 5; ++i) msgs.push_back({"step-" + std::to_string(i), "", "", "order-42"});
  ASSERT_EQ(Send(*c, "t", msgs).header.code(), wire::OK);

  std::vector<std::string> order;
  auto first = Receive(*c, "ordered", "t", 1, 0);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].body, "step-0");
  EXPECT_TRUE(Receive(*c, "ordered", "t", 1, 0).empty());  // blocked behind step-0
  // A nack keeps the order: step-0 comes again before step-1.
  ASSERT_EQ(Settle(*c, wire::NACK, "ordered", "t", {first[0].meta.receipt_handle()}).header.code(), wire::OK);
  EXPECT_TRUE(Receive(*c, "ordered", "t", 1, 0).empty());  // retried in place after 10 s
  clock_.AdvanceMs(10'000);
  for (int i = 0; i < 5; ++i) {
    auto got = Receive(*c, "ordered", "t", 1, 5000);
    ASSERT_EQ(got.size(), 1u);
    order.push_back(got[0].body);
    EXPECT_EQ(Ack(*c, "ordered", "t", got[0].meta.receipt_handle()), wire::OK);
  }
  EXPECT_EQ(order, (std::vector<std::string>{"step-0", "step-1", "step-2", "step-3", "step-4"}));
}

TEST_F(BrokerTest, FifoBatchTakesOneMessagePerQueue) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(c->Call(CreateGroup("ordered", false, true)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{"a", "", "", "g"}, {"b", "", "", "g"}, {"c", "", "", "g"}}).header.code(),
            wire::OK);
  // Asking for many still leases only the head of the queue: a nack of "a" must not find
  // "b" already handed out.
  auto got = Receive(*c, "ordered", "t", 16, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "a");
  EXPECT_EQ(got[0].meta.message_group(), "g");
}

TEST_F(BrokerTest, LongPollWakesOnArrival) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 2)).header.code(), wire::OK);
  std::vector<Received> got;
  std::thread waiter([&] {
    auto w = Connect();
    // Without a wake-up this would come back empty after 30 s.
    got = Receive(*w, "g", "t", 1, 30'000);
  });
  // Send only once the receive is parked (the broker counts parked polls).
  for (int i = 0; i < 2000; ++i) {
    wire::Header s;
    s.set_kind(wire::STATS);
    if (c->Call(s).header.stats_response().counters().at("long_polls_parked") > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(Send(*c, "t", {{"wake"}}).header.code(), wire::OK);
  waiter.join();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "wake");
}

TEST_F(BrokerTest, TagFilter) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{"a1", "A"}, {"b1", "B"}, {"c1", "C"}, {"a2", "A"}}).header.code(), wire::OK);
  auto got = Receive(*c, "g", "t", 32, 0, "", "A || C");
  std::vector<std::string> bodies;
  for (auto& r : got) bodies.push_back(r.body);
  EXPECT_EQ(bodies, (std::vector<std::string>{"a1", "c1", "a2"}));
  wire::ErrorCode code;
  Receive(*c, "g2", "t", 32, 0, "", "A||", 30'000, &code);
  EXPECT_EQ(code, wire::INVALID_ARGUMENT);
}

TEST_F(BrokerTest, CommittedOffsetsSurviveRestart) {
  {
    auto c = Connect();
    ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
    std::vector<Msg> msgs;
    for (int i = 0; i < 10; ++i) msgs.push_back({"m" + std::to_string(i)});
    ASSERT_EQ(Send(*c, "t", msgs).header.code(), wire::OK);
    auto got = Receive(*c, "g", "t", 5, 0);
    ASSERT_EQ(got.size(), 5u);
    for (auto& r : got) ASSERT_EQ(Ack(*c, "g", "t", r.meta.receipt_handle()), wire::OK);
  }
  RestartBroker();
  auto c = Connect();
  auto rest = Receive(*c, "g", "t", 32, 0);
  ASSERT_EQ(rest.size(), 5u);
  EXPECT_EQ(rest[0].body, "m5");
  EXPECT_EQ(rest[4].body, "m9");
}

TEST_F(BrokerTest, QueryByIdAndKey) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 2)).header.code(), wire::OK);
  wire::Frame sent = Send(*c, "t", {{"hello", "", "order-7"}});
  ASSERT_EQ(sent.header.code(), wire::OK);
  std::string id = sent.header.send_response().results(0).message_id();
  wire::Header q;
  q.set_kind(wire::QUERY_MESSAGE);
  q.mutable_query_message_request()->set_message_id(id);
  wire::Frame byid = c->Call(q);
  ASSERT_EQ(byid.header.code(), wire::OK) << byid.header.error_message();
  EXPECT_EQ(byid.body, "hello");
  wire::Header k;
  k.set_kind(wire::QUERY_MESSAGE);
  k.mutable_query_message_request()->set_topic("t");
  k.mutable_query_message_request()->set_key("order-7");
  wire::Frame bykey = c->Call(k);
  ASSERT_EQ(bykey.header.code(), wire::OK) << bykey.header.error_message();
  EXPECT_EQ(bykey.header.query_message_response().messages(0).message_id(), id);
  k.mutable_query_message_request()->set_key("nope");
  EXPECT_EQ(c->Call(k).header.code(), wire::NOT_FOUND);
}

// ---- bad input: typed errors, and the broker keeps serving ----

TEST_F(BrokerTest, SendErrorsAreTyped) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  EXPECT_EQ(Send(*c, "missing", {{"x"}}).header.code(), wire::TOPIC_NOT_FOUND);
  EXPECT_EQ(Send(*c, "bad name!", {{"x"}}).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(Send(*c, "%SYS%t", {{"x"}}).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(Send(*c, "t", {{std::string((4 << 20) + 1, 'x')}}).header.code(), wire::TOO_LARGE);
  EXPECT_EQ(Send(*c, "t", {{"x", "bad|tag"}}).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(c->Call(CreateTopic("t", 3)).header.code(), wire::ALREADY_EXISTS);
  EXPECT_EQ(c->Call(CreateTopic("x", 0)).header.code(), wire::OK);  // 0 = default count

  // Body sizes that do not add up to the frame body.
  wire::Header h;
  h.set_kind(wire::SEND);
  auto* m = h.mutable_send_request()->add_messages();
  m->set_topic("t");
  m->set_message_id("id-1");
  m->set_body_size(100);
  EXPECT_EQ(c->Call(h, {"short"}).header.code(), wire::INVALID_ARGUMENT);

  // A batch with one bad message stores nothing.
  ASSERT_EQ(Send(*c, "t", {{"good"}, {"bad", "a|b"}}).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_TRUE(Receive(*c, "g", "t", 32, 0).empty());
  // And the same connection still works.
  EXPECT_EQ(Send(*c, "t", {{"ok"}}).header.code(), wire::OK);
}

TEST_F(BrokerTest, UnknownKindsAndMissingPayloads) {
  auto c = Connect();
  wire::Header h;
  h.set_kind(static_cast<wire::RequestKind>(999));
  EXPECT_EQ(c->Call(h).header.code(), wire::UNSUPPORTED);
  for (auto kind : {wire::SEND, wire::RECEIVE, wire::ACK, wire::NACK, wire::CHANGE_LEASE,
                    wire::CREATE_TOPIC, wire::DESCRIBE_TOPIC, wire::DELETE_TOPIC,
                    wire::CREATE_GROUP, wire::DESCRIBE_GROUP, wire::DELETE_GROUP,
                    wire::QUERY_MESSAGE, wire::HEARTBEAT}) {
    wire::Header empty;
    empty.set_kind(kind);
    EXPECT_EQ(c->Call(empty).header.code(), wire::INVALID_ARGUMENT) << wire::RequestKind_Name(kind);
  }
  wire::Header r;
  r.set_kind(wire::RECEIVE);
  r.mutable_receive_request()->set_group("g");
  r.mutable_receive_request()->set_topic("nope");
  EXPECT_EQ(c->Call(r).header.code(), wire::TOPIC_NOT_FOUND);
  r.mutable_receive_request()->set_group("bad group");
  EXPECT_EQ(c->Call(r).header.code(), wire::INVALID_ARGUMENT);
  wire::Header dg;
  dg.set_kind(wire::DESCRIBE_GROUP);
  dg.mutable_describe_group_request()->set_group("never-seen");
  EXPECT_EQ(c->Call(dg).header.code(), wire::GROUP_NOT_FOUND);
}

TEST_F(BrokerTest, PipelinedAndSplitFrames) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  // Fifty requests in one write: each gets its own response.
  std::string burst;
  for (int i = 0; i < 50; ++i) {
    wire::Header h;
    h.set_kind(wire::SEND);
    h.set_request_id(1000 + i);
    auto* m = h.mutable_send_request()->add_messages();
    m->set_topic("t");
    m->set_message_id("burst-" + std::to_string(i));
    m->set_body_size(1);
    wire::EncodeFrame(h, std::string_view("x"), &burst);
  }
  // And one more request, delivered a few bytes at a time.
  std::string split;
  wire::Header s;
  s.set_kind(wire::STATS);
  s.set_request_id(2000);
  wire::EncodeFrame(s, std::string_view(), &split);
  c->SendRaw(burst);
  for (size_t i = 0; i < split.size(); i += 5) c->SendRaw(std::string_view(split).substr(i, 5));
  std::set<uint64_t> answered;
  wire::Frame f;
  while (answered.size() < 51 && c->Read(&f)) {
    EXPECT_EQ(f.header.code(), wire::OK) << f.header.error_message();
    answered.insert(f.header.request_id());
  }
  EXPECT_EQ(answered.size(), 51u);
  EXPECT_TRUE(answered.count(2000));
  EXPECT_EQ(Receive(*c, "g", "t", 100, 0).size(), 50u);
}

TEST_F(BrokerTest, MalformedFrameClosesOnlyThatConnection) {
  auto good = Connect();
  ASSERT_EQ(good->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  for (std::string junk : {std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
                           std::string("\xff\xff\xff\xff\x44\x54\x01\x00\x00\x00\x00\x00", 12),
                           std::string("\x10\x00\x00\x00\x44\x54\x01\x00\x08\x00\x00\x00"
                                       "\xff\xff\xff\xff\xff\xff\xff\xff", 20)}) {
    auto bad = Connect();
    bad->SendRaw(junk);
    wire::Frame f;
    EXPECT_FALSE(bad->Read(&f));  // the broker closed it
  }
  EXPECT_EQ(Send(*good, "t", {{"still fine"}}).header.code(), wire::OK);
  auto fresh = Connect();
  EXPECT_EQ(Receive(*fresh, "g", "t", 1, 0).size(), 1u);
}

TEST_F(BrokerTest, DeleteTopic) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  ASSERT_EQ(Send(*c, "t", {{"x"}}).header.code(), wire::OK);
  wire::Header d;
  d.set_kind(wire::DELETE_TOPIC);
  d.mutable_delete_topic_request()->set_topic("t");
  EXPECT_EQ(c->Call(d).header.code(), wire::OK);
  EXPECT_EQ(c->Call(d).header.code(), wire::TOPIC_NOT_FOUND);
  EXPECT_EQ(Send(*c, "t", {{"x"}}).header.code(), wire::TOPIC_NOT_FOUND);
  wire::Header l;
  l.set_kind(wire::LIST_TOPICS);
  EXPECT_EQ(c->Call(l).header.list_topics_response().topics_size(), 0);
}

}  // namespace
}  // namespace tidemq::testing

namespace tidemq::testing {
namespace {

wire::Header HalfSend(const std::string& group, const std::string& property = "",
                      int64_t check_timeout_ms = 0) {
  wire::Header h;
  h.set_kind(wire::SEND_HALF);
  auto* sr = h.mutable_send_request();
  sr->set_producer_group(group);
  auto* m = sr->add_messages();
  m->set_topic("t");
  m->set_message_id("half-1");
  m->set_body_size(4);
  m->set_txn_check_timeout_ms(check_timeout_ms);
  if (!property.empty()) (*m->mutable_properties())[property] = "v";
  return h;
}

wire::Header EndTxn(int64_t half_offset, const std::string& message_id, wire::TxnResolution r) {
  wire::Header h;
  h.set_kind(wire::END_TXN);
  auto* er = h.mutable_end_txn_request();
  er->set_half_offset(half_offset);
  er->set_message_id(message_id);
  er->set_resolution(r);
  return h;
}

TEST_F(BrokerTest, TransactionRequestErrorsAreTyped) {
  auto c = Connect();
  ASSERT_EQ(c->Call(CreateTopic("t", 1)).header.code(), wire::OK);
  for (auto kind : {wire::SEND_HALF, wire::END_TXN, wire::TXN_LIST, wire::TXN_SHOW}) {
    wire::Header empty;
    empty.set_kind(kind);
    EXPECT_EQ(c->Call(empty).header.code(), wire::INVALID_ARGUMENT) << wire::RequestKind_Name(kind);
  }
  // A half needs a producer group; TXN_* properties are the broker's; timeouts are bounded.
  EXPECT_EQ(c->Call(HalfSend(""), {"body"}).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(c->Call(HalfSend("bad group!"), {"body"}).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(c->Call(HalfSend("g", "TXN_PRODUCER_GROUP"), {"body"}).header.code(),
            wire::INVALID_ARGUMENT);
  EXPECT_EQ(c->Call(HalfSend("g", "", -1), {"body"}).header.code(), wire::INVALID_ARGUMENT);
  wire::Frame half = c->Call(HalfSend("g"), {"body"});
  ASSERT_EQ(half.header.code(), wire::OK) << half.header.error_message();
  const int64_t at = half.header.send_response().results(0).log_offset();
  EXPECT_EQ(half.header.send_response().results(0).queue_offset(), -1);
  EXPECT_TRUE(Receive(*c, "g", "t", 32, 0).empty());  // invisible

  EXPECT_EQ(c->Call(EndTxn(at, "half-1", wire::TXN_UNKNOWN)).header.code(),
            wire::INVALID_ARGUMENT);
  EXPECT_EQ(c->Call(EndTxn(-1, "", wire::TXN_COMMIT)).header.code(), wire::INVALID_ARGUMENT);
  EXPECT_EQ(c->Call(EndTxn(at + 1, "half-1", wire::TXN_COMMIT)).header.code(), wire::NOT_FOUND);
  EXPECT_EQ(c->Call(EndTxn(at, "other-id", wire::TXN_COMMIT)).header.code(), wire::NOT_FOUND);
  wire::Header wrong_group = EndTxn(at, "half-1", wire::TXN_COMMIT);
  wrong_group.mutable_end_txn_request()->set_producer_group("someone-else");
  EXPECT_EQ(c->Call(wrong_group).header.code(), wire::FAILED_PRECONDITION);

  // A response frame nobody asked for (a forged check answer) is ignored.
  wire::Header forged;
  forged.set_kind(wire::CHECK_TXN);
  forged.set_is_response(true);
  forged.set_request_id(1);
  forged.mutable_check_txn_response()->set_resolution(wire::TXN_COMMIT);
  c->Send(forged);
  wire::Header show;
  show.set_kind(wire::TXN_SHOW);
  show.mutable_txn_show_request()->set_message_id("half-1");
  wire::Frame shown = c->Call(show);
  ASSERT_EQ(shown.header.code(), wire::OK);
  EXPECT_EQ(shown.header.txn_show_response().transaction().state(), wire::TXN_PENDING);

  wire::Header list;
  list.set_kind(wire::TXN_LIST);
  list.mutable_txn_list_request()->set_limit(1'000'000);
  EXPECT_EQ(c->Call(list).header.code(), wire::INVALID_ARGUMENT);

  // The end itself, twice, then the opposite.
  wire::Frame commit = c->Call(EndTxn(at, "half-1", wire::TXN_COMMIT));
  ASSERT_EQ(commit.header.code(), wire::OK) << commit.header.error_message();
  EXPECT_FALSE(commit.header.end_txn_response().already_done());
  EXPECT_GT(commit.header.end_txn_response().log_offset(), at);
  EXPECT_TRUE(c->Call(EndTxn(at, "half-1", wire::TXN_COMMIT)).header.end_txn_response().already_done());
  EXPECT_EQ(c->Call(EndTxn(at, "half-1", wire::TXN_ROLLBACK)).header.code(), wire::TXN_CONFLICT);
  auto got = Receive(*c, "g", "t", 32, 0);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "body");
}

}  // namespace
}  // namespace tidemq::testing
