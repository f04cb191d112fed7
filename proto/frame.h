// Frame codec of the native protocol (docs/wire_protocol.md):
//
//   u32 frame_length   bytes after this field (little-endian)
//   u16 magic          0x5444 ("TD")
//   u8  version        1
//   u8  flags          0 (reserved)
//   u32 header_length  length of the protobuf Header that follows
//   ... header_length bytes: tidemq.wire.Header
//   ... frame_length - 8 - header_length bytes: the raw bodies, in Message order
//
// Every length is checked before anything is allocated or parsed; a bad frame yields a
// Status, never a crash or an over-read. Shared by broker and client.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "proto/tidemq.pb.h"

namespace tidemq::wire {

inline constexpr uint16_t kFrameMagic = 0x5444;
inline constexpr uint8_t kFrameVersion = 1;
inline constexpr size_t kLengthFieldSize = 4;
inline constexpr size_t kPrefixSize = 12;          // length + magic + version + flags + hlen
inline constexpr uint32_t kDefaultMaxFrameBytes = 64u << 20;
inline constexpr uint32_t kMaxHeaderBytes = 4u << 20;

struct FramePrefix {
  uint32_t frame_length = 0;   // bytes after the length field
  uint32_t header_length = 0;
  // Bytes still to read after the 12-byte prefix.
  size_t remaining() const { return frame_length - 8; }
};

struct Frame {
  Header header;
  std::string body;            // all bodies, concatenated
};

// A frame whose header is parsed onto an arena that starts inside the frame: the header's
// messages and strings are not allocated and freed one by one (the broker's inbound
// requests: a send's header holds a dozen of them per message). Neither copied nor moved.
class ArenaFrame {
 public:
  ArenaFrame();
  ArenaFrame(const ArenaFrame&) = delete;
  ArenaFrame& operator=(const ArenaFrame&) = delete;

  const Header& header() const { return *header_; }
  Header* mutable_header() { return header_; }

  std::string body;  // all bodies, concatenated

 private:
  static constexpr size_t kInitialBlockBytes = 1024;
  alignas(16) char initial_block_[kInitialBlockBytes];
  google::protobuf::Arena arena_;
  Header* header_;
};

// Validates the fixed 12-byte prefix.
Status ParsePrefix(std::string_view prefix, uint32_t max_frame_bytes, FramePrefix* out);
// Parses the bytes after the prefix (header + body) into *out.
Status ParseRest(const FramePrefix& prefix, std::string_view rest, Frame* out);
Status ParseRest(const FramePrefix& prefix, std::string_view rest, ArenaFrame* out);
// Decodes one whole frame from the start of `bytes`. kOutOfRange means "need more bytes";
// *consumed is set on success.
Status DecodeFrame(std::string_view bytes, uint32_t max_frame_bytes, Frame* out,
                   size_t* consumed);

// Appends the encoded frame for `header` followed by `bodies` to *out.
void EncodeFrame(const Header& header, const std::vector<std::string_view>& bodies,
                 std::string* out);
void EncodeFrame(const Header& header, std::string_view body, std::string* out);

// Splits a frame body into per-message bodies using each message's body_size; fails when
// the sizes do not add up to the body length.
Status SplitBodies(const google::protobuf::RepeatedPtrField<Message>& messages,
                   std::string_view body, std::vector<std::string_view>* out);

}  // namespace tidemq::wire
