// Fuzz target: receipt handles (broker/receipt.h), which every ack, nack and lease change
// takes from the client. Anything may be refused (always kReceiptInvalid), nothing may crash,
// and a handle that decodes must encode back to the same bytes and decode to the same fields.
#include <cstdlib>

#include "broker/core/receipt.h"
#include "tests/fuzz/fuzz_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto r = tidemq::broker::DecodeReceipt(in);
  if (!r.ok()) {
    if (r.status().code() != tidemq::Code::kReceiptInvalid) std::abort();
    return 0;
  }
  const std::string again = tidemq::broker::EncodeReceipt(*r);
  auto back = tidemq::broker::DecodeReceipt(again);
  if (!back.ok() || back->epoch != r->epoch || back->topic != r->topic ||
      back->queue_id != r->queue_id || back->queue_offset != r->queue_offset ||
      back->lease_id != r->lease_id || back->client_id != r->client_id ||
      tidemq::broker::EncodeReceipt(*back) != again) {
    std::abort();
  }
  // The input itself may differ from `again` only in how numbers are written ("007").
  if (r->queue_offset < 0) std::abort();
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  return {"2|1|orders|0|5|1|",
          "2|1700000000|%RETRY%g|3|123456789|42|host-1@77",
          "2|18446744073709551615|t|4294967295|9223372036854775807|18446744073709551615|c",
          "1|orders|0|5|1|",
          "2|1|t|0|0|1|a|b|c",
          "2|01|t|00|0|1|",
          "2|1|t|0|-1|1|",
          "2||||||"};
}
