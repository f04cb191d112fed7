#include "client/src/client_core.h"

#include <algorithm>
#include <chrono>
#include <future>

#include "client/src/error_mapping.h"
#include "client/src/message_id.h"
#include "common/names.h"

namespace tidemq {

ReceivedMessage ReceivedMessageAccess::FromWire(const wire::Message& m, std::string_view body) {
  ReceivedMessage r;
  r.message_id_ = m.message_id();
  r.topic_ = m.topic();
  r.tag_ = m.tag();
  r.keys_.assign(m.keys().begin(), m.keys().end());
  for (const auto& [k, v] : m.properties()) r.properties_.emplace(k, v);
  r.body_ = std::string(body);
  r.message_group_ = m.message_group();
  // Deliveries name the queue in delivered_queue_id; queries leave it 0 and use queue_id.
  r.queue_id_ = m.delivered_queue_id() != 0 ? m.delivered_queue_id() : m.queue_id();
  r.queue_offset_ = m.queue_offset();
  r.log_offset_ = m.log_offset();
  r.store_ms_ = m.store_ms();
  r.born_ms_ = m.born_ms();
  r.deliver_at_ms_ = m.deliver_at_ms();
  r.delivery_attempt_ = m.delivery_attempt();
  r.receipt_handle_ = m.receipt_handle();
  r.original_topic_ = m.original_topic();
  r.first_failure_ms_ = m.first_failure_ms();
  r.dead_letter_reason_ = m.dead_letter_reason();
  return r;
}

ReceivedMessage ReceivedMessageAccess::FromWireDeadLetter(const wire::Message& m,
                                                          std::string_view body) {
  ReceivedMessage r = FromWire(m, body);
  r.dlq_offset_ = m.dlq_offset();  // 0 is a real offset: only DLQ_LIST replies carry one
  return r;
}

void ReceivedMessageAccess::SetReceiptHandle(ReceivedMessage* m, std::string handle) {
  m->receipt_handle_ = std::move(handle);
}

void ReceivedMessageAccess::SetBrokerGroup(ReceivedMessage* m, std::string group) {
  m->broker_group_ = std::move(group);
}

namespace client {

Result<std::unique_ptr<ClientCore>> ClientCore::Create(CoreOptions options) {
  ASSIGN_OR_RETURN(std::vector<Endpoint> endpoints, ParseEndpoints(options.endpoint));
  RETURN_IF_ERROR(CheckTimeout("request timeout", options.request_timeout_ms));
  RETURN_IF_ERROR(CheckFailoverDeadline(options.failover_deadline_ms));
  if (options.client_id.empty()) options.client_id = NewClientId();
  std::unique_ptr<ClientCore> core(new ClientCore());
  core->options_ = std::move(options);
  ConnectionOptions copts;
  copts.endpoints = std::move(endpoints);
  copts.connect_timeout_ms = core->options_.request_timeout_ms;
  copts.on_response = core->options_.response_observer;
  if (core->options_.heartbeat) {
    copts.heartbeat_interval_ms = core->options_.heartbeat_interval_ms;
    const CoreOptions* o = &core->options_;  // lives as long as the connection
    copts.fill_heartbeat = [o](wire::HeartbeatRequest* hb) {
      hb->set_client_id(o->client_id);
      for (const auto& g : o->producer_groups) hb->add_producer_groups(g);
      for (const auto& g : o->consumer_groups) hb->add_consumer_groups(g);
    };
  }
  core->connection_ = std::make_unique<Connection>(std::move(copts));
  for (auto& [kind, handler] : core->options_.handlers) {
    core->connection_->RegisterHandler(kind, std::move(handler));
  }
  core->options_.handlers.clear();
  RETURN_IF_ERROR(core->connection_->Start(core->options_.wait_for_connect));
  return core;
}

namespace {

constexpr int64_t kFirstFailoverBackoffMs = 50;
constexpr int64_t kMaxFailoverBackoffMs = 1000;
constexpr int64_t kFirstRetryBackoffMs = 100;
constexpr int64_t kMaxRetryBackoffMs = 3000;

using SteadyClock = std::chrono::steady_clock;

// One call across its attempts.
struct CallState {
  wire::Header request;
  std::vector<std::string_view> bodies;
  std::shared_ptr<const void> keep_alive;
  int64_t timeout_ms = 0;
  int max_attempts = 1;
  SteadyClock::time_point started;
  SteadyClock::time_point failover_until;  // re-issue after failover errors until then
  int attempt = 0;
  int failover_retries = 0;
  Connection::Callback done;
};

int64_t MsSince(SteadyClock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now() - t).count();
}

}  // namespace

struct ClientCore::Caller {
  static void Attempt(ClientCore* core, std::shared_ptr<CallState> state) {
    ++state->attempt;
    const bool failover = state->failover_until > state->started;
    core->connection_->Call(
        state->request, state->bodies, state->timeout_ms,
        [core, state](Result<wire::Frame> r) { OnResult(core, state, std::move(r)); },
        failover ? state->failover_until : Connection::SteadyTime::max());
  }

