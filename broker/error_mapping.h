// The one place where internal errors become wire error codes (and back, for tests).
// Threads: pure functions, any thread.
#pragma once

#include "common/status.h"
#include "proto/tidemq.pb.h"

namespace tidemq::broker {

wire::ErrorCode ToWireCode(Code code);
// Writes code and message of `status` into a response header.
void SetResponseStatus(const Status& status, wire::Header* header);

}  // namespace tidemq::broker
