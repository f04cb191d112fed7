// Validation of the names clients choose: topics, consumer groups, producer groups, tags, keys.
// Broker and client share these so a bad name is caught before it crosses the wire, and again
// when it arrives.
#pragma once

#include <string_view>

#include "common/status.h"

namespace tidemq {

inline constexpr size_t kMaxTopicNameLength = 127;
inline constexpr size_t kMaxGroupNameLength = 127;
inline constexpr size_t kMaxTagLength = 255;
inline constexpr size_t kMaxKeyLength = 255;
inline constexpr size_t kMaxKeysPerMessage = 32;
inline constexpr size_t kMaxPropertyCount = 64;
inline constexpr size_t kMaxPropertyKeyLength = 255;
inline constexpr size_t kMaxPropertyValueLength = 16 * 1024;
inline constexpr size_t kMaxMessageIdLength = 128;

// Topic names: 1..127 of [A-Za-z0-9_-.], not dots only ("." and ".." name directories), or
// "namespace%name" with two such parts (a RocketMQ client's namespace);
// names starting with '%' are system topics (%RETRY%<group>, %DLQ%<group>, %HALF%, ...) that
// clients may read but never create or send to.
Status ValidateTopicName(std::string_view name, bool allow_system = false);
// Group names: as topic names (a namespace included), never system names.
Status ValidateGroupName(std::string_view name);
bool IsSystemTopic(std::string_view name);
// Tags: at most 255 bytes, no '|' (used by tag filter expressions) and no control characters.
Status ValidateTag(std::string_view tag);

}  // namespace tidemq
