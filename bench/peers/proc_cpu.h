// The CPU time servers spend, from /proc: user + system time of some root processes (with
// their reaped children) and of every process descended from them. Linux only.
//
// Thread safety: Micros() may be called from any thread; the object is immutable.
#pragma once

#include <cstdint>
#include <vector>

namespace tidemq::bench::peers {

class ProcessCpu {
 public:
  explicit ProcessCpu(std::vector<int> roots) : roots_(std::move(roots)) {}

  bool empty() const { return roots_.empty(); }
  // Microseconds of CPU used so far (clock-tick resolution: 10 ms at the usual 100 Hz). A
  // root that is gone counts as 0.
  int64_t Micros() const;

 private:
  std::vector<int> roots_;
};

}  // namespace tidemq::bench::peers
