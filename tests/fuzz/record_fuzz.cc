// Fuzz target: the CommitLog record decoder (store/record.h). Whatever decodes must re-encode
// to the same bytes: the encoding is canonical, so a record cannot have two spellings.
#include <cstdlib>

#include "common/coding.h"
#include "common/crc32c.h"
#include "store/record.h"
#include "tests/fuzz/fuzz_driver.h"

using tidemq::store::DecodeRecord;
using tidemq::store::EncodeRecord;
using tidemq::store::PeekRecordLength;
using tidemq::store::Record;

namespace {

// Decodes every record in `in` in turn; aborts if a decoded record does not re-encode to the
// exact bytes it came from.
void DecodeAll(std::string_view in) {
  while (!in.empty()) {
    uint32_t length = 0;
    (void)PeekRecordLength(in, &length);
    Record record;
    size_t consumed = 0;
    if (!DecodeRecord(in, &record, &consumed).ok()) break;
    if (consumed == 0 || consumed > in.size()) std::abort();
    std::string again;
    EncodeRecord(record, &again);
    if (again != in.substr(0, consumed) || record.EncodedSize() != consumed) std::abort();
    in.remove_prefix(consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  DecodeAll(in);
  // Most mutations die at the CRC. Reseal the input as one record (length = everything,
  // valid CRC) so the field parser behind the checksum gets fuzzed too.
  if (size >= tidemq::store::kRecordPrefixSize) {
    std::string sealed(in);
    tidemq::EncodeFixed32(sealed.data(), tidemq::store::kRecordMagic);
    tidemq::EncodeFixed32(sealed.data() + 4, static_cast<uint32_t>(size));
    tidemq::EncodeFixed32(sealed.data() + 8,
                          tidemq::crc32c::Value(sealed.data() + tidemq::store::kRecordPrefixSize,
                                                size - tidemq::store::kRecordPrefixSize));
    DecodeAll(sealed);
  }
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  std::vector<std::string> seeds;
  Record full;
  full.type = tidemq::store::RecordType::kMessage;
  full.topic = "orders";
  full.queue_id = 3;
  full.queue_offset = 17;
  full.message_id = "id-1";
  full.tag = "created";
  full.keys = {"order-1", "customer-2"};
  full.properties = {{"k", "v"}, {"trace", "abc"}};
  full.born_ms = 1;
  full.store_ms = 2;
  full.body = "hello";
  std::string one;
  EncodeRecord(full, &one);
  seeds.push_back(one);
  Record empty;
  empty.type = tidemq::store::RecordType::kTxnEnd;
  empty.origin_offset = tidemq::LogOffset(1234);
  std::string two;
  EncodeRecord(empty, &two);
  seeds.push_back(two);
  seeds.push_back(one + two);
  return seeds;
}
