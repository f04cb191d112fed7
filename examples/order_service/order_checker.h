// The transaction checker of the order service: the broker asks it about a half message whose
// sender never said commit or rollback (it crashed, or its end was lost). The order row is the
// truth: there, inserted with this message's id -> commit; absent (or created by another
// message: a duplicate) -> rollback; database unusable -> unknown (the broker asks again).
#pragma once

#include <atomic>
#include <cstdint>

#include "examples/order_service/order_db.h"
#include "tidemq/producer.h"

namespace order_service {

struct CheckCounts {
  std::atomic<int64_t> commit{0};
  std::atomic<int64_t> rollback{0};
  std::atomic<int64_t> unknown{0};
};

// Prints one line per check. `db` and `counts` must outlive the producer built with it.
tidemq::TransactionChecker MakeOrderChecker(OrderDb* db, CheckCounts* counts);

}  // namespace order_service
