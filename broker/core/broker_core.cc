#include "broker/core/broker_core.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/post.hpp>
#include <mutex>

#include "broker/core/consumer_manager.h"
#include "broker/core/dead_letters.h"
#include "broker/core/long_poll.h"
#include "broker/core/maintenance.h"
#include "broker/core/retry_copies.h"
#include "broker/core/scheduled_delivery.h"
#include "broker/core/topic_manager.h"
#include "broker/core/txn_coordinator.h"
#include "common/file_system.h"
#include "store/store.h"
#include "timer/timer_service.h"
#include "txn/txn_service.h"
#include "txn/txn_types.h"

namespace tidemq::broker {

namespace asio = boost::asio;

namespace {

// Tells parked receives that a topic got a message. Runs on the store's writer thread for
// every record once it is durable, so it only bumps a sequence and hands wake-ups to the
// io_context.
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

class BrokerCore::Impl {
 public:
  Impl(const BrokerConfig& config, Clock* clock, asio::io_context* io, FileSystem* fs)
      : config_(config), clock_(clock), io_(io), fs_(fs), arrivals_(&polls_, io) {}

  ~Impl() { Close(); }

  Status Open() {
    stats_.start_ms = clock_->NowMs();
    store::StoreOptions so = config_.ToStoreOptions();
    so.clock = clock_;
    so.fs = fs_;
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
                                                        scheduled_.get(), clock_, io_);
    TxnCoordinator* coordinator = txn_coordinator_.get();
    scheduled_->SetVolatileHandler([this, coordinator](const timer::DueTimer& t) {
      if (t.tag == kTimerTagTxnCheck) coordinator->OnTimer();
      if (t.tag == kTimerTagConsumers) asio::post(*io_, [this] { OnConsumerTimer(); });
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
      for (auto& w : polls_.Notify(topic)) asio::post(*io_, std::move(w));
    });

    parts_ = std::make_unique<CoreParts>(CoreParts{
        config_, clock_, store_.get(), topics_.get(), consumers_.get(), &polls_, &stats_, io_,
        timer_.get(), scheduled_.get(), txn_.get(), txn_coordinator_.get(), dead_letters_.get()});
    messages_ = std::make_unique<MessageService>(*parts_);
    admin_ = std::make_unique<AdminService>(*parts_);
    maintenance_ = std::make_unique<Maintenance>(*parts_);
    opened_ = true;
    return Status::Ok();
  }

  void Start() {
    scheduled_->Start();
    txn_coordinator_->Start();
    maintenance_->Start();
  }

  void WakeWaiters() {
    for (auto& w : polls_.TakeAll()) asio::post(*io_, std::move(w));
  }

  void Close() {
    std::call_once(close_once_, [this] {
      // Before the store closes; re-puts already handed to it complete as it closes.
      if (maintenance_) maintenance_->Stop();
      if (txn_coordinator_) txn_coordinator_->Stop();
      if (scheduled_) scheduled_->Stop();
      if (dead_letters_) dead_letters_->Stop();
      // Offsets are persisted only when they were loaded whole.
      if (consumers_ && opened_) {
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
    });
  }

  // Lapsed leases and due in-place retries; the parked receives of their topics are woken.
  void OnConsumerTimer() {
    for (const std::string& topic : consumers_->OnTimer()) {
      for (auto& w : polls_.Notify(topic)) asio::post(*io_, std::move(w));
    }
  }

  BrokerConfig config_;
  Clock* clock_;
  asio::io_context* io_;
  FileSystem* fs_;
  LongPolls polls_;
  ArrivalObserver arrivals_;
  BrokerStats stats_;
  std::atomic<uint64_t> next_channel_id_{0};
  std::unique_ptr<timer::TimerService> timer_;       // outlives store_ (its observer)
  std::unique_ptr<txn::TxnService> txn_;             // outlives store_ (its observer)
  std::unique_ptr<ScheduledDelivery> scheduled_;     // outlives store_ (append callbacks)
  std::unique_ptr<TxnCoordinator> txn_coordinator_;  // outlives store_ (append callbacks)
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<TopicManager> topics_;
  std::unique_ptr<ConsumerManager> consumers_;
  std::unique_ptr<DeadLetters> dead_letters_;
  std::unique_ptr<CoreParts> parts_;
  std::unique_ptr<MessageService> messages_;
  std::unique_ptr<AdminService> admin_;
  std::unique_ptr<Maintenance> maintenance_;
  bool opened_ = false;
  std::once_flag close_once_;
};

BrokerCore::BrokerCore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BrokerCore::~BrokerCore() = default;

Result<std::unique_ptr<BrokerCore>> BrokerCore::Open(const BrokerConfig& config, Clock* clock,
                                                     asio::io_context* io, FileSystem* fs) {
  auto impl = std::make_unique<Impl>(config, clock ? clock : SystemClock::Get(), io, fs);
  RETURN_IF_ERROR(impl->Open());
  return std::unique_ptr<BrokerCore>(new BrokerCore(std::move(impl)));
}

void BrokerCore::Start() { impl_->Start(); }
void BrokerCore::WakeWaiters() { impl_->WakeWaiters(); }
void BrokerCore::Close() { impl_->Close(); }
MessageService& BrokerCore::messages() { return *impl_->messages_; }
AdminService& BrokerCore::admin() { return *impl_->admin_; }
BrokerStats& BrokerCore::stats() { return impl_->stats_; }
const BrokerConfig& BrokerCore::config() const { return impl_->config_; }
Clock* BrokerCore::clock() const { return impl_->clock_; }
uint64_t BrokerCore::NewChannelId() { return ++impl_->next_channel_id_; }

}  // namespace tidemq::broker
