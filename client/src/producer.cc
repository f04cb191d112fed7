#include "tidemq/producer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>

#include "client/src/client_core.h"
#include "client/src/message_id.h"
#include "client/src/txn_check_dispatcher.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/names.h"

namespace tidemq {
namespace {

using BatchCallback = std::function<void(Result<std::vector<SendReceipt>>)>;

Status Moved() { return Status(Code::kFailedPrecondition, "producer was moved from"); }

}  // namespace

const char* ToString(TransactionResolution r) {
  switch (r) {
    case TransactionResolution::kCommit: return "commit";
    case TransactionResolution::kRollback: return "rollback";
    case TransactionResolution::kUnknown: break;
  }
  return "unknown";
}

// Lives on until its connection is closed: callbacks refer to it.
class Producer::Impl {
 public:
  Impl(std::unique_ptr<client::ClientCore> core, std::string group, int max_attempts,
       std::shared_ptr<client::TxnCheckDispatcher> checks)
      : core_(std::move(core)),
        group_(std::move(group)),
        max_attempts_(max_attempts),
        checks_(std::move(checks)) {}
  ~Impl() { Shutdown(); }

  bool transactional() const { return checks_ != nullptr; }

  void SendBatchAsync(std::vector<Message> messages, BatchCallback done,
                      wire::RequestKind kind = wire::SEND) {
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
    state->kind = kind;
    Attempt(std::move(state));
  }

  Result<std::vector<SendReceipt>> SendBatchSync(std::vector<Message> messages,
                                                 wire::RequestKind kind = wire::SEND) {
    if (core_->connection().OnIoThread()) {
      return Status(Code::kFailedPrecondition,
                    "blocking Send called from a client callback (use SendAsync)");
    }
    std::promise<Result<std::vector<SendReceipt>>> promise;
    auto future = promise.get_future();
    SendBatchAsync(
        std::move(messages),
        [&promise](Result<std::vector<SendReceipt>> r) { promise.set_value(std::move(r)); },
        kind);
    return future.get();
  }

  Result<SendReceipt> SendHalf(const Message& message) {
    RETURN_IF_ERROR(CheckTransactional());
    ASSIGN_OR_RETURN(auto receipts, SendBatchSync({message}, wire::SEND_HALF));
    return std::move(receipts.front());
  }

  // Ends one half message; retried like a send (ends are idempotent on the broker).
  Status EndTransaction(const SendReceipt& half, TransactionResolution resolution) {
    RETURN_IF_ERROR(CheckTransactional());
    if (resolution == TransactionResolution::kUnknown) return Status::Ok();  // check-back
    if (half.log_offset < 0 || half.message_id.empty()) {
      return InvalidArgument("not the receipt of a half message (no log offset or message id)");
    }
    if (core_->connection().OnIoThread()) {
      return Status(Code::kFailedPrecondition, "transaction ended from a client callback");
    }
    wire::Header h;
    h.set_kind(wire::END_TXN);
    auto* req = h.mutable_end_txn_request();
    req->set_producer_group(group_);
    req->set_half_offset(half.log_offset);
    req->set_message_id(half.message_id);
    req->set_resolution(client::ToWire(resolution));
    req->set_source(wire::EndTxnRequest::PRODUCER);
    // The half's log offset and id are the same on a new master: it has the replicated log.
    return core_->Call(std::move(h), {}, 0, max_attempts_).status();
  }

  void Shutdown() {
    core_->Shutdown();  // no more check requests arrive
    if (checks_) checks_->Stop();
  }

 private:
  Status CheckTransactional() const {
    if (!checks_) {
      return Status(Code::kFailedPrecondition,
                    "transactions need a producer built with Group(...) and "
                    "TransactionChecker(...)");
    }
    return Status::Ok();
  }

  struct SendState {
    std::vector<Message> messages;
    std::vector<std::string> ids;  // the same ids on every attempt, so retries can be deduped
    int64_t born_ms = 0;
    wire::RequestKind kind = wire::SEND;
    BatchCallback done;
  };

  // One request, re-sent as it is (same ids, bodies, properties) by ClientCore::CallAsync.
  void Attempt(std::shared_ptr<SendState> state) {
    wire::Header h;
    h.set_kind(state->kind);
    auto* req = h.mutable_send_request();
    req->set_producer_group(group_);
    std::vector<std::string_view> bodies;
    bodies.reserve(state->messages.size());
    for (size_t i = 0; i < state->messages.size(); ++i) {
      client::ToWireMessage(state->messages[i], state->ids[i], state->born_ms, req->add_messages());
      bodies.push_back(state->messages[i].body());
    }
    core_->CallAsync(std::move(h), std::move(bodies), state, 0, max_attempts_,
                     [this, state](Result<wire::Frame> r) { OnResponse(state, std::move(r)); });
  }

