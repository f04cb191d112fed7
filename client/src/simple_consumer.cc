#include "tidemq/simple_consumer.h"

#include "client/src/client_core.h"

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
  Impl(std::unique_ptr<client::ClientCore> core, client::ConsumerSpec spec, int64_t await_ms)
      : core_(std::move(core)), spec_(std::move(spec)), await_ms_(await_ms) {}
  ~Impl() { core_->Shutdown(); }

  std::unique_ptr<client::ClientCore> core_;
  client::ConsumerSpec spec_;
  int64_t await_ms_;
};

Result<SimpleConsumer> SimpleConsumer::Builder::Build() const {
  client::ConsumerSpec spec{group_, topic_, tag_filter_, client_id_, lease_ms_};
  ASSIGN_OR_RETURN(auto core, client::ConnectConsumer(&spec, endpoint_, request_timeout_ms_,
                                                      await_ms_, failover_deadline_ms_));
  return SimpleConsumer(std::make_unique<Impl>(std::move(core), std::move(spec), await_ms_));
}

SimpleConsumer::SimpleConsumer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SimpleConsumer::SimpleConsumer(SimpleConsumer&&) noexcept = default;
SimpleConsumer& SimpleConsumer::operator=(SimpleConsumer&&) noexcept = default;
SimpleConsumer::~SimpleConsumer() = default;

Result<std::vector<ReceivedMessage>> SimpleConsumer::Receive(uint32_t max_messages) {
  if (!impl_) return Moved();
  return client::Receive(*impl_->core_, impl_->spec_, max_messages, impl_->await_ms_);
}

Result<std::vector<ReceivedMessage>> SimpleConsumer::Receive(uint32_t max_messages,
                                                             int64_t await_ms) {
  if (!impl_) return Moved();
  return client::Receive(*impl_->core_, impl_->spec_, max_messages, await_ms);
}

Status SimpleConsumer::Ack(const ReceivedMessage& message) {
  if (!impl_) return Moved();
  return client::Ack(*impl_->core_, impl_->spec_, message.receipt_handle());
}

Status SimpleConsumer::Nack(const ReceivedMessage& message, int64_t delay_ms) {
  if (!impl_) return Moved();
  return client::Nack(*impl_->core_, impl_->spec_, message.receipt_handle(), delay_ms);
}

Status SimpleConsumer::Ack(const std::vector<ReceivedMessage>& messages) {
  if (!impl_) return Moved();
  return client::AckMany(*impl_->core_, impl_->spec_, Handles(messages));
}

Status SimpleConsumer::Nack(const std::vector<ReceivedMessage>& messages, int64_t delay_ms) {
  if (!impl_) return Moved();
  return client::NackMany(*impl_->core_, impl_->spec_, Handles(messages), delay_ms);
}

void SimpleConsumer::NackAsync(const std::vector<ReceivedMessage>& messages, int64_t delay_ms,
                               SettleCallback callback) {
  if (!impl_) return callback(Moved());
  client::NackManyAsync(*impl_->core_, impl_->spec_, Handles(messages), delay_ms,
                        [callback = std::move(callback)](Status st) { callback(st); });
}

Status SimpleConsumer::Release(const ReceivedMessage& message) {
  if (!impl_) return Moved();
  return client::Release(*impl_->core_, impl_->spec_, {message.receipt_handle()});
}

Status SimpleConsumer::Release(const std::vector<ReceivedMessage>& messages) {
  if (!impl_) return Moved();
  return client::Release(*impl_->core_, impl_->spec_, Handles(messages));
}

Status SimpleConsumer::ChangeLease(ReceivedMessage& message, int64_t lease_ms) {
  if (!impl_) return Moved();
  ASSIGN_OR_RETURN(std::string handle, client::ChangeLease(*impl_->core_, impl_->spec_,
                                                           message.receipt_handle(), lease_ms));
  ReceivedMessageAccess::SetReceiptHandle(&message, std::move(handle));
  return Status::Ok();
}

const std::string& SimpleConsumer::client_id() const {
  static const std::string kNone;
  return impl_ ? impl_->spec_.client_id : kNone;
}

void SimpleConsumer::Shutdown() {
  if (impl_) impl_->core_->Shutdown();
}

}  // namespace tidemq
