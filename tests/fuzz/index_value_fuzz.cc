// Fuzz target: the value decoders of the derived LevelDB indexes (timer/timer_index.h,
// txn/txn_index.h). A value that decodes must re-encode to the same bytes; nothing may crash
// or read past the input, whatever a damaged index hands back.
#include <cstdlib>

#include "tests/fuzz/fuzz_driver.h"
#include "timer/timer_index.h"
#include "txn/txn_index.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  tidemq::timer::IndexEntry timer_entry;
  if (tidemq::timer::DecodeIndexValue(in, &timer_entry).ok() &&
      tidemq::timer::EncodeIndexValue(timer_entry) != in) {
    std::abort();
  }
  tidemq::txn::TxnEntry txn_entry;
  if (tidemq::txn::DecodeEntryValue(in, &txn_entry).ok() &&
      tidemq::txn::EncodeEntryValue(txn_entry) != in) {
    std::abort();
  }
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  tidemq::timer::IndexEntry t;
  t.due_ms = 1700000000000;
  t.offset = tidemq::LogOffset(4096);
  t.topic = "orders";
  t.queue_id = 2;
  t.message_id = "id-1";
  tidemq::txn::TxnEntry x;
  x.half_offset = tidemq::LogOffset(8192);
  x.producer_group = "order-service";
  x.topic = "orders";
  x.message_id = "id-2";
  x.half_store_ms = 1700000000000;
  x.timeout_ms = 6000;
  x.checks = 3;
  x.next_check_ms = 1700000060000;
  return {tidemq::timer::EncodeIndexValue(t), tidemq::txn::EncodeEntryValue(x)};
}
