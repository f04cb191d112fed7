#include "common/names.h"

#include <string>

namespace tidemq {
namespace {

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-' || c == '.';
}

// One part of a name: 1.. of [A-Za-z0-9_-.], not dots only.
Status ValidatePart(std::string_view what, std::string_view name, std::string_view part) {
  if (part.empty()) {
    return InvalidArgument(std::string(what) + " name '" + std::string(name) +
                           "' has an empty part around its namespace separator '%'");
  }
  for (char c : part) {
    if (!IsNameChar(c)) {
      return InvalidArgument(std::string(what) + " name '" + std::string(name) +
                             "' may only contain letters, digits, '_', '-' and '.'");
    }
  }
  // "." and ".." name directories, not topics: such a topic's queue files would land elsewhere.
  if (part.find_first_not_of('.') == std::string_view::npos) {
    return InvalidArgument(std::string(what) + " name '" + std::string(name) +
                           "' may not consist of dots only");
  }
  return Status::Ok();
}

// "name" or "namespace%name" (RocketMQ's namespaces: rocketmq/convert.h).
Status ValidateName(std::string_view what, std::string_view name, size_t max_len) {
  if (name.empty()) return InvalidArgument(std::string(what) + " name is empty");
  if (name.size() > max_len) {
    return InvalidArgument(std::string(what) + " name is " + std::to_string(name.size()) +
                           " characters; the limit is " + std::to_string(max_len));
  }
  const size_t sep = name.find('%');
  if (sep == std::string_view::npos) return ValidatePart(what, name, name);
  if (name.find('%', sep + 1) != std::string_view::npos) {
    return InvalidArgument(std::string(what) + " name '" + std::string(name) +
                           "' has more than one namespace separator '%'");
  }
  RETURN_IF_ERROR(ValidatePart(what, name, name.substr(0, sep)));
  return ValidatePart(what, name, name.substr(sep + 1));
}

}  // namespace

bool IsSystemTopic(std::string_view name) { return !name.empty() && name[0] == '%'; }

Status ValidateTopicName(std::string_view name, bool allow_system) {
  if (IsSystemTopic(name)) {
    if (!allow_system) {
      return InvalidArgument("topic '" + std::string(name) +
                             "' is a system topic (names starting with '%' are reserved)");
    }
    // %KIND%<name> or %KIND%: validate the part after the second '%'.
    size_t second = name.find('%', 1);
    if (second == std::string_view::npos || second == 1) {
      return InvalidArgument("malformed system topic name '" + std::string(name) + "'");
    }
    std::string_view rest = name.substr(second + 1);
    if (rest.empty()) return Status::Ok();
    return ValidateName("topic", rest, kMaxTopicNameLength);
  }
  return ValidateName("topic", name, kMaxTopicNameLength);
}

Status ValidateGroupName(std::string_view name) {
  return ValidateName("group", name, kMaxGroupNameLength);
}

Status ValidateTag(std::string_view tag) {
  if (tag.size() > kMaxTagLength) {
    return InvalidArgument("tag is " + std::to_string(tag.size()) + " bytes; the limit is " +
                           std::to_string(kMaxTagLength));
  }
  for (char c : tag) {
    if (c == '|' || static_cast<unsigned char>(c) < 0x20) {
      return InvalidArgument("tag may not contain '|' or control characters");
    }
  }
  return Status::Ok();
}

}  // namespace tidemq
