// tidemq-broker: runs the broker until SIGTERM or SIGINT.
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "broker/broker.h"
#include "broker/flags.h"
#include "common/logging.h"
#include "console/console.h"
#include "rocketmq/endpoint.h"

using tidemq::broker::Broker;

namespace {

// Every connection and every store file is a descriptor, and the usual soft limit (1024) is
// far below what a broker with many queues and clients needs, while the hard limit is
// usually generous: raise the soft limit to the hard one, and say what is in force.
void RaiseOpenFileLimit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
    spdlog::warn("cannot read the open-file limit: {}", std::strerror(errno));
    return;
  }
  rlim_t target = rl.rlim_max;
  if (target == RLIM_INFINITY) {
    // The kernel refuses an infinite RLIMIT_NOFILE: its ceiling is fs.nr_open.
    long nr_open = 0;
    std::ifstream("/proc/sys/fs/nr_open") >> nr_open;
    target = nr_open > 0 ? static_cast<rlim_t>(nr_open) : rlim_t{1} << 20;
  }
  const rlim_t before = rl.rlim_cur;
  if (before != RLIM_INFINITY && before < target) {
    rl.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &rl) == 0) {
      spdlog::info("open-file limit raised from {} to {} (the hard limit)", before, target);
      return;
    }
    spdlog::warn("cannot raise the open-file limit from {} to {}: {}", before, target,
                 std::strerror(errno));
    return;
  }
  spdlog::info("open-file limit {} (hard limit {})", before, rl.rlim_max);
}

}  // namespace

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
  RaiseOpenFileLimit();
  // A replica whose log diverged from its master's restarts itself to truncate it: the same
  // process (same PID), run again from its start with the same arguments.
  static std::atomic<bool> restart{false};
  auto broker = Broker::Start(config, nullptr, [](const std::string& why) {
    spdlog::warn("restarting: {}", why);
    restart = true;
    kill(getpid(), SIGTERM);  // the signal thread stops the broker
  });
  if (!broker.ok()) {
    spdlog::error("cannot start: {}", broker.status().ToString());
    return 1;
  }
  // The RocketMQ 5 front end over the same core (the composition root wires the front ends;
  // they never reach each other).
  std::unique_ptr<tidemq::rocketmq::Endpoint> grpc;
  if (config.grpc_port != 0) {
    tidemq::rocketmq::EndpointOptions eo;
    eo.host = config.host;
    eo.port = config.grpc_port;
    eo.max_body_bytes = static_cast<int32_t>(config.max_message_bytes);
    eo.max_request_bytes = static_cast<int32_t>(config.max_frame_bytes);
    auto started = tidemq::rocketmq::Endpoint::Start((*broker)->core(), eo);
    if (!started.ok()) {
      spdlog::error("cannot start: {}", started.status().ToString());
      (*broker)->Stop();
      return 1;
    }
    grpc = std::move(*started);
  }
  // The HTTP front end: console, JSON admin API, /metrics.
  std::unique_ptr<tidemq::console::Console> console;
  if (config.http_port != 0) {
    tidemq::console::ConsoleOptions co;
    co.host = config.host;
    co.port = config.http_port;
    co.data_dir = config.data_dir;
    co.admin_token = config.console_token;
    co.read_token = config.console_read_token;
    auto started = tidemq::console::Console::Start((*broker)->core(), co);
    if (!started.ok()) {
      spdlog::error("cannot start: {}", started.status().ToString());
      if (grpc) grpc->Stop();
      (*broker)->Stop();
      return 1;
    }
    console = std::move(*started);
    if (!console->new_admin_token().empty()) {
      spdlog::info("console admin token (new; kept in {}): {}", console->token_file(),
                   console->new_admin_token());
    }
    spdlog::info("console on {} (tokens in {}), Prometheus metrics on {}metrics", console->url(),
                 console->token_file(), console->url());
  }
  if (!config.pid_file.empty()) std::ofstream(config.pid_file) << getpid() << "\n";
  if (grpc) {
    spdlog::info("TideMQ broker ready on {}, RocketMQ 5 clients on {} (pid {})",
                 (*broker)->address(), grpc->address(), getpid());
  } else {
    spdlog::info("TideMQ broker ready on {} (pid {})", (*broker)->address(), getpid());
  }

  std::thread signals([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    spdlog::info("received {}, shutting down", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    if (console) console->Stop();  // its handlers use the core: before the broker closes it
    if (grpc) grpc->Stop();
    (*broker)->Stop();
  });
  (*broker)->Wait();
  if (signals.joinable()) {
    // Stopped by the signal thread: it has returned already or is about to.
    signals.join();
  }
  if (restart) {
    spdlog::info("restarting the broker (same pid {})", getpid());
    spdlog::shutdown();
    execv("/proc/self/exe", argv);
    std::fprintf(stderr, "error: cannot restart: %s\n", std::strerror(errno));
    return 1;
  }
  if (!config.pid_file.empty()) unlink(config.pid_file.c_str());
  return 0;
}
