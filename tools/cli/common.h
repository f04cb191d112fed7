// What the `tidemq` command groups share: the global options, exit codes, error reporting,
// times, bodies, JSON output and the connection to the broker.
//
// A command group (topic.cc, group.cc, ...) registers its subcommands with one
// Add*Commands(app, globals, action) (tools/cli/commands.h). A subcommand's callback only
// stores what to run in `action`; main() runs it once the whole command line parsed, so a
// usage error never half-runs a command. Everything here runs on the main thread; only the
// interrupt flag is set from a signal handler.
#pragma once

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tidemq/tidemq.h"

namespace tidemq::tools {

inline constexpr int kExitOk = 0;
inline constexpr int kExitError = 1;        // the broker (or the client) refused the request
inline constexpr int kExitUsage = 2;        // bad command line
inline constexpr int kExitUnreachable = 3;  // the broker cannot be reached

// The options before the command: where the broker is and how long a request may take.
struct Globals {
  std::string addr;  // HOST:PORT, or a broker group's HOST:PORT,HOST:PORT,...
  int64_t timeout_ms = 5000;
  std::string broker_group;  // cluster: per-group commands ask this group only ("": all)
};

// The command the command line chose; returns the exit code.
using Action = std::function<int()>;

// Makes `run` what main() runs when `sub` is the command chosen.
void OnChosen(CLI::App* sub, Action& action, Action run);

// The --json flag every command that prints a result takes.
void AddJsonFlag(CLI::App* sub, bool& json, const std::string& help = "JSON output");

// $TIDEMQ_ADDR, else 127.0.0.1:9810.
std::string DefaultAddr();

// Ctrl-C (or SIGTERM) asks a running send or consume to stop; a second one ends the process.
// SIGPIPE is ignored, so a closed pipe is a write error rather than a silent death.
void InstallSignalHandlers();
bool Interrupted();

// The exit code for a failed request: kExitUnreachable when the broker cannot be reached.
int ExitCodeOf(const Status& st);
// Prints "error: MESSAGE" to stderr; returns ExitCodeOf(st).
int Fail(const Status& st);
// Prints "error: MESSAGE (see --help)" to stderr; returns kExitUsage.
int Usage(const std::string& message);

int64_t NowMs();
// "YYYY-MM-DD HH:MM:SS.mmm" in local time; "-" for 0 (not set).
std::string FormatTime(int64_t ms);
// "-10m" (relative to now_ms), "now", "2024-05-01", "2024-05-01 13:45[:30]" (local time) or
// milliseconds since the epoch; anything else is InvalidArgument naming the forms.
Result<int64_t> ParseTime(const std::string& text, int64_t now_ms);

// Bodies are bytes: text as text, the rest escaped, at most `limit` bytes shown.
std::string Printable(const std::string& body, size_t limit = 2048);
// Valid UTF-8 without control characters other than newline, tab and carriage return.
bool IsText(const std::string& s);
// 16 bytes a line: offset, hex, ASCII.
std::string HexDump(const std::string& s);
std::string Join(const std::vector<std::string>& v, const char* sep);

// An Admin for --addr (following the master of a broker group; in a cluster, every group,
// or --broker-group only).
Result<Admin> ConnectAdmin(const Globals& g);

// A received message as consume and query print it: several lines of text, or one JSON
// object on one line.
void PrintMessage(const ReceivedMessage& m, bool json);

// A JSON document, indented, on stdout. Bytes that are not UTF-8 become U+FFFD.
void PrintJson(const nlohmann::json& j);
// One JSON object on one line, for commands that print a stream (send, consume, query).
void PrintJsonLine(const nlohmann::json& j);

}  // namespace tidemq::tools
