// Logging setup. Modules log through spdlog's default logger; this configures it once per
// process (level, optional file, a pattern with thread names).
#pragma once

#include <string>

#include "common/status.h"

namespace tidemq {

// level: trace|debug|info|warn|error|off. file: empty = stderr only.
Status InitLogging(const std::string& level, const std::string& file);

// Names the calling thread (visible in top -H, gdb and log lines); at most 15 characters.
void SetThreadName(const char* name);

}  // namespace tidemq
