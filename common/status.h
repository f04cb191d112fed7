// Status and Result<T>: how every fallible call in TideMQ reports failure.
//
// Contract: internal calls never throw across module boundaries; they return a Status (or a
// Result<T> carrying a value or a Status). The code says what kind of failure it is, the message
// says, for a human, what exactly went wrong. broker/error_mapping.cc is the one place that turns
// a Code into a wire error code; the client turns it back.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace tidemq {

// Numbers are stable: they travel on the wire (proto/tidemq.proto ErrorCode mirrors them).
enum class Code : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,    // malformed request, bad name, bad value
  kNotFound = 2,           // generic "no such thing"
  kAlreadyExists = 3,
  kCorruption = 4,         // CRC/magic/length mismatch in stored or received data
  kIOError = 5,            // the OS refused a read or write
  kReadOnly = 6,           // store stopped accepting writes after an I/O error
  kTooLarge = 7,           // message, property or frame over its limit
  kResourceExhausted = 8,  // queue full, disk watermark reached
  kTimeout = 9,
  kUnavailable = 10,       // not connected, shutting down
  kFailedPrecondition = 11,
  kInternal = 12,
  kCancelled = 13,
  kTopicNotFound = 14,
  kGroupNotFound = 15,
  kReceiptInvalid = 16,    // receipt handle unknown, expired or already acked
  kUnsupported = 17,
  kTxnConflict = 18,       // e.g. commit after rollback
  kOutOfRange = 19,
  kNotMaster = 20,          // a replica was asked to write: the error names the master
  kNotEnoughReplicas = 21,  // fewer in-sync copies than the ack policy asks for
  kNotWritable = 22,        // this broker group takes no new messages: send to another group
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  // "InvalidArgument: topic name 'a b' contains ' '".
  std::string ToString() const;

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
inline Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
inline Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
inline Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
inline Status Internal(std::string m) { return {Code::kInternal, std::move(m)}; }

// A value or the Status explaining why there is none.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {}           // NOLINT: must not be ok
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOkStatus;
    return ok() ? kOkStatus : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace tidemq

#define TIDEMQ_CONCAT_INNER(a, b) a##b
#define TIDEMQ_CONCAT(a, b) TIDEMQ_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::tidemq::Status _st = (expr);                   \
    if (!_st.ok()) return _st;                       \
  } while (0)

#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(TIDEMQ_CONCAT(_result_, __LINE__), lhs, expr)
