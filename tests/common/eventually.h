// Waiting on a condition that other threads or processes make true (replication, elections,
// a broker's background work): polls `cond` until it holds or `limit` passes. The limit only
// keeps a broken build from hanging; no test asserts how long the wait took.
#pragma once

#include <chrono>
#include <thread>

namespace tidemq::testing {

template <typename Cond>
bool Eventually(Cond&& cond, std::chrono::milliseconds limit = std::chrono::seconds(30),
                std::chrono::milliseconds poll = std::chrono::milliseconds(10)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(poll);
  }
  return cond();
}

}  // namespace tidemq::testing
