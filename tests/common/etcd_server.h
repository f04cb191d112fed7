// A real etcd for tests: Debian's `etcd` binary (etcd-server, installed by
// scripts/install-deps.sh) started on free loopback ports over a temporary data directory.
//
// Start() spawns it and waits until it answers a request; Stop() sends SIGTERM and, after a
// bound, SIGKILL (by its PID); Restart() starts it again on the same data directory and ports
// (the "etcd restarted" case); Pause()/Resume() SIGSTOP/SIGCONT it (a hung etcd). The
// destructor kills it and removes the directory. Raft timing is fast (heartbeat 10 ms, election
// 100 ms), so etcd's minimum lease TTL is 1 s (it is 1.5 x the election timeout, rounded up
// to whole seconds).
//
// Not thread-safe: one controlling thread.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "common/status.h"
#include "tests/common/free_port.h"

namespace tidemq::testing {

class EtcdServer {
 public:
  EtcdServer();
  ~EtcdServer();
  EtcdServer(const EtcdServer&) = delete;
  EtcdServer& operator=(const EtcdServer&) = delete;

  // Fails (kUnavailable) with a message naming scripts/install-deps.sh when the binary is
  // missing; TIDEMQ_ETCD_BIN overrides where it is looked for.
  Status Start();
  Status Stop();
  Status Restart();
  Status Pause();
  Status Resume();

  // "127.0.0.1:PORT" of the client URL (the gRPC gateway is served there too).
  std::string endpoint() const;
  uint16_t client_port() const { return client_port_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  // What etcd printed (for failure messages).
  std::string Log() const;

 private:
  Status WaitUntilAnswering();

  std::string dir_;
  std::string data_dir_;
  std::string log_path_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  pid_t pid_ = -1;
};


}  // namespace tidemq::testing
