// Fuzz target: what operators and stored group metadata hand the retry code as text — a
// retry policy (common/retry_policy.h) and a duration — and the retry properties a record
// carries (broker/retry_copies.h). A policy that parses must validate, print and parse back to
// itself, and give delays within 0..24 h; nothing may crash.
#include <cstdlib>

#include "broker/core/retry_copies.h"
#include "common/retry_policy.h"
#include "tests/fuzz/fuzz_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto policy = tidemq::RetryPolicy::Parse(in);
  if (policy.ok()) {
    if (!policy->Validate().ok()) std::abort();
    auto again = tidemq::RetryPolicy::Parse(policy->ToString());
    if (!again.ok() || again->DelayMs(1) != policy->DelayMs(1) ||
        again->DelayMs(40) != policy->DelayMs(40)) {
      std::abort();
    }
    for (uint32_t n : {0u, 1u, 2u, 17u, 1000u, 4'000'000'000u}) {
      int64_t d = policy->DelayMs(n);
      if (d < 0 || d > 24ll * 3600 * 1000) std::abort();
    }
  }
  (void)tidemq::ParseDurationMs(in);
  tidemq::store::Record r;
  r.topic = "%RETRY%g";
  r.properties = {{"DELIVERY_ATTEMPTS", std::string(in)},
                  {"FIRST_FAILURE_MS", std::string(in)},
                  {"ORIGINAL_TOPIC", std::string(in)}};
  (void)tidemq::broker::ReadRetryInfo(r);
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  return {"ladder", "1s,5s,30s", "exponential:1s,2,10m", "250ms", "exponential:1s,1.5,1h",
          "99999999999999999999d", "1s,,", "exponential:0,100,24h", "-1"};
}
