// Contract of a TideMQ fuzz target: define both functions below. The target runs under
// libFuzzer (-DTIDEMQ_LIBFUZZER=ON, clang) or under tests/fuzz/fuzz_driver.cc, which feeds the
// seeds and TIDEMQ_FUZZ_ITERATIONS deterministic mutations of them (flips, truncations,
// insertions, splices, length-field tweaks) so the suite exercises every decoder on each run.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
// Valid encodings to start from (the driver mutates them).
std::vector<std::string> TidemqFuzzSeeds();
