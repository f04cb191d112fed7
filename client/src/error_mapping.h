// The one place the client converts between wire error codes and tidemq::Code.
#pragma once

#include "common/status.h"
#include "proto/tidemq.pb.h"

namespace tidemq::client {

Code FromWireCode(int wire_code);
wire::ErrorCode ToWireCode(Code code);
// The Status a response header stands for (OK, or code + the broker's message).
Status StatusFromHeader(const wire::Header& header);

}  // namespace tidemq::client
