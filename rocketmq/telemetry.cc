#include "rocketmq/telemetry.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "rocketmq/codes.h"
#include "rocketmq/convert.h"

namespace tidemq::rocketmq {
namespace {

// A consumer receives this many messages per call unless the broker says otherwise.
constexpr int32_t kReceiveBatchSize = 32;
constexpr int64_t kLongPollingMs = 30'000;

v2::RetryPolicy ToBackoffPolicy(const broker::GroupConfig& g) {
  v2::RetryPolicy p;
  p.set_max_attempts(static_cast<int32_t>(g.max_attempts));
  const RetryPolicy& r = g.retry;
  if (r.kind == RetryPolicy::Kind::kExponential) {
    v2::ExponentialBackoff* e = p.mutable_exponential_backoff();
    *e->mutable_initial() = ToDuration(r.initial_ms);
    *e->mutable_max() = ToDuration(r.max_ms);
    e->set_multiplier(static_cast<float>(r.multiplier));
  } else {
    const std::vector<int64_t>& delays =
        r.kind == RetryPolicy::Kind::kCustom ? r.delays_ms : LadderDelaysMs();
    for (int64_t d : delays) *p.mutable_customized_backoff()->add_next() = ToDuration(d);
  }
  return p;
}

}  // namespace

bool TelemetryChannel::closed() const {
  MutexLock lock(mu_);
  return detached_;
}

void TelemetryChannel::Attach(TelemetryStream* stream) {
  MutexLock lock(mu_);
  stream_ = stream;
}

void TelemetryChannel::Detach() {
  MutexLock lock(mu_);
  stream_ = nullptr;
  detached_ = true;
}

void TelemetryChannel::SendCheck(const broker::TxnCheck& check) {
  v2::TelemetryCommand command;
  *command.mutable_status() = OkStatus();
  v2::RecoverOrphanedTransactionCommand* rc = command.mutable_recover_orphaned_transaction_command();
  const std::string host = cx_->address();
  DeliveryFields fields;
  fields.queue_id = check.half->queue_id;
  fields.attempt = check.check_number;
  fields.store_host = host;
  ToV2Message(*check.half, fields, rc->mutable_message());
  rc->set_transaction_id(TxnId(check.half_offset.value(), check.request_id));
  MutexLock lock(mu_);
  if (stream_ == nullptr || !stream_->Queue(std::move(command))) {
    spdlog::debug("check-back {} not sent to channel {}: closed or its queue is full",
                  check.request_id, id_);
  }
}

TelemetryStream::TelemetryStream(ServiceContext* cx, std::string client_id)
    : cx_(cx),
      client_id_(std::move(client_id)),
      channel_(std::make_shared<TelemetryChannel>(cx->core().NewChannelId(), cx)) {
  channel_->Attach(this);
  cx_->AddChannel(client_id_, channel_);
  StartRead(&in_);
}

// The call finishes once its reads have ended (the client closed its side, or the call was
// cancelled) and no write is under way.
void TelemetryStream::OnReadDone(bool ok) {
  if (!ok) {
    bool finish;
    {
      MutexLock lock(mu_);
      closing_ = true;
      reads_done_ = true;
      queue_.clear();
      finish = !writing_;
    }
    if (finish) Finish(grpc::Status::OK);
    return;
  }
  Handle(in_);
  in_.Clear();
  StartRead(&in_);
}

void TelemetryStream::OnWriteDone(bool ok) {
  bool finish;
  {
    MutexLock lock(mu_);
    writing_ = false;
    if (!ok) {  // the stream broke: nothing more goes out
      closing_ = true;
      queue_.clear();
    }
    if (!closing_ && !queue_.empty()) return WriteNextLocked();
    finish = reads_done_;
  }
  if (finish) Finish(grpc::Status::OK);
}

void TelemetryStream::OnDone() {
  channel_->Detach();
  cx_->RemoveChannel(client_id_, channel_.get());
  cx_->core().messages().ChannelClosed(*channel_);
  delete this;
}

bool TelemetryStream::Queue(v2::TelemetryCommand command) {
  MutexLock lock(mu_);
  if (closing_ || queue_.size() >= cx_->options().max_queued_commands) return false;
  queue_.push_back(std::move(command));
  if (!writing_) WriteNextLocked();
  return true;
}

void TelemetryStream::WriteNextLocked() {
  out_ = std::move(queue_.front());
  queue_.pop_front();
  writing_ = true;
  StartWrite(&out_);
}

void TelemetryStream::Handle(const v2::TelemetryCommand& command) {
  if (command.has_settings()) {
    Register(command.settings());
    v2::TelemetryCommand reply;
    *reply.mutable_status() = OkStatus();
    *reply.mutable_settings() = ServerSettings(command.settings());
    Queue(std::move(reply));
    return;
  }
  // Answers to commands this broker does not send (thread stacks, message verification):
  // nothing to do with them.
  spdlog::debug("telemetry from client '{}': command {} ignored", client_id_,
                static_cast<int>(command.command_case()));
}

// A producer's check-backs may come down this stream for the topics it publishes; a
// consumer's heartbeat names its group (group status lists the client).
void TelemetryStream::Register(const v2::Settings& client) {
  broker::HeartbeatCommand hb;
  hb.client_id = client_id_;
  if (client.has_publishing()) {
    for (const v2::Resource& t : client.publishing().topics()) {
      hb.producer_groups.push_back(TxnProducerGroup(ResourceName(t)));
    }
  }
  if (client.has_subscription() && client.subscription().has_group()) {
    hb.consumer_groups.push_back(ResourceName(client.subscription().group()));
  }
  Result<int64_t> r = cx_->core().messages().Heartbeat(hb, channel_);
  if (!r.ok()) {
    spdlog::debug("telemetry settings of client '{}': {}", client_id_, r.status().ToString());
  }
}

v2::Settings TelemetryStream::ServerSettings(const v2::Settings& client) {
  v2::Settings s = client;
  if (s.has_publishing()) {
    s.mutable_publishing()->set_max_body_size(cx_->options().max_body_bytes);
    s.mutable_publishing()->set_validate_message_type(true);
    // The producer's own retry policy for sends, with an exponential back-off (the clients
    // require one: RocketMQ's proxy answers 10 ms doubling up to 1 s).
    v2::RetryPolicy* p = s.mutable_backoff_policy();
    if (p->max_attempts() <= 0) p->set_max_attempts(3);
    if (!p->has_exponential_backoff()) {
      v2::ExponentialBackoff* e = p->mutable_exponential_backoff();
      *e->mutable_initial() = ToDuration(10);
      *e->mutable_max() = ToDuration(1000);
      e->set_multiplier(2);
    }
  }
  if (s.has_subscription()) {
    v2::Subscription* sub = s.mutable_subscription();
    broker::GroupConfig config;  // a group not created yet gets the defaults when it is
    if (sub->has_group()) {
      Result<broker::GroupInfo> g = cx_->core().admin().DescribeGroup(ResourceName(sub->group()));
      if (g.ok()) config = g->config;
    }
    sub->set_fifo(config.fifo);
    sub->set_receive_batch_size(kReceiveBatchSize);
    *sub->mutable_long_polling_timeout() =
        ToDuration(std::min(kLongPollingMs, cx_->core().config().max_wait_ms));
    *s.mutable_backoff_policy() = ToBackoffPolicy(config);
  }
  return s;
}

}  // namespace tidemq::rocketmq
