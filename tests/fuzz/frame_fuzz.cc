// Fuzz target: the wire frame decoder (proto/frame.h), including body splitting, and the
// broker's arena-backed parse of the same bytes (which must agree with it).
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/stubs/logging.h>

#include "proto/frame.h"
#include "tests/fuzz/fuzz_driver.h"

using tidemq::wire::Frame;

namespace {

// Map fields in key order: two parses of the same bytes serialize alike.
std::string Canonical(const tidemq::wire::Header& h) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    h.SerializeToCodedStream(&coded);
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  while (!in.empty()) {
    Frame frame;
    size_t consumed = 0;
    if (!tidemq::wire::DecodeFrame(in, 1u << 20, &frame, &consumed).ok()) break;
    // The broker's way: prefix, then the rest onto an arena.
    tidemq::wire::FramePrefix prefix;
    if (!tidemq::wire::ParsePrefix(in, 1u << 20, &prefix).ok()) __builtin_trap();
    tidemq::wire::ArenaFrame arena_frame;
    if (!tidemq::wire::ParseRest(prefix, in.substr(tidemq::wire::kPrefixSize, prefix.remaining()),
                                 &arena_frame)
             .ok() ||
        Canonical(arena_frame.header()) != Canonical(frame.header) ||
        arena_frame.body != frame.body) {
      __builtin_trap();
    }
    std::vector<std::string_view> bodies;
    const auto& h = frame.header;
    if (h.has_send_request()) {
      (void)tidemq::wire::SplitBodies(h.send_request().messages(), frame.body, &bodies);
    } else if (h.has_receive_response()) {
      (void)tidemq::wire::SplitBodies(h.receive_response().messages(), frame.body, &bodies);
    }
    in.remove_prefix(consumed);
  }
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  google::protobuf::SetLogHandler(nullptr);
  std::vector<std::string> seeds;
  tidemq::wire::Header h;
  h.set_request_id(7);
  h.set_kind(tidemq::wire::SEND);
  auto* m = h.mutable_send_request()->add_messages();
  m->set_topic("orders");
  m->set_tag("created");
  m->add_keys("order-1");
  (*m->mutable_properties())["k"] = "v";
  m->set_body_size(5);
  std::string one;
  tidemq::wire::EncodeFrame(h, std::string_view("hello"), &one);
  seeds.push_back(one);
  tidemq::wire::Header ack;
  ack.set_request_id(8);
  ack.set_kind(tidemq::wire::ACK);
  ack.mutable_ack_request()->set_group("g");
  ack.mutable_ack_request()->add_receipt_handles("r1");
  std::string two;
  tidemq::wire::EncodeFrame(ack, std::string_view(), &two);
  seeds.push_back(two);
  seeds.push_back(one + two);
  return seeds;
}
