#include "rocketmq/endpoint.h"

#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>

#include <mutex>

#include "rocketmq/messaging_service.h"

namespace tidemq::rocketmq {

namespace {
constexpr int kMaxStreamsPerConnection = 1000;
constexpr size_t kMemoryQuotaBytes = size_t{512} << 20;
}  // namespace

class Endpoint::Impl {
 public:
  Impl(broker::BrokerCore* core, const EndpointOptions& options)
      : core_(core), options_(options), service_(core, MakeServiceOptions(options)) {
    service_.set_port(options.port);
  }

  Status Start() {
    grpc::ServerBuilder builder;
    const std::string listen = Join(options_.host, options_.port);
    int bound = 0;
    builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &bound);
    builder.RegisterService(&service_);
    builder.SetMaxReceiveMessageSize(options_.max_request_bytes);
    // gRPC listens with SO_REUSEPORT by default: a second broker on the same port would then
    // share it silently instead of failing to start.
    builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
    // What a client (or many) can make the endpoint hold: calls in flight per connection, and
    // gRPC's own buffers over all of them (past the quota it refuses new calls, not crashes).
    builder.AddChannelArgument(GRPC_ARG_MAX_CONCURRENT_STREAMS, kMaxStreamsPerConnection);
    grpc::ResourceQuota quota("tidemq-rocketmq");
    quota.Resize(kMemoryQuotaBytes);
    builder.SetResourceQuota(quota);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || bound == 0) {
      return Status(Code::kUnavailable, "cannot listen for gRPC (RocketMQ 5 clients) on " + listen +
                                            ": the address is in use or not local");
    }
    port_ = static_cast<uint16_t>(bound);
    service_.set_port(port_);
    return Status::Ok();
  }

  void Stop() {
    std::call_once(stopped_, [this] {
      if (server_ == nullptr) return;
      // Parked receives end with the broker's answer, not with their call: they are answered
      // now and new ones stop parking; calls in flight get a short grace, then are cancelled;
      // handlers are waited for.
      core_->EndWaits();
      server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
      server_->Wait();
    });
  }

  static std::string Join(const std::string& host, uint16_t port) {
    const bool v6 = host.find(':') != std::string::npos;
    return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
  }

  static ServiceOptions MakeServiceOptions(const EndpointOptions& options) {
    ServiceOptions s;
    s.host = options.host;
    s.max_body_bytes = options.max_body_bytes;
    return s;
  }

  broker::BrokerCore* core_;
  EndpointOptions options_;
  MessagingService service_;
  std::unique_ptr<grpc::Server> server_;
  uint16_t port_ = 0;
  std::once_flag stopped_;
};

Endpoint::Endpoint(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Endpoint::~Endpoint() { Stop(); }

Result<std::unique_ptr<Endpoint>> Endpoint::Start(broker::BrokerCore* core,
                                                  const EndpointOptions& options) {
  auto impl = std::make_unique<Impl>(core, options);
  RETURN_IF_ERROR(impl->Start());
  spdlog::info("serving RocketMQ 5 clients (gRPC) on {}", Impl::Join(options.host, impl->port_));
  return std::unique_ptr<Endpoint>(new Endpoint(std::move(impl)));
}

uint16_t Endpoint::port() const { return impl_->port_; }
std::string Endpoint::address() const { return Impl::Join(impl_->options_.host, impl_->port_); }
void Endpoint::Stop() { impl_->Stop(); }

}  // namespace tidemq::rocketmq
