// One client connection: reads frames, hands each to the RequestSink, writes replies.
//
// Lifetime: owned by shared_ptrs (the read loop, pending writes and in-flight requests each
// hold one); the socket closes when the last goes. Threads: all socket work runs on the
// connection's strand; Send() and Close() may be called from any thread.
// Back-pressure: when queued reply bytes exceed the configured limit, reading pauses until
// the client drains its replies, so a client that never reads cannot grow broker memory.
// A malformed frame (bad magic, bad length, unparsable header) closes only this connection.
#pragma once

#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio.hpp>

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "proto/frame.h"

namespace tidemq::broker {

class Connection;

class RequestSink {
 public:
  virtual ~RequestSink() = default;
  virtual void OnRequest(const std::shared_ptr<Connection>& conn, wire::Frame frame) = 0;
  virtual void OnClosed(const std::shared_ptr<Connection>& conn) = 0;
};

struct ConnectionOptions {
  uint32_t max_frame_bytes = wire::kDefaultMaxFrameBytes;
  size_t max_write_bytes = 64u << 20;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::ip::tcp::socket socket, RequestSink* sink, ConnectionOptions options,
             uint64_t id);

  void Start();
  // Queues an encoded frame for writing. Thread-safe.
  void Send(std::string frame);
  // Closes the socket (pending writes are dropped). Thread-safe, idempotent.
  void Close();

  uint64_t id() const { return id_; }
  const std::string& remote() const { return remote_; }
  bool closed() const { return closed_.load(); }

 private:
  // Reads what the socket has into read_buf_, then hands every complete frame in it to the
  // sink: one syscall and one strand hop for a burst of pipelined requests.
  void ReadMore();
  void ProcessBuffered();
  void WriteNext();
  void MaybeResumeReading();
  void Fail(const char* what, const std::string& detail);

  boost::asio::ip::tcp::socket socket_;
  boost::asio::strand<boost::asio::any_io_executor> strand_;
  RequestSink* sink_;
  ConnectionOptions options_;
  uint64_t id_;
  std::string remote_;
  std::atomic<bool> closed_{false};

  // All below: strand only.
  std::vector<char> read_buf_;   // unparsed bytes are [read_start_, read_end_)
  size_t read_start_ = 0;
  size_t read_end_ = 0;
  std::deque<std::string> write_queue_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool read_paused_ = false;
};

}  // namespace tidemq::broker
