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
//    next check time survive a restart), and the check goes to one of the group's producer
//    channels (round robin; broker/core/producer_channel.h: each front end encodes it in its
//    own protocol). Groups without a live producer wait until one sends a
//    heartbeat. After options.max_checks the final action rolls back (and parks a copy).
//  - Answers: every check sent stays "in flight" (by request id) until it is answered, its
//    channel closes, it is older than --txn-check-answer-timeout-ms, or more than
//    kMaxChecksInFlightPerTxn of its transaction are in flight (the oldest is forgotten). A
//    COMMIT / ROLLBACK answer to any check in flight ends the transaction, whichever check it
//    answers; so does one that names its half (CheckAnswer::half_offset + message_id)
//    from a producer of the transaction's group, after its check was forgotten. UNKNOWN or
//    no answer waits for the next check.
//  - The final action never races an answer: a transaction due for it while a check of it is
//    in flight (or an answer of it is being applied) stays held and waits, at most the answer
//    timeout. It rolls back only when no producer answered definitively; a definitive answer
//    whose end could not be appended (say the store refused it) is applied instead.
//
// Threads: every public method may be called from any thread (network threads, the timer
// thread). The check loop runs on one strand of the broker's io_context (a network thread);
// store callbacks (the store's writer thread) post back to it. No lock is held across a
// store read or append.
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
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "broker/core/config.h"
#include "broker/core/producer_channel.h"
#include "broker/core/scheduled_delivery.h"
#include "common/mutex.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"
#include "common/thread_annotations.h"
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

// Check-back answers since the broker started (docs/txn.md "Check-back answers").
struct CheckStats {
  // Answers matched to a check (superseded ones included), by resolution.
  int64_t answers_commit = 0;
  int64_t answers_rollback = 0;
  int64_t answers_unknown = 0;
  // Checks that got no usable answer: an error reply, the channel closed, no answer within
  // the answer timeout, or forgotten beyond kMaxChecksInFlightPerTxn.
  int64_t answers_failed = 0;
  int64_t waiting_groups = 0;     // groups with pending transactions and no live producer
  int64_t answers_unmatched = 0;  // answers matching no check: ignored
  // Answers that came after their check counted in answers_failed, matched by the half they
  // name (also counted by resolution above).
  int64_t answers_late = 0;
  int64_t final_actions_deferred = 0;  // times a final action waited for a check in flight
  int64_t checks_in_flight = 0;        // now
  int64_t final_actions_waiting = 0;   // now
};

class TxnCoordinator {
 public:
  // Checks of one transaction kept in flight; a further one forgets the oldest.
  static constexpr size_t kMaxChecksInFlightPerTxn = 4;

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
  // A heartbeat named `group` among the channel's producer groups.
  void RegisterProducer(const std::string& group, const std::shared_ptr<ProducerChannel>& channel);
  void OnClosed(const ProducerChannel& channel);
  // A producer's answer to a check sent over `channel` (any thread).
  void OnAnswer(const ProducerChannel& channel, const CheckAnswer& answer);
  // The check-back timer fired (any thread).
  void OnTimer();
  // Looks at the transactions recovered from the log once (arms the timer, counts the groups
  // that wait for a producer).
  void Start();
  // Stops arming the timer and sending checks (before the store closes).
  void Stop();

  CheckStats Stats() const;
  // True when `group` has a live producer channel.
  bool HasProducer(const std::string& group) const;

 private:
  // A check sent (or about to be) and not answered.
  struct InFlight {
    LogOffset half;
    std::string message_id;
    uint64_t conn_id = 0;
    int64_t sent_ms = 0;
  };

  // On the strand: takes due checks of every live group, appends their kTxnCheck records,
  // sends the checks, runs (or defers) final actions, and re-arms the timer.
  void RunChecks();
  // Posts RunChecks once, however often it is asked for before it runs.
  void RunChecksSoon();
  void SendChecks(std::vector<txn::TxnEntry> entries);
  void FinalAction(const txn::TxnEntry& e);
  // Ends the transaction of `half` as a producer answered (also a remembered answer).
  void ApplyAnswer(LogOffset half, const std::string& message_id, txn::TxnAction action);
  // Arms the timer at `at_ms` unless it is armed earlier already.
  void Arm(int64_t at_ms);
  void ArmForGroups();
  std::shared_ptr<ProducerChannel> PickChannel(const std::string& group);
  bool IsProducerOf(const std::string& group, const ProducerChannel& channel) const;
  void CountAnswer(int64_t CheckStats::*counter);

  // In-flight bookkeeping; the caller holds mu_.
  void AddInFlightLocked(uint64_t id, InFlight f) REQUIRES(mu_);
  void EraseInFlightLocked(std::map<uint64_t, InFlight>::iterator it) REQUIRES(mu_);
  // Forgets checks older than the answer timeout (counted as failed).
  void ExpireInFlightLocked(int64_t now_ms) REQUIRES(mu_);
  // A check of `half` is in flight, or an answer of it is being applied.
  bool AnswerPendingLocked(int64_t half) const REQUIRES(mu_);
  // Releases the final-action holds of transactions with no answer pending any more (they
  // are due: this round takes them again); true if there were any.
  bool ReleaseFinalWaitsLocked() REQUIRES(mu_);
  // Something about `half` changed: if its final action waits, look again.
  void NoteAnswerSettled(int64_t half);

  const BrokerConfig& config_;
  txn::TxnService* const txn_;
  timer::TimerService* const timer_;
  store::Store* const store_;
  ScheduledDelivery* const scheduled_;
  Clock* const clock_;
  boost::asio::io_context* const io_;
  boost::asio::strand<boost::asio::io_context::executor_type> strand_;
  std::function<bool(const store::Record&)> topic_exists_;

  mutable Mutex mu_;
  bool stopped_ GUARDED_BY(mu_) = false;
  uint64_t armed_id_ GUARDED_BY(mu_) = 0;      // volatile timer id; 0 = not armed
  int64_t armed_at_ GUARDED_BY(mu_) = 0;
  // Producer channels by group (weak: a closed channel leaves via OnClosed).
  std::map<std::string, std::vector<std::weak_ptr<ProducerChannel>>> producers_ GUARDED_BY(mu_);
  std::map<std::string, size_t> round_robin_ GUARDED_BY(mu_);
  std::set<std::string> waiting_groups_ GUARDED_BY(mu_);
  // Checks in flight by request id (ids grow with time: the first is the oldest), and the
  // request ids of each transaction's (at most kMaxChecksInFlightPerTxn, oldest first).
  std::map<uint64_t, InFlight> in_flight_ GUARDED_BY(mu_);
  std::unordered_map<int64_t, std::vector<uint64_t>> in_flight_by_half_ GUARDED_BY(mu_);
  // Definitive answers being applied (End called, not finished), by half.
  std::unordered_map<int64_t, int> answering_ GUARDED_BY(mu_);
  // Transactions due for their final action, held (TakeDueChecks) while an answer is pending.
  std::unordered_set<int64_t> final_waits_ GUARDED_BY(mu_);
  // Definitive answers whose end failed (e.g. the store refused the append): the final
  // action applies them instead of rolling back. Bounded by kMaxRememberedAnswers.
  std::unordered_map<int64_t, txn::TxnAction> remembered_ GUARDED_BY(mu_);
  CheckStats stats_ GUARDED_BY(mu_);
  std::atomic<bool> run_posted_{false};
  std::atomic<uint64_t> next_request_id_{1};
};

}  // namespace tidemq::broker
