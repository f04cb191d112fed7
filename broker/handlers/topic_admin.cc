// CREATE_TOPIC, LIST_TOPICS, DESCRIBE_TOPIC, DELETE_TOPIC.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {

void HandleCreateTopic(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_create_topic_request()) return req.ReplyError(MissingPayload(req));
  const auto& c = req.header().create_topic_request().config();
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
  ctx.admin()->DeleteTopic(name, [req](const Status& st) {
    if (!st.ok()) return req.ReplyError(st);
    wire::Header h;
    h.mutable_delete_topic_response();
    req.Reply(std::move(h));
  });
}

}  // namespace tidemq::broker
