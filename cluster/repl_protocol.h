// The replication protocol between a broker group's master and its replicas
// (docs/replication.md): a replica connects to the master's replication port, says what it has
// (HELLO: its epoch history and log end), is told where its log diverged (WELCOME), then pulls
// the log (FETCH, answered by CHUNK); each FETCH also acknowledges what the replica holds.
//
// Frame: length:u32 (of what follows) crc32c:u32 (of what follows it) kind:u8 payload.
// Little-endian fixed-width fields; strings are length:u32 bytes. A decoder never trusts a
// length: every frame and field is bounds-checked (tests/fuzz/repl_frame_fuzz.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace tidemq::cluster {

inline constexpr uint32_t kReplProtocolVersion = 1;
// length + crc.
inline constexpr size_t kReplFrameHeaderSize = 8;
// The largest frame either side accepts: a chunk of the log plus its fields.
inline constexpr uint32_t kMaxReplFrameBytes = 80u << 20;
// The most bytes of log a replica asks for at once.
inline constexpr uint32_t kMaxFetchBytes = 16u << 20;
inline constexpr size_t kMaxEpochHistory = 4096;

enum class ReplKind : uint8_t {
  kHello = 1,    // replica -> master
  kWelcome = 2,  // master -> replica
  kFetch = 3,    // replica -> master
  kChunk = 4,    // master -> replica
  kError = 5,    // master -> replica, then the master closes
};

// When an epoch began: the log offset of its first record.
struct EpochStart {
  int64_t epoch = 0;
  LogOffset start;
  bool operator==(const EpochStart&) const = default;
};

struct Hello {
  uint32_t version = kReplProtocolVersion;
  std::string group;
  std::string replica_id;
  std::vector<EpochStart> epochs;  // ascending
  LogOffset log_end;
};

struct Welcome {
  int64_t epoch = 0;           // the master's
  LogOffset truncate_to;       // kNoLogOffset: the replica's log is a prefix of the master's
  LogOffset master_log_start;  // where the master's log begins (retention)
  LogOffset master_log_end;
};

struct Fetch {
  LogOffset from;         // the replica's log end: everything before it is written there
  LogOffset flushed;      // ... and everything before this is fdatasynced there
  uint32_t max_bytes = 0;
  uint32_t max_wait_ms = 0;  // nothing new yet: the master answers within this, maybe empty
};

struct Chunk {
  int64_t epoch = 0;
  LogOffset from;
  LogOffset segment_base;
  LogOffset master_end;      // the master's confirmed end when this was read
  LogOffset commit_end;      // what the in-sync set holds (consumers see up to here)
  std::string bytes;         // whole records
};

struct ReplError {
  Code code = Code::kInternal;
  std::string message;
};

// A decoded frame: its kind and the payload's bytes (a view into the buffer it came from).
struct ReplFrame {
  ReplKind kind = ReplKind::kError;
  std::string_view payload;
};

std::string EncodeFrame(ReplKind kind, std::string_view payload);
std::string EncodeHello(const Hello& m);
std::string EncodeWelcome(const Welcome& m);
std::string EncodeFetch(const Fetch& m);
// The chunk's frame is built around its bytes without copying them twice.
std::string EncodeChunk(const Chunk& m);
std::string EncodeError(const ReplError& m);

// How many bytes the frame at the start of `buf` takes: 0 while its header is incomplete;
// kTooLarge / kCorruption for a length no frame may have.
Result<size_t> FrameSize(std::string_view buf);
// Decodes a whole frame (`buf` holds exactly FrameSize bytes): checks its CRC and kind.
Result<ReplFrame> DecodeFrame(std::string_view buf);
Status DecodeHello(std::string_view payload, Hello* out);
Status DecodeWelcome(std::string_view payload, Welcome* out);
Status DecodeFetch(std::string_view payload, Fetch* out);
Status DecodeChunk(std::string_view payload, Chunk* out);
Status DecodeError(std::string_view payload, ReplError* out);

// Where a replica's log stops agreeing with the master's, from both epoch histories (each
// ascending) and log ends: the end of the newest epoch both began at the same offset, capped
// by where each log has it. kNoLogOffset when the replica's log is a prefix of the master's.
LogOffset DivergencePoint(const std::vector<EpochStart>& master, LogOffset master_end,
                          const std::vector<EpochStart>& replica, LogOffset replica_end);

}  // namespace tidemq::cluster
