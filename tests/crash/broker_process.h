// A real `tidemq-broker` process for crash and CLI tests: spawned on a loopback port over a
// temporary directory, killed with SIGKILL and restarted on the same data directory.
//
// The test owns the child: it is killed (by its PID) and reaped in the destructor if still
// running, and the temporary directory is removed. Not thread-safe; one controlling thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/common/free_port.h"
#include "tidemq/tidemq.h"

extern char** environ;

namespace tidemq::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs argv[0] with the given arguments, stdout and stderr sent to the named files; returns the
// child's PID or -1.
inline pid_t Spawn(const std::vector<std::string>& args, const std::string& out_path,
                   const std::string& err_path) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_path.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

class BrokerProcess {
 public:
  // Creates the temporary directory and picks the port; does not start the broker.
  BrokerProcess() {
    char tmpl[] = "/tmp/tidemq-crash-XXXXXX";
    const char* root = mkdtemp(tmpl);
    root_ = root ? root : "";
    port_ = FreeLoopbackPort();
  }
  ~BrokerProcess() {
    Kill();
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }
  BrokerProcess(const BrokerProcess&) = delete;
  BrokerProcess& operator=(const BrokerProcess&) = delete;

  bool usable() const { return !root_.empty() && port_ != 0; }
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string data_dir() const { return root_ + "/data"; }
  std::string root() const { return root_; }
  std::string log_path() const { return root_ + "/broker.log"; }
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }

  // Spawns the broker and waits (bounded) until Admin::Stats answers. On failure the broker's
  // log is in the returned Status's message.
  // extra_args: more broker flags (e.g. shorter transaction check-backs).
  // launcher: a command that execs its arguments (the broker command line), e.g. a shell
  // setting a resource limit first: {"/bin/sh", "-c", "ulimit -n 64 && exec \"$@\"", "sh"}.
  Status Start(const std::vector<std::string>& extra_args = {},
               const std::vector<std::string>& launcher = {}) {
    if (running()) return Status(Code::kFailedPrecondition, "broker already running");
    std::vector<std::string> args = launcher;
    for (std::string a : {std::string(TIDEMQ_BROKER_BIN), std::string("--host"),
                          std::string("127.0.0.1"), std::string("--port"), std::to_string(port_),
                          std::string("--data-dir"), data_dir(), std::string("--flush-policy"),
                          std::string("sync"), std::string("--segment-mb"), std::string("1"),
                          std::string("--log-level"), std::string("warn"),
                          std::string("--grpc-port"), std::string("0"),
                          std::string("--http-port"), std::string("0")}) {
      args.push_back(std::move(a));
    }
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    pid_ = Spawn(args, log_path(), log_path());
    if (pid_ < 0) return Status(Code::kInternal, "posix_spawn of tidemq-broker failed");
    // Recovery of a few MB is quick; the bound only keeps a broken broker from hanging the test.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      int wstatus = 0;
      if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
        pid_ = -1;
        return Status(Code::kInternal,
                      "tidemq-broker exited during start-up; log:\n" + ReadFile(log_path()));
      }
      auto admin = Admin::NewBuilder().Endpoint(address()).RequestTimeout(1000).Build();
      if (admin.ok() && admin->Stats().ok()) return Status::Ok();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval
    }
    return Status(Code::kTimeout,
                  "tidemq-broker did not answer Stats; log:\n" + ReadFile(log_path()));
  }

  // SIGTERM (a clean stop: the broker persists consumer offsets and closes the store) and
  // reap. Returns true when the broker exited with status 0.
  bool Stop() {
    int wstatus = 0;
    if (!SignalAndReap(SIGTERM, &wstatus)) return false;
    return WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0;
  }

  // SIGKILL and reap. Returns true when the child died of SIGKILL (not of anything else).
  bool Kill() {
    int wstatus = 0;
    if (!SignalAndReap(SIGKILL, &wstatus)) return false;
    return WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL;
  }

 private:
  // Sends `sig` to the running broker and waits for it; false when none ran or none was reaped.
  bool SignalAndReap(int sig, int* wstatus) {
    if (!running()) return false;
    kill(pid_, sig);
    pid_t r;
    do {
      r = waitpid(pid_, wstatus, 0);
    } while (r < 0 && errno == EINTR);
    pid_ = -1;
    return r > 0;
  }

  std::string root_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace tidemq::testing
