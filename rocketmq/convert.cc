#include "rocketmq/convert.h"

#include <openssl/evp.h>
#include <zlib.h>

#include <cstdlib>
#include <iterator>
#include <utility>

#include "broker/core/producer_channel.h"
#include "broker/core/retry_copies.h"
#include "broker/core/scheduled_delivery.h"

namespace tidemq::rocketmq {

std::string ResourceName(const v2::Resource& resource) {
  if (resource.resource_namespace().empty()) return resource.name();
  return resource.resource_namespace() + "%" + resource.name();
}

v2::Resource ToResource(std::string_view name) {
  v2::Resource r;
  const size_t sep = name.find('%');
  // A system topic (%RETRY%g) has no namespace of its own.
  if (sep == std::string_view::npos || sep == 0) {
    r.set_name(std::string(name));
  } else {
    r.set_resource_namespace(std::string(name.substr(0, sep)));
    r.set_name(std::string(name.substr(sep + 1)));
  }
  return r;
}

int64_t ToMs(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1'000'000;
}

int64_t ToMs(const google::protobuf::Duration& d) {
  return d.seconds() * 1000 + d.nanos() / 1'000'000;
}

google::protobuf::Timestamp ToTimestamp(int64_t ms) {
  google::protobuf::Timestamp t;
  t.set_seconds(ms / 1000);
  t.set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
  return t;
}

google::protobuf::Duration ToDuration(int64_t ms) {
  google::protobuf::Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(static_cast<int32_t>(ms % 1000) * 1'000'000);
  return d;
}

std::string Md5Hex(std::string_view bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(bytes.data(), bytes.size(), md, &n, EVP_md5(), nullptr);
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(2 * n);
  for (unsigned int i = 0; i < n; ++i) {
    out.push_back(kHex[md[i] >> 4]);
    out.push_back(kHex[md[i] & 0xF]);
  }
  return out;
}

Result<std::string> Inflate(std::string_view compressed, size_t limit) {
  z_stream z{};
  // 15 + 32: a gzip or a zlib header, detected.
  if (inflateInit2(&z, 15 + 32) != Z_OK) return Status(Code::kInternal, "zlib failed to start");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&z);
      return InvalidArgument("the GZIP body does not inflate");
    }
    const size_t n = sizeof(buf) - z.avail_out;
    if (out.size() + n > limit) {
      inflateEnd(&z);
      return Status(Code::kTooLarge, "the GZIP body inflates to more than " +
                                         std::to_string(limit) + " bytes");
    }
    out.append(buf, n);
    if (rc == Z_OK && n == 0 && z.avail_in == 0) {  // truncated: no progress, no end
      inflateEnd(&z);
      return InvalidArgument("the GZIP body is truncated");
    }
  }
  inflateEnd(&z);
  return out;
}

Status ToSendMessage(v2::Message& in, bool transactional, size_t max_body_bytes,
                     broker::SendMessage* out) {
  v2::SystemProperties& sp = *in.mutable_system_properties();
  const bool has_group = sp.has_message_group() && !sp.message_group().empty();
  const bool has_delivery = sp.has_delivery_timestamp();
  const v2::MessageType type = sp.message_type();
  if (transactional != (type == v2::TRANSACTION)) {
    return InvalidArgument("a send carries TRANSACTION messages only, or none");
  }
  switch (type) {
    case v2::MESSAGE_TYPE_UNSPECIFIED:
    case v2::NORMAL:
      if (type == v2::NORMAL && (has_group || has_delivery)) {
        return InvalidArgument("a NORMAL message carries neither a message group nor a delivery "
                               "timestamp");
      }
      break;
    case v2::FIFO:
      if (!has_group) return InvalidArgument("a FIFO message needs a message group");
      if (has_delivery) return InvalidArgument("a FIFO message carries no delivery timestamp");
      break;
    case v2::DELAY:
      if (!has_delivery) return InvalidArgument("a DELAY message needs a delivery timestamp");
      if (has_group) return InvalidArgument("a DELAY message carries no message group");
      break;
    case v2::TRANSACTION:
      if (has_group || has_delivery) {
        return InvalidArgument("a TRANSACTION message carries neither a message group nor a "
                               "delivery timestamp");
      }
      break;
    default:
      return Status(Code::kUnsupported, "message type " + v2::MessageType_Name(type) +
                                            " is not supported");
  }
  if (sp.message_id().empty()) return InvalidArgument("the message has no message_id");
  out->topic = ResourceName(in.topic());
  out->message_id = sp.message_id();
  if (sp.has_tag()) out->tag = std::move(*sp.mutable_tag());
  if (has_group) out->message_group = std::move(*sp.mutable_message_group());
  out->keys.assign(std::make_move_iterator(sp.mutable_keys()->begin()),
                   std::make_move_iterator(sp.mutable_keys()->end()));
  for (auto& [k, v] : *in.mutable_user_properties()) out->properties.emplace_back(k, v);
  if (sp.has_born_timestamp()) out->born_ms = ToMs(sp.born_timestamp());
  if (has_delivery) out->deliver_at_ms = ToMs(sp.delivery_timestamp());
  switch (sp.body_encoding()) {
    case v2::ENCODING_UNSPECIFIED:
    case v2::IDENTITY:
      out->body = std::move(*in.mutable_body());
      break;
    case v2::GZIP: {
      ASSIGN_OR_RETURN(out->body, Inflate(in.body(), max_body_bytes));
      break;
    }
    default:
      return InvalidArgument("unknown body encoding " + std::to_string(sp.body_encoding()));
  }
  return Status::Ok();
}

