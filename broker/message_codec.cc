// Native encoding of stored records and check-backs.
#include "broker/message_codec.h"

#include "broker/core/retry_copies.h"

namespace tidemq::broker {

void ToWireMessage(const store::Record& r, wire::Message* m) {
  m->set_topic(r.topic);
  m->set_queue_id(static_cast<int32_t>(r.queue_id));
  m->set_delivered_queue_id(static_cast<int32_t>(r.queue_id));
  m->set_tag(r.tag);
  m->set_message_group(r.message_group);
  for (const auto& k : r.keys) m->add_keys(k);
  // The broker's own bookkeeping of a retry or DLQ copy is sent as the typed fields below.
  const bool copy = IsRetryOrDlqCopy(r);
  for (const auto& [k, v] : r.properties) {
    if (!IsBrokerProperty(k, copy)) (*m->mutable_properties())[k] = v;
  }
  m->set_message_id(r.message_id);
  m->set_born_ms(r.born_ms);
  m->set_store_ms(r.store_ms);
  m->set_queue_offset(r.queue_offset);
  m->set_deliver_at_ms(r.deliver_at_ms);
  m->set_body_size(static_cast<uint32_t>(r.body.size()));
  RetryInfo retry = ReadRetryInfo(r);
  if (retry.original_topic != r.topic) {
    m->set_original_topic(retry.original_topic);
    m->set_first_failure_ms(retry.first_failure_ms);
    m->set_dead_letter_reason(retry.dead_letter_reason);
  }
}

void EncodeCheckFrame(const TxnCheck& check, std::string* frame) {
  wire::Header h;
  h.set_request_id(check.request_id);
  h.set_kind(wire::CHECK_TXN);
  auto* req = h.mutable_check_txn_request();
  ToWireMessage(*check.half, req->mutable_message());
  req->mutable_message()->set_log_offset(check.half_offset.value());
  req->mutable_message()->set_body_size(static_cast<uint32_t>(check.half->body.size()));
  req->set_producer_group(check.producer_group);
  req->set_check_number(check.check_number);
  wire::EncodeFrame(h, check.half->body, frame);
}

}  // namespace tidemq::broker
