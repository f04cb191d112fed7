// Helpers shared by several handlers.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void FillTopicInfo(const TopicInfo& topic, wire::TopicInfo* out) {
  out->mutable_config()->set_name(topic.name);
  out->mutable_config()->set_queue_count(topic.queue_count);
  for (const QueueRange& q : topic.queues) {
    auto* qi = out->add_queues();
    qi->set_queue_id(static_cast<int32_t>(q.queue_id));
    qi->set_min_offset(q.min_offset);
    qi->set_max_offset(q.max_offset);
  }
}

Status MissingPayload(const Request& req) {
  return InvalidArgument("request of kind " + wire::RequestKind_Name(req.header().kind()) +
                         " lacks its payload");
}

}  // namespace tidemq::broker
