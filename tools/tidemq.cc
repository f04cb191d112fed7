// tidemq: the TideMQ admin and messaging command line.
//
// Exit codes: 0 ok, 1 the broker (or the client) refused the request, 2 usage error,
// 3 the broker cannot be reached.
//
// The commands live in tools/cli/, one file per command group; this file only builds the
// command line from them and runs the command chosen.
#include <CLI/CLI.hpp>
#include <cstdint>

#include "tools/cli/commands.h"
#include "tools/cli/common.h"

namespace tools = tidemq::tools;

int main(int argc, char** argv) {
  CLI::App app{
      "tidemq: administer a TideMQ broker and send / consume messages.\n"
      "Exit codes: 0 ok, 1 request failed, 2 usage error, 3 broker unreachable."};
  app.require_subcommand(1);
  tools::Globals g;
  g.addr = tools::DefaultAddr();
  app.add_option("--addr", g.addr,
                 "broker address HOST:PORT, or a broker group's addresses\n"
                 "HOST:PORT,HOST:PORT,... (the master is found and followed; env TIDEMQ_ADDR);\n"
                 "in a cluster any broker's address: the client learns every group from it")
      ->capture_default_str();
  app.add_option("--broker-group", g.broker_group,
                 "in a cluster of broker groups: ask only this group where a command asks every\n"
                 "group and merges the answers (lag, messages, traces, DLQ, txn, timers, stats)");
  app.add_option("--timeout", g.timeout_ms, "request timeout in milliseconds")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{3600000}));

  tools::Action action;
  tools::AddTopicCommands(app, g, action);
  tools::AddMessageCommands(app, g, action);
  tools::AddGroupCommands(app, g, action);
  tools::AddBrokerCommands(app, g, action);
  tools::AddClusterCommands(app, g, action);
  tools::AddTimerCommands(app, g, action);
  tools::AddTxnCommands(app, g, action);
  tools::AddDlqCommands(app, g, action);
  tools::AddTraceCommands(app, g, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? tools::kExitOk : tools::kExitUsage;
  }
  tools::InstallSignalHandlers();
  if (!action) return tools::Usage("no command given");
  return action();
}
