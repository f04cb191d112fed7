// CREATE_TOPIC, EXTEND_TOPIC, LIST_TOPICS, DESCRIBE_TOPIC, DELETE_TOPIC. In a cluster of
// broker groups, creation, extension and deletion change the cluster's routes (any broker
// answers; docs/cluster.md); describe and list answer for this broker's group.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleCreateTopic(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_create_topic_request()) return req.ReplyError(MissingPayload(req));
  const auto& c = req.header().create_topic_request().config();
  if (ctx.core->clustered()) {
    const auto& groups = req.header().create_topic_request().groups();
    return ctx.core->CreateTopicRoute(
        c.name(), c.queue_count(), {groups.begin(), groups.end()},
        [req](Result<TopicRouteInfo> route) {
          if (!route.ok()) return req.ReplyError(route.status());
          wire::Header h;
          auto* resp = h.mutable_create_topic_response();
          FillTopicRoute(*route, resp->mutable_route());
          resp->mutable_topic()->mutable_config()->set_name(route->topic);
          resp->mutable_topic()->mutable_config()->set_queue_count(route->total());
          req.Reply(std::move(h));
        });
  }
  ctx.admin()->CreateTopic(c.name(), c.queue_count(), [req](Result<TopicInfo> topic) {
    if (!topic.ok()) return req.ReplyError(topic.status());
    wire::Header h;
    FillTopicInfo(*topic, h.mutable_create_topic_response()->mutable_topic());
    req.Reply(std::move(h));
  });
}

void HandleListTopics(BrokerContext& ctx, const Request& req) {
  bool include_system =
      req.header().has_list_topics_request() && req.header().list_topics_request().include_system();
  wire::Header h;
  auto* resp = h.mutable_list_topics_response();
  for (const TopicInfo& t : ctx.admin()->ListTopics(include_system)) {
    FillTopicInfo(t, resp->add_topics());
  }
  req.Reply(std::move(h));
}

void HandleDescribeTopic(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_describe_topic_request()) return req.ReplyError(MissingPayload(req));
  auto topic = ctx.admin()->DescribeTopic(req.header().describe_topic_request().topic());
  if (!topic.ok()) return req.ReplyError(topic.status());
  wire::Header h;
  FillTopicInfo(*topic, h.mutable_describe_topic_response()->mutable_topic());
  req.Reply(std::move(h));
}

void HandleDeleteTopic(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_delete_topic_request()) return req.ReplyError(MissingPayload(req));
  const std::string& name = req.header().delete_topic_request().topic();
  ctx.core->DeleteTopicRoute(name, [req](const Status& st) {
    if (!st.ok()) return req.ReplyError(st);
    wire::Header h;
    h.mutable_delete_topic_response();
    req.Reply(std::move(h));
  });
}

void HandleExtendTopic(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_extend_topic_request()) return req.ReplyError(MissingPayload(req));
  const auto& e = req.header().extend_topic_request();
  ctx.core->ExtendTopic(e.topic(), e.add_queues(), {e.groups().begin(), e.groups().end()},
                        [req](Result<TopicRouteInfo> route) {
                          if (!route.ok()) return req.ReplyError(route.status());
                          wire::Header h;
                          FillTopicRoute(*route, h.mutable_extend_topic_response()->mutable_route());
                          req.Reply(std::move(h));
                        });
}

}  // namespace tidemq::broker
