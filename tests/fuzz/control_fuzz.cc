// Fuzz target: the payload of a control record (store/control_record.h), which replay decodes
// from whatever the log holds. Anything may be refused (always kCorruption), nothing may
// crash, and a payload that decodes is canonical: it encodes back to the same bytes.
#include <cstdlib>

#include "store/control_record.h"
#include "tests/fuzz/fuzz_driver.h"

namespace {

std::string Payload(uint32_t part, uint32_t parts, const std::vector<tidemq::store::MetaOp>& ops) {
  tidemq::store::ControlPayload p;
  p.part = part;
  p.parts = parts;
  p.ops = ops;
  std::string out;
  tidemq::store::EncodeControlPayload(p, &out);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tidemq::store::ControlPayload;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  ControlPayload payload;
  tidemq::Status st = tidemq::store::DecodeControlPayload(in, &payload);
  if (!st.ok()) {
    if (st.code() != tidemq::Code::kCorruption) std::abort();
    return 0;
  }
  if (payload.part >= payload.parts) std::abort();
  std::string again;
  tidemq::store::EncodeControlPayload(payload, &again);
  if (again != in) std::abort();
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  using tidemq::store::MetaOp;
  using tidemq::store::MetaOpKind;
  std::string bad_kind = Payload(0, 1, {MetaOp{MetaOpKind::kDelete, "k", ""}});
  bad_kind[13] = 9;
  std::string huge_count = Payload(0, 1, {});
  huge_count[9] = '\xff';
  return {Payload(0, 1, {}),
          Payload(0, 1,
                  {MetaOp{MetaOpKind::kPut, "topic/orders", "{\"queues\": 4}"},
                   MetaOp{MetaOpKind::kDelete, "offset/g/t/0/", ""},
                   MetaOp{MetaOpKind::kDropTopicQueues, "orders", ""}}),
          Payload(2, 3, {MetaOp{MetaOpKind::kPut, "group/g", ""}}),
          Payload(3, 3, {}),
          bad_kind,
          huge_count,
          std::string(1, '\x01'),
          ""};
}
