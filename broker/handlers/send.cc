// SEND: validates every message of the batch, appends them as one group to the CommitLog and
// replies when the store has made them durable under the flush policy.
#include <algorithm>

#include "broker/handlers/handlers.h"
#include "common/names.h"

namespace tidemq::broker {
namespace {

constexpr int kMaxBatchMessages = 4096;

Status Validate(const BrokerContext& ctx, const wire::Message& m, std::string_view body) {
  if (body.size() > ctx.config.max_message_bytes) {
    return Status(Code::kTooLarge, "message body of " + std::to_string(body.size()) +
                                       " bytes exceeds the limit of " +
                                       std::to_string(ctx.config.max_message_bytes));
  }
  RETURN_IF_ERROR(ValidateTag(m.tag()));
  if (m.message_id().empty() || m.message_id().size() > kMaxMessageIdLength) {
    return InvalidArgument("message id must be 1 to " + std::to_string(kMaxMessageIdLength) +
                           " bytes");
  }
  if (m.message_group().size() > kMaxKeyLength) {
    return InvalidArgument("message group must be at most " + std::to_string(kMaxKeyLength) +
                           " bytes");
  }
  if (static_cast<size_t>(m.keys_size()) > kMaxKeysPerMessage) {
    return InvalidArgument("a message may carry at most " + std::to_string(kMaxKeysPerMessage) +
                           " keys");
  }
  for (const auto& k : m.keys()) {
    if (k.empty() || k.size() > kMaxKeyLength) {
      return InvalidArgument("keys must be 1 to " + std::to_string(kMaxKeyLength) + " bytes");
    }
  }
  if (static_cast<size_t>(m.properties_size()) > kMaxPropertyCount) {
    return InvalidArgument("a message may carry at most " + std::to_string(kMaxPropertyCount) +
                           " properties");
  }
  for (const auto& [k, v] : m.properties()) {
    if (k.empty() || k.size() > kMaxPropertyKeyLength) {
      return InvalidArgument("property names must be 1 to " +
                             std::to_string(kMaxPropertyKeyLength) + " bytes");
    }
    if (v.size() > kMaxPropertyValueLength) {
      return Status(Code::kTooLarge, "property '" + k + "' is longer than " +
                                         std::to_string(kMaxPropertyValueLength) + " bytes");
    }
  }
  if (m.deliver_at_ms() != 0 || m.delay_ms() != 0) {
    return Status(Code::kUnsupported, "scheduled messages are not supported by this broker yet");
  }
  return Status::Ok();
}

Result<Topic> FindTopic(BrokerContext& ctx, const std::string& name) {
  if (auto t = ctx.topics->Find(name)) return *t;
  RETURN_IF_ERROR(ValidateTopicName(name));
  if (ctx.config.auto_create_topics) {
    return ctx.topics->Create(name, ctx.config.default_queue_count, ctx.clock->NowMs());
  }
  return Status(Code::kTopicNotFound, "topic '" + name + "' does not exist (create it with "
                                      "`tidemq topic create " + name + "`)");
}

}  // namespace

void HandleSend(BrokerContext& ctx, const Request& req) {
  ctx.stats->send_requests.fetch_add(1, std::memory_order_relaxed);
  if (!req.header().has_send_request()) return req.ReplyError(MissingPayload(req));
  const wire::SendRequest& sr = req.header().send_request();
  if (sr.messages_size() == 0 || sr.messages_size() > kMaxBatchMessages) {
    return req.ReplyError(InvalidArgument("a send carries 1 to " +
                                          std::to_string(kMaxBatchMessages) + " messages"));
  }
  std::vector<std::string_view> bodies;
  if (Status st = wire::SplitBodies(sr.messages(), req.frame->body, &bodies); !st.ok()) {
    return req.ReplyError(InvalidArgument(st.message()));
  }
  if (!sr.producer_group().empty()) {
    if (Status st = ValidateGroupName(sr.producer_group()); !st.ok()) return req.ReplyError(st);
  }

  std::vector<store::Record> records;
  records.reserve(sr.messages_size());
  int64_t bytes = 0;
  for (int i = 0; i < sr.messages_size(); ++i) {
    const wire::Message& m = sr.messages(i);
    auto topic = FindTopic(ctx, m.topic());
    if (!topic.ok()) return req.ReplyError(topic.status());
    if (Status st = Validate(ctx, m, bodies[i]); !st.ok()) {
      ctx.stats->send_errors.fetch_add(1, std::memory_order_relaxed);
      return req.ReplyError(st);
    }
    auto queue = TopicManager::PickQueue(*topic, m.queue_id(), m.message_group());
    if (!queue.ok()) return req.ReplyError(queue.status());

    store::Record& r = records.emplace_back();
    r.type = store::RecordType::kMessage;
    r.topic = m.topic();
    r.queue_id = *queue;
    r.message_id = m.message_id();
    r.tag = m.tag();
    r.message_group = m.message_group();
    r.keys.assign(m.keys().begin(), m.keys().end());
    r.properties.assign(m.properties().begin(), m.properties().end());
    std::sort(r.properties.begin(), r.properties.end());
    r.born_ms = m.born_ms();
    r.body.assign(bodies[i]);
    bytes += static_cast<int64_t>(bodies[i].size());
  }

  BrokerStats* stats = ctx.stats;
  size_t n = records.size();
  std::vector<uint32_t> queues;
  queues.reserve(n);
  for (const auto& r : records) queues.push_back(r.queue_id);
  ctx.store->Append(std::move(records), [req, stats, n, bytes, queues = std::move(queues)](
                                            const Status& st,
                                            std::vector<store::AppendResult> results) {
    if (!st.ok()) {
      stats->send_errors.fetch_add(1, std::memory_order_relaxed);
      return req.ReplyError(st);
    }
    stats->messages_in.fetch_add(static_cast<int64_t>(n), std::memory_order_relaxed);
    stats->bytes_in.fetch_add(bytes, std::memory_order_relaxed);
    wire::Header h;
    auto* resp = h.mutable_send_response();
    const auto& msgs = req.header().send_request().messages();
    for (size_t i = 0; i < results.size(); ++i) {
      auto* r = resp->add_results();
      r->set_message_id(msgs[static_cast<int>(i)].message_id());
      r->set_queue_id(static_cast<int32_t>(queues[i]));
      r->set_queue_offset(results[i].queue_offset);
      r->set_log_offset(results[i].log_offset.value());
    }
    req.Reply(std::move(h));
  });
}

}  // namespace tidemq::broker
