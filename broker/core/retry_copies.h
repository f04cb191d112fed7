// The records behind retries and dead letters (shared/DESIGN.md 2.4): a delivery that failed
// (nack or lapsed lease) is copied into "%RETRY%<group>", scheduled by the group's back-off
// through the timer engine, or — past the group's max attempts — into "%DLQ%<group>". A copy
// keeps the message id, tag, keys, group and body, and carries in its properties where the
// message was first sent, how many deliveries it has had, and when it first failed.
// Threads: pure functions, any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/record.h"

namespace tidemq::broker {

inline constexpr char kRetryTopicPrefix[] = "%RETRY%";
inline constexpr char kDlqTopicPrefix[] = "%DLQ%";
// Properties of retry and DLQ copies.
inline constexpr char kOriginalTopicProperty[] = "ORIGINAL_TOPIC";
inline constexpr char kAttemptsProperty[] = "DELIVERY_ATTEMPTS";     // deliveries so far
inline constexpr char kFirstFailureProperty[] = "FIRST_FAILURE_MS";
inline constexpr char kDeadLetterReasonProperty[] = "DEAD_LETTER_REASON";
inline constexpr char kRedrivenFromProperty[] = "REDRIVEN_FROM_DLQ";  // the group
inline constexpr char kMaxAttemptsReason[] = "max_attempts";
inline constexpr char kConsumerGaveUpReason[] = "consumer";  // forwarded by its consumer

inline std::string RetryTopic(const std::string& group) { return kRetryTopicPrefix + group; }
inline std::string DlqTopic(const std::string& group) { return kDlqTopicPrefix + group; }
bool IsRetryTopic(const std::string& topic);

// What a record says about its earlier deliveries; zeros / the record's topic for a message
// that never failed.
struct RetryInfo {
  std::string original_topic;
  uint32_t attempts = 0;
  int64_t first_failure_ms = 0;
  std::string dead_letter_reason;
};
RetryInfo ReadRetryInfo(const store::Record& record);

// The copy of `failed` (a delivered message, possibly itself a retry copy) that the group's
// consumers get again at due_ms: a kScheduled record in %RETRY%<group>, or a kMessage when it
// is due already. `attempts` counts every delivery so far; `incarnation` is the one of the
// original topic the copy is for (topic_manager.h), stamped on the copy.
store::Record MakeRetryCopy(const store::Record& failed, const std::string& group,
                            uint32_t attempts, int64_t due_ms, int64_t now_ms,
                            uint64_t incarnation);
// The copy of `failed` parked in %DLQ%<group>.
store::Record MakeDeadLetter(const store::Record& failed, const std::string& group,
                             uint32_t attempts, const std::string& reason, int64_t now_ms);

// Sets (or replaces) a property, keeping the list sorted.
void SetProperty(store::Record* r, const std::string& key, std::string value);
void EraseProperty(store::Record* r, const std::string& key);

// Whether a property of `record` is the broker's own bookkeeping, never shown to a client as
// a property (every front end filters the same way): the topic incarnation fence always, and
// a retry or DLQ copy's story (shown as typed fields instead, see ReadRetryInfo). `copy` is
// IsRetryOrDlqCopy(record), computed once per record.
bool IsRetryOrDlqCopy(const store::Record& record);
bool IsBrokerProperty(std::string_view key, bool copy);

}  // namespace tidemq::broker
