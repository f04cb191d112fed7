#include "txn/txn_types.h"

#include <algorithm>

namespace tidemq::txn {

std::string_view ToString(TxnState state) {
  switch (state) {
    case TxnState::kPending:
      return "pending";
    case TxnState::kCommitted:
      return "committed";
    case TxnState::kRolledBack:
      return "rolled_back";
  }
  return "unknown";
}

std::string_view ToString(TxnAction action) {
  switch (action) {
    case TxnAction::kCommit:
      return "commit";
    case TxnAction::kRollback:
      return "rollback";
  }
  return "unknown";
}

std::string_view ToString(EndReason reason) {
  switch (reason) {
    case EndReason::kProducer:
      return "producer";
    case EndReason::kCheck:
      return "check";
    case EndReason::kOperator:
      return "operator";
    case EndReason::kMaxChecks:
      return "max_checks";
    case EndReason::kTopicDeleted:
      return "topic_deleted";
  }
  return "unknown";
}

int64_t CheckBackoff::DelayMs(uint32_t n) const {
  int64_t delay = std::max<int64_t>(0, base_ms);
  // Doubling stops at the cap, so it never overflows.
  for (uint32_t i = 1; i < n && delay > 0 && delay < max_ms; ++i) delay *= 2;
  return std::min(delay, max_ms);
}

}  // namespace tidemq::txn