  static void OnResult(ClientCore* core, std::shared_ptr<CallState> state, Result<wire::Frame> r) {
    if (r.ok()) return state->done(std::move(r));
    const Code code = r.status().code();
    const bool more_attempts = state->attempt < state->max_attempts;
    int64_t backoff = -1;  // < 0: give up
    if (IsFailoverError(code) && (more_attempts || SteadyClock::now() < state->failover_until)) {
      // At once the first time (the connection is already on its way to the master), and
      // whenever no broker is connected (the call then waits in the connection's queue, which
      // sends it as soon as a broker accepts); else 50 ms doubling to 1 s. Never past the
      // deadline.
      const bool queued_until_connected =
          code == Code::kUnavailable && !core->connection_->connected();
      backoff = state->failover_retries == 0 || queued_until_connected
                    ? 0
                    : std::min(kMaxFailoverBackoffMs, kFirstFailoverBackoffMs << std::min(
                                                          state->failover_retries - 1, 10));
      ++state->failover_retries;
      if (!more_attempts) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(state->failover_until -
                                                                          SteadyClock::now())
                        .count();
        backoff = std::max<int64_t>(0, std::min(backoff, left));
      }
    } else if ((code == Code::kTimeout || code == Code::kResourceExhausted) && more_attempts) {
      backoff =
          std::min(kMaxRetryBackoffMs, kFirstRetryBackoffMs << std::min(state->attempt - 1, 10));
    }
    if (backoff < 0) {
      Status st = r.status();
      if (state->attempt > 1) {
        st = Status(code, st.message() + " (after " + std::to_string(state->attempt) +
                              " attempts in " + std::to_string(MsSince(state->started)) + " ms)");
      }
      return state->done(std::move(st));
    }
    if (backoff == 0) return Attempt(core, std::move(state));
    core->connection_->RunAfter(backoff, [core, state, last = r.status()](bool closed) {
      if (closed) {
        return state->done(
            Status(Code::kCancelled, "client shut down while retrying after: " + last.ToString()));
      }
      Attempt(core, state);
    });
  }
};

void ClientCore::CallAsync(wire::Header request, std::vector<std::string_view> bodies,
                           std::shared_ptr<const void> keep_alive, int64_t timeout_ms,
                           int max_attempts, Connection::Callback done, int64_t failover_ms) {
  auto state = std::make_shared<CallState>();
  state->request = std::move(request);
  state->bodies = std::move(bodies);
  state->keep_alive = std::move(keep_alive);
  state->timeout_ms = timeout_ms > 0 ? timeout_ms : options_.request_timeout_ms;
  state->max_attempts = std::max(1, max_attempts);
  state->started = SteadyClock::now();
  state->failover_until =
      state->started +
      std::chrono::milliseconds(failover_ms >= 0 ? failover_ms : options_.failover_deadline_ms);
  state->done = std::move(done);
  Caller::Attempt(this, std::move(state));
}

Result<wire::Frame> ClientCore::Call(wire::Header request,
                                     const std::vector<std::string_view>& bodies,
                                     int64_t timeout_ms, int max_attempts) {
  if (connection_->OnIoThread()) {
    return Status(Code::kFailedPrecondition,
                  "blocking client call made from a client callback (use the async form)");
  }
  std::promise<Result<wire::Frame>> promise;
  auto future = promise.get_future();
  // The caller blocks until done: the bodies it passed stay valid.
  CallAsync(std::move(request), bodies, nullptr, timeout_ms, max_attempts,
            [&promise](Result<wire::Frame> r) { promise.set_value(std::move(r)); });
  return future.get();
}

bool IsRetryable(Code code) {
  return code == Code::kUnavailable || code == Code::kTimeout || code == Code::kResourceExhausted ||
         IsFailoverError(code);
}

