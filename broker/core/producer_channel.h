// How a transaction check-back reaches a producer, whatever protocol it speaks.
//
// A front end registers each producer connection that can answer check-backs (its heartbeat
// named producer groups) as a ProducerChannel; the TxnCoordinator picks one channel of the
// transaction's producer group and hands it a TxnCheck. The channel encodes the check in its
// own protocol (the native adapter: a CHECK_TXN request frame) and, when the producer
// answers, the adapter decodes the answer into a CheckAnswer for TxnCoordinator::OnAnswer.
//
// Threads: SendCheck, channel_id and closed may be called from any thread (the coordinator's
// strand) and must not block.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.h"
#include "store/record.h"
#include "txn/txn_types.h"

namespace tidemq::broker {

// One check-back to send: "what became of the transaction of this half message?"
struct TxnCheck {
  uint64_t request_id = 0;              // the answer names it (CheckAnswer::request_id)
  const store::Record* half = nullptr;  // the half message, valid during SendCheck only
  LogOffset half_offset;
  std::string producer_group;
  uint32_t check_number = 1;  // 1 for the first check of the transaction
};

// A producer's answer to a check-back, decoded by its adapter.
struct CheckAnswer {
  uint64_t request_id = 0;
  bool answered = false;                 // false: the producer replied with an error
  std::string error_message;             // when not answered
  std::optional<txn::TxnAction> action;  // commit or rollback; none: unknown (ask again)
  // The half the answer names, so that it still counts after its check was forgotten.
  bool names_half = false;
  int64_t half_offset = -1;
  std::string message_id;
};

// A half message's own bookkeeping properties (its producer group, its check timeout), which are
// not the producer's: an adapter leaves them out of the message a check-back shows.
bool IsHalfBookkeepingProperty(std::string_view key);

class ProducerChannel {
 public:
  virtual ~ProducerChannel() = default;
  // Unique among the broker's live channels (adapters take ids from one counter).
  virtual uint64_t channel_id() const = 0;
  virtual bool closed() const = 0;
  // Queues the check for the producer; never blocks. A closed channel drops it.
  virtual void SendCheck(const TxnCheck& check) = 0;
};

}  // namespace tidemq::broker
