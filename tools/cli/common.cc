#include "tools/cli/common.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <iostream>

namespace tidemq::tools {

namespace {

std::atomic<bool> g_interrupted{false};

void OnSignal(int) {
  g_interrupted = true;
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
  std::signal(SIGTERM, SIG_DFL);
}

}  // namespace

void OnChosen(CLI::App* sub, Action& action, Action run) {
  sub->callback([&action, run = std::move(run)] { action = run; });
}

void AddJsonFlag(CLI::App* sub, bool& json, const std::string& help) {
  sub->add_flag("--json", json, help);
}

std::string DefaultAddr() {
  const char* env = std::getenv("TIDEMQ_ADDR");
  return env && *env ? env : "127.0.0.1:9810";
}

void InstallSignalHandlers() {
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  std::signal(SIGPIPE, SIG_IGN);
}

bool Interrupted() { return g_interrupted; }

int ExitCodeOf(const Status& st) {
  return st.code() == Code::kUnavailable ? kExitUnreachable : kExitError;
}

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.message().c_str());
  return ExitCodeOf(st);
}

int Usage(const std::string& message) {
  std::fprintf(stderr, "error: %s (see --help)\n", message.c_str());
  return kExitUsage;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatTime(int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof(out), "%s.%03d", buf, static_cast<int>(ms % 1000));
  return out;
}

Result<int64_t> ParseTime(const std::string& text, int64_t now_ms) {
  const std::string forms =
      "use -DURATION (e.g. -10m, -2h), now, YYYY-MM-DD[ HH:MM[:SS]] (local time) or ms since "
      "the epoch";
  if (text == "now") return now_ms;
  if (!text.empty() && text[0] == '-') {
    auto d = ParseDurationMs(text.substr(1));
    if (!d.ok()) {
      return InvalidArgument("bad time '" + text + "': " + d.status().message());
    }
    return now_ms - *d;
  }
  if (!text.empty() && text.find_first_not_of("0123456789") == std::string::npos) {
    if (text.size() < 12) {  // before 1973: surely meant as something else
      return InvalidArgument("bad time '" + text + "': too small for ms since the epoch; " +
                             "for a relative time write -" + text + "s or similar");
    }
    return static_cast<int64_t>(std::stoll(text));
  }
  for (const char* fmt :
       {"%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* end = strptime(text.c_str(), fmt, &tm);
    if (end == nullptr || *end != '\0') continue;
    tm.tm_isdst = -1;
    std::time_t secs = std::mktime(&tm);
    if (secs == static_cast<std::time_t>(-1)) break;
    return static_cast<int64_t>(secs) * 1000;
  }
  return InvalidArgument("bad time '" + text + "': " + forms);
}

std::string Printable(const std::string& body, size_t limit) {
  std::string out;
  size_t n = std::min(body.size(), limit);
  for (size_t i = 0; i < n; ++i) {
    auto c = static_cast<unsigned char>(body[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "\\x%02x", c);
      out += hex;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (body.size() > limit) out += "... (" + std::to_string(body.size()) + " bytes)";
  return out;
}

bool IsText(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f) return false;
      ++i;
      continue;
    }
    size_t extra = (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 0;
    if (extra == 0 || c < 0xc2 || c > 0xf4 || i + extra >= s.size()) return false;
    for (size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xc0) != 0x80) return false;
    }
    i += 1 + extra;
  }
  return true;
}

std::string HexDump(const std::string& s) {
  std::string out;
  char line[96];
  for (size_t off = 0; off < s.size(); off += 16) {
    int n = std::snprintf(line, sizeof(line), "%08zx  ", off);
    std::string ascii;
    for (size_t i = 0; i < 16; ++i) {
      if (off + i < s.size()) {
        auto c = static_cast<unsigned char>(s[off + i]);
        n += std::snprintf(line + n, sizeof(line) - n, "%02x ", c);
        ascii.push_back(c >= 0x20 && c < 0x7f ? static_cast<char>(c) : '.');
      } else {
        n += std::snprintf(line + n, sizeof(line) - n, "   ");
      }
      if (i == 7) n += std::snprintf(line + n, sizeof(line) - n, " ");
    }
    out += line;
    out += " |" + ascii + "|\n";
  }
  return out;
}

std::string Join(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i) out += sep;
    out += v[i];
  }
  return out;
}

Result<Admin> ConnectAdmin(const Globals& g) {
  return Admin::NewBuilder()
      .Endpoint(g.addr)
      .RequestTimeout(g.timeout_ms)
      .BrokerGroup(g.broker_group)
      .Build();
}

void PrintMessage(const ReceivedMessage& m, bool json) {
  if (json) {
    nlohmann::json j;
    j["id"] = m.message_id();
    j["topic"] = m.topic();
    j["queue"] = m.queue_id();
    j["offset"] = m.queue_offset();
    j["log_offset"] = m.log_offset();
    j["tag"] = m.tag();
    j["keys"] = m.keys();
    j["properties"] = m.properties();
    if (!m.message_group().empty()) j["message_group"] = m.message_group();
    if (!m.broker_group().empty()) j["broker_group"] = m.broker_group();
    j["attempt"] = m.delivery_attempt();
    j["born_ms"] = m.born_ms();
    j["store_ms"] = m.store_ms();
    j["body"] = m.body();
    PrintJsonLine(j);
    return;
  }
  std::cout << "id=" << m.message_id() << " topic=" << m.topic();
  if (!m.broker_group().empty()) std::cout << " broker_group=" << m.broker_group();
  std::cout << " queue=" << m.queue_id() << " offset=" << m.queue_offset()
            << " log_offset=" << m.log_offset();
  if (!m.tag().empty()) std::cout << " tag=" << m.tag();
  if (!m.keys().empty()) std::cout << " keys=" << Join(m.keys(), ",");
  if (!m.message_group().empty()) std::cout << " group=" << m.message_group();
  if (m.delivery_attempt() > 0) std::cout << " attempt=" << m.delivery_attempt();
  std::cout << " stored=" << FormatTime(m.store_ms()) << "\n";
  for (const auto& [k, v] : m.properties()) {
    std::cout << "  property " << k << "=" << Printable(v, 256) << "\n";
  }
  std::cout << "  body (" << m.body().size() << " bytes): " << Printable(m.body()) << "\n";
}

void PrintJson(const nlohmann::json& j) {
  std::cout << j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void PrintJsonLine(const nlohmann::json& j) {
  std::cout << j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

}  // namespace tidemq::tools
