// SEND: validates every message of the batch, appends them as one group to the CommitLog and
// replies when the store has made them durable under the flush policy. A message with
// deliver_at_ms or delay_ms due in the future is stored as a kScheduled record (the timer
// re-puts it into its queue when due, docs/timer.md); one already due is stored at once.
// SEND_HALF: the same, but every message is stored as a kTxnHalf record (invisible until its
// transaction commits, docs/txn.md) carrying the producer group and its check timeout.
#include <algorithm>
#include <cstdint>

#include "broker/handlers/handlers.h"
#include "broker/txn_coordinator.h"
#include "common/names.h"
#include "txn/txn_types.h"

namespace tidemq::broker {
namespace {

constexpr int kMaxBatchMessages = 4096;
constexpr int64_t kMaxCheckTimeoutMs = int64_t{24} * 3600 * 1000;

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
  return Status::Ok();
}

// The due time of a scheduled message, or 0 for a plain one.
Result<int64_t> DueTime(const BrokerContext& ctx, const wire::Message& m, int64_t now_ms) {
  if (m.deliver_at_ms() == 0 && m.delay_ms() == 0) return int64_t{0};
  if (m.deliver_at_ms() != 0 && m.delay_ms() != 0) {
    return InvalidArgument("a message may set deliver_at_ms or delay_ms, not both");
  }
  if (m.deliver_at_ms() < 0 || m.delay_ms() < 0) {
    return InvalidArgument("deliver_at_ms and delay_ms must not be negative");
  }
  const int64_t max_ahead_ms = ctx.config.max_schedule_days * 24 * 3600 * 1000;
  const int64_t ahead_ms = m.delay_ms() != 0 ? m.delay_ms() : m.deliver_at_ms() - now_ms;
  if (ahead_ms > max_ahead_ms) {
    return InvalidArgument("scheduled delivery is " + std::to_string(ahead_ms) +
                           " ms ahead, past the broker's limit of " +
                           std::to_string(ctx.config.max_schedule_days) +
                           " days (--max-schedule-days)");
  }
  return now_ms + ahead_ms;
}

Result<Topic> FindTopic(BrokerContext& ctx, const std::string& name) {
  // Only the broker appends to its own topics (%RETRY%, %DLQ%, %TXN_PARKED%, ...): a client's
  // copy there would pass for the broker's bookkeeping (a forged dead letter, say).
  if (IsSystemTopic(name)) {
    return InvalidArgument("topic '" + name + "' is a system topic: clients cannot send to it "
                           "(names starting with '%' are reserved for the broker)");
  }
  if (auto t = ctx.topics->Find(name)) return *t;
  RETURN_IF_ERROR(ValidateTopicName(name));
  if (ctx.config.auto_create_topics) {
    return ctx.topics->Create(name, ctx.config.default_queue_count, ctx.clock->NowMs());
  }
  return Status(Code::kTopicNotFound, "topic '" + name + "' does not exist (create it with "
                                      "`tidemq topic create " + name + "`)");
}

// A half's own checks: the producer group and no property that txn/ reserves.
Status ValidateHalf(const BrokerContext& ctx, const wire::SendRequest& sr, const wire::Message& m) {
  if (sr.producer_group().empty()) {
    return InvalidArgument("a transactional send needs a producer group (its check-backs go "
                           "to a live producer of that group)");
  }
  for (const auto& [k, v] : m.properties()) {
    if (k.starts_with(txn::kTxnPropertyPrefix)) {
      return InvalidArgument("property '" + k + "': names starting with '" +
                             txn::kTxnPropertyPrefix + "' are reserved for transactions");
    }
  }
  if (m.txn_check_timeout_ms() < 0 || m.txn_check_timeout_ms() > kMaxCheckTimeoutMs) {
    return InvalidArgument("transaction check timeout must be 0 (broker default) to " +
                           std::to_string(kMaxCheckTimeoutMs) + " ms");
  }
  return Status::Ok();
}

void Send(BrokerContext& ctx, const Request& req, bool half) {
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
  const int64_t now_ms = ctx.clock->NowMs();
  int64_t earliest_due = INT64_MAX;  // of the scheduled messages in the batch
  int64_t first_check = INT64_MAX;   // of the half messages in the batch
  for (int i = 0; i < sr.messages_size(); ++i) {
    const wire::Message& m = sr.messages(i);
    auto topic = FindTopic(ctx, m.topic());
    if (!topic.ok()) {
      ctx.stats->send_errors.fetch_add(1, std::memory_order_relaxed);
      return req.ReplyError(topic.status());
    }
    if (Status st = Validate(ctx, m, bodies[i]); !st.ok()) {
      ctx.stats->send_errors.fetch_add(1, std::memory_order_relaxed);
      return req.ReplyError(st);
    }
    if (half) {
      if (Status st = ValidateHalf(ctx, sr, m); !st.ok()) {
        ctx.stats->send_errors.fetch_add(1, std::memory_order_relaxed);
        return req.ReplyError(st);
      }
    }
    Result<int64_t> due = DueTime(ctx, m, now_ms);
    if (!due.ok()) {
      ctx.stats->send_errors.fetch_add(1, std::memory_order_relaxed);
      return req.ReplyError(due.status());
    }
    auto queue = TopicManager::PickQueue(*topic, m.queue_id(), m.message_group());
    if (!queue.ok()) return req.ReplyError(queue.status());

    store::Record& r = records.emplace_back();
    r.type = store::RecordType::kMessage;
    if (*due > now_ms) {  // due now or in the past: delivered at once
      r.type = store::RecordType::kScheduled;
      r.deliver_at_ms = *due;
      earliest_due = std::min(earliest_due, *due);
    }
    r.topic = m.topic();
    r.queue_id = *queue;
    r.message_id = m.message_id();
    r.tag = m.tag();
    r.message_group = m.message_group();
    r.keys.assign(m.keys().begin(), m.keys().end());
    r.properties.assign(m.properties().begin(), m.properties().end());
    if (half) {
      // Scheduled and transactional: the commit re-puts it as a scheduled message.
      r.type = store::RecordType::kTxnHalf;
      const int64_t timeout = m.txn_check_timeout_ms() > 0 ? m.txn_check_timeout_ms()
                                                           : ctx.config.txn_check_timeout_ms;
      r.properties.emplace_back(txn::kProducerGroupProperty, sr.producer_group());
      r.properties.emplace_back(txn::kCheckTimeoutProperty, std::to_string(timeout));
      first_check = std::min(first_check, now_ms + timeout);
    }
    std::sort(r.properties.begin(), r.properties.end());
    // What waits (scheduled, half) is fenced by the topic's incarnation (topic_manager.h).
    if (r.type != store::RecordType::kMessage) {
      TopicManager::StampIncarnation(&r, topic->incarnation);
    }
    r.born_ms = m.born_ms();
    r.body.assign(bodies[i]);
    bytes += static_cast<int64_t>(bodies[i].size());
  }

  BrokerStats* stats = ctx.stats;
  size_t n = records.size();
  std::vector<uint32_t> queues;
  queues.reserve(n);
  for (const auto& r : records) queues.push_back(r.queue_id);
  ScheduledDelivery* scheduled = ctx.scheduled;
  TxnCoordinator* txn = ctx.txn_coordinator;
  ctx.store->Append(std::move(records), [req, stats, n, bytes, queues = std::move(queues),
                                         scheduled, earliest_due, txn, first_check](
                                            const Status& st,
                                            std::vector<store::AppendResult> results) {
    if (st.ok() && earliest_due != INT64_MAX) scheduled->Notify(earliest_due);
    if (st.ok() && first_check != INT64_MAX) txn->NoteHalf(first_check);
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
      r->set_queue_offset(results[i].queue_offset);  // -1: scheduled or half message
      r->set_log_offset(results[i].log_offset.value());
    }
    req.Reply(std::move(h));
  });
}

}  // namespace

void HandleSend(BrokerContext& ctx, const Request& req) { Send(ctx, req, /*half=*/false); }
void HandleSendHalf(BrokerContext& ctx, const Request& req) { Send(ctx, req, /*half=*/true); }

}  // namespace tidemq::broker