std::string JoinAddresses(const std::vector<std::string>& addresses) {
  std::string out;
  for (const auto& a : addresses) out += (out.empty() ? "" : ",") + a;
  return out;
}

bool IsFailoverError(Code code) {
  return code == Code::kUnavailable || code == Code::kNotMaster || code == Code::kNotEnoughReplicas;
}

Status CheckFailoverDeadline(int64_t ms) {
  if (ms < 0 || ms > kMaxFailoverDeadlineMs) {
    return InvalidArgument("failover deadline must be between 0 and 1 h, not " +
                           std::to_string(ms) + " ms");
  }
  return Status::Ok();
}

Status ValidateTagFilter(std::string_view expression) {
  if (expression.empty() || expression == "*") return Status::Ok();
  size_t start = 0;
  while (true) {
    size_t sep = expression.find("||", start);
    std::string_view part = expression.substr(
        start, sep == std::string_view::npos ? std::string_view::npos : sep - start);
    while (!part.empty() && part.front() == ' ') part.remove_prefix(1);
    while (!part.empty() && part.back() == ' ') part.remove_suffix(1);
    if (part.empty()) {
      return InvalidArgument("tag filter '" + std::string(expression) +
                             "' has an empty tag (use '*' or 'a||b')");
    }
    Status st = ValidateTag(part);
    if (!st.ok()) {
      return InvalidArgument("tag filter '" + std::string(expression) + "': " + st.message());
    }
    if (sep == std::string_view::npos) break;
    start = sep + 2;
  }
  return Status::Ok();
}

Status CheckTimeout(std::string_view what, int64_t ms) {
  if (ms <= 0 || ms > 24 * 3600 * 1000LL) {
    return InvalidArgument(std::string(what) + " must be between 1 ms and 24 h, not " +
                           std::to_string(ms) + " ms");
  }
  return Status::Ok();
}

void ToWireMessage(const Message& m, const std::string& message_id, int64_t born_ms,
                   wire::Message* out) {
  out->set_topic(m.topic());
  out->set_queue_id(-1);
  out->set_tag(m.tag());
  for (const auto& k : m.keys()) out->add_keys(k);
  for (const auto& [k, v] : m.properties()) (*out->mutable_properties())[k] = v;
  out->set_message_id(message_id);
  out->set_message_group(m.message_group());
  out->set_born_ms(born_ms);
  out->set_body_size(static_cast<uint32_t>(m.body().size()));
  out->set_deliver_at_ms(m.deliver_at_ms());
  out->set_delay_ms(m.delay_ms());
  out->set_txn_check_timeout_ms(m.transaction_check_timeout_ms());
}

Result<std::vector<ReceivedMessage>> FromWireMessages(
    const google::protobuf::RepeatedPtrField<wire::Message>& messages, std::string_view body) {
  std::vector<std::string_view> bodies;
  Status st = wire::SplitBodies(messages, body, &bodies);
  if (!st.ok()) return Status(st.code(), "bad response from broker: " + st.message());
  std::vector<ReceivedMessage> out;
  out.reserve(messages.size());
  for (int i = 0; i < messages.size(); ++i) {
    out.push_back(ReceivedMessageAccess::FromWire(messages[i], bodies[i]));
  }
  return out;
}

Status ValidateConsumerSpec(const ConsumerSpec& spec) {
  RETURN_IF_ERROR(ValidateGroupName(spec.group));
  // Consumers may read system topics (%RETRY%g, %DLQ%g) on purpose.
  RETURN_IF_ERROR(ValidateTopicName(spec.topic, /*allow_system=*/true));
  RETURN_IF_ERROR(ValidateTagFilter(spec.tag_filter));
  RETURN_IF_ERROR(CheckTimeout("lease duration", spec.lease_ms));
  return Status::Ok();
}

Status CheckReceive(uint32_t max_messages, int64_t await_ms) {
  if (max_messages == 0 || max_messages > 1024) {
    return InvalidArgument("max_messages must be 1..1024, not " + std::to_string(max_messages));
  }
  if (await_ms < 0) return InvalidArgument("await duration is negative");
  return Status::Ok();
}

