#include "broker/broker.h"

#include <spdlog/spdlog.h>

#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include "broker/connection.h"
#include "broker/core/broker_core.h"
#include "broker/handlers/handlers.h"
#include "broker/inflight_budget.h"
#include "broker/log_limiter.h"
#include "common/logging.h"
#include "common/mutex.h"
#include "proto/frame.h"

namespace tidemq::broker {

namespace asio = boost::asio;

class Broker::Impl final : public RequestSink {
 public:
  Impl(const BrokerConfig& config, Clock* clock)
      : config_(config),
        clock_(clock),
        io_(1),
        work_(asio::make_work_guard(io_)),
        acceptor_(io_),
        accept_backoff_(io_),
        periodic_(io_) {}

  Status Open(std::function<void(const std::string&)> on_restart) {
    ASSIGN_OR_RETURN(core_, BrokerCore::Open(config_, clock_, &io_, nullptr, std::move(on_restart)));
    stats_ = &core_->stats();

    InflightLimits limits;
    // A frame as large as --max-frame-bytes must fit, or its connection would wait forever.
    limits.broker = std::max<int64_t>(config_.max_inflight_bytes,
                                      int64_t{config_.max_frame_bytes} + wire::kLengthFieldSize);
    limits.per_connection = config_.max_connection_inflight_bytes;
    budget_ = std::make_shared<InflightBudget>(limits);
    stats_->inflight_bytes = [budget = budget_.get()] { return budget->used(); };
    max_connections_ = EffectiveMaxConnections(config_.max_connections);

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
    ctx_ = std::make_unique<BrokerContext>(BrokerContext{core_.get(), stats_, Address()});
    core_->Start();
    Accept();
    SchedulePeriodic();
    // One io_context per io thread, each run by its thread alone: a connection's reads,
    // handlers and writes stay on one thread (no hand-off between the threads of a shared
    // context: a wake-up per request), and a reply posted from the store's writer wakes the
    // connection's own thread. The first also runs the acceptor, timers and the core's waits.
    for (int i = 1; i < config_.io_threads; ++i) {
      auto& extra = extra_io_.emplace_back(std::make_unique<asio::io_context>(1));
      extra_work_.emplace_back(asio::make_work_guard(*extra));
    }
    for (int i = 0; i < config_.io_threads; ++i) {
      asio::io_context* io = &Io(static_cast<size_t>(i));
      threads_.emplace_back([io, i] {
        SetThreadName(("tidemq-io-" + std::to_string(i)).c_str());
        io->run();
      });
    }
    return Status::Ok();
  }

  std::string Address() const { return config_.host + ":" + std::to_string(port_); }
  BrokerCore* core() const { return core_.get(); }
  uint16_t port() const { return port_; }

  void Stop() {
    std::call_once(stop_once_, [this] {
      spdlog::info("broker stopping");
      asio::post(io_, [this] {
        boost::system::error_code ec;
        acceptor_.close(ec);
        accept_backoff_.cancel();
        periodic_.cancel();
        // Close outside the lock: Close() may run OnClosed() inline, which takes it.
        std::vector<std::shared_ptr<Connection>> conns;
        {
          MutexLock lock(conns_mu_);
          conns.assign(conns_.begin(), conns_.end());
        }
        for (auto& c : conns) c->Close();
      });
      // Parked long-polls answer with no messages rather than hang.
      if (core_) core_->EndWaits();
      work_.reset();
      for (auto& w : extra_work_) w.reset();
      // Give in-flight replies a moment to go out, then stop the loops.
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      io_.stop();
      for (auto& io : extra_io_) io->stop();
      for (auto& t : threads_) {
        if (t.joinable() && t.get_id() != std::this_thread::get_id()) t.join();
      }
      // The core's background work stops, offsets are persisted, the store closes.
      if (core_) core_->Close();
      spdlog::info("broker stopped");
      {
        MutexLock lock(stopped_mu_);
        stopped_ = true;
      }
      stopped_cv_.notify_all();
    });
  }

  void Wait() {
    MutexLock lock(stopped_mu_);
    stopped_cv_.wait(lock, [this]() REQUIRES(stopped_mu_) { return stopped_; });
  }

  // RequestSink
  void OnRequest(const std::shared_ptr<Connection>& conn,
                 std::shared_ptr<const wire::ArenaFrame> frame) override {
    Request req{conn, std::move(frame), core_->RouteRevision()};
    if (req.header().is_response()) {  // answers to broker requests (check-backs)
      if (!core_->serving()) return;      // a replica asks nothing
      return HandleCheckTxnAnswer(*ctx_, req);
    }
    Dispatch(req);
  }

  void OnClosed(const std::shared_ptr<Connection>& conn) override {
    stats_->connections.fetch_sub(1);
    if (ctx_ && core_->serving()) ctx_->messages()->ChannelClosed(*conn);
    MutexLock lock(conns_mu_);
    conns_.erase(conn);
  }

