// The broker's command line: flags and the optional config file (same names as the flags,
// `name = value` lines) into a BrokerConfig. See docs/configuration.md. Threads: main(),
// before the broker starts.
#pragma once

#include <string>

#include "broker/core/config.h"

namespace tidemq::broker {

// Parses argv (flags and --config FILE). On --help or a bad flag, returns a Status whose
// message is the text to print; exit_code says how to exit (0 for --help).
struct ParsedConfig {
  BrokerConfig config;
  bool exit_now = false;
  int exit_code = 0;
  std::string message;
};
ParsedConfig ParseBrokerFlags(int argc, char** argv);

}  // namespace tidemq::broker
