#include "tidemq/producer.h"

#include <algorithm>
#include <memory>

#include "client/src/client_core.h"
#include "client/src/message_id.h"
#include "common/clock.h"
#include "common/names.h"

namespace tidemq {
namespace {

constexpr int64_t kFirstRetryBackoffMs = 100;
constexpr int64_t kMaxRetryBackoffMs = 3000;

using BatchCallback = std::function<void(Result<std::vector<SendReceipt>>)>;

Status Moved() { return Status(Code::kFailedPrecondition, "producer was moved from"); }

}  // namespace

// Lives on until its connection is closed: callbacks refer to it.
class Producer::Impl {
 public:
  Impl(std::unique_ptr<client::ClientCore> core, std::string group, int max_attempts)
      : core_(std::move(core)), group_(std::move(group)), max_attempts_(max_attempts) {}
  ~Impl() { core_->Shutdown(); }

  void SendBatchAsync(std::vector<Message> messages, BatchCallback done) {
    if (messages.empty()) {
      done(InvalidArgument("empty batch"));
      return;
    }
    auto state = std::make_shared<SendState>();
    state->ids.reserve(messages.size());
    for (size_t i = 0; i < messages.size(); ++i) state->ids.push_back(client::NewMessageId());
    state->messages = std::move(messages);
    state->done = std::move(done);
    state->born_ms = SystemClock::Get()->NowMs();
    Attempt(std::move(state));
  }

  Result<std::vector<SendReceipt>> SendBatchSync(std::vector<Message> messages) {
    if (core_->connection().OnIoThread()) {
      return Status(Code::kFailedPrecondition,
                    "blocking Send called from a client callback (use SendAsync)");
    }
    std::promise<Result<std::vector<SendReceipt>>> promise;
    auto future = promise.get_future();
    SendBatchAsync(std::move(messages), [&promise](Result<std::vector<SendReceipt>> r) {
      promise.set_value(std::move(r));
    });
    return future.get();
  }

  void Shutdown() { core_->Shutdown(); }

 private:
  struct SendState {
    std::vector<Message> messages;
    std::vector<std::string> ids;  // the same ids on every attempt, so retries can be deduped
    int64_t born_ms = 0;
    int attempt = 0;
    BatchCallback done;
  };

  void Attempt(std::shared_ptr<SendState> state) {
    ++state->attempt;
    wire::Header h;
    h.set_kind(wire::SEND);
    auto* req = h.mutable_send_request();
    req->set_producer_group(group_);
    std::vector<std::string_view> bodies;
    bodies.reserve(state->messages.size());
    for (size_t i = 0; i < state->messages.size(); ++i) {
      client::ToWireMessage(state->messages[i], state->ids[i], state->born_ms, req->add_messages());
      bodies.push_back(state->messages[i].body());
    }
    core_->connection().Call(
        std::move(h), bodies, core_->request_timeout_ms(),
        [this, state](Result<wire::Frame> r) { OnResponse(state, std::move(r)); });
  }

  void OnResponse(std::shared_ptr<SendState> state, Result<wire::Frame> r) {
    if (!r.ok()) {
      if (client::IsRetryable(r.status().code()) && state->attempt < max_attempts_) {
        int64_t backoff =
            std::min(kMaxRetryBackoffMs, kFirstRetryBackoffMs << (state->attempt - 1));
        core_->connection().RunAfter(backoff, [this, state, last = r.status()](bool closed) {
          if (closed) {
            state->done(Status(Code::kCancelled,
                               "producer shut down while retrying after: " + last.ToString()));
            return;
          }
          Attempt(state);
        });
        return;
      }
      Status st = r.status();
      if (state->attempt > 1) {
        st = Status(st.code(),
                    st.message() + " (after " + std::to_string(state->attempt) + " attempts)");
      }
      state->done(std::move(st));
      return;
    }
    const auto& results = r->header.send_response().results();
    if (static_cast<size_t>(results.size()) != state->messages.size()) {
      state->done(Internal("broker returned " + std::to_string(results.size()) +
                           " send results for " + std::to_string(state->messages.size()) +
                           " messages"));
      return;
    }
    std::vector<SendReceipt> receipts;
    receipts.reserve(results.size());
    for (int i = 0; i < results.size(); ++i) {
      SendReceipt rc;
      rc.message_id = results[i].message_id().empty() ? state->ids[i] : results[i].message_id();
      rc.queue_id = results[i].queue_id();
      rc.queue_offset = results[i].queue_offset();
      rc.log_offset = results[i].log_offset();
      receipts.push_back(std::move(rc));
    }
    state->done(std::move(receipts));
  }

  std::unique_ptr<client::ClientCore> core_;
  std::string group_;
  int max_attempts_;
};

Producer::Builder& Producer::Builder::Endpoint(std::string endpoint) {
  endpoint_ = std::move(endpoint);
  return *this;
}
Producer::Builder& Producer::Builder::Group(std::string group) {
  group_ = std::move(group);
  return *this;
}
Producer::Builder& Producer::Builder::RequestTimeout(int64_t timeout_ms) {
  request_timeout_ms_ = timeout_ms;
  return *this;
}
Producer::Builder& Producer::Builder::MaxSendAttempts(int attempts) {
  max_send_attempts_ = attempts;
  return *this;
}
Producer::Builder& Producer::Builder::ClientId(std::string client_id) {
  client_id_ = std::move(client_id);
  return *this;
}

Result<Producer> Producer::Builder::Build() const {
  if (!group_.empty()) RETURN_IF_ERROR(ValidateGroupName(group_));
  if (max_send_attempts_ < 1 || max_send_attempts_ > 100) {
    return InvalidArgument("max send attempts must be 1..100, not " +
                           std::to_string(max_send_attempts_));
  }
  client::CoreOptions options;
  options.endpoint = endpoint_;
  options.request_timeout_ms = request_timeout_ms_;
  options.client_id = client_id_;
  if (!group_.empty()) options.producer_groups.push_back(group_);
  ASSIGN_OR_RETURN(auto core, client::ClientCore::Create(std::move(options)));
  return Producer(std::make_unique<Impl>(std::move(core), group_, max_send_attempts_));
}

Producer::Producer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Producer::Producer(Producer&&) noexcept = default;
Producer& Producer::operator=(Producer&&) noexcept = default;
Producer::~Producer() = default;

Result<SendReceipt> Producer::Send(const Message& message) {
  if (!impl_) return Moved();
  ASSIGN_OR_RETURN(auto receipts, impl_->SendBatchSync({message}));
  return std::move(receipts.front());
}

void Producer::SendAsync(Message message, SendCallback callback) {
  if (!impl_) {
    callback(Moved());
    return;
  }
  std::vector<Message> batch;
  batch.push_back(std::move(message));
  impl_->SendBatchAsync(std::move(batch),
                        [callback = std::move(callback)](Result<std::vector<SendReceipt>> r) {
                          if (!r.ok()) {
                            callback(r.status());
                          } else {
                            callback(std::move(r->front()));
                          }
                        });
}

std::future<Result<SendReceipt>> Producer::SendFuture(Message message) {
  auto promise = std::make_shared<std::promise<Result<SendReceipt>>>();
  auto future = promise->get_future();
  SendAsync(std::move(message), [promise](const Result<SendReceipt>& r) { promise->set_value(r); });
  return future;
}

Result<std::vector<SendReceipt>> Producer::SendBatch(std::vector<Message> messages) {
  if (!impl_) return Moved();
  return impl_->SendBatchSync(std::move(messages));
}

void Producer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

}  // namespace tidemq
