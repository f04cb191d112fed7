// The summary of a tidemq-peer-bench run: reads the RESULT lines that `tidemq-peer-bench run`
// and `fsync-loop` printed (any other line is skipped) and prints
//   - one MEDIAN line per (shape, system, config): the medians over the rounds, and
//   - a Markdown table: per load shape and durability class, TideMQ's figure, the best peer of
//     the same durability, TideMQ's ratio to it (> 1: TideMQ ahead) and the other peers.
#pragma once

#include <string>

namespace tidemq::bench::peers {

// Returns a process exit code: 0, or 1 when the file cannot be read.
int PrintResultsTable(const std::string& results_path);

}  // namespace tidemq::bench::peers
