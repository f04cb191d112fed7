// Receipt handles: what a consumer gets with each delivery and hands back to ack, nack or
// change the lease. Opaque to clients; the broker encodes where the message is and which
// lease it belongs to, so a stale handle (lease lapsed and re-delivered) is recognised.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace tidemq::broker {

struct Receipt {
  std::string topic;
  uint32_t queue_id = 0;
  int64_t queue_offset = 0;
  uint64_t lease_id = 0;
  std::string client_id;   // broadcasting groups keep an offset per client
};

// "1|<topic>|<queue>|<offset>|<lease>|<client>": names never contain '|'.
std::string EncodeReceipt(const Receipt& r);
Result<Receipt> DecodeReceipt(std::string_view s);

// Client ids: 1..128 printable characters without '|' or '/'.
Status ValidateClientId(std::string_view id);

}  // namespace tidemq::broker