namespace {

Status HandleStatus(const google::protobuf::RepeatedPtrField<wire::HandleResult>& results) {
  // Each handle has its result, when the broker gives one; the first failure is the answer.
  int failed = 0;
  const wire::HandleResult* first = nullptr;
  for (const auto& r : results) {
    if (r.code() == wire::OK) continue;
    if (first == nullptr) first = &r;
    ++failed;
  }
  if (first == nullptr) return Status::Ok();
  wire::Header h;
  h.set_code(first->code());
  h.set_error_message(first->error_message());
  Status st = StatusFromHeader(h);
  if (results.size() == 1) return st;
  return Status(st.code(), st.message() + " (" + std::to_string(failed) + " of " +
                               std::to_string(results.size()) + " handles failed)");
}

}  // namespace

void ReceiveAsync(ClientCore& core, const ConsumerSpec& spec, uint32_t max_messages,
                  int64_t await_ms, ReceiveCallback done) {
  wire::Header h;
  h.set_kind(wire::RECEIVE);
  auto* r = h.mutable_receive_request();
  r->set_group(spec.group);
  r->set_topic(spec.topic);
  r->set_tag_filter(spec.tag_filter);
  r->set_max_messages(max_messages);
  r->set_lease_ms(spec.lease_ms);
  r->set_wait_ms(await_ms);
  r->set_client_id(spec.client_id);
  // The broker holds a long poll for await_ms before it even starts to answer.
  int64_t timeout = await_ms + core.request_timeout_ms();
  core.CallAsync(std::move(h), {}, nullptr, timeout, 1,
                 [done = std::move(done)](Result<wire::Frame> r) {
                   if (!r.ok()) {
                     done(r.status());
                     return;
                   }
                   done(FromWireMessages(r->header.receive_response().messages(), r->body));
                 });
}

Result<std::vector<ReceivedMessage>> Receive(ClientCore& core, const ConsumerSpec& spec,
                                             uint32_t max_messages, int64_t await_ms) {
  RETURN_IF_ERROR(CheckReceive(max_messages, await_ms));
  if (core.connection().OnIoThread()) {
    return Status(Code::kFailedPrecondition, "blocking Receive called from a client callback");
  }
  std::promise<Result<std::vector<ReceivedMessage>>> promise;
  auto future = promise.get_future();
  ReceiveAsync(
      core, spec, max_messages, await_ms,
      [&promise](Result<std::vector<ReceivedMessage>> r) { promise.set_value(std::move(r)); });
  return future.get();
}

Status Ack(ClientCore& core, const ConsumerSpec& spec, const std::string& receipt_handle) {
  return AckMany(core, spec, {receipt_handle});
}

void AckManyAsync(ClientCore& core, const ConsumerSpec& spec,
                  const std::vector<std::string_view>& receipt_handles, SettleCallback done) {
  if (receipt_handles.empty()) return done(Status::Ok());
  wire::Header h;
  h.set_kind(wire::ACK);
  auto* r = h.mutable_ack_request();
  r->set_group(spec.group);
  r->set_topic(spec.topic);
  for (std::string_view handle : receipt_handles) {
    if (handle.empty()) return done(InvalidArgument("message has no receipt handle"));
    r->add_receipt_handles()->assign(handle.data(), handle.size());
  }
  core.CallAsync(std::move(h), {}, nullptr, 0, 1, [done = std::move(done)](Result<wire::Frame> f) {
    if (!f.ok()) return done(f.status());
    done(HandleStatus(f->header.ack_response().results()));
  });
}

Status AckMany(ClientCore& core, const ConsumerSpec& spec,
               const std::vector<std::string_view>& receipt_handles) {
  if (core.connection().OnIoThread()) {
    return Status(Code::kFailedPrecondition, "blocking Ack called from a client callback");
  }
  std::promise<Status> promise;
  auto future = promise.get_future();
  AckManyAsync(core, spec, receipt_handles,
               [&promise](Status st) { promise.set_value(std::move(st)); });
  return future.get();
}

