// Helpers shared by several handlers.
#include "broker/handlers/handlers.h"
#include "broker/retry_copies.h"

namespace tidemq::broker {

void ToWireMessage(const store::Record& r, wire::Message* m) {
  m->set_topic(r.topic);
  m->set_queue_id(static_cast<int32_t>(r.queue_id));
  m->set_delivered_queue_id(static_cast<int32_t>(r.queue_id));
  m->set_tag(r.tag);
  m->set_message_group(r.message_group);
  for (const auto& k : r.keys) m->add_keys(k);
  // The broker's own bookkeeping of a retry or DLQ copy is sent as the typed fields below.
  const bool copy = r.topic[0] == '%' && ReadRetryInfo(r).original_topic != r.topic;
  for (const auto& [k, v] : r.properties) {
    if (copy && (k == kOriginalTopicProperty || k == kAttemptsProperty ||
                 k == kFirstFailureProperty || k == kDeadLetterReasonProperty)) {
      continue;
    }
    if (k == kTopicIncarnationProperty) continue;  // the broker's own fence, never shown
    (*m->mutable_properties())[k] = v;
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

void FillTopicInfo(BrokerContext& ctx, const Topic& topic, wire::TopicInfo* out) {
  out->mutable_config()->set_name(topic.name);
  out->mutable_config()->set_queue_count(topic.queue_count);
  for (uint32_t q = 0; q < topic.queue_count; ++q) {
    auto* qi = out->add_queues();
    qi->set_queue_id(static_cast<int32_t>(q));
    qi->set_min_offset(ctx.store->MinQueueOffset(topic.name, q));
    qi->set_max_offset(ctx.store->MaxQueueOffset(topic.name, q));
  }
}

Status MissingPayload(const Request& req) {
  return InvalidArgument("request of kind " + wire::RequestKind_Name(req.header().kind()) +
                         " lacks its payload");
}

}  // namespace tidemq::broker
