#include "examples/order_service/order_checker.h"

#include <string>

#include "examples/order_service/console.h"
#include "examples/order_service/order_messages.h"

namespace order_service {

tidemq::TransactionChecker MakeOrderChecker(OrderDb* db, CheckCounts* counts) {
  return [db, counts](const tidemq::ReceivedMessage& half) {
    using tidemq::TransactionResolution;
    const std::string id = OrderIdOf(half);
    const std::string what = "check-back: order " + (id.empty() ? "?" : id) + " (message " +
                             half.message_id() + ", half stored " +
                             std::to_string(EpochMs() - half.store_ms()) + " ms ago)";
    if (id.empty()) {
      ++counts->rollback;
      Say(what + " -> rollback: the message names no order");
      return TransactionResolution::kRollback;
    }
    auto found = db->Find(id);
    if (!found.ok()) {
      ++counts->unknown;
      Say(what + " -> unknown: " + found.status().message() + " (the broker asks again later)");
      return TransactionResolution::kUnknown;
    }
    if (!found->has_value()) {
      ++counts->rollback;
      Say(what + " -> rollback: no such order in " + db->path());
      return TransactionResolution::kRollback;
    }
    if ((*found)->message_id != half.message_id()) {
      // Another message created this order (this one was a duplicate whose insert failed).
      ++counts->rollback;
      Say(what + " -> rollback: the order in " + db->path() + " was created by message " +
          (*found)->message_id);
      return TransactionResolution::kRollback;
    }
    ++counts->commit;
    Say(what + " -> commit: the order is in " + db->path());
    return TransactionResolution::kCommit;
  };
}

}  // namespace order_service