Result<std::string> ToTagFilter(const v2::FilterExpression& filter) {
  switch (filter.type()) {
    case v2::FILTER_TYPE_UNSPECIFIED:
    case v2::TAG:
      return filter.expression();
    case v2::SQL:
      return Status(Code::kUnsupported,
                    "SQL92 filter expressions are not supported by this broker yet; filter by "
                    "TAG (\"*\" or \"a||b\")");
    default:
      return InvalidArgument("unknown filter type " + std::to_string(filter.type()));
  }
}

void ToV2Message(store::Record r, const DeliveryFields& f, v2::Message* m) {
  const bool copy = broker::IsRetryOrDlqCopy(r);
  const broker::RetryInfo retry = broker::ReadRetryInfo(r);
  *m->mutable_topic() = ToResource(copy ? retry.original_topic : r.topic);
  // A fired scheduled message keeps its due time in a property (scheduled_delivery.h).
  int64_t deliver_at_ms = copy ? 0 : r.deliver_at_ms;
  for (const auto& [k, v] : r.properties) {
    if (k == broker::kDeliverAtProperty && !copy) deliver_at_ms = std::atoll(v.c_str());
  }
  for (auto& [k, v] : r.properties) {
    if (!broker::IsBrokerProperty(k, copy) && k != broker::kDeliverAtProperty &&
        !broker::IsHalfBookkeepingProperty(k)) {
      (*m->mutable_user_properties())[k] = std::move(v);
    }
  }
  v2::SystemProperties& sp = *m->mutable_system_properties();
  if (!r.tag.empty()) sp.set_tag(std::move(r.tag));
  for (auto& k : r.keys) sp.add_keys(std::move(k));
  sp.set_message_id(std::move(r.message_id));
  v2::Digest* digest = sp.mutable_body_digest();
  digest->set_type(v2::MD5);
  digest->set_checksum(Md5Hex(r.body));
  sp.set_body_encoding(v2::IDENTITY);
  if (!r.message_group.empty()) {
    sp.set_message_type(v2::FIFO);
    sp.set_message_group(std::move(r.message_group));
  } else if (deliver_at_ms > 0) {
    sp.set_message_type(v2::DELAY);
  } else if (r.type == store::RecordType::kTxnHalf) {
    sp.set_message_type(v2::TRANSACTION);
  } else {
    sp.set_message_type(v2::NORMAL);
  }
  if (deliver_at_ms > 0) *sp.mutable_delivery_timestamp() = ToTimestamp(deliver_at_ms);
  if (r.born_ms > 0) *sp.mutable_born_timestamp() = ToTimestamp(r.born_ms);
  sp.set_born_host("");
  if (r.store_ms > 0) *sp.mutable_store_timestamp() = ToTimestamp(r.store_ms);
  sp.set_store_host(std::string(f.store_host));
  sp.set_queue_id(static_cast<int32_t>(f.queue_id));
  sp.set_queue_offset(f.queue_offset);
  sp.set_delivery_attempt(static_cast<int32_t>(f.attempt));
  if (!f.receipt.empty()) sp.set_receipt_handle(std::string(f.receipt));
  if (f.invisible_ms > 0) *sp.mutable_invisible_duration() = ToDuration(f.invisible_ms);
  m->set_body(std::move(r.body));
}

}  // namespace tidemq::rocketmq
