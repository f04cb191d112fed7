// Large messages through the C++ client with its default receive batch (issue 10, item 6): the
// broker bounds a receive reply by bytes (--max-receive-bytes) below the client's frame limit,
// so twenty messages of the largest size the client sends all arrive, each on its first
// attempt, instead of one reply over the limit that the client drops (and the leases lapse,
// counting attempts towards the DLQ).
#include <set>

#include "tests/client/e2e_fixture.h"

namespace tidemq {
namespace {

class BigMessageE2eTest : public ClientE2eTest {
 protected:
  void SetUp() override {
    ClientE2eTest::SetUp();
    // Room for 4 MiB records (the fixture's 1 MiB segments and message limit are too small).
    broker_.reset();
    config_.segment_bytes = 64u << 20;
    config_.max_message_bytes = kMaxMessageBodyBytes;
    StartBroker();
  }
};

TEST_F(BigMessageE2eTest, TwentyLargestMessagesAllArriveOnTheirFirstAttempt) {
  constexpr int kMessages = 20;
  CreateTopic("big", 4);
  Producer producer = NewProducer();
  for (int i = 0; i < kMessages; ++i) {
    std::string body(kMaxMessageBodyBytes, static_cast<char>('a' + i));
    auto r = producer.Send(Msg("big", body));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  SimpleConsumer consumer = NewConsumer("g", "big");
  std::set<char> seen;
  for (int poll = 0; poll < 40 && seen.size() < kMessages; ++poll) {
    auto batch = consumer.Receive();  // the default batch of 32
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    for (const ReceivedMessage& m : *batch) {
      EXPECT_EQ(m.delivery_attempt(), 1u);
      ASSERT_EQ(m.body().size(), kMaxMessageBodyBytes);
      seen.insert(m.body()[0]);
      EXPECT_TRUE(consumer.Ack(m).ok());
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kMessages));
}

}  // namespace
}  // namespace tidemq
