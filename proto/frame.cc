#include "proto/frame.h"

#include <cstring>

#include "common/coding.h"

namespace tidemq::wire {

Status ParsePrefix(std::string_view prefix, uint32_t max_frame_bytes, FramePrefix* out) {
  if (prefix.size() < kPrefixSize) return Status(Code::kOutOfRange, "incomplete frame prefix");
  const char* p = prefix.data();
  uint32_t frame_length = DecodeFixed32(p);
  uint16_t magic = DecodeFixed16(p + 4);
  uint8_t version = static_cast<uint8_t>(p[6]);
  uint32_t header_length = DecodeFixed32(p + 8);
  if (magic != kFrameMagic) {
    return Corruption("bad frame magic (is this a TideMQ client? expected 0x5444)");
  }
  if (version != kFrameVersion) {
    return Status(Code::kUnsupported,
                  "unsupported protocol version " + std::to_string(version) + " (expected 1)");
  }
  if (frame_length < 8) return Corruption("frame length " + std::to_string(frame_length) +
                                          " is shorter than its own prefix");
  if (frame_length > max_frame_bytes) {
    return Status(Code::kTooLarge, "frame of " + std::to_string(frame_length) +
                                       " bytes exceeds the limit of " +
                                       std::to_string(max_frame_bytes));
  }
  if (header_length > kMaxHeaderBytes || header_length > frame_length - 8) {
    return Corruption("header length " + std::to_string(header_length) +
                      " does not fit in a frame of " + std::to_string(frame_length));
  }
  out->frame_length = frame_length;
  out->header_length = header_length;
  return Status::Ok();
}

namespace {

// The header (wherever it lives) and the bodies of the bytes after the prefix.
Status ParseRestInto(const FramePrefix& prefix, std::string_view rest, Header* header,
                     std::string* body) {
  if (rest.size() != prefix.remaining()) return Corruption("frame size mismatch");
  if (!header->ParseFromArray(rest.data(), static_cast<int>(prefix.header_length))) {
    return Corruption("malformed frame header (protobuf parse failed)");
  }
  body->assign(rest.substr(prefix.header_length));
  return Status::Ok();
}

google::protobuf::ArenaOptions InitialBlock(char* block, size_t size) {
  google::protobuf::ArenaOptions options;
  options.initial_block = block;
  options.initial_block_size = size;
  return options;
}

}  // namespace

ArenaFrame::ArenaFrame()
    : arena_(InitialBlock(initial_block_, kInitialBlockBytes)),
      header_(google::protobuf::Arena::CreateMessage<Header>(&arena_)) {}

Status ParseRest(const FramePrefix& prefix, std::string_view rest, Frame* out) {
  return ParseRestInto(prefix, rest, &out->header, &out->body);
}

Status ParseRest(const FramePrefix& prefix, std::string_view rest, ArenaFrame* out) {
  return ParseRestInto(prefix, rest, out->mutable_header(), &out->body);
}

Status DecodeFrame(std::string_view bytes, uint32_t max_frame_bytes, Frame* out,
                   size_t* consumed) {
  FramePrefix prefix;
  RETURN_IF_ERROR(ParsePrefix(bytes, max_frame_bytes, &prefix));
  size_t total = kLengthFieldSize + prefix.frame_length;
  if (bytes.size() < total) return Status(Code::kOutOfRange, "incomplete frame");
  RETURN_IF_ERROR(ParseRest(prefix, bytes.substr(kPrefixSize, prefix.remaining()), out));
  *consumed = total;
  return Status::Ok();
}

void EncodeFrame(const Header& header, const std::vector<std::string_view>& bodies,
                 std::string* out) {
  size_t header_length = header.ByteSizeLong();
  size_t body_length = 0;
  for (auto b : bodies) body_length += b.size();
  size_t start = out->size();
  out->resize(start + kPrefixSize + header_length);
  char* p = out->data() + start;
  EncodeFixed32(p, static_cast<uint32_t>(8 + header_length + body_length));
  uint16_t magic = kFrameMagic;
  std::memcpy(p + 4, &magic, 2);
  p[6] = static_cast<char>(kFrameVersion);
  p[7] = 0;
  EncodeFixed32(p + 8, static_cast<uint32_t>(header_length));
  header.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(p + kPrefixSize));
  out->reserve(out->size() + body_length);
  for (auto b : bodies) out->append(b);
}

void EncodeFrame(const Header& header, std::string_view body, std::string* out) {
  EncodeFrame(header, std::vector<std::string_view>{body}, out);
}

Status SplitBodies(const google::protobuf::RepeatedPtrField<Message>& messages,
                   std::string_view body, std::vector<std::string_view>* out) {
  out->clear();
  out->reserve(messages.size());
  size_t pos = 0;
  for (const Message& m : messages) {
    if (m.body_size() > body.size() - pos) {
      return Corruption("message bodies exceed the frame body (" +
                        std::to_string(body.size()) + " bytes)");
    }
    out->push_back(body.substr(pos, m.body_size()));
    pos += m.body_size();
  }
  if (pos != body.size()) {
    return Corruption("frame body has " + std::to_string(body.size() - pos) +
                      " bytes not claimed by any message");
  }
  return Status::Ok();
}

}  // namespace tidemq::wire
