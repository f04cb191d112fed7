// The HTTP front end (shared/DESIGN.md section 7): the web console, its JSON admin API and
// Prometheus' /metrics, served by the broker on one port (default 127.0.0.1:9880). An
// adapter over the broker core like the native and gRPC ones: it never reaches the store,
// the timer, transactions or the cluster itself, and holds no business rule.
//
// Routes (docs/console.md):
//   GET  /                  the console (static assets compiled into the binary)
//   GET  /metrics           Prometheus text format (docs/metrics.md); no token needed
//   GET  /healthz           200 while the broker serves, 503 otherwise
//   POST /api/v1/login      {"token": ...} -> session cookie + CSRF token
//   *    /api/v1/...        the JSON admin API (console/api.h), a token or session required
//
// Every request must name this server in its Host header (a defence against DNS rebinding);
// the console never fetches a URL of its own (no SSRF).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker/core/broker_core.h"
#include "common/status.h"

namespace tidemq::console {

inline constexpr uint16_t kDefaultHttpPort = 9880;

struct ConsoleOptions {
  std::string host = "127.0.0.1";
  uint16_t port = kDefaultHttpPort;  // 0: pick a free port (tests)
  std::string data_dir;              // where console.token lives
  std::string admin_token;           // "": from the token file
  std::string read_token;            // "": from the token file
};

class Console {
 public:
  static Result<std::unique_ptr<Console>> Start(broker::BrokerCore* core,
                                                const ConsoleOptions& options);
  ~Console();
  Console(const Console&) = delete;
  Console& operator=(const Console&) = delete;

  uint16_t port() const;
  std::string url() const;         // "http://host:port/"
  std::string token_file() const;  // <data dir>/console.token
  // The admin token when this start generated it (to print once), else "".
  std::string new_admin_token() const;
  // Stops serving and waits for the handlers in flight. Idempotent.
  void Stop();

 private:
  class Impl;
  explicit Console(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq::console
