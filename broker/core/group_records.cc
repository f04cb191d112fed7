#include "broker/core/group_records.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "common/names.h"

namespace tidemq::broker {
namespace {
// Bounds of what a stored offsets record may say (anything else is corrupt).
constexpr uint32_t kMaxStoredAttempts = 1'000'000;
}  // namespace

Result<GroupConfig> ResolveGroupSpec(GroupSpec spec, const GroupConfig* existing,
                                     const RetryPolicy& default_retry,
                                     uint32_t default_max_attempts) {
  GroupConfig& c = spec.config;
  RETURN_IF_ERROR(ValidateGroupName(c.name));
  if (spec.retry) {
    c.retry = *spec.retry;
  } else {
    c.retry = existing != nullptr ? existing->retry : default_retry;
  }
  if (c.max_attempts == 0) {
    c.max_attempts = existing != nullptr ? existing->max_attempts : default_max_attempts;
  }
  RETURN_IF_ERROR(CheckGroupSettings(c));
  if (existing != nullptr) {
    RETURN_IF_ERROR(CheckSameKind(*existing, c));
    c.created_ms = existing->created_ms;
  }
  return c;
}

Status CheckGroupSettings(const GroupConfig& c) {
  RETURN_IF_ERROR(c.retry.Validate());
  if (c.max_attempts == 0 || c.max_attempts > kMaxGroupAttempts) {
    return InvalidArgument("max attempts must be between 1 and " +
                           std::to_string(kMaxGroupAttempts) + ", got " +
                           std::to_string(c.max_attempts));
  }
  if (c.fifo_block && !c.fifo) return InvalidArgument("fifo_block applies to FIFO groups only");
  if (c.broadcast && c.fifo) {
    return InvalidArgument("a group is either broadcasting or FIFO, not both");
  }
  return Status::Ok();
}

bool SameSettings(const GroupConfig& a, const GroupConfig& b) {
  return a.broadcast == b.broadcast && a.fifo == b.fifo && a.max_attempts == b.max_attempts &&
         a.retry == b.retry && a.fifo_block == b.fifo_block;
}

Status CheckSameKind(const GroupConfig& existing, const GroupConfig& asked) {
  if (existing.broadcast == asked.broadcast && existing.fifo == asked.fifo) return Status::Ok();
  return Status(Code::kFailedPrecondition,
                "group '" + existing.name + "' exists as " +
                    (existing.broadcast ? "broadcasting" : "clustering") +
                    (existing.fifo ? " FIFO" : "") + "; delete it first to change its mode");
}

std::string EncodeGroupConfig(const GroupConfig& c) {
  nlohmann::json j = {{"broadcast", c.broadcast},       {"fifo", c.fifo},
                      {"max_attempts", c.max_attempts}, {"retry", c.retry.ToString()},
                      {"fifo_block", c.fifo_block},     {"created_ms", c.created_ms}};
  return j.dump();
}

Result<GroupConfig> DecodeGroupConfig(const std::string& name, std::string_view value,
                                      Status* retry_unreadable) {
  // Field by field, with their types checked: nlohmann's typed getters throw on a mismatch.
  auto j = nlohmann::json::parse(value, nullptr, /*allow_exceptions=*/false);
  GroupConfig c;
  c.name = name;
  bool ok = j.is_object() && !c.name.empty();
  auto flag = [&](const char* f, bool* out) {
    if (!ok) return;
    auto it = j.find(f);
    if (it == j.end()) return;
    if (it->is_boolean()) {
      *out = it->get<bool>();
    } else {
      ok = false;
    }
  };
  flag("broadcast", &c.broadcast);
  flag("fifo", &c.fifo);
  flag("fifo_block", &c.fifo_block);
  std::string retry_text = "ladder";
  if (ok) {
    auto attempts = j.find("max_attempts");
    if (attempts != j.end()) {
      if (!attempts->is_number_unsigned() || attempts->get<uint64_t>() == 0 ||
          attempts->get<uint64_t>() > kMaxGroupAttempts) {
        ok = false;
      } else {
        c.max_attempts = static_cast<uint32_t>(attempts->get<uint64_t>());
      }
    }
    auto created = j.find("created_ms");
    if (created != j.end()) {
      if (created->is_number_integer()) {
        c.created_ms = created->get<int64_t>();
      } else {
        ok = false;
      }
    }
    auto retry = j.find("retry");
    if (retry != j.end()) {
      if (retry->is_string()) {
        retry_text = retry->get<std::string>();
      } else {
        ok = false;
      }
    }
  }
  if (!ok) {
    return Corruption("group record '" + name + "' is malformed: '" +
                      std::string(value.substr(0, 128)) + "'");
  }
  auto retry = RetryPolicy::Parse(retry_text);
  if (!retry.ok()) {
    if (retry_unreadable) *retry_unreadable = retry.status();
  } else {
    c.retry = *retry;
  }
  return c;
}

std::string EncodeQueueOffsets(const StoredQueueOffsets& v) {
  nlohmann::json attempts = nlohmann::json::array();
  for (const auto& [off, n] : v.attempts) attempts.push_back({off, n});
  nlohmann::json j = {{"committed", v.committed},
                      {"next", v.next},
                      {"attempts", std::move(attempts)},
                      {"lost", v.lost_to_retention}};
  return j.dump();
}

Result<StoredQueueOffsets> DecodeQueueOffsets(std::string_view text) {
  StoredQueueOffsets v;
  auto bad = [&] {
    return Corruption("offsets record '" + std::string(text.substr(0, 64)) + "' is malformed");
  };
  // Older brokers wrote the committed offset alone.
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v.committed);
  if (ec == std::errc() && p == text.data() + text.size()) {
    if (v.committed < 0) return bad();
    v.next = v.committed;
    return v;
  }
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return bad();
  auto number = [&](const char* name, int64_t* out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_number_integer()) return false;
    *out = it->get<int64_t>();
    return *out >= 0;
  };
  if (!number("committed", &v.committed) || !number("next", &v.next) ||
      !number("lost", &v.lost_to_retention)) {
    return bad();
  }
  auto attempts = j.find("attempts");
  if (attempts == j.end() || !attempts->is_array()) return bad();
  for (const auto& pair : *attempts) {
    if (!pair.is_array() || pair.size() != 2 || !pair[0].is_number_integer() ||
        !pair[1].is_number_unsigned()) {
      return bad();
    }
    const int64_t off = pair[0].get<int64_t>();
    const uint64_t n = pair[1].get<uint64_t>();
    if (off < 0 || n > kMaxStoredAttempts) return bad();
    v.attempts[off] = static_cast<uint32_t>(n);
  }
  return v;
}

