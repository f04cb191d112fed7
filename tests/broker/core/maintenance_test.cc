// The core's maintenance thread (broker/core/maintenance.h) does the periodic disk work —
// offset flush, retention, purges — while every network thread is busy: none of it runs on
// the io_context.
#include <gtest/gtest.h>

#include <boost/asio/post.hpp>

#include <future>

#include "tests/broker/core/core_fixture.h"

namespace tidemq::broker {
namespace {

class MaintenanceTest : public CoreTest {};

TEST_F(MaintenanceTest, FlushAndRetentionRunWhileTheNetworkThreadsAreBusy) {
  ASSERT_TRUE(CreateTopic("orders", 1).ok());
  ASSERT_TRUE(SendOne(Message("orders", "m-1")).status.ok());
  auto waiter = std::make_shared<FakeWaiter>();
  ReceiveCommand rc;
  rc.args.group = "billing";
  rc.args.topic = "orders";
  messages().Receive(rc, *waiter);
  ASSERT_EQ(waiter->result()->size(), 1u);
  ASSERT_TRUE(messages().Ack("billing", waiter->result()->front().receipt).ok());

  // The only network thread is held until the end of the test.
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  std::promise<void> holding;
  boost::asio::post(*io_, [released, &holding] {
    holding.set_value();
    released.wait();
  });
  holding.get_future().wait();
  const int64_t flushes = Counter("offset_flushes");
  const int64_t runs = Counter("retention_runs");
  clock_.AdvanceMs(61'000);  // past the offset flush interval and the retention period
  const bool flushed = WaitUntil([&] { return Counter("offset_flushes") > flushes; });
  const bool retained = WaitUntil([&] { return Counter("retention_runs") > runs; });
  release.set_value();
  EXPECT_TRUE(flushed);
  EXPECT_TRUE(retained);
}

}  // namespace
}  // namespace tidemq::broker
