// Fuzz target: the replication protocol's frames and payloads (cluster/repl_protocol.h), which
// a master decodes from whatever a replica (or anything on its port) sends, and a replica from
// its master. Anything may be refused with a typed error; nothing may crash or over-read, and a
// payload that decodes re-encodes to a frame that decodes to the same thing.
#include <cstdlib>

#include "cluster/repl_protocol.h"
#include "tests/fuzz/fuzz_driver.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tidemq::cluster;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  auto frame_size = FrameSize(in);
  if (frame_size.ok() && *frame_size > 0 && *frame_size <= in.size()) {
    (void)DecodeFrame(in.substr(0, *frame_size));
  }
  // Every payload decoder on the raw bytes too.
  Hello h;
  if (DecodeHello(in, &h).ok()) {
    const std::string frame = EncodeHello(h);  // the decoded frame views it
    auto f = DecodeFrame(frame);
    Hello again;
    if (!f.ok() || !DecodeHello(f->payload, &again).ok() || again.epochs != h.epochs ||
        again.group != h.group || again.replica_id != h.replica_id || again.log_end != h.log_end) {
      std::abort();
    }
  }
  Welcome w;
  (void)DecodeWelcome(in, &w);
  Fetch fe;
  (void)DecodeFetch(in, &fe);
  Chunk c;
  if (DecodeChunk(in, &c).ok()) {
    const std::string frame = EncodeChunk(c);
    auto f = DecodeFrame(frame);
    Chunk again;
    if (!f.ok() || !DecodeChunk(f->payload, &again).ok() || again.bytes != c.bytes) std::abort();
  }
  ReplError e;
  (void)DecodeError(in, &e);
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  using namespace tidemq::cluster;
  using tidemq::LogOffset;
  Hello h;
  h.group = "g1";
  h.replica_id = "b2";
  h.epochs = {{1, LogOffset(0)}, {2, LogOffset(4096)}};
  h.log_end = LogOffset(9000);
  Chunk c;
  c.epoch = 2;
  c.from = LogOffset(4096);
  c.segment_base = LogOffset(4096);
  c.bytes = "records";
  std::vector<std::string> seeds = {
      EncodeHello(h), EncodeWelcome(Welcome{2, LogOffset(10), LogOffset(0), LogOffset(20)}),
      EncodeFetch(Fetch{LogOffset(5), LogOffset(5), 100, 10}), EncodeChunk(c),
      EncodeError(ReplError{tidemq::Code::kNotMaster, "not me"})};
  // The payloads alone, for the payload decoders.
  const size_t n = seeds.size();
  for (size_t i = 0; i < n; ++i) seeds.push_back(seeds[i].substr(kReplFrameHeaderSize + 1));
  return seeds;
}
