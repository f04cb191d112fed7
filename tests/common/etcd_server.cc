#include "tests/common/etcd_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "cluster/etcd_client.h"

extern char** environ;

namespace tidemq::testing {

namespace fs = std::filesystem;

namespace {

std::string FindEtcd() {
  if (const char* env = std::getenv("TIDEMQ_ETCD_BIN"); env != nullptr && *env != '\0') {
    return access(env, X_OK) == 0 ? env : "";
  }
  for (const char* p : {"/usr/bin/etcd", "/usr/local/bin/etcd", "/usr/sbin/etcd"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

}  // namespace

EtcdServer::EtcdServer() {
  std::string tmpl = (fs::temp_directory_path() / "tidemq-etcd-XXXXXX").string();
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (mkdtemp(buf.data()) != nullptr) dir_ = buf.data();
  data_dir_ = dir_ + "/data";
  log_path_ = dir_ + "/etcd.log";
  client_port_ = FreeLoopbackPort();
  peer_port_ = FreeLoopbackPort();
  while (peer_port_ == client_port_) peer_port_ = FreeLoopbackPort();
}

EtcdServer::~EtcdServer() {
  if (pid_ > 0) {
    kill(pid_, SIGCONT);
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  std::error_code ec;
  if (!dir_.empty()) fs::remove_all(dir_, ec);
}

std::string EtcdServer::endpoint() const { return "127.0.0.1:" + std::to_string(client_port_); }

std::string EtcdServer::Log() const {
  std::ifstream in(log_path_);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::string s = ss.str();
  return s.size() > 4000 ? s.substr(s.size() - 4000) : s;
}

Status EtcdServer::Start() {
  if (pid_ > 0) return Status::Ok();
  std::string bin = FindEtcd();
  if (bin.empty()) {
    return Status(Code::kUnavailable,
                  "the etcd binary is missing: run scripts/install-deps.sh (Debian etcd-server) "
                  "or set TIDEMQ_ETCD_BIN");
  }
  if (dir_.empty()) return IOError("cannot create a temporary directory for etcd");
  std::string client = "http://127.0.0.1:" + std::to_string(client_port_);
  std::string peer = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> args = {bin,
                                   "--name=tidemq-test",
                                   "--data-dir=" + data_dir_,
                                   "--listen-client-urls=" + client,
                                   "--advertise-client-urls=" + client,
                                   "--listen-peer-urls=" + peer,
                                   "--initial-advertise-peer-urls=" + peer,
                                   "--initial-cluster=tidemq-test=" + peer,
                                   "--initial-cluster-state=new",
                                   "--heartbeat-interval=10",
                                   "--election-timeout=100",
                                   "--logger=zap",
                                   "--log-outputs=stderr",
                                   "--log-level=warn"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return IOError("cannot spawn " + bin + ": " + std::strerror(rc));
  pid_ = pid;
  return WaitUntilAnswering();
}

Status EtcdServer::WaitUntilAnswering() {
  cluster::EtcdClient client(cluster::EtcdClientOptions{{endpoint()}, 500, 500});
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Status last;
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return Status(Code::kUnavailable, "etcd exited at start: " + Log());
    }
    auto r = client.Get("tidemq-test-health");
    if (r.ok()) return Status::Ok();
    last = r.status();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return Status(Code::kTimeout,
                "etcd did not answer within 30 s: " + last.ToString() + "\n" + Log());
}

Status EtcdServer::Stop() {
  if (pid_ <= 0) return Status::Ok();
  kill(pid_, SIGCONT);
  kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      pid_ = -1;
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
  return Status::Ok();
}

Status EtcdServer::Restart() {
  RETURN_IF_ERROR(Stop());
  return Start();
}

Status EtcdServer::Pause() {
  if (pid_ <= 0 || kill(pid_, SIGSTOP) != 0) return Internal("etcd is not running");
  return Status::Ok();
}

Status EtcdServer::Resume() {
  if (pid_ <= 0 || kill(pid_, SIGCONT) != 0) return Internal("etcd is not running");
  return Status::Ok();
}

}  // namespace tidemq::testing
