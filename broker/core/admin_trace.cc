// AdminService::Trace: a message's life, read back from the log (docs/console.md, "Trace").
// The message id index finds every record that carries the id (the send, a schedule and its
// fire, a half and its end or checks, retry copies, dead letters, redrives); the key index
// finds the consumption events (kTrace records, trace_journal.h) of each queue position one
// of those records was stored at.
#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <utility>

#include "broker/core/admin_service.h"
#include "broker/core/retry_copies.h"
#include "broker/core/trace_journal.h"
#include "txn/txn_types.h"

namespace tidemq::broker {
namespace {

std::string PropertyOf(const store::Record& r, std::string_view key) {
  for (const auto& [k, v] : r.properties) {
    if (k == key) return v;
  }
  return {};
}

// The group a %RETRY%<group> or %DLQ%<group> topic belongs to.
std::string GroupOf(const std::string& topic, std::string_view prefix) {
  return topic.substr(prefix.size());
}

void Add(TraceStep* s, const char* key, std::string value) {
  if (!value.empty()) s->detail.emplace_back(key, std::move(value));
}

// What one of the message's own records says happened.
TraceStep StepOf(const store::Record& r, LogOffset at) {
  TraceStep s;
  s.time_ms = r.store_ms;
  s.log_offset = at.value();
  const bool retry = r.topic.starts_with(kRetryTopicPrefix);
  const bool dlq = r.topic.starts_with(kDlqTopicPrefix);
  const bool repost = r.origin_offset != kNoLogOffset;
  const bool commit = (r.flags & store::kFlagTxnCommit) != 0;
  using store::RecordType;
  switch (r.type) {
    case RecordType::kTxnHalf:
      s.kind = "half_sent";
      Add(&s, "producer_group", PropertyOf(r, txn::kProducerGroupProperty));
      break;
    case RecordType::kTxnCheck:
      s.kind = "checked";
      break;
    case RecordType::kTxnEnd:
      s.kind = "rolled_back";
      Add(&s, "reason", std::string(txn::ToString(static_cast<txn::EndReason>(
                            (r.flags & store::kFlagEndReasonMask) >> store::kFlagEndReasonShift))));
      break;
    case RecordType::kTimerCancel:
      s.kind = "cancelled";
      break;
    case RecordType::kScheduled:
      s.kind = retry ? "retry_scheduled" : commit ? "committed" : "scheduled";
      Add(&s, "due_ms", std::to_string(r.deliver_at_ms));
      break;
    case RecordType::kMessage:
      if (dlq) {
        s.kind = "dead_lettered";
      } else if (retry) {
        s.kind = repost ? "retry_due" : "retry_copy";
      } else if (r.topic == txn::kParkedTopic) {
        s.kind = "parked";
      } else if (commit) {
        s.kind = "committed";
      } else if (repost) {
        s.kind = "fired";
      } else if (!PropertyOf(r, kRedrivenFromProperty).empty()) {
        s.kind = "redriven";
        Add(&s, "from_group", PropertyOf(r, kRedrivenFromProperty));
      } else {
        s.kind = "sent";
      }
      break;
    default:
      s.kind = "record";
  }
  if (retry) Add(&s, "group", GroupOf(r.topic, kRetryTopicPrefix));
  if (dlq) Add(&s, "group", GroupOf(r.topic, kDlqTopicPrefix));
  if (retry || dlq) {
    const RetryInfo info = ReadRetryInfo(r);
    Add(&s, "original_topic", info.original_topic);
    Add(&s, "attempts", std::to_string(info.attempts));
    Add(&s, "reason", info.dead_letter_reason);
  }
  Add(&s, "topic", r.topic);
  if (store::IsDispatchedToQueue(r.type)) {
    Add(&s, "queue", std::to_string(r.queue_id));
    Add(&s, "queue_offset", std::to_string(r.queue_offset));
  }
  if (s.kind == "sent" || s.kind == "half_sent" || (s.kind == "scheduled" && !repost)) {
    Add(&s, "tag", r.tag);
    if (r.born_ms > 0) Add(&s, "born_ms", std::to_string(r.born_ms));
    if (!r.keys.empty()) {
      std::string keys;
      for (const auto& k : r.keys) keys += (keys.empty() ? "" : ",") + k;
      Add(&s, "keys", keys);
    }
  }
  return s;
}

TraceStep StepOf(const TraceEvent& e, const std::string& topic, LogOffset at) {
  TraceStep s;
  s.time_ms = e.time_ms;
  s.kind = std::string(TraceEventKindName(e.kind));
  s.log_offset = at.value();
  Add(&s, "group", e.group);
  Add(&s, "client", e.client);
  if (e.kind == TraceEventKind::kDelivered) Add(&s, "attempt", std::to_string(e.attempt));
  if (e.until_ms > 0) {
    Add(&s, e.kind == TraceEventKind::kNacked ? "retry_at_ms" : "lease_until_ms",
        std::to_string(e.until_ms));
  }
  Add(&s, "topic", topic);
  Add(&s, "queue", std::to_string(e.queue_id));
  Add(&s, "queue_offset", std::to_string(e.queue_offset));
  return s;
}

}  // namespace

Result<MessageTrace> AdminService::Trace(const std::string& message_id) const {
  if (message_id.empty()) return InvalidArgument("a trace needs a message id");
  MessageTrace out;
  out.message_id = message_id;
  out.consumption_traced = p_.config.trace_consumption;
  out.events_dropped = p_.trace != nullptr ? p_.trace->dropped() : 0;
  ASSIGN_OR_RETURN(std::vector<LogOffset> offsets,
                   p_.store->LookupMessageId(message_id, kMaxTraceRecords + 1));
  if (offsets.size() > kMaxTraceRecords) {
    out.truncated = true;
    offsets.resize(kMaxTraceRecords);
  }
  std::sort(offsets.begin(), offsets.end());
  // The queue positions the message was stored at: its consumption events are keyed by them.
  // Each maps to where in the log the record stored there is: trace records before it are about
  // the same position of an earlier topic of the same name (deleted and created again).
  std::map<std::tuple<std::string, uint32_t, int64_t>, LogOffset> positions;
  // Steps in the order things happened: by log position (a record's offset; an event's
  // log_end, before a record at that same offset).
  // Events with the same log_end (nothing was appended between them) go by time, then a
  // delivery before what its consumer did with it (a record groups events by consumer, not
  // by time), then the record's order.
  using Order = std::tuple<int64_t, int, int64_t, int, int64_t, size_t>;
  auto rank = [](TraceEventKind k) {
    return k == TraceEventKind::kDelivered ? 0 : k == TraceEventKind::kLeaseChanged ? 1 : 2;
  };
  std::vector<std::pair<Order, TraceStep>> steps;
  for (LogOffset at : offsets) {
    auto r = p_.store->Read(at);
    if (!r.ok()) {
      if (r.status().code() == Code::kCorruption) out.damaged.push_back(at);
      continue;  // deleted by retention meanwhile
    }
    if (r->type == store::RecordType::kTrace || r->message_id != message_id) continue;
    steps.emplace_back(Order{at.value(), 1, 0, 0, at.value(), 0}, StepOf(*r, at));
    if (store::IsDispatchedToQueue(r->type) && r->queue_offset >= 0) {
      positions.emplace(std::tuple(r->topic, r->queue_id, r->queue_offset), at);
    }
  }
  for (const auto& [position, stored_at] : positions) {
    const auto& [topic, queue, offset] = position;
    ASSIGN_OR_RETURN(std::vector<LogOffset> found,
                     p_.store->LookupKey(TraceTopic(topic), PositionKey(queue, offset), kMaxTraceRecords + 1));
    if (found.size() > kMaxTraceRecords) {
      out.truncated = true;
      found.resize(kMaxTraceRecords);
    }
    for (LogOffset at : found) {
      if (at < stored_at) continue;
      auto r = p_.store->Read(at);
      if (!r.ok()) {
        if (r.status().code() == Code::kCorruption) out.damaged.push_back(at);
        continue;
      }
      if (r->type != store::RecordType::kTrace) continue;  // a message's own key
      auto events = DecodeTraceEvents(r->body);
      if (!events.ok()) {
        out.damaged.push_back(at);
        continue;
      }
      for (size_t i = 0; i < events->size(); ++i) {
        const TraceEvent& e = (*events)[i];
        if (e.queue_id != queue || e.queue_offset != offset) continue;
        steps.emplace_back(Order{e.log_end, 0, e.time_ms, rank(e.kind), at.value(), i}, StepOf(e, topic, at));
      }
    }
  }
  std::sort(steps.begin(), steps.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [_, step] : steps) out.steps.push_back(std::move(step));
  if (out.steps.empty()) {
    if (!out.damaged.empty()) return Corruption("the records of message '" + message_id + "' are damaged");
    return NotFound("no record of message '" + message_id +
                    "' (never sent here, or deleted by retention)");
  }
  return out;
}

}  // namespace tidemq::broker

