// A blocking, frame-level test client: sends requests and reads responses byte for byte, so
// broker tests can also send what no real client would (bad frames, wrong payloads).
#pragma once

#include <utility>
#include <boost/asio.hpp>

#include <sys/socket.h>
#include <cerrno>
#include <sys/time.h>

#include <string>
#include <vector>

#include "proto/frame.h"

namespace tidemq::testing {

class WireClient {
 public:
  explicit WireClient(uint16_t port) : socket_(io_) {
    socket_.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    socket_.set_option(boost::asio::ip::tcp::no_delay(true));
  }

  // Reads and writes give up after ms (Call then answers UNAVAILABLE): for peers that may hang.
  // (Asio's blocking reads poll again on a timeout: reads use recv(2) on the socket.)
  void SetTimeout(int64_t ms) {
    timeval tv{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>(ms % 1000 * 1000)};
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(socket_.native_handle(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  }

  void SendRaw(std::string_view bytes) { boost::asio::write(socket_, boost::asio::buffer(bytes)); }

  uint64_t Send(wire::Header h, const std::vector<std::string_view>& bodies = {}) {
    h.set_request_id(++next_id_);
    std::string out;
    wire::EncodeFrame(h, bodies, &out);
    SendRaw(out);
    return next_id_;
  }

  // Reads one frame; false when the broker closed the connection (or timed out).
  bool Read(wire::Frame* frame) {
    char prefix[wire::kPrefixSize];
    if (!ReadFully(prefix, sizeof(prefix))) return false;
    wire::FramePrefix p;
    if (!wire::ParsePrefix(std::string_view(prefix, sizeof(prefix)), wire::kDefaultMaxFrameBytes,
                           &p).ok()) {
      return false;
    }
    std::string rest(p.remaining(), '\0');
    if (!ReadFully(rest.data(), rest.size())) return false;
    return wire::ParseRest(p, rest, frame).ok();
  }

  // Sends and waits for the response.
  wire::Frame Call(wire::Header h, const std::vector<std::string_view>& bodies = {}) {
    uint64_t id = Send(std::move(h), bodies);
    wire::Frame f;
    while (Read(&f)) {
      if (f.header.is_response() && f.header.request_id() == id) return f;
    }
    wire::Frame closed;
    closed.header.set_code(wire::UNAVAILABLE);
    closed.header.set_error_message("connection closed");
    return closed;
  }

 private:
  bool ReadFully(char* dst, size_t n) {
    size_t got = 0;
    while (got < n) {
      const ssize_t r = ::recv(socket_.native_handle(), dst + got, n - got, 0);
      if (r > 0) {
        got += static_cast<size_t>(r);
      } else if (r < 0 && errno == EINTR) {
        continue;
      } else {
        return false;  // closed, timed out, or failed
      }
    }
    return true;
  }

  boost::asio::io_context io_;
  boost::asio::ip::tcp::socket socket_;
  uint64_t next_id_ = 0;
};

}  // namespace tidemq::testing
