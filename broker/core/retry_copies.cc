#include "broker/core/retry_copies.h"

#include <algorithm>
#include <charconv>

#include "broker/core/scheduled_delivery.h"
#include "broker/core/topic_manager.h"

namespace tidemq::broker {
namespace {

const std::string* FindProperty(const store::Record& r, std::string_view key) {
  for (const auto& [k, v] : r.properties) {
    if (k == key) return &v;
  }
  return nullptr;
}

template <typename T>
T NumberProperty(const store::Record& r, std::string_view key) {
  T value{};
  if (const std::string* v = FindProperty(r, key)) {
    std::from_chars(v->data(), v->data() + v->size(), value);
  }
  return value;
}

// The common part of both copies: a fresh record of the same message.
store::Record CopyOf(const store::Record& failed, uint32_t attempts, int64_t now_ms) {
  RetryInfo info = ReadRetryInfo(failed);
  store::Record r = failed;
  r.queue_id = 0;  // retry and DLQ topics have one queue
  r.queue_offset = -1;
  r.store_ms = 0;
  r.deliver_at_ms = 0;
  r.origin_offset = kNoLogOffset;
  r.flags = 0;
  EraseProperty(&r, kDeliverAtProperty);
  SetProperty(&r, kOriginalTopicProperty, info.original_topic);
  SetProperty(&r, kAttemptsProperty, std::to_string(attempts));
  SetProperty(&r, kFirstFailureProperty,
              std::to_string(info.first_failure_ms != 0 ? info.first_failure_ms : now_ms));
  return r;
}

}  // namespace

bool IsRetryTopic(const std::string& topic) {
  return topic.compare(0, sizeof(kRetryTopicPrefix) - 1, kRetryTopicPrefix) == 0;
}

RetryInfo ReadRetryInfo(const store::Record& record) {
  RetryInfo info;
  // Only the broker writes retry and DLQ topics: a producer's properties of the same names on
  // an ordinary message mean nothing.
  if (!IsRetryTopic(record.topic) &&
      record.topic.compare(0, sizeof(kDlqTopicPrefix) - 1, kDlqTopicPrefix) != 0) {
    info.original_topic = record.topic;
    return info;
  }
  const std::string* original = FindProperty(record, kOriginalTopicProperty);
  info.original_topic = original ? *original : record.topic;
  info.attempts = NumberProperty<uint32_t>(record, kAttemptsProperty);
  info.first_failure_ms = NumberProperty<int64_t>(record, kFirstFailureProperty);
  if (const std::string* reason = FindProperty(record, kDeadLetterReasonProperty)) {
    info.dead_letter_reason = *reason;
  }
  return info;
}

store::Record MakeRetryCopy(const store::Record& failed, const std::string& group,
                            uint32_t attempts, int64_t due_ms, int64_t now_ms,
                            uint64_t incarnation) {
  store::Record r = CopyOf(failed, attempts, now_ms);
  r.topic = RetryTopic(group);
  TopicManager::StampIncarnation(&r, incarnation);
  if (due_ms > now_ms) {
    r.type = store::RecordType::kScheduled;
    r.deliver_at_ms = due_ms;
  } else {
    r.type = store::RecordType::kMessage;
  }
  return r;
}

store::Record MakeDeadLetter(const store::Record& failed, const std::string& group,
                             uint32_t attempts, const std::string& reason, int64_t now_ms) {
  store::Record r = CopyOf(failed, attempts, now_ms);
  r.type = store::RecordType::kMessage;
  r.topic = DlqTopic(group);
  SetProperty(&r, kDeadLetterReasonProperty, reason);
  return r;
}

void SetProperty(store::Record* r, const std::string& key, std::string value) {
  auto& props = r->properties;
  auto it = std::find_if(props.begin(), props.end(), [&](const auto& p) { return p.first == key; });
  if (it != props.end()) {
    it->second = std::move(value);
    return;
  }
  props.emplace_back(key, std::move(value));
  std::sort(props.begin(), props.end());
}

void EraseProperty(store::Record* r, const std::string& key) {
  std::erase_if(r->properties, [&](const auto& p) { return p.first == key; });
}

bool IsRetryOrDlqCopy(const store::Record& r) {
  return !r.topic.empty() && r.topic[0] == '%' && ReadRetryInfo(r).original_topic != r.topic;
}

bool IsBrokerProperty(std::string_view key, bool copy) {
  if (key == kTopicIncarnationProperty) return true;  // the broker's own fence
  return copy && (key == kOriginalTopicProperty || key == kAttemptsProperty ||
                  key == kFirstFailureProperty || key == kDeadLetterReasonProperty);
}

}  // namespace tidemq::broker
