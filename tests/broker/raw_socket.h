// A raw loopback TCP client for hostile-client tests: sends arbitrary bytes, can shrink its
// receive buffer (a client that never reads), close with a reset, and tell (boundedly) whether
// the broker closed the connection. Used by broker tests and process-level tests alike.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/coding.h"
#include "proto/frame.h"

namespace tidemq::testing {

class RawSocket {
 public:
  // rcvbuf > 0: the receive buffer asked for before connecting (small: replies pile up on the
  // broker's side, not in this socket).
  explicit RawSocket(uint16_t port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      close(fd_);
      fd_ = -1;
      return;
    }
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~RawSocket() {
    if (fd_ >= 0) close(fd_);
  }
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool ok() const { return fd_ >= 0; }

  // Writes all of `bytes`; false when the connection is gone.
  bool Write(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Closes with a reset (SO_LINGER 0) instead of an orderly FIN.
  void Reset() {
    linger l{1, 0};
    setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    close(fd_);
    fd_ = -1;
  }

  // Waits (at most timeout_ms) for the broker to close the connection, discarding whatever
  // it sends first. True once the connection is closed by the other side.
  bool WaitClosed(int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (true) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return false;
      pollfd p{fd_, POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(left));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n == 0) return true;
      if (n < 0 && errno != EINTR && errno != EAGAIN) return true;  // reset
    }
  }

  // The 12-byte prefix of a frame announcing frame_length bytes after the length field.
  static std::string Prefix(uint32_t frame_length, uint32_t header_length) {
    std::string p(wire::kPrefixSize, '\0');
    EncodeFixed32(p.data(), frame_length);
    uint16_t magic = wire::kFrameMagic;
    p[4] = static_cast<char>(magic & 0xff);
    p[5] = static_cast<char>(magic >> 8);
    p[6] = static_cast<char>(wire::kFrameVersion);
    EncodeFixed32(p.data() + 8, header_length);
    return p;
  }

 private:
  int fd_ = -1;
};

}  // namespace tidemq::testing