namespace {

constexpr int64_t kMaxNackDelayMs = 24 * 3600 * 1000LL;

// NACK with or without release; `done` runs on the io thread, or inline on a bad argument.
void NackRequestAsync(ClientCore& core, const ConsumerSpec& spec,
                      const std::vector<std::string_view>& receipt_handles, int64_t delay_ms,
                      bool release, SettleCallback done) {
  if (receipt_handles.empty()) return done(Status::Ok());
  if (delay_ms < 0 || delay_ms > kMaxNackDelayMs) {
    return done(InvalidArgument("nack delay must be between 0 and 24 h, not " +
                                std::to_string(delay_ms) + " ms"));
  }
  wire::Header h;
  h.set_kind(wire::NACK);
  auto* r = h.mutable_nack_request();
  r->set_group(spec.group);
  r->set_topic(spec.topic);
  for (std::string_view handle : receipt_handles) {
    if (handle.empty()) return done(InvalidArgument("message has no receipt handle"));
    r->add_receipt_handles()->assign(handle.data(), handle.size());
  }
  r->set_delay_ms(delay_ms);
  r->set_release(release);
  core.CallAsync(std::move(h), {}, nullptr, 0, 1, [done = std::move(done)](Result<wire::Frame> f) {
    if (!f.ok()) return done(f.status());
    done(HandleStatus(f->header.nack_response().results()));
  });
}

Status NackRequest(ClientCore& core, const ConsumerSpec& spec,
                   const std::vector<std::string_view>& receipt_handles, int64_t delay_ms,
                   bool release) {
  if (core.connection().OnIoThread()) {
    return Status(Code::kFailedPrecondition, "blocking Nack called from a client callback");
  }
  std::promise<Status> promise;
  auto future = promise.get_future();
  NackRequestAsync(core, spec, receipt_handles, delay_ms, release,
                   [&promise](Status st) { promise.set_value(std::move(st)); });
  return future.get();
}

}  // namespace

Status Nack(ClientCore& core, const ConsumerSpec& spec, const std::string& receipt_handle,
            int64_t delay_ms) {
  if (receipt_handle.empty()) return InvalidArgument("message has no receipt handle");
  return NackRequest(core, spec, {receipt_handle}, delay_ms, /*release=*/false);
}

Status NackMany(ClientCore& core, const ConsumerSpec& spec,
                const std::vector<std::string_view>& receipt_handles, int64_t delay_ms) {
  return NackRequest(core, spec, receipt_handles, delay_ms, /*release=*/false);
}

void NackManyAsync(ClientCore& core, const ConsumerSpec& spec,
                   const std::vector<std::string_view>& receipt_handles, int64_t delay_ms,
                   SettleCallback done) {
  NackRequestAsync(core, spec, receipt_handles, delay_ms, /*release=*/false, std::move(done));
}

Status Release(ClientCore& core, const ConsumerSpec& spec,
               const std::vector<std::string_view>& receipt_handles) {
  return NackRequest(core, spec, receipt_handles, 0, /*release=*/true);
}

void ReleaseAsync(ClientCore& core, const ConsumerSpec& spec,
                  const std::vector<std::string_view>& receipt_handles, SettleCallback done) {
  NackRequestAsync(core, spec, receipt_handles, 0, /*release=*/true, std::move(done));
}

void ChangeLeaseAsync(ClientCore& core, const ConsumerSpec& spec, const std::string& receipt_handle,
                      int64_t lease_ms, ChangeLeaseCallback done) {
  if (receipt_handle.empty()) return done(InvalidArgument("message has no receipt handle"));
  if (Status st = CheckTimeout("lease duration", lease_ms); !st.ok()) return done(st);
  wire::Header h;
  h.set_kind(wire::CHANGE_LEASE);
  auto* r = h.mutable_change_lease_request();
  r->set_group(spec.group);
  r->set_topic(spec.topic);
  r->set_receipt_handle(receipt_handle);
  r->set_lease_ms(lease_ms);
  core.CallAsync(std::move(h), {}, nullptr, 0, 1, [done = std::move(done)](Result<wire::Frame> f) {
    if (!f.ok()) return done(f.status());
    const std::string& handle = f->header.change_lease_response().receipt_handle();
    if (handle.empty()) return done(Internal("broker returned no new receipt handle"));
    done(handle);
  });
}

Result<std::string> ChangeLease(ClientCore& core, const ConsumerSpec& spec,
                                const std::string& receipt_handle, int64_t lease_ms) {
  if (core.connection().OnIoThread()) {
    return Status(Code::kFailedPrecondition, "blocking ChangeLease called from a client callback");
  }
  std::promise<Result<std::string>> promise;
  auto future = promise.get_future();
  ChangeLeaseAsync(core, spec, receipt_handle, lease_ms,
                   [&promise](Result<std::string> r) { promise.set_value(std::move(r)); });
  return future.get();
}

}  // namespace client
}  // namespace tidemq
