// A small HTTP/1.1 server over Boost.Beast: the transport of the console front end (the JSON
// admin API, the web console's pages and /metrics). It knows nothing of the broker: each
// complete request goes to the handler, and the handler answers through its Reply exactly
// once, from any thread.
//
// Threads: one io thread ("tidemq-http") reads and writes; handlers run on a worker
// ("tidemq-http-w"), never on the io thread, so a handler may read the disk (a message
// search, a metrics pass) without stalling other connections. A connection handles one
// request at a time (no pipelining): its next read starts once its reply is written.
//
// Bounds (nothing a client sends can exhaust the broker's memory): at most max_connections
// connections (more are closed at once), request headers of at most 16 KiB, bodies of at
// most max_body_bytes (413 otherwise), a request complete within request_timeout, an idle
// keep-alive connection closed after idle_timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace tidemq::console {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string path;    // target without the query, percent-decoded
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case
  std::string body;
  std::string peer;  // "ip:port"

  // The header's value ("" when absent).
  std::string Header(std::string_view name) const;
  // The query parameter's value, or `fallback`.
  std::string Param(std::string_view name, std::string fallback = "") const;
  bool HasParam(std::string_view name) const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra ones (Set-Cookie, ...)
};

using Reply = std::function<void(HttpResponse)>;
using HttpHandler = std::function<void(HttpRequest, Reply)>;

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: pick a free port
  size_t max_connections = 128;
  size_t max_body_bytes = 1 << 20;
  std::chrono::milliseconds request_timeout{30'000};
  std::chrono::milliseconds idle_timeout{60'000};
};

class HttpServer {
 public:
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options,
                                                   HttpHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  uint16_t port() const;
  // Stops accepting, closes every connection and joins the threads. Idempotent. Replies that
  // come later are dropped.
  void Stop();

 private:
  class Impl;
  explicit HttpServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// "%41b+c" -> "Ab c" (for query values; '+' is a space). Malformed escapes stay as they are.
std::string PercentDecode(std::string_view s, bool plus_is_space);
// A request target as sent ("/api/v1/topics?prefix=a%20b") into req's target, path
// (percent-decoded) and query (decoded, in order). Untrusted bytes: never fails.
void SplitTarget(std::string target, HttpRequest* req);

}  // namespace tidemq::console
