// The vocabulary of transactional messages (shared/DESIGN.md 3, docs/txn.md): the record
// properties the broker and txn/ agree on, the states a transaction goes through, and the
// check-back schedule. Shared by the index, the service, the broker and the tools.
#pragma once

#include <climits>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/types.h"
#include "store/record.h"

namespace tidemq::txn {

// Properties of a kTxnHalf record.
inline constexpr char kProducerGroupProperty[] = "TXN_PRODUCER_GROUP";   // required
inline constexpr char kCheckTimeoutProperty[] = "TXN_CHECK_TIMEOUT_MS";  // decimal ms, optional
// Every property with this prefix belongs to the transaction, not to the message: a commit
// re-put drops them.
inline constexpr char kTxnPropertyPrefix[] = "TXN_";
// A transaction whose checks ran out is rolled back and a copy of its half is parked here.
inline constexpr char kParkedTopic[] = "%TXN_PARKED%";
// Properties of the parked copy: why, and the topic the half was meant for.
inline constexpr char kParkReasonProperty[] = "TXN_PARK_REASON";
inline constexpr char kRealTopicProperty[] = "TXN_REAL_TOPIC";

enum class TxnState : uint8_t { kPending = 1, kCommitted = 2, kRolledBack = 3 };
enum class TxnAction : uint8_t { kCommit = 1, kRollback = 2 };
// Who ended a transaction; travels in Record.flags (store::kFlagEndReasonShift/Mask).
enum class EndReason : uint8_t {
  kProducer = 0,
  kCheck = 1,
  kOperator = 2,
  kMaxChecks = 3,
  kTopicDeleted = 4,  // a commit came after its topic was deleted: rolled back and parked
};

std::string_view ToString(TxnState state);
std::string_view ToString(TxnAction action);
std::string_view ToString(EndReason reason);

// The EndReason bits of Record.flags, and back (an unknown value reads as itself).
inline uint32_t EndReasonFlags(EndReason reason) {
  return (static_cast<uint32_t>(reason) << store::kFlagEndReasonShift) & store::kFlagEndReasonMask;
}
inline EndReason EndReasonOf(uint32_t flags) {
  return static_cast<EndReason>((flags & store::kFlagEndReasonMask) >> store::kFlagEndReasonShift);
}

// t + d, saturating instead of overflowing (timeouts and back-offs come from outside).
inline int64_t AddMs(int64_t t, int64_t d) {
  if (d > 0 && t > INT64_MAX - d) return INT64_MAX;
  if (d < 0 && t < INT64_MIN - d) return INT64_MIN;
  return t + d;
}

// One transaction, keyed by the log offset of its half record.
struct TxnEntry {
  LogOffset half_offset;
  TxnState state = TxnState::kPending;
  std::string producer_group, topic, message_id;
  uint32_t queue_id = 0;
  int64_t half_store_ms = 0, timeout_ms = 0;
  uint32_t checks = 0;        // CHECK records applied (checks sent)
  int64_t next_check_ms = 0;  // pending: when the next check is due
  int64_t end_ms = 0;         // resolved: store_ms of the record that ended it
  EndReason end_reason = EndReason::kProducer;
  bool parked = false;  // rolled back after max checks, its copy in kParkedTopic
  // The last CHECK record applied: a replayed CHECK at or before it is not counted twice.
  LogOffset last_check_offset = kNoLogOffset;
  bool operator==(const TxnEntry&) const = default;
};

// Delay before the check after check number n (n >= 1): min(base * 2^(n-1), max).
struct CheckBackoff {
  int64_t base_ms = 10'000;
  int64_t max_ms = 300'000;
  int64_t DelayMs(uint32_t n) const;
};

}  // namespace tidemq::txn