  void OnBadFrame(const std::shared_ptr<Connection>& conn, const Status& why) override {
    stats_->bad_frames.fetch_add(1);
    if (int64_t n = bad_frame_log_.Tick(clock_->MonotonicMs())) {
      spdlog::warn("connection {} from {}: bad frame: {}; closing it ({} bad frames since the "
                   "last such line)", conn->id(), conn->remote(), why.ToString(), n);
    }
  }

  void OnReadPaused(const std::shared_ptr<Connection>&) override {
    stats_->reads_paused.fetch_add(1, std::memory_order_relaxed);
  }

 private:
  void Dispatch(const Request& req) {
    BrokerContext& ctx = *ctx_;
    // Any broker tells its group's state; a replica serves nothing else until promoted: it
    // names its group and master instead.
    switch (req.header().kind()) {
      case wire::CLUSTER_STATUS: return HandleClusterStatus(ctx, req);
      // Routes come from the cluster's cache: any broker of a cluster answers, and changes them.
      case wire::QUERY_ROUTE: return HandleQueryRoute(ctx, req);
      case wire::CLUSTER_GROUP: return HandleClusterGroup(ctx, req);
      case wire::CREATE_TOPIC:
        if (core_->clustered()) return HandleCreateTopic(ctx, req);
        break;
      case wire::EXTEND_TOPIC:
        if (core_->clustered()) return HandleExtendTopic(ctx, req);
        break;
      case wire::DELETE_TOPIC:
        if (core_->clustered()) return HandleDeleteTopic(ctx, req);
        break;
      // Consumer groups' configuration is the cluster's too.
      case wire::CREATE_GROUP:
        if (core_->clustered()) return HandleCreateGroup(ctx, req);
        break;
      case wire::DELETE_GROUP:
        if (core_->clustered()) return HandleDeleteGroup(ctx, req);
        break;
      default: break;
    }
    if (!core_->serving()) return ReplyNotServing(ctx, req);
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
      case wire::EXTEND_TOPIC: return HandleExtendTopic(ctx, req);
      case wire::CREATE_GROUP: return HandleCreateGroup(ctx, req);
      case wire::LIST_GROUPS: return HandleListGroups(ctx, req);
      case wire::DESCRIBE_GROUP: return HandleDescribeGroup(ctx, req);
      case wire::DELETE_GROUP: return HandleDeleteGroup(ctx, req);
      case wire::RESET_OFFSET: return HandleResetOffset(ctx, req);
      case wire::QUERY_MESSAGE: return HandleQueryMessage(ctx, req);
      case wire::TRACE: return HandleTrace(ctx, req);
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
        stats_->bad_requests.fetch_add(1);
        return req.ReplyError(Status(Code::kUnsupported,
                                     "unknown request kind " +
                                         std::to_string(static_cast<int>(req.header().kind()))));
    }
  }

  // --max-connections, or by default 4096 capped at half the open-file limit so that the
  // store keeps descriptors for its files however many clients connect.
  static size_t EffectiveMaxConnections(uint32_t configured) {
    rlimit rl{};
    const bool known = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
    if (configured > 0) {
      if (known && configured > rl.rlim_cur / 2) {
        spdlog::warn("--max-connections {} leaves few of the {} descriptors the process may "
                     "open to the store", configured, rl.rlim_cur);
      }
      return configured;
    }
    size_t cap = 4096;
    if (known) cap = std::max<size_t>(1, std::min<size_t>(cap, rl.rlim_cur / 2));
    spdlog::info("accepting at most {} connections", cap);
    return cap;
  }

  void Accept() {
    acceptor_.async_accept(asio::make_strand(NextIo()), [this](boost::system::error_code ec,
                                                          asio::ip::tcp::socket socket) {
      if (ec == asio::error::operation_aborted) return;
      if (ec) return AcceptFailed(ec);
      accept_backoff_ms_ = 0;
      size_t open;
      {
        MutexLock lock(conns_mu_);
        open = conns_.size();
      }
      if (open >= max_connections_) {
        stats_->connections_refused.fetch_add(1);
        if (int64_t n = refused_log_.Tick(clock_->MonotonicMs())) {
          spdlog::warn("refused {} connection(s): {} are open, the limit (--max-connections)",
                       n, open);
        }
        boost::system::error_code ignored;
        socket.close(ignored);
        return Accept();
      }
      ConnectionOptions opts;
      opts.max_frame_bytes = config_.max_frame_bytes;
      opts.budget = budget_;
      opts.clock = clock_;
      opts.handshake_timeout_ms = config_.handshake_timeout_ms;
      opts.frame_timeout_ms = config_.frame_timeout_ms;
      opts.idle_timeout_ms = config_.idle_timeout_ms;
      auto conn = std::make_shared<Connection>(std::move(socket), this, std::move(opts),
                                               core_->NewChannelId());
      stats_->connections.fetch_add(1);
      stats_->connections_total.fetch_add(1);
      {
        MutexLock lock(conns_mu_);
        conns_.insert(conn);
      }
      conn->Start();
      Accept();
    });
  }

