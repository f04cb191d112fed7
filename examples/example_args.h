// Argument handling shared by the examples: [--addr HOST:PORT[,HOST:PORT...]] [TOPIC] [GROUP].
#pragma once

#include <cstdlib>
#include <string>
#include <utility>

namespace tidemq_examples {

struct Args {
  std::string addr = "127.0.0.1:9810";
  std::string topic = "demo";
  std::string group = "demo-group";
};

// `defaults` gives the topic and group used when they are not on the command line.
inline Args ParseArgs(int argc, char** argv, Args defaults = {}) {
  Args a = std::move(defaults);
  if (const char* env = std::getenv("TIDEMQ_ADDR"); env && *env) a.addr = env;
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--addr" && i + 1 < argc) {
      a.addr = argv[++i];
    } else if (positional == 0) {
      a.topic = arg;
      ++positional;
    } else {
      a.group = arg;
    }
  }
  return a;
}

}  // namespace tidemq_examples
