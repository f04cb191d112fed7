#include "tidemq/producer.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <random>
#include <optional>
#include <set>
#include <thread>

#include "client/src/client_core.h"
#include "client/src/cluster_client.h"
#include "client/src/message_id.h"
#include "client/src/txn_check_dispatcher.h"
#include "common/clock.h"
#include "common/logging.h"
#include "common/names.h"

namespace tidemq {
namespace {

using BatchCallback = std::function<void(Result<std::vector<SendReceipt>>)>;

Status Moved() { return Status(Code::kFailedPrecondition, "producer was moved from"); }

// In a cluster one group gets this much of a send's failover deadline before the send moves
// on to another group: losing a whole group costs a send about this, not the whole deadline.
constexpr int64_t kGroupSliceMs = 1000;

}  // namespace

const char* ToString(TransactionResolution r) {
  switch (r) {
    case TransactionResolution::kCommit: return "commit";
    case TransactionResolution::kRollback: return "rollback";
    case TransactionResolution::kUnknown: break;
  }
  return "unknown";
}

// Lives on until its cluster client is shut down: callbacks refer to it.
//
// Outside a cluster every send goes through the bootstrap core as it always did. In a cluster
// (client/README.md, "Clusters of broker groups") a send picks a (group, queue) of the topic's
// route: round robin over the queues of the writable groups, skipping a group that failed in
// the last kGroupIsolationMs or whose connection is down, and moving on to another group
// after a failover error — the same message ids — at once while another group is left to try,
// else after up to kGroupSliceMs of the failover deadline in that group. A message group (FIFO) hashes to one queue of the active groups and
// stays with it.
class Producer::Impl {
 public:
  Impl(std::unique_ptr<client::ClusterClient> cluster, std::string group, int max_attempts,
       std::shared_ptr<client::TxnCheckDispatcher> checks)
      : cluster_(std::move(cluster)),
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
    state->started = SteadyClock::now();
    state->deadline = state->started + std::chrono::milliseconds(cluster_->failover_deadline_ms());
    const std::string topic = state->messages.front().topic();
    cluster_->WhenTopicKnown(topic, [this, state] { Route(state); });
  }

