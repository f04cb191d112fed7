// A loopback TCP port nobody listens on right now (the kernel's pick for port 0): for tests
// that start servers (brokers, etcd) on loopback. 0 when none could be had.
//
// The port is free only until someone binds it, and the kernel may pick the same one again
// once it is released: a test that asks for several ports before its servers bind them (a
// cluster's brokers, started one after another) would get duplicates. So a port is never
// handed out twice in one process.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <mutex>
#include <set>

namespace tidemq::testing {

inline uint16_t FreeLoopbackPort() {
  static std::mutex mu;
  static std::set<uint16_t> handed_out;
  for (int attempt = 0; attempt < 64; ++attempt) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    socklen_t len = sizeof(addr);
    uint16_t port = 0;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    close(fd);
    if (port == 0) return 0;
    std::lock_guard lock(mu);
    if (handed_out.insert(port).second) return port;
  }
  return 0;
}

}  // namespace tidemq::testing
