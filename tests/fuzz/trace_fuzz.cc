// Fuzz target: the body of a kTrace record (broker/core/trace_journal.h), read back from the
// log by every `tidemq trace`. Anything may be refused (always kCorruption), nothing may crash
// or allocate by a count the bytes cannot back, and what decodes must encode to a body that
// decodes to the same events (the encoding is canonical: runs of equal names merged; names cut
// to 255 bytes).
#include <cstdlib>

#include "broker/core/trace_journal.h"
#include "tests/fuzz/fuzz_driver.h"

using tidemq::broker::DecodeTraceEvents;
using tidemq::broker::EncodeTraceEvents;
using tidemq::broker::TraceEvent;
using tidemq::broker::TraceEventKind;
using tidemq::broker::TracePoint;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto events = DecodeTraceEvents(in);
  if (!events.ok()) {
    if (events.status().code() != tidemq::Code::kCorruption) std::abort();
    return 0;
  }
  for (const TraceEvent& e : *events) {
    if (e.group.size() > 255 || e.client.size() > 255) return 0;  // cut when encoded
  }
  const std::string again = EncodeTraceEvents(*events);
  auto back = DecodeTraceEvents(again);
  if (!back.ok() || *back != *events || EncodeTraceEvents(*back) != again) std::abort();
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  const TraceEvent delivered{TracePoint{.kind = TraceEventKind::kDelivered,
                                        .queue_id = 3,
                                        .queue_offset = 42,
                                        .time_ms = 1'700'000'000'000,
                                        .until_ms = 1'700'000'030'000,
                                        .attempt = 2,
                                        .log_end = 123'456},
                             "billing", "host-1@77"};
  const TraceEvent acked{TracePoint{.kind = TraceEventKind::kAcked,
                                    .queue_id = 3,
                                    .queue_offset = 42,
                                    .time_ms = 1'700'000'001'000,
                                    .log_end = 124'000},
                         "billing", ""};
  const TraceEvent nacked{TracePoint{.kind = TraceEventKind::kNacked, .time_ms = 1, .until_ms = 2},
                          "", ""};
  const std::string two = EncodeTraceEvents({delivered, acked});
  return {EncodeTraceEvents(std::vector<TraceEvent>{}),
          EncodeTraceEvents({delivered}),
          two,
          EncodeTraceEvents({nacked}),
          two.substr(0, two.size() - 1),
          std::string("\x01\xff\xff\xff\xff", 5),
          EncodeTraceEvents({delivered, delivered, acked, nacked, delivered}),
          std::string("\x02\x00\x00\x00\x00", 5),
          ""};
}
