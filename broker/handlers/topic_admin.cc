// CREATE_TOPIC, LIST_TOPICS, DESCRIBE_TOPIC, DELETE_TOPIC.
#include <spdlog/spdlog.h>

#include "broker/handlers/handlers.h"
#include "common/names.h"

namespace tidemq::broker {
namespace {

Result<Topic> Existing(BrokerContext& ctx, const std::string& name) {
  if (auto t = ctx.topics->Find(name)) return *t;
  RETURN_IF_ERROR(ValidateTopicName(name, /*allow_system=*/true));
  return Status(Code::kTopicNotFound, "topic '" + name + "' does not exist");
}

}  // namespace

void HandleCreateTopic(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_create_topic_request()) return req.ReplyError(MissingPayload(req));
  const auto& c = req.header().create_topic_request().config();
  uint32_t queues = c.queue_count() == 0 ? ctx.config.default_queue_count : c.queue_count();
  auto topic = ctx.topics->Create(c.name(), queues, ctx.clock->NowMs());
  if (!topic.ok()) return req.ReplyError(topic.status());
  spdlog::info("topic '{}' with {} queues is ready", topic->name, topic->queue_count);
  wire::Header h;
  FillTopicInfo(ctx, *topic, h.mutable_create_topic_response()->mutable_topic());
  req.Reply(std::move(h));
}

void HandleListTopics(BrokerContext& ctx, const Request& req) {
  bool include_system = req.header().has_list_topics_request() &&
                        req.header().list_topics_request().include_system();
  wire::Header h;
  auto* resp = h.mutable_list_topics_response();
  for (const Topic& t : ctx.topics->List()) {
    if (!include_system && IsSystemTopic(t.name)) continue;
    FillTopicInfo(ctx, t, resp->add_topics());
  }
  req.Reply(std::move(h));
}

void HandleDescribeTopic(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_describe_topic_request()) return req.ReplyError(MissingPayload(req));
  auto topic = Existing(ctx, req.header().describe_topic_request().topic());
  if (!topic.ok()) return req.ReplyError(topic.status());
  wire::Header h;
  FillTopicInfo(ctx, *topic, h.mutable_describe_topic_response()->mutable_topic());
  req.Reply(std::move(h));
}

void HandleDeleteTopic(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_delete_topic_request()) return req.ReplyError(MissingPayload(req));
  const std::string& name = req.header().delete_topic_request().topic();
  auto topic = Existing(ctx, name);
  if (!topic.ok()) return req.ReplyError(topic.status());
  if (Status st = ctx.topics->Delete(name); !st.ok()) return req.ReplyError(st);
  ctx.consumers->OnTopicDeleted(name);
  spdlog::info("topic '{}' deleted", name);
  wire::Header h;
  h.mutable_delete_topic_response();
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
