#include "rocketmq/receive.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "rocketmq/codes.h"
#include "rocketmq/convert.h"

namespace tidemq::rocketmq {

// The core's way back to the call (broker/core/message_service.h): on the caller's stack for
// an immediate answer, a shared copy when the receive parks.
class ReceiveCall::Waiter final : public broker::ReceiveWaiter {
 public:
  explicit Waiter(ReceiveCall* call) : call_(call) {}
  std::shared_ptr<ReceiveWaiter> Park() override { return std::make_shared<Waiter>(call_); }
  Result<size_t> ReplyRoom() override {
    const int64_t room = call_->cx_->ReplyRoom();
    if (room <= 0) {
      return Status(Code::kResourceExhausted,
                    "the broker holds its limit of bytes in receive replies; receive again later");
    }
    return static_cast<size_t>(room);
  }
  void Complete(Result<std::vector<broker::Delivery>> got) override {
    call_->Deliver(std::move(got));
  }

 private:
  ReceiveCall* call_;
};

ReceiveCall::ReceiveCall(ServiceContext* cx, const grpc::CallbackServerContext* ctx,
                         const v2::ReceiveMessageRequest* request)
    : cx_(cx), request_(request), client_id_(ServiceContext::ClientId(ctx)) {}

void ReceiveCall::Begin() {
  const v2::ReceiveMessageRequest& r = *request_;
  Result<std::string> filter = ToTagFilter(r.filter_expression());
  if (!filter.ok()) return AnswerStatus(ToRocketMqStatus(filter.status()));
  const broker::BrokerConfig& config = cx_->core().config();
  broker::ReceiveCommand command;
  group_ = ResourceName(r.group());
  topic_ = ResourceName(r.message_queue().topic());
  command.args.group = group_;
  command.args.topic = topic_;
  command.args.tag_filter = std::move(*filter);
  // The batch the client asks for, within the broker's bounds (0: the broker's default).
  command.args.max_messages =
      static_cast<uint32_t>(std::clamp<int32_t>(r.batch_size(), 0,
                                                static_cast<int32_t>(config.max_receive_batch)));
  // A push consumer names no invisible duration (auto_renew): the broker's default lease (0).
  command.args.lease_ms = 0;
  if (r.has_invisible_duration()) {
    const int64_t ms = ToMs(r.invisible_duration());
    if (ms <= 0) {
      return AnswerStatus(MakeStatus(v2::ILLEGAL_INVISIBLE_TIME,
                                     "the invisible duration must be positive"));
    }
    command.args.lease_ms = ms;
  }
  lease_ms_ = command.args.lease_ms != 0 ? command.args.lease_ms : config.default_lease_ms;
  command.args.client_id = client_id_;
  // The client waits long_polling_timeout plus its request timeout: answering by the end of
  // the long poll is in time.
  if (r.has_long_polling_timeout()) {
    command.wait_ms = std::clamp<int64_t>(ToMs(r.long_polling_timeout()), 0, config.max_wait_ms);
  }
  Waiter waiter(this);
  cx_->core().messages().Receive(std::move(command), waiter);
}

void ReceiveCall::Deliver(Result<std::vector<broker::Delivery>> got) {
  if (!got.ok()) return AnswerStatus(ToRocketMqStatus(got.status()));
  if (got->empty()) {
    return AnswerStatus(MakeStatus(v2::MESSAGE_NOT_FOUND, "no new message"));
  }
  const std::string host = cx_->address();
  responses_.resize(got->size() + 1);
  *responses_[0].mutable_status() = OkStatus();
  receipts_.reserve(got->size());
  for (size_t i = 0; i < got->size(); ++i) {
    broker::Delivery& d = (*got)[i];
    DeliveryFields fields;
    fields.queue_id = d.queue_id;
    fields.queue_offset = d.queue_offset;
    fields.attempt = d.attempt;
    fields.receipt = d.receipt;
    fields.invisible_ms = lease_ms_;
    fields.store_host = host;
    charged_ += static_cast<int64_t>(d.record.body.size() + broker::kDeliveryOverheadBytes);
    ToV2Message(std::move(d.record), fields, responses_[i + 1].mutable_message());
    receipts_.push_back(std::move(d.receipt));
  }
  cx_->ChargeReply(charged_);
  WriteNext();
}

void ReceiveCall::AnswerStatus(v2::Status status) {
  responses_.resize(1);
  *responses_[0].mutable_status() = std::move(status);
  WriteNext();
}

// One write at a time (gRPC allows no more). Not buffer_hint: a buffered write's completion
// waits for a flush that the next write, which waits for that completion, would bring.
void ReceiveCall::WriteNext() {
  if (next_ == responses_.size()) return Finish(grpc::Status::OK);
  StartWrite(&responses_[next_++]);
}

void ReceiveCall::OnWriteDone(bool ok) {
  if (ok) return WriteNext();
  // The client is gone: the messages not written go back, their attempt not counted. The
  // write that failed (next_ - 1) and those after it; responses_[0] is the status.
  std::vector<std::string> unsent;
  for (size_t i = std::max<size_t>(next_ - 1, 1); i < responses_.size(); ++i) {
    unsent.push_back(std::move(receipts_[i - 1]));
  }
  if (!unsent.empty()) cx_->core().messages().ReleaseUnsent(group_, topic_, unsent);
  Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the client went away"));
}

void ReceiveCall::OnDone() {
  cx_->ReleaseReply(charged_);
  delete this;
}

}  // namespace tidemq::rocketmq
