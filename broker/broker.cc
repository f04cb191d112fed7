#include "broker/broker.h"

#include <spdlog/spdlog.h>

#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio.hpp>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "broker/connection.h"
#include "broker/dead_letters.h"
#include "broker/consumer_manager.h"
#include "broker/handlers/handlers.h"
#include "broker/long_poll.h"
#include "broker/retry_copies.h"
#include "broker/scheduled_delivery.h"
#include "broker/topic_manager.h"
#include "common/file_system.h"
#include "common/logging.h"
#include "store/store.h"
#include "timer/timer_service.h"
#include "broker/txn_coordinator.h"
#include "txn/txn_service.h"
#include "txn/txn_types.h"

namespace tidemq::broker {

namespace asio = boost::asio;

namespace {

// Tells long-polling receivers that a topic got a message. Runs on the store's writer thread
// for every record once it is durable, so it only bumps a sequence and hands wake-ups to the
// network threads.
class ArrivalObserver final : public store::Observer {
 public:
  ArrivalObserver(LongPolls* polls, asio::io_context* io) : polls_(polls), io_(io) {}
  LogOffset Checkpoint() const override { return kNoLogOffset; }
  void OnRecord(const store::Record& record, LogOffset, bool replay) override {
    if (replay || !store::IsDispatchedToQueue(record.type)) return;
    auto waiters = polls_->Notify(record.topic);
    // A retry copy is received by the receivers of the topic it was first sent to.
    if (IsRetryTopic(record.topic)) {
      for (auto& w : polls_->Notify(ReadRetryInfo(record).original_topic)) {
        waiters.push_back(std::move(w));
      }
    }
    for (auto& w : waiters) asio::post(*io_, std::move(w));
  }

 private:
  LongPolls* polls_;
  asio::io_context* io_;
};

}  // namespace

class Broker::Impl final : public RequestSink {
 public:
  Impl(const BrokerConfig& config, Clock* clock)
      : config_(config),
        clock_(clock),
        work_(asio::make_work_guard(io_)),
        acceptor_(io_),
        periodic_(io_),
        arrivals_(&polls_, &io_) {}

