// order_service inventory: a consumer of the "orders" topic that reserves stock for each
// committed order. It never sees a half message, nor one rolled back. Delivery is at least
// once, so it dedupes by order id (a real service would keep that set in its own database).
#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "examples/order_service/commands.h"
#include "examples/order_service/console.h"
#include "examples/order_service/order_messages.h"
#include "tidemq/simple_consumer.h"

namespace order_service {
namespace {

constexpr int64_t kReceiveWaitMs = 1000;  // long-poll; bounds how late a stop is noticed
constexpr auto kRetryPause = std::chrono::milliseconds(500);

}  // namespace

int RunInventory(const InventoryOptions& o) {
  if (auto st = EnsureOrdersTopic(o.addr); !st.ok())
    return Fail("topic " + std::string(kTopic), st);
  auto consumer = tidemq::SimpleConsumer::NewBuilder()
                      .Endpoint(o.addr)
                      .Group(o.group)
                      .Topic(kTopic)
                      .AwaitDuration(kReceiveWaitMs)
                      .Build();
  if (!consumer.ok()) return Fail("connect to " + o.addr, consumer.status());
  InstallStopSignals();
  const auto deadline = DeadlineAfter(o.seconds);
  Say("inventory (consumer group " + o.group + ") waiting for committed orders on topic " + kTopic +
      ForSeconds(o.seconds) + (o.count > 0 ? " or " + std::to_string(o.count) + " order(s)" : ""));

  std::set<std::string> reserved;
  int64_t deliveries = 0, duplicates = 0, errors = 0;
  while (!StopRequested() && std::chrono::steady_clock::now() < deadline &&
         (o.count == 0 || static_cast<int>(reserved.size()) < o.count)) {
    auto batch = consumer->Receive(32);
    if (!batch.ok()) {
      ++errors;
      Say("receive failed: " + batch.status().message());
      std::this_thread::sleep_for(kRetryPause);
      continue;
    }
    for (const tidemq::ReceivedMessage& m : *batch) {
      ++deliveries;
      const std::string id = OrderIdOf(m);
      auto order = OrderFromBody(m.body());
      if (!order.ok()) {
        Say("message " + m.message_id() + " is not an order (" + order.status().message() +
            "): skipped");
      } else if (!reserved.insert(id).second) {
        ++duplicates;
        Say("order " + id + " delivered again (message " + m.message_id() + ", attempt " +
            std::to_string(m.delivery_attempt()) + "): already reserved, ignored");
      } else {
        Say("order " + id + " committed -> reserve " + Describe(*order) + " (message " +
            m.message_id() + ")");
      }
      if (auto st = consumer->Ack(m); !st.ok()) {
        ++errors;
        Say("ack of " + m.message_id() + " failed: " + st.message());
      }
    }
  }
  Say(std::to_string(reserved.size()) + " order(s) reserved from " + std::to_string(deliveries) +
      " deliveries (" + std::to_string(duplicates) + " duplicate(s)), " + std::to_string(errors) +
      " error(s)");
  consumer->Shutdown();
  if (errors > 0) return kExitError;
  return o.count > 0 && static_cast<int>(reserved.size()) < o.count ? kExitError : kExitOk;
}

}  // namespace order_service
