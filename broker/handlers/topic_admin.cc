// CREATE_TOPIC, LIST_TOPICS, DESCRIBE_TOPIC, DELETE_TOPIC.
#include <spdlog/spdlog.h>

#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio/post.hpp>

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
  // Answered once the topic's record is durable: from the store's writer thread, back to the
  // network threads.
  auto topic = ctx.topics->Create(
      c.name(), queues, ctx.clock->NowMs(), /*allow_system=*/false,
      [&ctx, req](const Status& st, const Topic& t) {
        boost::asio::post(*ctx.io, [&ctx, req, st, t] {
          if (!st.ok()) return req.ReplyError(st);
          spdlog::info("topic '{}' with {} queues is ready", t.name, t.queue_count);
          wire::Header h;
          FillTopicInfo(ctx, t, h.mutable_create_topic_response()->mutable_topic());
          req.Reply(std::move(h));
        });
      });
  if (!topic.ok()) return req.ReplyError(topic.status());
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
  Status st = ctx.topics->Delete(name, [req, name](const Status& durable) {
    if (!durable.ok()) return req.ReplyError(durable);
    spdlog::info("topic '{}' deleted", name);
    wire::Header h;
    h.mutable_delete_topic_response();
    req.Reply(std::move(h));
  });
  if (!st.ok()) return req.ReplyError(st);
  // Its groups' offsets go too (their records follow the topic's in the log).
  ctx.consumers->OnTopicDeleted(name);
}

}  // namespace tidemq::broker
