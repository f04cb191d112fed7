// Receipt handles: what a consumer gets with each delivery and hands back to ack, nack or
// change the lease. Opaque to clients; the broker encodes where the message is, which lease
// it belongs to and which broker run made it, so a stale handle (lease lapsed and
// re-delivered, or taken before a restart) is recognised. Format: docs/wire_protocol.md.
// Threads: pure functions, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tidemq::broker {

// The version this broker writes. Version 1 (no start epoch) came from brokers before the
// epoch existed: such a handle can only be from an earlier run.
inline constexpr char kReceiptVersion[] = "2";
inline constexpr char kReceiptVersion1[] = "1";

struct Receipt {
  uint64_t epoch = 0;      // the broker's start epoch: lease ids are unique within one run
  std::string topic;
  uint32_t queue_id = 0;
  int64_t queue_offset = 0;
  uint64_t lease_id = 0;
  std::string client_id;   // broadcasting groups keep an offset per client
};

// "2|<epoch>|<topic>|<queue>|<offset>|<lease>|<client>": names never contain '|'.
std::string EncodeReceipt(const Receipt& r);
// kReceiptInvalid for anything else; a version 1 handle is refused as from an earlier run.
Result<Receipt> DecodeReceipt(std::string_view s);
// The refusal of a well-formed handle that an earlier broker run gave out.
Status EarlierRunReceipt(std::string_view detail);

// Client ids: 1..128 printable characters without '|' or '/'.
Status ValidateClientId(std::string_view id);

}  // namespace tidemq::broker
