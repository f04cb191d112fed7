// The `tidemq` command groups, one file each. Each Add*Commands registers its subcommands on
// `app` in the order `tidemq --help` lists them; the one the command line chooses sets
// `action` (tools/cli/common.h). `g` and `action` must outlive the parse and the run.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/cli/common.h"

namespace tidemq::tools {

// topic create, extend, route, list, describe, delete (topic.cc)
void AddTopicCommands(CLI::App& app, const Globals& g, Action& action);
// send, consume, query (messages.cc)
void AddMessageCommands(CLI::App& app, const Globals& g, Action& action);
// group create, list, status, reset-offset, delete (group.cc)
void AddGroupCommands(CLI::App& app, const Globals& g, Action& action);
// stats (broker.cc)
void AddBrokerCommands(CLI::App& app, const Globals& g, Action& action);
// cluster status, add-group, drain, remove-group (cluster.cc)
void AddClusterCommands(CLI::App& app, const Globals& g, Action& action);
// cancel, timer stats, timer show (timer.cc)
void AddTimerCommands(CLI::App& app, const Globals& g, Action& action);
// txn list, show, commit, rollback, stats (txn.cc)
void AddTxnCommands(CLI::App& app, const Globals& g, Action& action);
// dlq list, show, redrive, purge (dlq.cc)
void AddDlqCommands(CLI::App& app, const Globals& g, Action& action);
// trace (trace.cc)
void AddTraceCommands(CLI::App& app, const Globals& g, Action& action);

}  // namespace tidemq::tools
