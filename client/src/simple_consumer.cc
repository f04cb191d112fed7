#include "tidemq/simple_consumer.h"

#include "client/src/client_core.h"
#include "client/src/cluster_consumer.h"

namespace tidemq {
namespace {
Status Moved() { return Status(Code::kFailedPrecondition, "consumer was moved from"); }

std::vector<std::string_view> Handles(const std::vector<ReceivedMessage>& messages) {
  std::vector<std::string_view> handles;
  handles.reserve(messages.size());
  for (const auto& m : messages) handles.push_back(m.receipt_handle());
  return handles;
}
}  // namespace

class SimpleConsumer::Impl {
 public:
  Impl(std::unique_ptr<client::ClusterClient> cluster, client::ConsumerSpec spec, int64_t await_ms)
      : cluster_(std::move(cluster)),
        consumer_(cluster_.get(), std::move(spec)),
        await_ms_(await_ms) {}
  ~Impl() { Shutdown(); }

  void Shutdown() {
    consumer_.Shutdown();  // gives back what was received and never handed out
    cluster_->Shutdown();
  }

  std::unique_ptr<client::ClusterClient> cluster_;
  client::ClusterConsumer consumer_;
  int64_t await_ms_;
};

Result<SimpleConsumer> SimpleConsumer::Builder::Build() const {
  client::ConsumerSpec spec{group_, topic_, tag_filter_, client_id_, lease_ms_};
  ASSIGN_OR_RETURN(auto cluster, client::ConnectConsumer(&spec, endpoint_, request_timeout_ms_,
                                                         await_ms_, failover_deadline_ms_));
  return SimpleConsumer(std::make_unique<Impl>(std::move(cluster), std::move(spec), await_ms_));
}

SimpleConsumer::SimpleConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SimpleConsumer::SimpleConsumer(SimpleConsumer&&) noexcept = default;
SimpleConsumer& SimpleConsumer::operator=(SimpleConsumer&&) noexcept = default;
SimpleConsumer::~SimpleConsumer() = default;

Result<std::vector<ReceivedMessage>> SimpleConsumer::Receive(uint32_t max_messages) {
  if (!impl_) return Moved();
  return impl_->consumer_.Receive(max_messages, impl_->await_ms_);
}

Result<std::vector<ReceivedMessage>> SimpleConsumer::Receive(uint32_t max_messages,
                                                             int64_t await_ms) {
  if (!impl_) return Moved();
  return impl_->consumer_.Receive(max_messages, await_ms);
}

Status SimpleConsumer::Ack(const ReceivedMessage& message) {
  if (!impl_) return Moved();
  if (message.receipt_handle().empty()) return InvalidArgument("message has no receipt handle");
  return impl_->consumer_.Ack({message.receipt_handle()});
}

Status SimpleConsumer::Nack(const ReceivedMessage& message, int64_t delay_ms) {
  if (!impl_) return Moved();
  if (message.receipt_handle().empty()) return InvalidArgument("message has no receipt handle");
  return impl_->consumer_.Nack({message.receipt_handle()}, delay_ms);
}

Status SimpleConsumer::Ack(const std::vector<ReceivedMessage>& messages) {
  if (!impl_) return Moved();
  return impl_->consumer_.Ack(Handles(messages));
}

Status SimpleConsumer::Nack(const std::vector<ReceivedMessage>& messages, int64_t delay_ms) {
  if (!impl_) return Moved();
  return impl_->consumer_.Nack(Handles(messages), delay_ms);
}

void SimpleConsumer::NackAsync(const std::vector<ReceivedMessage>& messages, int64_t delay_ms,
                               SettleCallback callback) {
  if (!impl_) return callback(Moved());
  impl_->consumer_.NackAsync(Handles(messages), delay_ms,
                             [callback = std::move(callback)](Status st) { callback(st); });
}

Status SimpleConsumer::Release(const ReceivedMessage& message) {
  if (!impl_) return Moved();
  return impl_->consumer_.Release({message.receipt_handle()});
}

Status SimpleConsumer::Release(const std::vector<ReceivedMessage>& messages) {
  if (!impl_) return Moved();
  return impl_->consumer_.Release(Handles(messages));
}

Status SimpleConsumer::ChangeLease(ReceivedMessage& message, int64_t lease_ms) {
  if (!impl_) return Moved();
  ASSIGN_OR_RETURN(std::string handle,
                   impl_->consumer_.ChangeLease(message.receipt_handle(), lease_ms));
  ReceivedMessageAccess::SetReceiptHandle(&message, std::move(handle));
  return Status::Ok();
}

const std::string& SimpleConsumer::client_id() const {
  static const std::string kNone;
  return impl_ ? impl_->consumer_.spec().client_id : kNone;
}

void SimpleConsumer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

}  // namespace tidemq
