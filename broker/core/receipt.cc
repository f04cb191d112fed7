#include "broker/core/receipt.h"

#include <charconv>
#include <vector>

namespace tidemq::broker {
namespace {

// version, epoch, topic, queue, offset, lease; the client id is the rest.
constexpr size_t kFieldsBeforeClient = 6;

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string EncodeReceipt(const Receipt& r) {
  std::string s = kReceiptVersion;
  s += '|';
  s += std::to_string(r.epoch);
  s += '|';
  s += r.topic;
  s += '|';
  s += std::to_string(r.queue_id);
  s += '|';
  s += std::to_string(r.queue_offset);
  s += '|';
  s += std::to_string(r.lease_id);
  s += '|';
  s += r.client_id;
  return s;
}

Status EarlierRunReceipt(std::string_view detail) {
  return Status(Code::kReceiptInvalid,
                "receipt handle is from an earlier broker run (" + std::string(detail) +
                    "): it settles nothing now; the message is delivered again with a new "
                    "handle unless it was acknowledged before the restart");
}

Result<Receipt> DecodeReceipt(std::string_view s) {
  Status bad(Code::kReceiptInvalid, "malformed receipt handle");
  if (s.starts_with(std::string(kReceiptVersion1) + "|")) {
    return EarlierRunReceipt("a version 1 handle, from before handles carried the broker's "
                             "start epoch");
  }
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (parts.size() < kFieldsBeforeClient) {
    size_t bar = s.find('|', start);
    if (bar == std::string_view::npos) break;
    parts.push_back(s.substr(start, bar - start));
    start = bar + 1;
  }
  if (parts.size() != kFieldsBeforeClient || parts[0] != kReceiptVersion || parts[2].empty()) {
    return bad;
  }
  Receipt r;
  r.topic = std::string(parts[2]);
  r.client_id = std::string(s.substr(start));
  if (!ParseNumber(parts[1], &r.epoch) || !ParseNumber(parts[3], &r.queue_id) ||
      !ParseNumber(parts[4], &r.queue_offset) || !ParseNumber(parts[5], &r.lease_id) ||
      r.queue_offset < 0) {
    return bad;
  }
  return r;
}

Status ValidateClientId(std::string_view id) {
  if (id.empty() || id.size() > 128) {
    return InvalidArgument("client id must be 1 to 128 characters");
  }
  for (char c : id) {
    if (c == '|' || c == '/' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return InvalidArgument("client id may not contain '|', '/', spaces or control characters");
    }
  }
  return Status::Ok();
}

}  // namespace tidemq::broker
