// Fuzz target: the tag filter expression a RECEIVE carries ("", "*" or "a||b", spaces around
// alternatives allowed), parsed by the broker (broker/core/tag_filter.h ParseTagFilter) and
// checked ahead by the client (client/src/client_core.h ValidateTagFilter). A filter that
// parses yields valid, non-empty tags and joins back to the same set; the client never refuses
// a filter the broker accepts; nothing may crash.
#include <cstdlib>
#include <string>

#include "broker/core/tag_filter.h"
#include "client/src/client_core.h"
#include "common/names.h"
#include "store/record.h"
#include "tests/fuzz/fuzz_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  auto tags = tidemq::broker::ParseTagFilter(in);
  if (!tags.ok()) return 0;
  if (!tidemq::client::ValidateTagFilter(in).ok()) std::abort();
  std::string joined;
  for (const std::string& t : *tags) {
    if (t.empty() || t == "*" || !tidemq::ValidateTag(t).ok()) std::abort();
    (void)tidemq::store::TagHash(t);
    if (!joined.empty()) joined += "||";
    joined += t;
  }
  auto again = tidemq::broker::ParseTagFilter(joined);
  if (!again.ok() || *again != *tags) std::abort();
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  return {"", "*", "TagA", "a||b", "a || b || c", " x ", "a||", "||", "a|||b", "a||*",
          std::string(255, 't') + "||b", "a\x01||b", "created||paid||shipped"};
}
