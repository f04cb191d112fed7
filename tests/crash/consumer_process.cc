// tidemq-test-consumer: a PushConsumer in its own process, for tests that kill consumers.
// Writes one line per event to stdout, flushed at once (so a SIGKILL loses nothing written):
//   RECV <message id> <attempt> <steady clock ns> <queue id> <body>   the listener was called
//   DONE <message id> <steady clock ns>                                 about to return success
// The steady clock is system-wide (CLOCK_MONOTONIC), so lines of several processes on one
// machine can be put in one order. SIGTERM shuts the consumer down gracefully.
//
// Usage: tidemq-test-consumer ENDPOINT GROUP TOPIC HOLD_MS LEASE_MS
//   HOLD_MS   how long the listener takes per message
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "tidemq/tidemq.h"

namespace {

std::atomic<bool> g_stop{false};
std::mutex g_out_mu;

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: %s ENDPOINT GROUP TOPIC HOLD_MS LEASE_MS\n", argv[0]);
    return 2;
  }
  const std::string endpoint = argv[1], group = argv[2], topic = argv[3];
  const int64_t hold_ms = std::stoll(argv[4]);
  const int64_t lease_ms = std::stoll(argv[5]);
  signal(SIGTERM, [](int) { g_stop = true; });

  auto consumer =
      tidemq::PushConsumer::NewBuilder()
          .Endpoint(endpoint)
          .Group(group)
          .Topic(topic)
          .LeaseDuration(lease_ms)
          .AwaitDuration(1000)
          .ConsumerThreads(4)
          .MaxInflight(16)
          .Listener([hold_ms](const tidemq::ReceivedMessage& m) {
            {
              std::lock_guard lock(g_out_mu);
              std::printf("RECV %s %u %lld %d %s\n", m.message_id().c_str(), m.delivery_attempt(),
                          static_cast<long long>(SteadyNs()), m.queue_id(), m.body().c_str());
              std::fflush(stdout);
            }
            if (hold_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(hold_ms));
            {
              std::lock_guard lock(g_out_mu);
              std::printf("DONE %s %lld\n", m.message_id().c_str(),
                          static_cast<long long>(SteadyNs()));
              std::fflush(stdout);
            }
            return tidemq::ConsumeResult::kSuccess;
          })
          .Build();
  if (!consumer.ok()) {
    std::fprintf(stderr, "consumer: %s\n", consumer.status().ToString().c_str());
    return 1;
  }
  if (auto st = consumer->Start(); !st.ok()) {
    std::fprintf(stderr, "start: %s\n", st.ToString().c_str());
    return 1;
  }
  std::fprintf(stderr, "consumer started\n");
  while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  consumer->Shutdown();
  std::fprintf(stderr, "consumer stopped\n");
  return 0;
}