  void OnResponse(const std::shared_ptr<SendState>& state, Result<wire::Frame> r) {
    if (!r.ok()) {
      state->done(r.status());
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
  const std::shared_ptr<client::TxnCheckDispatcher> checks_;  // transactional producers only
};

Producer::Builder& Producer::Builder::Endpoint(std::string endpoint) {
  endpoint_ = std::move(endpoint);
  return *this;
}
Producer::Builder& Producer::Builder::Group(std::string group) {
  group_ = std::move(group);
  return *this;
}
Producer::Builder& Producer::Builder::TransactionChecker(tidemq::TransactionChecker checker) {
  checker_ = std::move(checker);
  return *this;
}
Producer::Builder& Producer::Builder::TransactionCheckerThreads(int threads) {
  checker_threads_ = threads;
  return *this;
}
Producer::Builder& Producer::Builder::MaxQueuedTransactionChecks(size_t transactions) {
  max_queued_checks_ = transactions;
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
Producer::Builder& Producer::Builder::FailoverDeadline(int64_t ms) {
  failover_deadline_ms_ = ms;
  return *this;
}
Producer::Builder& Producer::Builder::Endpoints(const std::vector<std::string>& endpoints) {
  endpoint_ = client::JoinAddresses(endpoints);
  return *this;
}
Producer::Builder& Producer::Builder::ClientId(std::string client_id) {
  client_id_ = std::move(client_id);
  return *this;
}

Result<Producer> Producer::Builder::Build() const {
  if (!group_.empty()) RETURN_IF_ERROR(ValidateGroupName(group_));
  if (checker_ && group_.empty()) {
    return InvalidArgument("a transactional producer needs a producer group (Group(...))");
  }
  if (max_send_attempts_ < 1 || max_send_attempts_ > 100) {
    return InvalidArgument("max send attempts must be 1..100, not " +
                           std::to_string(max_send_attempts_));
  }
  if (checker_threads_ < 1 || checker_threads_ > 64) {
    return InvalidArgument("transaction checker threads must be 1..64, not " +
                           std::to_string(checker_threads_));
  }
  if (max_queued_checks_ < 1 || max_queued_checks_ > 1'000'000) {
    return InvalidArgument("max queued transaction checks must be 1..1000000, not " +
                           std::to_string(max_queued_checks_));
  }
  client::CoreOptions options;
  options.endpoint = endpoint_;
  options.request_timeout_ms = request_timeout_ms_;
  options.failover_deadline_ms = failover_deadline_ms_;
  options.client_id = client_id_;
  if (!group_.empty()) options.producer_groups.push_back(group_);
  std::shared_ptr<client::TxnCheckDispatcher> checks;
  if (checker_) {
    client::TxnCheckOptions check_options;
    check_options.threads = checker_threads_;
    check_options.max_queued = max_queued_checks_;
    checks = std::make_shared<client::TxnCheckDispatcher>(checker_, check_options);
    // Made before the connection, so the handler is in place when the first heartbeat names
    // the producer group; it keeps the dispatcher alive as long as the connection.
    options.handlers.emplace_back(
        wire::CHECK_TXN, [checks](wire::Frame request, client::Connection::Responder respond) {
          checks->Submit(std::move(request), std::move(respond));
        });
  }
  auto core = client::ClientCore::Create(std::move(options));
  if (!core.ok()) {
    if (checks) checks->Stop();
    return core.status();
  }
  return Producer(
      std::make_unique<Impl>(std::move(*core), group_, max_send_attempts_, std::move(checks)));
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

Result<Transaction> Producer::BeginTransaction() {
  if (!impl_) return Moved();
  if (!impl_->transactional()) {
    return Status(Code::kFailedPrecondition,
                  "transactions need a producer built with Group(...) and TransactionChecker(...)");
  }
  return Transaction(impl_.get());
}

Result<TransactionResolution> Producer::SendInTransaction(
    const Message& message, const LocalTransaction& local_transaction) {
  if (!impl_) return Moved();
  ASSIGN_OR_RETURN(SendReceipt half, impl_->SendHalf(message));
  TransactionResolution resolution = TransactionResolution::kUnknown;
  try {
    resolution = local_transaction(half);
  } catch (const std::exception& e) {
    spdlog::warn("local transaction for message {} threw: {} (left to the check-back)",
                 half.message_id, e.what());
  } catch (...) {
    spdlog::warn("local transaction for message {} threw (left to the check-back)",
                 half.message_id);
  }
  RETURN_IF_ERROR(impl_->EndTransaction(half, resolution));
  return resolution;
}

Status Producer::EndTransaction(const SendReceipt& half, TransactionResolution resolution) {
  if (!impl_) return Moved();
  return impl_->EndTransaction(half, resolution);
}

void Producer::Shutdown() {
  if (impl_) impl_->Shutdown();
}

Transaction::Transaction(Transaction&&) noexcept = default;
Transaction& Transaction::operator=(Transaction&&) noexcept = default;
Transaction::~Transaction() = default;

Result<SendReceipt> Transaction::Send(const Message& message) {
  if (ended_) return Status(Code::kFailedPrecondition, "the transaction has already ended");
  ASSIGN_OR_RETURN(SendReceipt half, producer_->SendHalf(message));
  halves_.push_back(half);
  return half;
}

Status Transaction::Commit() { return End(TransactionResolution::kCommit); }
Status Transaction::Rollback() { return End(TransactionResolution::kRollback); }

Status Transaction::End(TransactionResolution resolution) {
  for (const SendReceipt& half : halves_) {
    RETURN_IF_ERROR(producer_->EndTransaction(half, resolution));
  }
  ended_ = true;
  return Status::Ok();
}

}  // namespace tidemq
