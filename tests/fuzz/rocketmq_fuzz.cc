// Fuzz target: what the RocketMQ 5 endpoint decodes from a client (rocketmq/convert.h,
// rocketmq/context.h): a SendMessage request's messages into the core's SendMessage (GZIP
// bodies inflated within their limit), filter expressions, and the transaction ids an
// EndTransaction hands back. Anything may be refused with a typed error; nothing may crash,
// an inflated body never exceeds its limit, and a transaction id that parses prints back to
// an id naming the same half and check.
#include <cstdlib>

#include "rocketmq/context.h"
#include "rocketmq/convert.h"
#include "rocketmq/v2/service.pb.h"
#include "tests/fuzz/fuzz_driver.h"

namespace v2 = ::apache::rocketmq::v2;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  constexpr size_t kLimit = 1 << 16;

  v2::SendMessageRequest req;
  if (req.ParseFromString(in)) {
    for (int i = 0; i < req.messages_size(); ++i) {
      v2::Message m = req.messages(i);
      tidemq::broker::SendMessage out;
      tidemq::Status st = tidemq::rocketmq::ToSendMessage(m, i % 2 == 1, kLimit, &out);
      if (st.ok() && out.body.size() > kLimit &&
          m.system_properties().body_encoding() == v2::GZIP) {
        std::abort();
      }
    }
  }

  v2::FilterExpression filter;
  filter.set_type(static_cast<v2::FilterType>(size % 4));
  filter.set_expression(in);
  (void)tidemq::rocketmq::ToTagFilter(filter);

  auto inflated = tidemq::rocketmq::Inflate(in, kLimit);
  if (inflated.ok() && inflated->size() > kLimit) std::abort();
  if (!inflated.ok() && inflated.status().code() != tidemq::Code::kInvalidArgument &&
      inflated.status().code() != tidemq::Code::kTooLarge) {
    std::abort();
  }

  if (auto id = tidemq::rocketmq::ParseTxnId(in)) {
    if (id->half_offset < 0) std::abort();
    auto back = tidemq::rocketmq::ParseTxnId(tidemq::rocketmq::TxnId(id->half_offset, id->request_id));
    if (!back || back->half_offset != id->half_offset || back->request_id != id->request_id) {
      std::abort();
    }
  }
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  // gzip of "a" (21 bytes: the literal holds NULs).
  const std::string gzip_a("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x4b\x04\x00\x43\xbe\xb7\xe8\x01"
                           "\x00\x00\x00",
                           21);
  std::vector<std::string> seeds = {"123", "123.45", "0.1", "-1", "12.", ".5", "1.0", gzip_a};
  v2::SendMessageRequest req;
  v2::Message* m = req.add_messages();
  m->mutable_topic()->set_name("orders");
  m->mutable_topic()->set_resource_namespace("prod");
  auto* sp = m->mutable_system_properties();
  sp->set_message_id("01AB");
  sp->set_tag("paid");
  sp->add_keys("k");
  sp->set_message_type(v2::FIFO);
  sp->set_message_group("g");
  sp->set_body_encoding(v2::GZIP);
  m->set_body(gzip_a);
  (*m->mutable_user_properties())["a"] = "b";
  v2::Message* d = req.add_messages();
  d->mutable_system_properties()->set_message_id("01AC");
  d->mutable_system_properties()->set_message_type(v2::TRANSACTION);
  d->set_body("x");
  seeds.push_back(req.SerializeAsString());
  return seeds;
}
