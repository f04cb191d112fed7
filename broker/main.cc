// tidemq-broker: runs the broker until SIGTERM or SIGINT.
#include <signal.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <thread>

#include "broker/broker.h"
#include "broker/config.h"
#include "common/logging.h"

using tidemq::broker::Broker;

int main(int argc, char** argv) {
  auto parsed = tidemq::broker::ParseBrokerFlags(argc, argv);
  if (parsed.exit_now) {
    std::fputs(parsed.message.c_str(), parsed.exit_code == 0 ? stdout : stderr);
    return parsed.exit_code;
  }
  const auto& config = parsed.config;
  if (auto st = tidemq::InitLogging(config.log_level, config.log_file); !st.ok()) {
    std::fprintf(stderr, "error: %s\n", st.message().c_str());
    return 2;
  }

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  spdlog::info("starting TideMQ broker: data in {}, flush policy {}", config.data_dir,
               tidemq::broker::FlushPolicyName(config.flush_policy));
  auto broker = Broker::Start(config);
  if (!broker.ok()) {
    spdlog::error("cannot start: {}", broker.status().ToString());
    return 1;
  }
  if (!config.pid_file.empty()) std::ofstream(config.pid_file) << getpid() << "\n";
  spdlog::info("TideMQ broker ready on {} (pid {})", (*broker)->address(), getpid());

  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    (*broker)->Stop();
  });
  (*broker)->Wait();
  if (signals.joinable()) {
    // Stopped by the signal thread: it has returned already or is about to.
    signals.join();
  }
  if (!config.pid_file.empty()) unlink(config.pid_file.c_str());
  return 0;
}
