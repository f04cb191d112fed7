#include "broker/error_mapping.h"

namespace tidemq::broker {

wire::ErrorCode ToWireCode(Code code) {
  // The wire enum mirrors Code number for number (proto/tidemq.proto); this switch keeps the
  // compiler checking that every Code has a wire value.
  switch (code) {
    case Code::kOk: return wire::OK;
    case Code::kInvalidArgument: return wire::INVALID_ARGUMENT;
    case Code::kNotFound: return wire::NOT_FOUND;
    case Code::kAlreadyExists: return wire::ALREADY_EXISTS;
    case Code::kCorruption: return wire::CORRUPTION;
    case Code::kIOError: return wire::IO_ERROR;
    case Code::kReadOnly: return wire::READ_ONLY;
    case Code::kTooLarge: return wire::TOO_LARGE;
    case Code::kResourceExhausted: return wire::RESOURCE_EXHAUSTED;
    case Code::kTimeout: return wire::TIMEOUT;
    case Code::kUnavailable: return wire::UNAVAILABLE;
    case Code::kFailedPrecondition: return wire::FAILED_PRECONDITION;
    case Code::kInternal: return wire::INTERNAL;
    case Code::kCancelled: return wire::CANCELLED;
    case Code::kTopicNotFound: return wire::TOPIC_NOT_FOUND;
    case Code::kGroupNotFound: return wire::GROUP_NOT_FOUND;
    case Code::kReceiptInvalid: return wire::RECEIPT_INVALID;
    case Code::kUnsupported: return wire::UNSUPPORTED;
    case Code::kTxnConflict: return wire::TXN_CONFLICT;
    case Code::kOutOfRange: return wire::OUT_OF_RANGE;
    case Code::kNotMaster: return wire::NOT_MASTER;
    case Code::kNotEnoughReplicas: return wire::NOT_ENOUGH_REPLICAS;
    case Code::kNotWritable: return wire::NOT_WRITABLE;
  }
  return wire::INTERNAL;
}

void SetResponseStatus(const Status& status, wire::Header* header) {
  header->set_code(ToWireCode(status.code()));
  if (!status.ok()) header->set_error_message(status.message());
}

}  // namespace tidemq::broker