  // The context of io thread i.
  asio::io_context& Io(size_t i) { return i == 0 ? io_ : *extra_io_[i - 1]; }
  // The context of the next connection: round robin over the io threads.
  asio::io_context& NextIo() { return Io(next_io_++ % (extra_io_.size() + 1)); }

  // Out of descriptors (or another transient failure): retrying at once would spin and log
  // without end; back off 10 ms doubling to 1 s, and log one line a second at most.
  void AcceptFailed(const boost::system::error_code& ec) {
    accept_backoff_ms_ = std::clamp<int64_t>(accept_backoff_ms_ * 2, 10, 1000);
    if (int64_t n = accept_log_.Tick(clock_->MonotonicMs())) {
      spdlog::warn("accept failed: {} ({} time(s) since the last such line); retrying in {} ms",
                   ec.message(), n, accept_backoff_ms_);
    }
    accept_backoff_.expires_after(std::chrono::milliseconds(accept_backoff_ms_));
    accept_backoff_.async_wait([this](boost::system::error_code wait_ec) {
      if (!wait_ec) Accept();
    });
  }

  // Closes connections past their handshake, frame or idle timeout.
  void CloseExpiredConnections() {
    const int64_t now = clock_->MonotonicMs();
    std::vector<std::pair<std::shared_ptr<Connection>, const char*>> expired;
    {
      MutexLock lock(conns_mu_);
      for (const auto& c : conns_) {
        if (const char* why = c->Expired(now)) expired.emplace_back(c, why);
      }
    }
    for (auto& [c, why] : expired) {
      stats_->connections_timed_out.fetch_add(1);
      if (int64_t n = timeout_log_.Tick(now)) {
        spdlog::info("closing connection {} from {}: {} ({} connection(s) timed out since the "
                     "last such line)", c->id(), c->remote(), why, n);
      }
      c->Close();
    }
  }

  // Connection timeouts only: the disk work runs on the core's maintenance thread.
  void SchedulePeriodic() {
    periodic_.expires_after(std::chrono::milliseconds(config_.housekeeping_interval_ms));
    periodic_.async_wait([this](boost::system::error_code ec) {
      if (ec) return;
      CloseExpiredConnections();
      SchedulePeriodic();
    });
  }

  BrokerConfig config_;
  Clock* clock_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  // The contexts of io threads 1..n-1 (see Open).
  std::vector<std::unique_ptr<asio::io_context>> extra_io_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> extra_work_;
  size_t next_io_ = 0;  // accept handler only
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_backoff_;
  int64_t accept_backoff_ms_ = 0;   // accept handler only
  asio::steady_timer periodic_;
  std::vector<std::thread> threads_;
  uint16_t port_ = 0;

  // Before stats_ and core_: requests still held by store callbacks give bytes back to it.
  std::shared_ptr<InflightBudget> budget_;
  size_t max_connections_ = 0;
  LogLimiter accept_log_, refused_log_, bad_frame_log_, timeout_log_;
  std::unique_ptr<BrokerCore> core_;
  BrokerStats* stats_ = nullptr;  // the core's
  std::unique_ptr<BrokerContext> ctx_;

  Mutex conns_mu_;
  std::set<std::shared_ptr<Connection>> conns_ GUARDED_BY(conns_mu_);

  std::once_flag stop_once_;
  Mutex stopped_mu_;
  CondVar stopped_cv_;
  bool stopped_ GUARDED_BY(stopped_mu_) = false;
};

Broker::Broker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Broker::~Broker() { Stop(); }

Result<std::unique_ptr<Broker>> Broker::Start(
    const BrokerConfig& config, Clock* clock,
    std::function<void(const std::string&)> on_restart) {
  auto impl = std::make_unique<Impl>(config, clock ? clock : SystemClock::Get());
  RETURN_IF_ERROR(impl->Open(std::move(on_restart)));
  return std::unique_ptr<Broker>(new Broker(std::move(impl)));
}

uint16_t Broker::port() const { return impl_->port(); }
std::string Broker::address() const { return impl_->Address(); }
void Broker::Stop() { impl_->Stop(); }
void Broker::Wait() { impl_->Wait(); }
ReplicationStatus Broker::replication() const { return impl_->core()->Replication(); }
Status Broker::Promote() { return impl_->core()->Promote(); }
BrokerCore* Broker::core() const { return impl_->core(); }

}  // namespace tidemq::broker
