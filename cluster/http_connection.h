// One HTTP/1.1 keep-alive connection with blocking calls bounded by a deadline: what EtcdClient
// (unary JSON calls) and EtcdWatch (one long streamed answer) talk to etcd's gateway through.
//
// Each call runs a private io_context until the operation completes or the deadline passes
// (then the socket is closed and the call returns kTimeout). Interrupt() is the only method
// another thread may call: it makes the running call (and every later one) return kCancelled
// at once.
//
// Thread safety: one thread uses the connection; Interrupt() from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "common/status.h"

namespace tidemq::cluster {

using Deadline = std::chrono::steady_clock::time_point;

struct HttpResponse {
  int status = 0;
  std::string body;
};

class HttpConnection {
 public:
  HttpConnection();
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  // Connects to "host:port" unless already connected there. kUnavailable when the endpoint
  // refuses or does not resolve, kTimeout past the deadline.
  Status Connect(const std::string& endpoint, Deadline deadline);
  bool connected() const;
  // True when the connection was used for an earlier exchange (a failure on it may just mean
  // the server closed an idle connection).
  bool reused() const { return exchanges_ > 0; }
  void Close();

  // POSTs a JSON body and reads the whole answer (at most max_body bytes).
  Result<HttpResponse> Post(const std::string& path, const std::string& body, Deadline deadline,
                            size_t max_body = 64u << 20);

  // A streamed answer: StartStream sends the request and reads the status line and headers
  // (returns the HTTP status); ReadStream then returns the next piece of the body as it comes
  // ("" at its end), waiting until `deadline` (Deadline::max(): no limit).
  Result<int> StartStream(const std::string& path, const std::string& body, Deadline deadline);
  Result<std::string> ReadStream(Deadline deadline);

  // POSTs and reads a streamed answer up to its first line (a one-message gRPC stream such as
  // a lease keepalive); the connection is closed if the stream goes on after it.
  Result<HttpResponse> PostFirstLine(const std::string& path, const std::string& body,
                                     Deadline deadline, size_t max_line = 1u << 20);
  // True once a streamed answer has been read to its end.
  bool stream_done() const;

  // From any thread: the call in progress and all later ones return kCancelled.
  void Interrupt();

 private:
  // Sends a POST (the deadline then stays set for reading its answer).
  Status SendPost(const std::string& path, const std::string& body, Deadline deadline);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
  int64_t exchanges_ = 0;
};

}  // namespace tidemq::cluster
