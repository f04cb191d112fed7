// tidemq-cluster-loss-bench: how long a cluster's producers take to be back at full rate after
// a whole broker group dies (issue 16; docs/benchmarks.md "A cluster of broker groups").
//
// Keeps `--inflight` sends outstanding (one Producer, async) against the cluster for
// `--seconds`, counting acknowledgements per 100 ms bucket. At `--kill-at-s` it sends SIGKILL to
// every PID in `--kill-pids` (all brokers of one group). It prints the rate before the kill, the
// steady rate after it (the median bucket from kill + 3 s to the end), the time to the first
// acknowledgement after the kill, the time until a bucket first reaches 80 % of the steady rate
// after the kill, and the sends that failed.
//
//   tidemq-cluster-loss-bench --addr 127.0.0.1:9810 --topic loss --seconds 12 --kill-at-s 4 \
//       --kill-pids "$(cat cluster-data/b4.pid)"
#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tidemq/tidemq.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kBucketMs = 100;

int64_t MsSince(Clock::time_point t0) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Producers' rate around the loss of a whole broker group"};
  std::string addr = "127.0.0.1:9810", topic = "loss", kill_pids;
  int seconds = 12, inflight = 64, size = 256;
  double kill_at_s = 4;
  app.add_option("--addr", addr, "Any broker address of the cluster")->capture_default_str();
  app.add_option("--topic", topic, "Topic (must exist, with queues on several groups)")
      ->capture_default_str();
  app.add_option("--seconds", seconds, "How long to send")->capture_default_str();
  app.add_option("--inflight", inflight, "Outstanding sends")->capture_default_str();
  app.add_option("--size", size, "Body bytes")->capture_default_str();
  app.add_option("--kill-at-s", kill_at_s, "When to kill the group")->capture_default_str();
  app.add_option("--kill-pids", kill_pids, "PIDs to SIGKILL (space or comma separated)")
      ->required();
  CLI11_PARSE(app, argc, argv);

  auto producer = tidemq::Producer::NewBuilder().Endpoint(addr).RequestTimeout(2000).Build();
  if (!producer.ok()) {
    std::fprintf(stderr, "error: %s\n", producer.status().ToString().c_str());
    return 1;
  }
  const std::string body(static_cast<size_t>(size), 'x');
  const int64_t total_ms = seconds * 1000;
  const int64_t kill_ms = static_cast<int64_t>(kill_at_s * 1000);
  std::vector<std::atomic<int64_t>> buckets(static_cast<size_t>(total_ms / kBucketMs + 2));
  std::atomic<int64_t> failed{0}, first_ack_after_kill{-1};
  std::atomic<bool> killed{false};
  std::mutex mu;
  std::condition_variable cv;
  int outstanding = 0;
  const Clock::time_point t0 = Clock::now();

  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(kill_ms));
    std::stringstream ss(kill_pids);
    std::string pid;
    while (std::getline(ss, pid, ' ')) {
      std::stringstream inner(pid);
      std::string one;
      while (std::getline(inner, one, ',')) {
        if (!one.empty()) ::kill(static_cast<pid_t>(std::stol(one)), SIGKILL);
      }
    }
    killed = true;
  });

  while (MsSince(t0) < total_ms) {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return outstanding < inflight; });
      ++outstanding;
    }
    auto msg = tidemq::Message::NewBuilder().Topic(topic).Body(body).Build();
    producer->SendAsync(std::move(*msg), [&](tidemq::Result<tidemq::SendReceipt> r) {
      const int64_t at = MsSince(t0);
      if (r.ok()) {
        const size_t b = static_cast<size_t>(std::min<int64_t>(at / kBucketMs, buckets.size() - 1));
        buckets[b].fetch_add(1, std::memory_order_relaxed);
        if (killed.load() && at >= kill_ms) {
          int64_t expected = -1;
          first_ack_after_kill.compare_exchange_strong(expected, at - kill_ms);
        }
      } else {
        failed.fetch_add(1);
      }
      {
        std::lock_guard lock(mu);
        --outstanding;
      }
      cv.notify_one();
    });
  }
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outstanding == 0; });
  }
  killer.join();

  auto rate = [&](size_t b) { return buckets[b].load() * (1000.0 / kBucketMs); };
  std::vector<double> before, after;
  const size_t kill_bucket = static_cast<size_t>(kill_ms / kBucketMs);
  for (size_t b = 10; b < kill_bucket; ++b) before.push_back(rate(b));  // after a 1 s warm-up
  const size_t steady_from = kill_bucket + 30;
  const size_t last = static_cast<size_t>(total_ms / kBucketMs);
  for (size_t b = steady_from; b < last; ++b) after.push_back(rate(b));
  const double steady = Median(after);
  int64_t back_ms = -1;
  for (size_t b = kill_bucket + 1; b < last; ++b) {
    if (rate(b) >= 0.8 * steady) {
      back_ms = static_cast<int64_t>(b * kBucketMs) - kill_ms;
      break;
    }
  }
  std::printf("before kill: %.0f msg/s (median of 100 ms buckets)\n", Median(before));
  std::printf("after kill:  %.0f msg/s steady (from kill + 3 s)\n", steady);
  std::printf("first ack after kill: %lld ms; back at >= 80%% of the steady rate: %lld ms\n",
              static_cast<long long>(first_ack_after_kill.load()),
              static_cast<long long>(back_ms));
  std::printf("failed sends: %lld\n", static_cast<long long>(failed.load()));
  std::printf("rate per 100 ms around the kill (msg/s):");
  for (size_t b = kill_bucket >= 5 ? kill_bucket - 5 : 0; b < std::min(last, kill_bucket + 25); ++b) {
    std::printf(" %.0f", rate(b));
  }
  std::printf("\n");
  return 0;
}