  Status Open() {
    stats_.start_ms = clock_->NowMs();
    store::StoreOptions so = config_.ToStoreOptions();
    so.clock = clock_;
    // The timer index is derived from the log: open it first so the store replays into it.
    timer::TimerServiceOptions to;
    to.index_path = config_.data_dir + "/timer";
    RETURN_IF_ERROR(FileSystem::Default()->CreateDirs(config_.data_dir));
    to.start_ms = clock_->NowMs();
    ASSIGN_OR_RETURN(timer_, timer::TimerService::Open(to));
    // So is the transaction index.
    txn::TxnServiceOptions xo;
    xo.index_path = config_.data_dir + "/txn";
    xo.default_timeout_ms = config_.txn_check_timeout_ms;
    xo.check_backoff_ms = config_.txn_check_backoff_ms;
    xo.check_backoff_max_ms = config_.txn_check_backoff_max_ms;
    xo.max_checks = config_.txn_max_checks;
    ASSIGN_OR_RETURN(txn_, txn::TxnService::Open(xo));
    ASSIGN_OR_RETURN(store_, store::Store::Open(so, {timer_.get(), txn_.get(), &arrivals_}));
    timer::TimerService* timer = timer_.get();
    store_->AddRetentionGuard([timer] { return timer->OldestPendingOffset(); });
    txn::TxnService* txn = txn_.get();
    store_->AddRetentionGuard([txn] { return txn->OldestPendingOffset(); });
    scheduled_ = std::make_unique<ScheduledDelivery>(timer, store_.get(), clock_);
    txn_coordinator_ = std::make_unique<TxnCoordinator>(config_, txn, timer, store_.get(),
                                                        scheduled_.get(), clock_, &io_);
    TxnCoordinator* coordinator = txn_coordinator_.get();
    scheduled_->SetVolatileHandler([this, coordinator](const timer::DueTimer& t) {
      if (t.tag == kTimerTagTxnCheck) coordinator->OnTimer();
      if (t.tag == kTimerTagConsumers) asio::post(io_, [this] { OnConsumerTimer(); });
    });
    topics_ = std::make_unique<TopicManager>(store_.get());
    RETURN_IF_ERROR(topics_->Load());
    TopicManager* topics = topics_.get();
    // A scheduled message or a half waits for its topic as it was (its incarnation): deleted,
    // or deleted and created again, it is dropped where it would take effect, and counted.
    auto topic_current = [topics](const store::Record& r) {
      if (topics->IsCurrent(r)) return true;
      topics->CountStale();
      return false;
    };
    scheduled_->SetTopicCheck(topic_current);
    txn_coordinator_->SetTopicCheck(topic_current);
    // Where the final action parks transactions; readable like any topic.
    RETURN_IF_ERROR(
        topics_->Create(txn::kParkedTopic, 1, clock_->NowMs(), /*allow_system=*/true).status());
    consumers_ = std::make_unique<ConsumerManager>(store_.get(), topics_.get(), clock_, config_);
    RETURN_IF_ERROR(consumers_->Load());
    if (config_.retention_keep_unconsumed) {
      ConsumerManager* consumers = consumers_.get();
      store_->AddRetentionGuard([consumers] { return consumers->OldestUnconsumed(); });
    }
    dead_letters_ = std::make_unique<DeadLetters>(store_.get(), topics_.get(), clock_);
    RETURN_IF_ERROR(dead_letters_->Load());
    // Lease deadlines and in-place retries are volatile timers of the timer engine.
    consumers_->SetWakeup([timer, clock = clock_](int64_t monotonic_ms) {
      const int64_t wait = std::max<int64_t>(0, monotonic_ms - clock->MonotonicMs());
      timer->ScheduleVolatile(clock->NowMs() + wait, kTimerTagConsumers, 0);
    });
    consumers_->SetReadyNotifier([this](const std::string& topic) {
      for (auto& w : polls_.Notify(topic)) asio::post(io_, std::move(w));
    });

    boost::system::error_code ec;
    auto addr = asio::ip::make_address(config_.host, ec);
    if (ec) return InvalidArgument("bad listen address '" + config_.host + "': " + ec.message());
    asio::ip::tcp::endpoint ep(addr, config_.port);
    acceptor_.open(ep.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(ep, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return Status(Code::kUnavailable, "cannot listen on " + config_.host + ":" +
                                            std::to_string(config_.port) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
    ctx_ = std::make_unique<BrokerContext>(BrokerContext{
        config_, clock_, store_.get(), topics_.get(), consumers_.get(), &polls_, &stats_, &io_,
        Address(), timer_.get(), scheduled_.get(), txn_.get(), txn_coordinator_.get(),
        dead_letters_.get()});
    scheduled_->Start();
    txn_coordinator_->Start();
    Accept();
    SchedulePeriodic();
    for (int i = 0; i < config_.io_threads; ++i) {
      threads_.emplace_back([this, i] {
        SetThreadName(("tidemq-io-" + std::to_string(i)).c_str());
        io_.run();
      });
    }
    return Status::Ok();
  }

  std::string Address() const { return config_.host + ":" + std::to_string(port_); }
  uint16_t port() const { return port_; }

  void Stop() {
    std::call_once(stop_once_, [this] {
      spdlog::info("broker stopping");
      asio::post(io_, [this] {
        boost::system::error_code ec;
        acceptor_.close(ec);
        periodic_.cancel();
        // Close outside the lock: Close() may run OnClosed() inline, which takes it.
        std::vector<std::shared_ptr<Connection>> conns;
        {
          std::lock_guard lock(conns_mu_);
          conns.assign(conns_.begin(), conns_.end());
        }
        for (auto& c : conns) c->Close();
      });
      // Parked long-polls answer with no messages rather than hang.
      for (auto& w : polls_.TakeAll()) asio::post(io_, std::move(w));
      work_.reset();
      // Give in-flight replies a moment to go out, then stop the loop.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      io_.stop();
      for (auto& t : threads_) {
        if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
      }
      // Before the store closes; re-puts already handed to it complete as it closes.
      if (txn_coordinator_) txn_coordinator_->Stop();
      if (scheduled_) scheduled_->Stop();
      if (dead_letters_) dead_letters_->Stop();
      if (consumers_) {
        Status st = consumers_->FlushOffsets(/*sync=*/true);
        if (!st.ok()) spdlog::error("persisting consumer offsets: {}", st.ToString());
      }
      store_.reset();
      // After the store: its closing append callbacks use them; the timer persists its
      // checkpoint as it closes.
      scheduled_.reset();
      txn_coordinator_.reset();
      timer_.reset();
      txn_.reset();
      spdlog::info("broker stopped");
      {
        std::lock_guard lock(stopped_mu_);
        stopped_ = true;
      }
      stopped_cv_.notify_all();
    });
  }

  void Wait() {
    std::unique_lock lock(stopped_mu_);
    stopped_cv_.wait(lock, [this] { return stopped_; });
  }

  // RequestSink
  void OnRequest(const std::shared_ptr<Connection>& conn, wire::Frame frame) override {
    Request req{conn, std::make_shared<const wire::Frame>(std::move(frame))};
    if (req.header().is_response()) {  // answers to broker requests (check-backs)
      if (txn_coordinator_) txn_coordinator_->OnResponse(conn, *req.frame);
      return;
    }
    Dispatch(req);
  }

  void OnClosed(const std::shared_ptr<Connection>& conn) override {
    stats_.connections.fetch_sub(1);
    if (txn_coordinator_) txn_coordinator_->OnClosed(conn);
    std::lock_guard lock(conns_mu_);
    conns_.erase(conn);
  }

 private:
  void Dispatch(const Request& req) {
    BrokerContext& ctx = *ctx_;
    switch (req.header().kind()) {
      case wire::SEND: return HandleSend(ctx, req);
      case wire::RECEIVE: return HandleReceive(ctx, req);
      case wire::ACK: return HandleAck(ctx, req);
      case wire::NACK: return HandleNack(ctx, req);
      case wire::CHANGE_LEASE: return HandleChangeLease(ctx, req);
      case wire::HEARTBEAT: return HandleHeartbeat(ctx, req);
      case wire::CREATE_TOPIC: return HandleCreateTopic(ctx, req);
      case wire::LIST_TOPICS: return HandleListTopics(ctx, req);
      case wire::DESCRIBE_TOPIC: return HandleDescribeTopic(ctx, req);
      case wire::DELETE_TOPIC: return HandleDeleteTopic(ctx, req);
      case wire::CREATE_GROUP: return HandleCreateGroup(ctx, req);
      case wire::LIST_GROUPS: return HandleListGroups(ctx, req);
      case wire::DESCRIBE_GROUP: return HandleDescribeGroup(ctx, req);
      case wire::DELETE_GROUP: return HandleDeleteGroup(ctx, req);
      case wire::QUERY_MESSAGE: return HandleQueryMessage(ctx, req);
      case wire::STATS: return HandleStats(ctx, req);
      case wire::CANCEL_SCHEDULED: return HandleCancelScheduled(ctx, req);
      case wire::TIMER_STATS: return HandleTimerStats(ctx, req);
      case wire::TIMER_SHOW: return HandleTimerShow(ctx, req);
      case wire::SEND_HALF: return HandleSendHalf(ctx, req);
      case wire::END_TXN: return HandleEndTxn(ctx, req);
      case wire::TXN_LIST: return HandleTxnList(ctx, req);
      case wire::TXN_SHOW: return HandleTxnShow(ctx, req);
      case wire::TXN_STATS: return HandleTxnStats(ctx, req);
      case wire::DLQ_LIST: return HandleDlqList(ctx, req);
      case wire::DLQ_REDRIVE: return HandleDlqRedrive(ctx, req);
      case wire::DLQ_PURGE: return HandleDlqPurge(ctx, req);
      default:
        stats_.bad_requests.fetch_add(1);
        return req.ReplyError(Status(Code::kUnsupported,
                                     "unknown request kind " +
                                         std::to_string(static_cast<int>(req.header().kind()))));
    }
  }

  void Accept() {
    acceptor_.async_accept(asio::make_strand(io_), [this](boost::system::error_code ec,
                                                          asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (!ec) {
        ConnectionOptions opts{config_.max_frame_bytes, config_.max_connection_write_bytes};
        auto conn = std::make_shared<Connection>(std::move(socket), this, opts, ++next_conn_id_);
        stats_.connections.fetch_add(1);
        stats_.connections_total.fetch_add(1);
        {
          std::lock_guard lock(conns_mu_);
          conns_.insert(conn);
        }
        conn->Start();
      } else {
        spdlog::warn("accept failed: {}", ec.message());
      }
      Accept();
    });
  }

  // Lapsed leases and due in-place retries; the long-polls of their topics are woken.
  void OnConsumerTimer() {
    for (const std::string& topic : consumers_->OnTimer()) {
      for (auto& w : polls_.Notify(topic)) asio::post(io_, std::move(w));
    }
  }

  void SchedulePeriodic() {
    periodic_.expires_after(std::chrono::milliseconds(config_.housekeeping_interval_ms));
    periodic_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      int64_t now = clock_->MonotonicMs();
      if (now - last_offset_flush_ >= config_.offset_flush_interval_ms) {
        last_offset_flush_ = now;
        if (Status st = consumers_->FlushOffsets(false); !st.ok()) {
          spdlog::error("persisting consumer offsets: {}", st.ToString());
        }
      }
      // Every minute; every few seconds while the store refuses appends for want of space,
      // so that what retention may delete is deleted soon.
      const int64_t retention_every = store_->Stats().refusing_reason.empty() ? 60'000 : 5'000;
      if (now - last_retention_ >= retention_every) {
        last_retention_ = now;
        auto deleted = store_->RunRetention();
        if (!deleted.ok()) spdlog::error("retention: {}", deleted.status().ToString());
        // Now, not at the groups' next receive: what retention took from a group is told at
        // once (log, counters, group status).
        consumers_->OnRetention();
        stats_.retention_runs.fetch_add(1, std::memory_order_relaxed);
        // Ended transactions are remembered (a repeated end answers OK) for a while.
        const int64_t keep_ms = config_.txn_keep_resolved_hours * 3600 * 1000;
        auto purged = txn_->PurgeResolved(clock_->NowMs() - keep_ms, 100'000);
        if (!purged.ok()) spdlog::error("purging ended transactions: {}", purged.status().ToString());
      }
      SchedulePeriodic();
    });
  }

  BrokerConfig config_;
  Clock* clock_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer periodic_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;

  LongPolls polls_;
  ArrivalObserver arrivals_;
  BrokerStats stats_;
  std::unique_ptr<timer::TimerService> timer_;      // outlives store_ (its observer)
  std::unique_ptr<txn::TxnService> txn_;            // outlives store_ (its observer)
  std::unique_ptr<ScheduledDelivery> scheduled_;    // outlives store_ (append callbacks)
  std::unique_ptr<TxnCoordinator> txn_coordinator_; // outlives store_ (append callbacks)
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<ConsumerManager> consumers_;
  std::unique_ptr<DeadLetters> dead_letters_;
  std::unique_ptr<BrokerContext> ctx_;

  std::mutex conns_mu_;
  std::set<std::shared_ptr<Connection>> conns_;  // GUARDED_BY(conns_mu_)
  std::atomic<uint64_t> next_conn_id_{0};
  int64_t last_offset_flush_ = 0;   // periodic timer only
  int64_t last_retention_ = 0;      // periodic timer only

  std::once_flag stop_once_;
  std::mutex stopped_mu_;
  std::condition_variable stopped_cv_;
  bool stopped_ = false;  // GUARDED_BY(stopped_mu_)
};

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() { Stop(); }

Result<std::unique_ptr<Broker>> Broker::Start(const BrokerConfig& config, Clock* clock) {
  auto impl = std::make_unique<Impl>(config, clock ? clock : SystemClock::Get());
  RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

uint16_t Broker::port() const { return impl_->port(); }
std::string Broker::address() const { return impl_->Address(); }
void Broker::Stop() { impl_->Stop(); }
void Broker::Wait() { impl_->Wait(); }

}  // namespace tidemq::broker
