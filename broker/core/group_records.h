// The durable form of a consumer group (docs/storage_format.md §10): its config record
// "group/<name>" and its per-queue offsets records "offset/<group>/<topic>/<queue>/<client>",
// encoded and decoded. Pure functions: no state, no lock, callable from any thread.
// GroupRegistry (group_registry.h) appends what these encode through Store::AppendMeta
// and decodes them in Load(); a record that does not decode is a typed error, never a throw.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "broker/core/queue_state.h"
#include "common/retry_policy.h"
#include "common/status.h"

namespace tidemq::broker {

// Deliveries before dead-lettering: at most this many.
inline constexpr uint32_t kMaxGroupAttempts = 1000;

struct GroupConfig {
  std::string name;
  bool broadcast = false;
  bool fifo = false;
  uint32_t max_attempts = 16;  // deliveries before dead-lettering
  RetryPolicy retry;
  bool fifo_block = false;  // FIFO: keep retrying past max_attempts instead of DLQ
  int64_t created_ms = 0;
};

// A group to create or update. max_attempts 0 and no retry keep an existing group's settings
// (or take the broker's defaults for a new one).
struct GroupSpec {
  GroupConfig config;
  std::optional<RetryPolicy> retry;
};

// The configuration `spec` asks for, completed from `existing` (nullptr: a new group) or the
// defaults, and checked: invalid settings are kInvalidArgument; changing the mode or FIFO of
// an existing group is kFailedPrecondition (its offsets would mean something else). Keeps
// existing's created_ms.
Result<GroupConfig> ResolveGroupSpec(GroupSpec spec, const GroupConfig* existing,
                                     const RetryPolicy& default_retry,
                                     uint32_t default_max_attempts);
// kInvalidArgument unless the settings go together: a valid back-off, 1 to kMaxGroupAttempts
// attempts, fifo_block only with FIFO, not broadcasting and FIFO at once.
Status CheckGroupSettings(const GroupConfig& c);
// The same settings (the name and creation time aside).
bool SameSettings(const GroupConfig& a, const GroupConfig& b);
// kFailedPrecondition when `asked` changes the mode or FIFO of `existing`.
Status CheckSameKind(const GroupConfig& existing, const GroupConfig& asked);

// Metadata key prefixes and the start epoch's key.
inline constexpr char kGroupPrefix[] = "group/";
inline constexpr char kOffsetPrefix[] = "offset/";
inline constexpr char kEpochKey[] = "broker/start_epoch";  // the last start epoch (decimal)

// The value of "group/<name>" (JSON; name is the key's, not a field).
std::string EncodeGroupConfig(const GroupConfig& c);
// Field by field with their types checked; absent fields keep their defaults. kCorruption
// when the value is not an object or a field has the wrong type or range. A retry policy that
// does not parse is not an error: the group keeps the default ladder (and
// `*retry_unreadable` says why, when given).
Result<GroupConfig> DecodeGroupConfig(const std::string& name, std::string_view value,
                                      Status* retry_unreadable = nullptr);

// What a group persists per queue: the value of "offset/<group>/<topic>/<queue>/<client>".
// Older brokers stored the committed offset alone, as a decimal.
struct StoredQueueOffsets {
  int64_t committed = 0;
  int64_t next = 0;                      // every offset below was delivered at least once
  std::map<int64_t, uint32_t> attempts;  // delivered and unsettled: deliveries so far
  int64_t lost_to_retention = 0;
};
std::string EncodeQueueOffsets(const StoredQueueOffsets& v);
Result<StoredQueueOffsets> DecodeQueueOffsets(std::string_view text);

// "offset/<group>/<topic>/<queue>/<client>" and back (the key without its prefix is parsed:
// group, then the queue key). kCorruption when it has not that shape.
std::string OffsetKey(const std::string& group, const QueueKey& key);
Result<std::pair<std::string, QueueKey>> ParseOffsetKey(std::string_view key);

}  // namespace tidemq::broker
