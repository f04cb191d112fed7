#include "rocketmq/codes.h"

namespace tidemq::rocketmq {

v2::Code ToRocketMqCode(Code code) {
  switch (code) {
    case Code::kOk: return v2::OK;
    case Code::kInvalidArgument: return v2::BAD_REQUEST;
    case Code::kNotFound: return v2::NOT_FOUND;
    case Code::kAlreadyExists: return v2::BAD_REQUEST;
    case Code::kCorruption: return v2::MESSAGE_CORRUPTED;
    case Code::kIOError: return v2::INTERNAL_SERVER_ERROR;
    case Code::kReadOnly: return v2::INTERNAL_SERVER_ERROR;
    case Code::kTooLarge: return v2::MESSAGE_BODY_TOO_LARGE;
    case Code::kResourceExhausted: return v2::TOO_MANY_REQUESTS;
    case Code::kTimeout: return v2::REQUEST_TIMEOUT;
    case Code::kUnavailable: return v2::INTERNAL_SERVER_ERROR;
    case Code::kFailedPrecondition: return v2::PRECONDITION_FAILED;
    case Code::kInternal: return v2::INTERNAL_ERROR;
    case Code::kCancelled: return v2::INTERNAL_SERVER_ERROR;
    case Code::kTopicNotFound: return v2::TOPIC_NOT_FOUND;
    case Code::kGroupNotFound: return v2::CONSUMER_GROUP_NOT_FOUND;
    case Code::kReceiptInvalid: return v2::INVALID_RECEIPT_HANDLE;
    case Code::kUnsupported: return v2::UNSUPPORTED;
    case Code::kTxnConflict: return v2::PRECONDITION_FAILED;
    case Code::kOutOfRange: return v2::ILLEGAL_OFFSET;
    case Code::kNotMaster: return v2::FORBIDDEN;  // this broker may not write: re-route
    case Code::kNotEnoughReplicas: return v2::HA_NOT_AVAILABLE;
    case Code::kNotWritable: return v2::FORBIDDEN;  // a drained group: re-route
  }
  return v2::INTERNAL_ERROR;
}

v2::Status MakeStatus(v2::Code code, std::string message) {
  v2::Status s;
  s.set_code(code);
  s.set_message(std::move(message));
  return s;
}

v2::Status OkStatus() { return MakeStatus(v2::OK, "OK"); }

v2::Status ToRocketMqStatus(const Status& status) {
  if (status.ok()) return OkStatus();
  return MakeStatus(ToRocketMqCode(status.code()), status.ToString());
}

}  // namespace tidemq::rocketmq
