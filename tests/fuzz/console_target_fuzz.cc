// Fuzz target: HTTP request targets as the console's server splits them (console/http_server.h:
// SplitTarget, PercentDecode), the first thing it does with the bytes a browser or script
// sends. Nothing may crash; the split must be consistent with the target, and percent-encoding
// any bytes then decoding them must give the bytes back.
#include <cstdlib>
#include <string>

#include "console/http_server.h"
#include "tests/fuzz/fuzz_driver.h"

namespace {

std::string Encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    out += '%';
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  tidemq::console::HttpRequest req;
  tidemq::console::SplitTarget(in, &req);
  if (req.target != in) std::abort();
  // Decoding never makes a string longer, and the path is decoded from what precedes '?'.
  if (req.path.size() > in.size()) std::abort();
  const size_t q = in.find('?');
  if (q == std::string::npos && !req.query.empty()) std::abort();
  for (const auto& [k, v] : req.query) {
    if (k.size() + v.size() > in.size()) std::abort();
    // Each parameter named in the query is found by Param (the first of that name).
    if (!req.HasParam(k)) std::abort();
  }
  for (bool plus : {false, true}) {
    if (tidemq::console::PercentDecode(Encode(in), plus) != in) std::abort();
  }
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  return {"/",
          "/api/v1/topics?prefix=ord&limit=10",
          "/api/v1/trace?topic=orders&key=order%2042",
          "/api/v1/messages?topic=a+b&from=0&to=100",
          "/%2e%2e/%2e%2e/etc/passwd",
          "/?&&=&a==b&%zz=%4",
          "/api/v1/dlq/g%00?x=%",
          "?",
          "%"};
}
