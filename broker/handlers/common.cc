// Helpers shared by several handlers.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void FillTopicRoute(const TopicRouteInfo& route, wire::TopicRoute* out) {
  out->set_topic(route.topic);
  for (const QueueSetInfo& q : route.queues) {
    auto* r = out->add_queues();
    r->set_group(q.group);
    r->set_queue_count(q.count);
  }
}

void FillGroupRoute(const GroupRouteInfo& g, wire::GroupRoute* out) {
  out->set_name(g.name);
  out->set_state(g.draining ? wire::GroupRoute::DRAINING : wire::GroupRoute::ACTIVE);
  out->set_master_id(g.master_id);
  out->set_master_address(g.master_address);
  for (const auto& a : g.addresses) out->add_addresses(a);
  out->set_master_grpc_address(g.master_grpc_address);
  out->set_epoch(g.epoch);
}

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
