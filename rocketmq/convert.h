// Between apache.rocketmq.v2 messages and the broker core's: names (namespaces), durations and
// timestamps, a sent message into a core SendMessage, and a stored record into the Message a
// client receives (with the system properties it checks: body digest, attempt, timestamps,
// receipt handle). Pure functions: any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "broker/core/message_service.h"
#include "common/status.h"
#include "rocketmq/v2/definition.pb.h"

namespace tidemq::rocketmq {

namespace v2 = ::apache::rocketmq::v2;

// A resource's TideMQ name: "namespace%name" inside a namespace, else the name; and back.
std::string ResourceName(const v2::Resource& resource);
v2::Resource ToResource(std::string_view tidemq_name);

int64_t ToMs(const google::protobuf::Timestamp& t);
int64_t ToMs(const google::protobuf::Duration& d);
google::protobuf::Timestamp ToTimestamp(int64_t epoch_ms);
google::protobuf::Duration ToDuration(int64_t ms);

// The body digest clients verify: MD5, upper-case hex.
std::string Md5Hex(std::string_view bytes);

// One message of a SendMessage as the core's SendMessage, its type checked against what it
// carries (FIFO needs a message group, DELAY a delivery timestamp; TRANSACTION only when
// `transactional`, the whole send being one). A GZIP body (clients compress large ones) is
// stored inflated, so that every consumer, native ones included, reads what was sent; it may
// inflate to at most max_body_bytes. The body, tag, keys, group and properties are moved out of
// `in`; the message id is copied (the caller still answers with it).
Status ToSendMessage(v2::Message& in, bool transactional, size_t max_body_bytes,
                     broker::SendMessage* out);

// A gzip (or zlib) stream inflated; kTooLarge past `limit` bytes, kInvalidArgument when it is
// not one.
Result<std::string> Inflate(std::string_view compressed, size_t limit);

// A TAG filter expression as the core's tag filter ("*", "a||b"); SQL92 is kUnsupported.
Result<std::string> ToTagFilter(const v2::FilterExpression& filter);

// What a delivered or checked message carries besides its record.
struct DeliveryFields {
  uint32_t queue_id = 0;
  int64_t queue_offset = 0;
  uint32_t attempt = 1;
  std::string_view receipt;  // empty: none (a check-back's message)
  int64_t invisible_ms = 0;
  std::string_view store_host;
};

// The record as a client receives it: a retry copy as a message of the topic it was sent to,
// the broker's own bookkeeping properties left out. Its strings move into `out`.
void ToV2Message(store::Record record, const DeliveryFields& fields, v2::Message* out);

}  // namespace tidemq::rocketmq
