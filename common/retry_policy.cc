#include "common/retry_policy.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdlib>

namespace tidemq {
namespace {

constexpr int64_t kMaxDelayMs = 24ll * 3600 * 1000;
constexpr size_t kMaxCustomDelays = 64;
constexpr char kExponentialPrefix[] = "exponential:";

std::vector<std::string_view> SplitCommas(std::string_view text) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    size_t comma = text.find(',', start);
    std::string_view part = text.substr(start, comma == std::string_view::npos ? comma : comma - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    parts.push_back(part);
    if (comma == std::string_view::npos) return parts;
    start = comma + 1;
  }
}

}  // namespace

const std::vector<int64_t>& LadderDelaysMs() {
  static const std::vector<int64_t> kLadder = [] {
    constexpr int64_t s = 1000, m = 60 * s, h = 60 * m;
    return std::vector<int64_t>{10 * s, 30 * s, 1 * m, 2 * m,  3 * m,  4 * m,  5 * m, 6 * m,
                                7 * m,  8 * m,  9 * m, 10 * m, 20 * m, 30 * m, 1 * h, 2 * h};
  }();
  return kLadder;
}

int64_t RetryPolicy::DelayMs(uint32_t failures) const {
  const size_t n = std::max<uint32_t>(failures, 1);
  switch (kind) {
    case Kind::kLadder: {
      const auto& ladder = LadderDelaysMs();
      return ladder[std::min(n, ladder.size()) - 1];
    }
    case Kind::kCustom:
      if (delays_ms.empty()) return 0;
      return delays_ms[std::min(n, delays_ms.size()) - 1];
    case Kind::kExponential: {
      double d = static_cast<double>(initial_ms) * std::pow(multiplier, static_cast<double>(n - 1));
      if (!(d < static_cast<double>(max_ms))) return max_ms;  // also catches inf
      return static_cast<int64_t>(d);
    }
  }
  return 0;
}

Status RetryPolicy::Validate() const {
  auto check = [](int64_t ms, const char* what) -> Status {
    if (ms < 0 || ms > kMaxDelayMs) {
      return InvalidArgument(std::string("retry ") + what + " must be between 0 and 24h, got " +
                             std::to_string(ms) + " ms");
    }
    return Status::Ok();
  };
  switch (kind) {
    case Kind::kLadder:
      return Status::Ok();
    case Kind::kCustom:
      if (delays_ms.empty() || delays_ms.size() > kMaxCustomDelays) {
        return InvalidArgument("a custom retry back-off needs 1 to " +
                               std::to_string(kMaxCustomDelays) + " delays");
      }
      for (int64_t d : delays_ms) RETURN_IF_ERROR(check(d, "delay"));
      return Status::Ok();
    case Kind::kExponential:
      RETURN_IF_ERROR(check(initial_ms, "initial delay"));
      RETURN_IF_ERROR(check(max_ms, "maximum delay"));
      if (!(multiplier >= 1.0 && multiplier <= 100.0)) {
        return InvalidArgument("retry multiplier must be between 1 and 100");
      }
      if (max_ms < initial_ms) {
        return InvalidArgument("retry maximum delay is below the initial delay");
      }
      return Status::Ok();
  }
  return InvalidArgument("unknown retry policy kind");
}

std::string RetryPolicy::ToString() const {
  switch (kind) {
    case Kind::kLadder:
      return "ladder";
    case Kind::kCustom: {
      std::string out;
      for (int64_t d : delays_ms) {
        if (!out.empty()) out += ',';
        out += FormatDurationMs(d);
      }
      return out;
    }
    case Kind::kExponential: {
      char mult[32];
      auto [end, ec] = std::to_chars(mult, mult + sizeof(mult), multiplier);
      return std::string(kExponentialPrefix) + FormatDurationMs(initial_ms) + "," +
             std::string(mult, ec == std::errc() ? end : mult) + "," + FormatDurationMs(max_ms);
    }
  }
  return "?";
}

Result<RetryPolicy> RetryPolicy::Parse(std::string_view text) {
  RetryPolicy p;
  if (text.empty() || text == "ladder" || text == "default") return p;
  if (text.substr(0, sizeof(kExponentialPrefix) - 1) == kExponentialPrefix) {
    auto parts = SplitCommas(text.substr(sizeof(kExponentialPrefix) - 1));
    if (parts.size() != 3) {
      return InvalidArgument("exponential back-off is 'exponential:INITIAL,MULTIPLIER,MAX', e.g. "
                             "'exponential:1s,2,10m'; got '" + std::string(text) + "'");
    }
    p.kind = Kind::kExponential;
    ASSIGN_OR_RETURN(p.initial_ms, ParseDurationMs(parts[0]));
    std::string mult(parts[1]);
    char* end = nullptr;
    p.multiplier = std::strtod(mult.c_str(), &end);
    if (mult.empty() || end != mult.c_str() + mult.size()) {
      return InvalidArgument("retry multiplier '" + mult + "' is not a number");
    }
    ASSIGN_OR_RETURN(p.max_ms, ParseDurationMs(parts[2]));
  } else {
    p.kind = Kind::kCustom;
    for (std::string_view part : SplitCommas(text)) {
      ASSIGN_OR_RETURN(int64_t d, ParseDurationMs(part));
      p.delays_ms.push_back(d);
    }
  }
  RETURN_IF_ERROR(p.Validate());
  return p;
}

Result<int64_t> ParseDurationMs(std::string_view text) {
  const std::string original(text);
  int64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || value < 0 || ptr == text.data()) {
    return InvalidArgument("'" + original + "' is not a duration (e.g. 500ms, 10s, 5m, 2h)");
  }
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  int64_t scale = 0;
  if (unit.empty() || unit == "ms") scale = 1;
  else if (unit == "s") scale = 1000;
  else if (unit == "m") scale = 60'000;
  else if (unit == "h") scale = 3'600'000;
  else if (unit == "d") scale = 86'400'000;
  else return InvalidArgument("'" + original + "' has an unknown unit (use ms, s, m, h or d)");
  if (value > INT64_MAX / scale / 1000) {
    return InvalidArgument("duration '" + original + "' is too long");
  }
  return value * scale;
}

std::string FormatDurationMs(int64_t ms) {
  struct Unit {
    int64_t scale;
    const char* suffix;
  };
  for (Unit u : {Unit{86'400'000, "d"}, Unit{3'600'000, "h"}, Unit{60'000, "m"}, Unit{1000, "s"}}) {
    if (ms != 0 && ms % u.scale == 0) return std::to_string(ms / u.scale) + u.suffix;
  }
  return std::to_string(ms) + "ms";
}

}  // namespace tidemq
