// The RocketMQ 5 gRPC endpoint: serves apache.rocketmq.v2.MessagingService over the broker
// core, so that the official RocketMQ 5 clients work against TideMQ by pointing them at this
// port (docs/rocketmq_compat.md lists each RPC and what is served so far).
//
// An adapter only (shared/DESIGN.md section 1): each RPC decodes its request into the core's
// commands (broker/core/message_service.h), makes one call and encodes what it gets back. No
// business rule lives here.
//
// Threads: gRPC's own completion threads run the handlers; none of them waits on a disk or on
// another request (sends complete from the store's writer thread through the reactor).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "broker/core/broker_core.h"
#include "common/status.h"

namespace tidemq::rocketmq {

inline constexpr uint16_t kDefaultGrpcPort = 8081;  // like RocketMQ's proxy

struct EndpointOptions {
  std::string host = "127.0.0.1";
  uint16_t port = kDefaultGrpcPort;  // 0: pick a free port (tests)
  // The largest request gRPC accepts (bigger ones are refused before they are buffered).
  int32_t max_request_bytes = 64 << 20;
  // The body size the clients are told to respect (the core refuses bigger ones anyway).
  int32_t max_body_bytes = 4 << 20;
};

class Endpoint {
 public:
  // Listens on options.host:port and serves until Stop(). `core` must outlive the endpoint.
  static Result<std::unique_ptr<Endpoint>> Start(broker::BrokerCore* core,
                                                 const EndpointOptions& options);
  ~Endpoint();
  Endpoint(const Endpoint&) = delete;
  Endpoint& operator=(const Endpoint&) = delete;

  uint16_t port() const;
  std::string address() const;  // "host:port"
  // Stops accepting calls, cancels the ones in flight and waits for their handlers.
  // Idempotent.
  void Stop();

 private:
  class Impl;
  explicit Endpoint(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace tidemq::rocketmq
