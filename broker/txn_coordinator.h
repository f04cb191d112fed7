// Drives transactional messages for the broker (docs/txn.md): ends (commit / rollback, from
// the producer, a check-back answer or an operator), and the check-back loop.
//
// State lives in txn::TxnService (derived from the CommitLog); this class only decides what to
// append and whom to ask:
//  - End: TxnService::BeginEnd says whether to append; the commit is the half's re-put
//    (exactly once: it carries the half's offset), the rollback a kTxnEnd record.
//  - Check-back: one volatile timer of the broker's timer engine is armed at the earliest due
//    check of any producer group with a live producer. When it fires, each such group's due
//    transactions are taken, a kTxnCheck record is appended for each (so the count and the
//    next check time survive a restart), and a CHECK_TXN request goes to one of the group's
//    connections (round robin). The answer ends the transaction; UNKNOWN or no answer waits
//    for the next check. Groups without a live producer wait until one sends a heartbeat.
//    After options.max_checks the final action rolls back (and parks a copy).
//
// Threads: every public method may be called from any thread. The check loop runs on one
// strand of the broker's io_context; store callbacks post back to it.
#pragma once

#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "broker/config.h"
#include "broker/connection.h"
#include "broker/scheduled_delivery.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"
#include "store/thread_annotations.h"
#include "timer/timer_service.h"
#include "txn/txn_service.h"

namespace tidemq::broker {

// The volatile-timer tag of the check-back loop (timer::DueTimer::tag).
inline constexpr uint32_t kTimerTagTxnCheck = 1;
// Lease deadlines and in-place retries of consumer groups (ConsumerManager::OnTimer).
inline constexpr uint32_t kTimerTagConsumers = 2;

struct EndOutcome {
  bool already_done = false;
  LogOffset committed_at;  // the commit re-put's offset (commit, not already done)
};

struct CheckStats {
  int64_t answers_commit = 0;
  int64_t answers_rollback = 0;
  int64_t answers_unknown = 0;
  int64_t answers_failed = 0;  // error reply, connection lost, or superseded by a later check
  int64_t waiting_groups = 0;  // groups with pending transactions and no live producer
};

class TxnCoordinator {
 public:
  TxnCoordinator(const BrokerConfig& config, txn::TxnService* txn, timer::TimerService* timer,
                 store::Store* store, ScheduledDelivery* scheduled, Clock* clock,
                 boost::asio::io_context* io);
  ~TxnCoordinator();
  TxnCoordinator(const TxnCoordinator&) = delete;
  TxnCoordinator& operator=(const TxnCoordinator&) = delete;

  // Commits or rolls back the half at `half` (message_id, when not empty, must match it).
  // `done` runs once, maybe on the store's writer thread.
  void End(LogOffset half, const std::string& message_id, txn::TxnAction action,
           txn::EndReason why, std::function<void(Result<EndOutcome>)> done);

  // Says whether a half's topic still exists in the incarnation the half was sent to (call
  // before use; without it every topic does). A commit whose topic was deleted (and maybe
  // created again) is rolled back and parked instead, and refused with TopicNotFound.
  void SetTopicCheck(std::function<bool(const store::Record&)> exists) {
    topic_exists_ = std::move(exists);
  }

  // A half message of `group` was stored; its first check is due at check_at_ms.
  void NoteHalf(int64_t check_at_ms);
  // A heartbeat named `group` among the connection's producer groups.
  void RegisterProducer(const std::string& group, const std::shared_ptr<Connection>& conn);
  void OnClosed(const std::shared_ptr<Connection>& conn);
  // A response frame from a client: the answer to a check, if it is one.
  void OnResponse(const std::shared_ptr<Connection>& conn, const wire::Frame& frame);
  // The check-back timer fired (any thread).
  void OnTimer();
  // Looks at the transactions recovered from the log once (arms the timer, counts the groups
  // that wait for a producer).
  void Start();
  // Stops arming the timer and sending checks (before the store closes).
  void Stop();

  CheckStats Stats() const;
  // True when `group` has a live producer connection.
  bool HasProducer(const std::string& group) const;

 private:
  struct Outstanding {
    LogOffset half;
    std::string message_id;
    uint64_t conn_id = 0;
  };

  // On the strand: takes due checks of every live group, appends their kTxnCheck records,
  // sends the checks, runs final actions, and re-arms the timer.
  void RunChecks();
  void SendChecks(std::vector<txn::TxnEntry> entries);
  void FinalAction(const txn::TxnEntry& e);
  // Arms the timer at `at_ms` unless it is armed earlier already.
  void Arm(int64_t at_ms);
  void ArmForGroups();
  std::shared_ptr<Connection> PickConnection(const std::string& group);
  void CountAnswer(int64_t CheckStats::*counter);

  const BrokerConfig& config_;
  txn::TxnService* const txn_;
  timer::TimerService* const timer_;
  store::Store* const store_;
  ScheduledDelivery* const scheduled_;
  Clock* const clock_;
  boost::asio::io_context* const io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::function<bool(const store::Record&)> topic_exists_;

  mutable std::mutex mu_;
  bool stopped_ GUARDED_BY(mu_) = false;
  uint64_t armed_id_ GUARDED_BY(mu_) = 0;      // volatile timer id; 0 = not armed
  int64_t armed_at_ GUARDED_BY(mu_) = 0;
  // Producer connections by group (weak: a closed connection leaves via OnClosed).
  std::map<std::string, std::vector<std::weak_ptr<Connection>>> producers_ GUARDED_BY(mu_);
  std::map<std::string, size_t> round_robin_ GUARDED_BY(mu_);
  std::set<std::string> waiting_groups_ GUARDED_BY(mu_);
  // Checks sent and not answered, by request id; at most one per transaction.
  std::map<uint64_t, Outstanding> outstanding_ GUARDED_BY(mu_);
  std::map<int64_t, uint64_t> outstanding_by_half_ GUARDED_BY(mu_);
  CheckStats stats_ GUARDED_BY(mu_);
  std::atomic<uint64_t> next_request_id_{1};
};

}  // namespace tidemq::broker
