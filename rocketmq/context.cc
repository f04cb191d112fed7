#include "rocketmq/context.h"

#include <charconv>

#include "rocketmq/codes.h"
#include "rocketmq/telemetry.h"

namespace tidemq::rocketmq {

std::string TxnProducerGroup(const std::string& topic) { return "rmq5-" + topic; }

std::string TxnId(int64_t half_offset, uint64_t request_id) {
  std::string id = std::to_string(half_offset);
  if (request_id != 0) id += "." + std::to_string(request_id);
  return id;
}

std::optional<ParsedTxnId> ParseTxnId(const std::string& id) {
  ParsedTxnId out;
  const char* end = id.data() + id.size();
  auto [p, ec] = std::from_chars(id.data(), end, out.half_offset);
  if (ec != std::errc() || out.half_offset < 0) return std::nullopt;
  if (p == end) return out;
  if (*p != '.') return std::nullopt;
  auto [q, ec2] = std::from_chars(p + 1, end, out.request_id);
  if (ec2 != std::errc() || q != end || out.request_id == 0) return std::nullopt;
  return out;
}

std::string ServiceContext::address() const {
  const bool v6 = options_.host.find(':') != std::string::npos;
  return (v6 ? "[" + options_.host + "]" : options_.host) + ":" + std::to_string(port());
}

bool ServiceContext::Signed(const grpc::CallbackServerContext* ctx) {
  return ctx->client_metadata().count("authorization") > 0;
}

std::string ServiceContext::ClientId(const grpc::CallbackServerContext* ctx) {
  const auto& md = ctx->client_metadata();
  auto it = md.find("x-mq-client-id");
  if (it == md.end()) return "";
  return std::string(it->second.data(), it->second.size());
}

namespace {
constexpr char kForwardedHeader[] = "x-tidemq-forwarded";
}  // namespace

void ServiceContext::MarkForwarded(grpc::ClientContext* ctx) { ctx->AddMetadata(kForwardedHeader, "1"); }

std::shared_ptr<v2::MessagingService::Stub> ServiceContext::MasterStub(
    const grpc::CallbackServerContext* ctx) {
  if (ctx->client_metadata().count(kForwardedHeader) > 0) return nullptr;
  const std::string master = core_->MasterGrpcAddress();
  if (master.empty() || master == address()) return nullptr;
  MutexLock lock(mu_);
  if (master_stub_ == nullptr || master_address_ != master) {
    master_address_ = master;
    master_stub_ = v2::MessagingService::NewStub(
        grpc::CreateChannel(master, grpc::InsecureChannelCredentials()));
  }
  return master_stub_;
}

std::optional<v2::Status> ServiceContext::Refusal(const grpc::CallbackServerContext* ctx) const {
  // A client with credentials signs every request. Until the broker has access control,
  // such a request is refused rather than served as if it were anonymous.
  if (Signed(ctx)) {
    return MakeStatus(v2::UNAUTHORIZED,
                      "this TideMQ broker has no access control yet and refuses signed requests; "
                      "configure the client without credentials (docs/rocketmq_compat.md)");
  }
  if (!core_->serving()) {
    v2::Status st = ToRocketMqStatus(core_->NotServing());
    const std::string master = core_->MasterGrpcAddress();
    if (!master.empty()) st.set_message(st.message() + "; RocketMQ 5 clients reach it at " + master);
    return st;
  }
  return std::nullopt;
}

void ServiceContext::AddChannel(const std::string& client_id,
                                const std::shared_ptr<TelemetryChannel>& channel) {
  if (client_id.empty()) return;
  MutexLock lock(mu_);
  channels_[client_id] = channel;
}

void ServiceContext::RemoveChannel(const std::string& client_id,
                                   const TelemetryChannel* channel) {
  MutexLock lock(mu_);
  auto it = channels_.find(client_id);
  if (it == channels_.end()) return;
  std::shared_ptr<TelemetryChannel> current = it->second.lock();
  if (current == nullptr || current.get() == channel) channels_.erase(it);
}

std::shared_ptr<TelemetryChannel> ServiceContext::FindChannel(const std::string& client_id) {
  MutexLock lock(mu_);
  auto it = channels_.find(client_id);
  return it == channels_.end() ? nullptr : it->second.lock();
}

int64_t ServiceContext::ReplyRoom() const {
  return std::min(options_.max_reply_bytes_per_call, options_.max_reply_bytes - reply_bytes_.load());
}

}  // namespace tidemq::rocketmq
