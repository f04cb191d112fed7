// Fuzz target: the body of a kTrace record (broker/core/trace_journal.h), read back from the
// log by every `tidemq trace`. Anything may be refused (always kCorruption), nothing may crash
// or allocate by a count the bytes cannot back, and a body that decodes must encode back to
// the same bytes.
#include <cstdlib>

#include "broker/core/trace_journal.h"
#include "tests/fuzz/fuzz_driver.h"

using tidemq::broker::DecodeTraceEvents;
using tidemq::broker::EncodeTraceEvents;
using tidemq::broker::TraceEvent;
using tidemq::broker::TraceEventKind;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto events = DecodeTraceEvents(in);
  if (!events.ok()) {
    if (events.status().code() != tidemq::Code::kCorruption) std::abort();
    return 0;
  }
  // Names longer than 255 bytes are cut when encoded: only shorter ones round-trip exactly.
  for (const TraceEvent& e : *events) {
    if (e.group.size() > 255 || e.client.size() > 255) return 0;
  }
  if (EncodeTraceEvents(*events) != in) std::abort();
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  const TraceEvent delivered{.kind = TraceEventKind::kDelivered,
                             .queue_id = 3,
                             .queue_offset = 42,
                             .time_ms = 1'700'000'000'000,
                             .until_ms = 1'700'000'030'000,
                             .attempt = 2,
                             .log_end = 123'456,
                             .group = "billing",
                             .client = "host-1@77"};
  const TraceEvent acked{.kind = TraceEventKind::kAcked,
                         .queue_id = 3,
                         .queue_offset = 42,
                         .time_ms = 1'700'000'001'000,
                         .log_end = 124'000,
                         .group = "billing"};
  const TraceEvent nacked{.kind = TraceEventKind::kNacked, .time_ms = 1, .until_ms = 2};
  const std::string two = EncodeTraceEvents({delivered, acked});
  return {EncodeTraceEvents({}),
          EncodeTraceEvents({delivered}),
          two,
          EncodeTraceEvents({nacked}),
          two.substr(0, two.size() - 1),
          std::string("\x01\xff\xff\xff\xff", 5),
          std::string("\x02\x00\x00\x00\x00", 5),
          ""};
}