std::string OffsetKey(const std::string& group, const QueueKey& key) {
  return std::string(kOffsetPrefix) + group + "/" + std::get<0>(key) + "/" +
         std::to_string(std::get<1>(key)) + "/" + std::get<2>(key);
}

Result<std::pair<std::string, QueueKey>> ParseOffsetKey(std::string_view key) {
  auto bad = [&] {
    return Corruption("offset record key '" + std::string(key.substr(0, 128)) + "' is malformed");
  };
  constexpr size_t kPrefix = sizeof(kOffsetPrefix) - 1;
  if (key.substr(0, kPrefix) != kOffsetPrefix) return bad();
  // <group>/<topic>/<queue>/<client>
  std::string_view rest = key.substr(kPrefix);
  size_t a = rest.find('/');
  size_t b = a == std::string_view::npos ? a : rest.find('/', a + 1);
  size_t c = b == std::string_view::npos ? b : rest.find('/', b + 1);
  uint32_t queue = 0;
  if (c == std::string_view::npos) return bad();
  auto [p, ec] = std::from_chars(rest.data() + b + 1, rest.data() + c, queue);
  if (ec != std::errc()) return bad();
  return std::pair<std::string, QueueKey>{
      std::string(rest.substr(0, a)),
      QueueKey{std::string(rest.substr(a + 1, b - a - 1)), queue, std::string(rest.substr(c + 1))}};
}

}  // namespace tidemq::broker
