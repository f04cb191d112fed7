// Message ids: 32 hex characters, unique without coordination.
//   12 hex  random per-process prefix (48 bits from std::random_device)
//   12 hex  wall-clock milliseconds at the call (48 bits)
//    8 hex  per-process counter (32 bits, wraps)
// Two processes collide only if they draw the same prefix; within a process the counter
// makes ids distinct for 2^32 ids per millisecond.
#pragma once

#include <string>

namespace tidemq::client {

std::string NewMessageId();
// A client id for heartbeats and broadcasting groups: "<hostname>@<pid>@<random hex>".
std::string NewClientId();

}  // namespace tidemq::client
