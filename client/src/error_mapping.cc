#include "client/src/error_mapping.h"

#include <string>

namespace tidemq::client {

Code FromWireCode(int wire_code) {
  // The numbers mirror each other (proto/tidemq.proto); anything newer than this client
  // knows is reported as Internal rather than misread.
  if (wire_code < 0 || wire_code > static_cast<int>(Code::kNotWritable)) {
    return Code::kInternal;
  }
  return static_cast<Code>(wire_code);
}

wire::ErrorCode ToWireCode(Code code) { return static_cast<wire::ErrorCode>(code); }

Status StatusFromHeader(const wire::Header& header) {
  int raw = static_cast<int>(header.code());
  if (raw == wire::OK) return Status::Ok();
  Code code = FromWireCode(raw);
  std::string message = header.error_message();
  if (code == Code::kInternal && raw != wire::INTERNAL) {
    message = "unknown error code " + std::to_string(raw) + " from broker: " + message;
  }
  if (message.empty()) message = std::string(CodeName(code)) + " (no message from broker)";
  return Status(code, std::move(message));
}

}  // namespace tidemq::client
