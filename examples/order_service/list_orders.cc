// order_service orders: what the order database holds (the local side of the transactions).
#include <cstdio>

#include "examples/order_service/commands.h"
#include "examples/order_service/order_db.h"
#include "examples/order_service/order_messages.h"

namespace order_service {

int RunListOrders(const OrdersOptions& o) {
  auto db = OrderDb::Open(o.db);
  if (!db.ok()) return Fail("database", db.status());
  auto count = (*db)->Count();
  auto orders = (*db)->List(o.limit);
  if (!count.ok()) return Fail("database", count.status());
  if (!orders.ok()) return Fail("database", orders.status());
  std::printf("%lld order(s) in %s%s\n", static_cast<long long>(*count), o.db.c_str(),
              *count > o.limit ? (", newest " + std::to_string(o.limit) + ":").c_str() : "");
  for (const Order& order : *orders) {
    std::printf("  %-22s %-40s message %s\n", order.id.c_str(), Describe(order).c_str(),
                order.message_id.c_str());
  }
  return kExitOk;
}

}  // namespace order_service