  Result<std::vector<SendReceipt>> SendBatchSync(std::vector<Message> messages,
                                                 wire::RequestKind kind = wire::SEND) {
    if (cluster_->OnClientThread()) {
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

  // Ends one half message, on the group that stored it; retried like a send (ends are
  // idempotent on the broker).
  Status EndTransaction(const SendReceipt& half, TransactionResolution resolution) {
    RETURN_IF_ERROR(CheckTransactional());
    if (resolution == TransactionResolution::kUnknown) return Status::Ok();  // check-back
    if (half.log_offset < 0 || half.message_id.empty()) {
      return InvalidArgument("not the receipt of a half message (no log offset or message id)");
    }
    if (cluster_->OnClientThread()) {
      return Status(Code::kFailedPrecondition, "transaction ended from a client callback");
    }
    RETURN_IF_ERROR(cluster_->WaitReady());
    client::ClientCore* core = cluster_->Core(half.group);
    if (core == nullptr) {
      return Status(Code::kUnavailable, "broker group '" + half.group +
                                            "' of the half message is not in the cluster's "
                                            "routes (or has no address)");
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
    return core->Call(std::move(h), {}, 0, max_attempts_).status();
  }

  void Shutdown() {
    cluster_->Shutdown();  // no more check requests arrive
    if (checks_) checks_->Stop();
  }

 private:
  using SteadyClock = std::chrono::steady_clock;

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
    // Cluster routing, touched by one attempt at a time.
    SteadyClock::time_point started;
    SteadyClock::time_point deadline;  // the failover deadline over every group
    std::set<std::string> tried;       // groups tried since the last round over all of them
    int attempts = 0;                  // groups tried in all
    int rounds = 0;                    // rounds over every group
    Status last;
  };

  using Target = client::QueueTarget;

  int64_t RemainingMs(const SendState& s) const {
    return std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::milliseconds>(s.deadline - SteadyClock::now())
               .count());
  }

  void Route(std::shared_ptr<SendState> state) {
    if (cluster_->shut_down())
      return state->done(Status(Code::kCancelled, "producer is shut down"));
    if (!cluster_->clustered()) {
      if (!state->messages.front().message_group().empty() && !cluster_->answered()) {
        // No broker answered the routes yet: a FIFO send waits for them. Sent through the
        // bootstrap address now, its message group would be on that group's queue of the
        // broker's choice, and move once the routes tell of a cluster.
        cluster_->RequestRefresh();
        if (RemainingMs(*state) <= 0) {
          return state->done(Status(Code::kUnavailable,
                                    "no broker answered the cluster's routes within the "
                                    "failover deadline"));
        }
        return RetryLater(std::move(state), Status(Code::kUnavailable, "routes not known yet"));
      }
      // One broker or one group: as always, the broker picks the queue.
      return Attempt(std::move(state), "", -1, -1, max_attempts_, /*reroute=*/false);
    }
    if (state->attempts == 0) {
      if (Status st = CheckClusterBatch(state->messages); !st.ok()) return state->done(st);
    }
    auto routes = cluster_->routes();
    const Message& first = state->messages.front();
    if (!first.message_group().empty()) {
      std::optional<Target> t = client::FifoTarget(*routes, first.topic(), first.message_group());
      if (!t) {
        return state->done(Status(Code::kUnavailable,
                                  "no active broker group holds queues of "
                                  "topic '" +
                                      first.topic() + "'"));
      }
      // The whole failover deadline on that one queue: never elsewhere, to keep the order.
      return Attempt(std::move(state), t->group, t->queue, -1, max_attempts_, false);
    }
    std::vector<Target> candidates = Candidates(*routes, first.topic());
    std::optional<Target> t = Pick(candidates, *state);
    if (!t && !candidates.empty()) {
      // Every group tried once: another round, after a back-off.
      state->tried.clear();
      ++state->rounds;
      t = Pick(candidates, *state);
    }
    if (!t) {
      cluster_->RequestRefresh();
      Status why = Status(Code::kUnavailable,
                          "no writable broker group holds queues of topic '" + first.topic() + "'");
      // Read before the move (argument evaluation order is unspecified).
      Status last = state->last.ok() ? why : state->last;
      return RetryLater(std::move(state), std::move(last));
    }
    if (state->rounds > 0 && state->tried.empty() && state->attempts > 0) {
      // A new round over the groups: not at once.
      state->tried.insert(t->group);
      Status last = state->last;
      return RetryLater(std::move(state), std::move(last), *t);
    }
    // With another group still to try, a failure here moves on at once (another group is as
    // good as this one's new master): the sends in flight to a group that dies go elsewhere
    // the moment its connection breaks. The last group left gets a slice to fail over within.
    const bool others = std::any_of(candidates.begin(), candidates.end(), [&](const Target& c) {
      return c.group != t->group && state->tried.count(c.group) == 0;
    });
    const int64_t slice = others ? 0 : std::min(kGroupSliceMs, RemainingMs(*state));
    Attempt(std::move(state), t->group, t->queue, slice, 1, /*reroute=*/true);
  }

  // A batch goes to one queue: one topic, one message group (or none).
  static Status CheckClusterBatch(const std::vector<Message>& messages) {
    for (const Message& m : messages) {
      if (m.topic() != messages.front().topic() ||
          m.message_group() != messages.front().message_group()) {
        return InvalidArgument(
            "in a cluster a batch goes to one queue: its messages must share one topic and one "
            "message group (or none)");
      }
    }
    return Status::Ok();
  }

  // The writable groups' queues of the topic, in route order; without a route, the writable
  // groups themselves (queue -1: the broker decides, or answers TOPIC_NOT_FOUND).
  static std::vector<Target> Candidates(const ClusterRoutes& routes, const std::string& topic) {
    std::vector<Target> out;
    if (const TopicRoute* t = routes.FindTopic(topic)) {
      for (const QueueRange& r : t->queues) {
        const BrokerGroupRoute* g = routes.FindGroup(r.group);
        if (g == nullptr || !g->writable()) continue;
        for (uint32_t q = 0; q < r.queue_count; ++q) {
          out.push_back({r.group, static_cast<int32_t>(q)});
        }
      }
      return out;
    }
    for (const auto& g : routes.groups) {
      if (g.writable()) out.push_back({g.name, -1});
    }
    return out;
  }

  // Round robin from the next (group, queue): a group not yet tried by this send, preferably
  // not failed recently and connected; nullopt when every group was tried.
  std::optional<Target> Pick(const std::vector<Target>& candidates, const SendState& s) {
    if (candidates.empty()) return std::nullopt;
    const size_t n = candidates.size();
    const size_t start = next_.fetch_add(1, std::memory_order_relaxed) % n;
    auto find = [&](auto&& good) -> std::optional<Target> {
      for (size_t i = 0; i < n; ++i) {
        const Target& t = candidates[(start + i) % n];
        if (s.tried.count(t.group) == 0 && good(t)) return t;
      }
      return std::nullopt;
    };
    auto healthy = [&](const Target& t) { return !cluster_->RecentlyFailed(t.group); };
    auto connected = [&](const Target& t) {
      client::ClientCore* core = cluster_->Core(t.group);
      return core != nullptr && core->connection().connected();
    };
    if (auto t = find([&](const Target& t) { return healthy(t) && connected(t); })) return t;
    if (auto t = find(healthy)) return t;
    return find([](const Target&) { return true; });
  }

  // Waits a back-off (50 ms doubling to 1 s, never past the deadline), then routes again —
  // or gives up with `why` once the deadline and the attempts are used up.
  void RetryLater(std::shared_ptr<SendState> state, Status why,
                  std::optional<Target> then = std::nullopt) {
    const int64_t left = RemainingMs(*state);
    if (left <= 0 && state->attempts >= max_attempts_) return Fail(state, why);
    const int64_t backoff = std::min<int64_t>(
        {1000, int64_t{50} << std::min(state->rounds, 5), std::max<int64_t>(left, 0)});
    cluster_->bootstrap().connection().RunAfter(
        backoff, [this, state, why, then](bool closed) mutable {
          if (closed) return state->done(Status(Code::kCancelled, "producer is shut down"));
          if (!then) return Route(std::move(state));
          const int64_t slice = std::min(kGroupSliceMs, RemainingMs(*state));
          Attempt(std::move(state), then->group, then->queue, slice, 1, true);
        });
  }

  void Fail(const std::shared_ptr<SendState>& state, const Status& why) {
    if (state->attempts <= 1) return state->done(why);
    state->done(
        Status(why.code(), why.message() + " (after " + std::to_string(state->attempts) +
                               " attempts on the cluster's groups in " +
                               std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  SteadyClock::now() - state->started)
                                                  .count()) +
                               " ms)"));
  }

  // One request to `group` (queue -1: the broker picks), re-sent as it is (same ids, bodies,
  // properties) by ClientCore::CallAsync for failover_ms (< 0: the whole failover deadline).
  void Attempt(std::shared_ptr<SendState> state, const std::string& group, int32_t queue,
               int64_t failover_ms, int max_attempts, bool reroute) {
    ++state->attempts;
    state->tried.insert(group);
    client::ClientCore* core = cluster_->Core(group);
    if (core == nullptr) {
      return OnResponse(
          state, group, reroute,
          Status(Code::kUnavailable, "broker group '" + group + "' has no address in the routes"));
    }
    wire::Header h;
    h.set_kind(state->kind);
    auto* req = h.mutable_send_request();
    req->set_producer_group(group_);
    std::vector<std::string_view> bodies;
    bodies.reserve(state->messages.size());
    for (size_t i = 0; i < state->messages.size(); ++i) {
      wire::Message* m = req->add_messages();
      client::ToWireMessage(state->messages[i], state->ids[i], state->born_ms, m);
      m->set_queue_id(queue);
      bodies.push_back(state->messages[i].body());
    }
    core->CallAsync(
        std::move(h), std::move(bodies), state, 0, max_attempts,
        [this, state, group, reroute](Result<wire::Frame> r) {
          OnResponse(state, group, reroute, std::move(r));
        },
        failover_ms);
  }

  // Errors another group may not have: the group is down, electing, drained, hung, busy or
  // gone from the routes (its core shut down).
  bool Reroutable(Code code) const {
    return client::IsFailoverError(code) || code == Code::kTimeout || code == Code::kNotWritable ||
           code == Code::kResourceExhausted || (code == Code::kCancelled && !cluster_->shut_down());
  }

  void OnResponse(const std::shared_ptr<SendState>& state, const std::string& group, bool reroute,
                  Result<wire::Frame> r) {
    if (!r.ok()) {
      const Code code = r.status().code();
      if (cluster_->clustered() && (code == Code::kNotWritable || code == Code::kTopicNotFound)) {
        cluster_->RequestRefresh();  // our routes are older than the broker's
      }
      if (!reroute || !Reroutable(code)) return state->done(r.status());
      cluster_->MarkFailed(group);
      state->last = Status(code, "broker group '" + group + "': " + r.status().message());
      if (RemainingMs(*state) <= 0 && state->attempts >= max_attempts_) {
        return Fail(state, state->last);
      }
      return Route(state);
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
      rc.group = group;
      receipts.push_back(std::move(rc));
    }
    state->done(std::move(receipts));
  }

  std::unique_ptr<client::ClusterClient> cluster_;
  std::string group_;
  int max_attempts_;
  const std::shared_ptr<client::TxnCheckDispatcher> checks_;  // transactional producers only
  // Round robin over (group, queue), from a random place: short-lived producers (a CLI send
  // each) spread over the queues too.
  std::atomic<uint64_t> next_{std::random_device{}()};
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
  client::ClusterOptions cluster_options;
  cluster_options.core = std::move(options);
  auto cluster = client::ClusterClient::Create(std::move(cluster_options));
  if (!cluster.ok()) {
    if (checks) checks->Stop();
    return cluster.status();
  }
  return Producer(
      std::make_unique<Impl>(std::move(*cluster), group_, max_send_attempts_, std::move(checks)));
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
