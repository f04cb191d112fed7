// Fuzz target: scanning a CommitLog segment the way recovery and replay do (SegmentReader:
// Next, and Resync past damage). Whatever the bytes, the scan ends, never goes backwards nor
// past the end, every record it returns decodes where it says, and a resync lands on a record
// that Next then reads.
#include <cstdlib>
#include <memory>

#include "common/file_system.h"
#include "store/record.h"
#include "store/segment_reader.h"
#include "tests/fuzz/fuzz_driver.h"

using tidemq::File;
using tidemq::Result;
using tidemq::Status;
using tidemq::store::Record;
using tidemq::store::SegmentReader;

namespace {

// A read-only File over the input bytes.
class MemoryFile final : public File {
 public:
  explicit MemoryFile(std::string bytes) : bytes_(std::move(bytes)) {}
  Status Write(uint64_t, std::string_view) override { return Status::Ok(); }
  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    if (offset >= bytes_.size()) {
      out->clear();
    } else {
      *out = bytes_.substr(offset, n);
    }
    return Status::Ok();
  }
  Status ReadExact(uint64_t offset, size_t n, char* dst) const override {
    if (offset + n > bytes_.size()) return Status(tidemq::Code::kOutOfRange, "short read");
    bytes_.copy(dst, n, offset);
    return Status::Ok();
  }
  Status Sync() override { return Status::Ok(); }
  Status Truncate(uint64_t) override { return Status::Ok(); }
  Status Reserve(uint64_t, uint64_t) override { return Status::Ok(); }
  Result<uint64_t> Size() const override { return static_cast<uint64_t>(bytes_.size()); }
  const std::string& path() const override { return path_; }

 private:
  std::string bytes_;
  std::string path_ = "fuzz";
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string bytes(reinterpret_cast<const char*>(data), size);
  auto file = std::make_shared<MemoryFile>(bytes);
  SegmentReader reader(file, 0, size);
  Record record;
  uint64_t last = 0;
  bool resynced_here = false;
  for (size_t steps = 0; steps <= size + 1; ++steps) {
    Result<bool> next = reader.Next(&record);
    if (!next.ok() && resynced_here) std::abort();  // Resync promised an intact record
    resynced_here = false;
    if (next.ok()) {
      if (!*next) return 0;  // a clean end
      if (reader.record_pos() < last || reader.pos() > size) std::abort();
      Record again;
      size_t consumed = 0;
      std::string_view at(bytes.data() + reader.record_pos(), size - reader.record_pos());
      if (!tidemq::store::DecodeRecord(at, &again, &consumed).ok() ||
          consumed != reader.record_size()) {
        std::abort();
      }
      last = reader.pos();
      continue;
    }
    const uint64_t bad = reader.pos();
    Result<bool> resynced = reader.Resync();
    if (!resynced.ok()) std::abort();  // a memory file never fails to read
    if (!*resynced) return 0;          // a torn tail: the scan stops here
    if (reader.pos() <= bad || reader.pos() >= size) std::abort();
    resynced_here = true;
  }
  std::abort();  // every step moves forward: the scan must have ended
}

std::vector<std::string> TidemqFuzzSeeds() {
  std::vector<std::string> seeds;
  std::string segment;
  for (int i = 0; i < 4; ++i) {
    Record r;
    r.topic = "orders";
    r.message_id = "id-" + std::to_string(i);
    r.body = std::string(20 + i * 7, static_cast<char>('a' + i));
    r.store_ms = 1000 + i;
    tidemq::store::EncodeRecord(r, &segment);
  }
  seeds.push_back(segment);
  std::string damaged = segment;
  damaged[segment.size() / 3] ^= 0x20;  // a flipped bit in the second record
  seeds.push_back(damaged);
  seeds.push_back(segment.substr(0, segment.size() - 10));  // a torn tail
  return seeds;
}
