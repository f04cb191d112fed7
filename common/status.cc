#include "common/status.h"

namespace tidemq {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "OK";
    case Code::kInvalidArgument: return "InvalidArgument";
    case Code::kNotFound: return "NotFound";
    case Code::kAlreadyExists: return "AlreadyExists";
    case Code::kCorruption: return "Corruption";
    case Code::kIOError: return "IOError";
    case Code::kReadOnly: return "ReadOnly";
    case Code::kTooLarge: return "TooLarge";
    case Code::kResourceExhausted: return "ResourceExhausted";
    case Code::kTimeout: return "Timeout";
    case Code::kUnavailable: return "Unavailable";
    case Code::kFailedPrecondition: return "FailedPrecondition";
    case Code::kInternal: return "Internal";
    case Code::kCancelled: return "Cancelled";
    case Code::kTopicNotFound: return "TopicNotFound";
    case Code::kGroupNotFound: return "GroupNotFound";
    case Code::kReceiptInvalid: return "ReceiptInvalid";
    case Code::kUnsupported: return "Unsupported";
    case Code::kTxnConflict: return "TxnConflict";
    case Code::kOutOfRange: return "OutOfRange";
    case Code::kNotMaster: return "NotMaster";
    case Code::kNotEnoughReplicas: return "NotEnoughReplicas";
    case Code::kNotWritable: return "NotWritable";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string s(CodeName(code_));
  s += ": ";
  s += message_;
  return s;
}

}  // namespace tidemq