namespace tidemq::broker {

Result<std::vector<MessageTrace>> AdminService::TraceByKey(const std::string& topic,
                                                           const std::string& key,
                                                           uint32_t max_messages,
                                                           bool* truncated) const {
  if (topic.empty() || key.empty()) return InvalidArgument("a trace by key needs a topic and a key");
  const size_t max = std::clamp<uint32_t>(max_messages == 0 ? 8 : max_messages, 1, 64);
  // The key index finds every record stored under the key (newest first): a retry copy or a
  // dead letter of a message carries its keys too, so ids are collected once each.
  ASSIGN_OR_RETURN(std::vector<LogOffset> offsets,
                   p_.store->LookupKey(topic, key, kMaxTraceRecords));
  std::vector<std::string> ids;
  for (LogOffset at : offsets) {
    auto r = p_.store->Read(at);
    if (!r.ok() || r->topic != topic || r->message_id.empty()) continue;
    if (std::find(ids.begin(), ids.end(), r->message_id) != ids.end()) continue;
    if (ids.size() == max) {
      *truncated = true;
      break;
    }
    ids.push_back(r->message_id);
  }
  if (ids.empty()) {
    return NotFound("no message with key '" + key + "' in topic '" + topic +
                    "' (never sent here, or deleted by retention)");
  }
  std::vector<MessageTrace> out;
  for (const std::string& id : ids) {
    ASSIGN_OR_RETURN(MessageTrace t, Trace(id));
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace tidemq::broker
