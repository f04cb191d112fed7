#include "broker/receipt.h"

#include <charconv>
#include <vector>

namespace tidemq::broker {
namespace {

template <typename T>
bool ParseNumber(std::string_view s, T* out) {
  if (s.empty()) return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

std::string EncodeReceipt(const Receipt& r) {
  std::string s = "1|";
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

Result<Receipt> DecodeReceipt(std::string_view s) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (parts.size() < 5) {
    size_t bar = s.find('|', start);
    if (bar == std::string_view::npos) break;
    parts.push_back(s.substr(start, bar - start));
    start = bar + 1;
  }
  Status bad(Code::kReceiptInvalid, "malformed receipt handle");
  if (parts.size() != 5 || parts[0] != "1" || parts[1].empty()) return bad;
  Receipt r;
  r.topic = std::string(parts[1]);
  r.client_id = std::string(s.substr(start));
  if (!ParseNumber(parts[2], &r.queue_id) || !ParseNumber(parts[3], &r.queue_offset) ||
      !ParseNumber(parts[4], &r.lease_id) || r.queue_offset < 0) {
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
