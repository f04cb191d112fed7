#include "broker/core/txn_coordinator.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <climits>
#include <iterator>
#include <optional>

#include "txn/txn_types.h"

namespace tidemq::broker {

bool IsHalfBookkeepingProperty(std::string_view key) {
  return key == txn::kProducerGroupProperty || key == txn::kCheckTimeoutProperty;
}

namespace {

namespace asio = boost::asio;

// Due transactions taken per group per round; more are taken in the next round at once.
constexpr size_t kChecksPerRound = 1024;
// When an append for a check or a final action fails, look again this much later.
constexpr int64_t kRetryAfterFailureMs = 1000;
// Definitive answers kept for the final action when their end failed (see remembered_).
constexpr size_t kMaxRememberedAnswers = 100'000;

// End failures after which the transaction is no longer pending, or the answer is moot: the
// answer is not remembered for the final action.
bool AnswerSettledBy(Code code) {
  return code == Code::kTxnConflict || code == Code::kNotFound || code == Code::kTopicNotFound;
}

}  // namespace

TxnCoordinator::TxnCoordinator(const BrokerConfig& config, txn::TxnService* txn,
                               timer::TimerService* timer, store::Store* store,
                               ScheduledDelivery* scheduled, Clock* clock,
                               boost::asio::io_context* io)
    : config_(config),
      txn_(txn),
      timer_(timer),
      store_(store),
      scheduled_(scheduled),
      clock_(clock),
      io_(io),
      strand_(asio::make_strand(*io)) {}

TxnCoordinator::~TxnCoordinator() { Stop(); }

void TxnCoordinator::Stop() {
  MutexLock lock(mu_);
  stopped_ = true;
  if (armed_id_ != 0) timer_->CancelVolatile(armed_id_);
  armed_id_ = 0;
}

void TxnCoordinator::End(LogOffset half, const std::string& message_id, txn::TxnAction action,
                         txn::EndReason why, std::function<void(Result<EndOutcome>)> done) {
  Result<txn::EndDecision> decision = txn_->BeginEnd(half, message_id, action);
  if (!decision.ok()) return done(decision.status());
  if (*decision == txn::EndDecision::kAlreadyDone) return done(EndOutcome{true, kNoLogOffset});
  Result<store::Record> record = store_->Read(half);
  if (!record.ok() || record->type != store::RecordType::kTxnHalf) {
    txn_->FinishEnd(half, /*appended=*/false);
    return done(Status(Code::kInternal,
                       "half message at log offset " + std::to_string(half.value()) +
                           " is unreadable: " +
                           (record.ok() ? "not a half record" : record.status().ToString())));
  }
  std::vector<store::Record> records;
  if (action == txn::TxnAction::kCommit && topic_exists_ && !topic_exists_(*record)) {
    // Nowhere to deliver it: keep it where people can look, and tell the committer.
    const std::string reason = "commit (" + std::string(txn::ToString(why)) + ") after topic '" +
                               record->topic + "' was deleted";
    records.push_back(
        txn::TxnService::MakeRollback(*record, half, txn::EndReason::kTopicDeleted));
    if (config_.txn_park) records.push_back(txn::TxnService::MakePark(*record, half, reason));
    spdlog::warn("transaction {} rolled back{}: {}", record->message_id,
                 config_.txn_park ? " and parked" : "", reason);
    txn::TxnService* txn = txn_;
    store_->Append(std::move(records),
                   [txn, half, reason, park = config_.txn_park, done = std::move(done)](
                       const Status& st, std::vector<store::AppendResult>) {
                     txn->FinishEnd(half, st.ok());
                     if (!st.ok()) return done(st);
                     done(Status(Code::kTopicNotFound,
                                 reason + ": the transaction was rolled back" +
                                     (park ? " and its message parked in " +
                                                 std::string(txn::kParkedTopic)
                                           : std::string())));
                   });
    return;
  }
  records.push_back(action == txn::TxnAction::kCommit
                        ? txn::TxnService::MakeCommit(*record, half, why)
                        : txn::TxnService::MakeRollback(*record, half, why));
  const int64_t due = records.front().type == store::RecordType::kScheduled
                          ? records.front().deliver_at_ms
                          : 0;
  txn::TxnService* txn = txn_;
  ScheduledDelivery* scheduled = scheduled_;
  store_->Append(std::move(records), [txn, scheduled, half, due, done = std::move(done)](
                                         const Status& st,
                                         std::vector<store::AppendResult> results) {
    txn->FinishEnd(half, st.ok());
    if (!st.ok()) return done(st);
    if (due != 0) scheduled->Notify(due);
    done(EndOutcome{false, results.front().log_offset});
  });
}

void TxnCoordinator::NoteHalf(int64_t check_at_ms) { Arm(check_at_ms); }

void TxnCoordinator::Arm(int64_t at_ms) {
  MutexLock lock(mu_);
  if (stopped_) return;
  if (armed_id_ != 0) {
    if (armed_at_ <= at_ms) return;
    // Cancelling fails when it just fired: then OnTimer runs anyway, and re-arms.
    timer_->CancelVolatile(armed_id_);
  }
  armed_at_ = at_ms;
  armed_id_ = timer_->ScheduleVolatile(at_ms, kTimerTagTxnCheck, 0);
}

void TxnCoordinator::OnTimer() {
  {
    MutexLock lock(mu_);
    armed_id_ = 0;
    if (stopped_) return;
  }
  asio::post(strand_, [this] { RunChecks(); });
}

void TxnCoordinator::RegisterProducer(const std::string& group,
                                      const std::shared_ptr<ProducerChannel>& conn) {
  bool first = false;
  {
    MutexLock lock(mu_);
    auto& conns = producers_[group];
    std::erase_if(conns, [](const std::weak_ptr<ProducerChannel>& w) {
      auto c = w.lock();
      return !c || c->closed();
    });
    first = conns.empty();
    const bool known = std::any_of(conns.begin(), conns.end(), [&](const auto& w) {
      return w.lock() == conn;
    });
    if (!known) conns.push_back(conn);
  }
  // The group's first live producer: checks held back for want of one (or left from before a
  // restart) may be due now.
  if (first) asio::post(strand_, [this] { RunChecks(); });
}

void TxnCoordinator::OnClosed(const ProducerChannel& conn) {
  bool final_wait = false;
  {
    MutexLock lock(mu_);
    for (auto& [group, conns] : producers_) {
      std::erase_if(conns, [&](const std::weak_ptr<ProducerChannel>& w) {
        auto c = w.lock();
        return !c || c.get() == &conn;
      });
    }
    std::erase_if(producers_, [](const auto& kv) { return kv.second.empty(); });
    // Its checks can no longer be answered.
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      auto next = std::next(it);
      if (it->second.conn_id == conn.channel_id()) {
        final_wait |= final_waits_.count(it->second.half.value()) > 0;
        ++stats_.answers_failed;
        EraseInFlightLocked(it);
      }
      it = next;
    }
  }
  if (final_wait) RunChecksSoon();
}

bool TxnCoordinator::HasProducer(const std::string& group) const {
  MutexLock lock(mu_);
  auto it = producers_.find(group);
  if (it == producers_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [](const auto& w) {
    auto c = w.lock();
    return c && !c->closed();
  });
}

bool TxnCoordinator::IsProducerOf(const std::string& group, const ProducerChannel& conn) const {
  MutexLock lock(mu_);
  auto it = producers_.find(group);
  if (it == producers_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [&](const auto& w) {
    auto c = w.lock();
    return c && c.get() == &conn && !c->closed();
  });
}

std::shared_ptr<ProducerChannel> TxnCoordinator::PickChannel(const std::string& group) {
  MutexLock lock(mu_);
  auto it = producers_.find(group);
  if (it == producers_.end()) return nullptr;
  auto& conns = it->second;
  for (size_t tries = 0; tries < conns.size(); ++tries) {
    const size_t i = round_robin_[group]++ % conns.size();
    auto c = conns[i].lock();
    if (c && !c->closed()) return c;
  }
  return nullptr;
}

void TxnCoordinator::RunChecksSoon() {
  if (run_posted_.exchange(true)) return;
  asio::post(strand_, [this] {
    run_posted_ = false;
    RunChecks();
  });
}

void TxnCoordinator::RunChecks() {
  std::vector<int64_t> released;
  {
    MutexLock lock(mu_);
    if (stopped_) return;
    ExpireInFlightLocked(clock_->MonotonicMs());
    // Final actions whose answers came (or will not come): due again, taken below.
    for (auto it = final_waits_.begin(); it != final_waits_.end();) {
      if (AnswerPendingLocked(*it)) {
        ++it;
      } else {
        released.push_back(*it);
        it = final_waits_.erase(it);
      }
    }
  }
  for (int64_t half : released) txn_->CheckAborted(LogOffset(half));
  const int64_t now = clock_->NowMs();
  bool more = false;
  std::set<std::string> waiting;
  for (const std::string& group : txn_->PendingGroups()) {
    if (!HasProducer(group)) {
      // Its checks wait for a producer: RegisterProducer runs this loop again.
      if (auto at = txn_->NextCheckMs(group); at && *at <= now) waiting.insert(group);
      continue;
    }
    Result<std::vector<txn::TxnEntry>> due = txn_->TakeDueChecks(group, now, kChecksPerRound);
    if (!due.ok()) {
      spdlog::error("transaction check-back for group {}: {}", group, due.status().ToString());
      Arm(now + kRetryAfterFailureMs);
      continue;
    }
    if (due->size() >= kChecksPerRound) more = true;
    std::vector<txn::TxnEntry> checks;
    for (txn::TxnEntry& e : *due) {
      if (!txn_->ChecksExhausted(e)) {
        checks.push_back(std::move(e));
        continue;
      }
      {
        // A check of it is on its way or its answer is being applied: the final action
        // waits (keeping the hold, so it is not taken again) until that settles or times out.
        MutexLock lock(mu_);
        if (AnswerPendingLocked(e.half_offset.value())) {
          if (final_waits_.insert(e.half_offset.value()).second) ++stats_.final_actions_deferred;
          continue;
        }
      }
      txn_->CheckAborted(e.half_offset);
      FinalAction(e);
    }
    if (!checks.empty()) SendChecks(std::move(checks));
  }
  {
    MutexLock lock(mu_);
    waiting_groups_ = std::move(waiting);
  }
  if (more) {
    asio::post(strand_, [this] { RunChecks(); });
    return;
  }
  ArmForGroups();
}

void TxnCoordinator::ArmForGroups() {
  const int64_t now = clock_->NowMs();
  int64_t next = INT64_MAX;
  for (const std::string& group : txn_->PendingGroups()) {
    auto at = txn_->NextCheckMs(group);
    if (!at) continue;
    // A group without a producer is looked at when its check falls due (to count it as
    // waiting); once waiting, its first heartbeat runs the loop.
    if (!HasProducer(group) && *at <= now) continue;
    next = std::min(next, *at);
  }
  {
    // A waiting final action goes ahead when the oldest check it waits for times out.
    MutexLock lock(mu_);
    const int64_t mono = clock_->MonotonicMs();
    for (int64_t half : final_waits_) {
      auto ids = in_flight_by_half_.find(half);
      if (ids == in_flight_by_half_.end()) continue;
      for (uint64_t id : ids->second) {
        const int64_t expires = in_flight_.at(id).sent_ms + config_.txn_check_answer_timeout_ms;
        next = std::min(next, now + std::max<int64_t>(0, expires - mono));
      }
    }
  }
  if (next != INT64_MAX) Arm(next);
}

void TxnCoordinator::Start() {
  asio::post(strand_, [this] { RunChecks(); });
}

void TxnCoordinator::SendChecks(std::vector<txn::TxnEntry> entries) {
  // Each check is in flight from here on, before its record is appended: once the record is
  // applied the transaction may fall due again (its final action, say), and that must see the
  // check on its way.
  struct Check {
    txn::TxnEntry entry;
    uint64_t id = 0;
    std::weak_ptr<ProducerChannel> conn;
  };
  std::vector<Check> checks;
  std::vector<store::Record> records;
  checks.reserve(entries.size());
  records.reserve(entries.size());
  for (txn::TxnEntry& e : entries) {
    std::shared_ptr<ProducerChannel> conn = PickChannel(e.producer_group);
    if (!conn) {
      txn_->CheckAborted(e.half_offset);
      MutexLock lock(mu_);
      waiting_groups_.insert(e.producer_group);
      continue;
    }
    const uint64_t id = next_request_id_++;
    {
      MutexLock lock(mu_);
      AddInFlightLocked(id, InFlight{e.half_offset, e.message_id, conn->channel_id(),
                                     clock_->MonotonicMs()});
    }
    records.push_back(txn::TxnService::MakeCheck(e));
    checks.push_back(Check{std::move(e), id, conn});
  }
  if (checks.empty()) return;
  store_->Append(std::move(records), [this, checks = std::move(checks)](
                                         const Status& st, std::vector<store::AppendResult>) {
    if (!st.ok()) {
      spdlog::warn("recording {} transaction checks failed ({}); retrying in {} ms",
                   checks.size(), st.ToString(), kRetryAfterFailureMs);
      {
        MutexLock lock(mu_);
        for (const Check& c : checks) {  // never sent: nothing to count
          if (auto it = in_flight_.find(c.id); it != in_flight_.end()) EraseInFlightLocked(it);
        }
      }
      for (const Check& c : checks) txn_->CheckAborted(c.entry.half_offset);
      Arm(clock_->NowMs() + kRetryAfterFailureMs);
      return;
    }
    // The kTxnCheck records are applied: each transaction's next check is scheduled.
    asio::post(strand_, [this, checks] {
      for (const Check& c : checks) {
        const txn::TxnEntry& e = c.entry;
        Result<store::Record> half = store_->Read(e.half_offset);
        std::shared_ptr<ProducerChannel> conn = c.conn.lock();
        const bool sendable = half.ok() && conn && !conn->closed();
        {
          MutexLock lock(mu_);
          auto it = in_flight_.find(c.id);
          // Forgotten meanwhile: its connection closed (and counted it), or more checks of
          // its transaction went out since.
          if (it == in_flight_.end()) continue;
          if (!sendable) {  // it never reaches the producer
            EraseInFlightLocked(it);
            ++stats_.answers_failed;
          }
        }
        if (!sendable) {
          if (!half.ok()) {
            spdlog::error("transaction check: half at log offset {} unreadable: {}",
                          e.half_offset.value(), half.status().ToString());
          }
          NoteAnswerSettled(e.half_offset.value());
          continue;
        }
        conn->SendCheck(TxnCheck{c.id, &*half, e.half_offset, e.producer_group, e.checks + 1});
      }
      ArmForGroups();
    });
  });
}

void TxnCoordinator::FinalAction(const txn::TxnEntry& e) {
  {
    // A producer did answer, but its end could not be appended then: that answer, not a
    // rollback.
    MutexLock lock(mu_);
    auto it = remembered_.find(e.half_offset.value());
    if (it != remembered_.end()) {
      const txn::TxnAction action = it->second;
      remembered_.erase(it);
      ++answering_[e.half_offset.value()];
      lock.unlock();
      return ApplyAnswer(e.half_offset, e.message_id, action);
    }
  }
  Result<txn::EndDecision> decision =
      txn_->BeginEnd(e.half_offset, e.message_id, txn::TxnAction::kRollback);
  if (!decision.ok() || *decision == txn::EndDecision::kAlreadyDone) return;
  Result<store::Record> half = store_->Read(e.half_offset);
  if (!half.ok()) {
    txn_->FinishEnd(e.half_offset, false);
    spdlog::error("transaction final action: half at log offset {} unreadable: {}",
                  e.half_offset.value(), half.status().ToString());
    return;
  }
  std::vector<store::Record> records;
  records.push_back(txn::TxnService::MakeRollback(*half, e.half_offset, txn::EndReason::kMaxChecks));
  const std::string reason = "no commit or rollback after " + std::to_string(e.checks) +
                             " check-backs to producer group " + e.producer_group;
  if (config_.txn_park) {
    records.push_back(txn::TxnService::MakePark(*half, e.half_offset, reason));
  }
  spdlog::warn("transaction {} (half at log offset {}) rolled back{}: {}", e.message_id,
               e.half_offset.value(), config_.txn_park ? " and parked" : "", reason);
  const LogOffset at = e.half_offset;
  store_->Append(std::move(records),
                 [this, at](const Status& st, std::vector<store::AppendResult>) {
                   txn_->FinishEnd(at, st.ok());
                   if (!st.ok()) Arm(clock_->NowMs() + kRetryAfterFailureMs);
                 });
}

void TxnCoordinator::OnAnswer(const ProducerChannel& conn, const CheckAnswer& r) {
  const bool answered = r.answered;
  const std::optional<txn::TxnAction> action = answered ? r.action : std::nullopt;

  // By the check it answers, if that is still in flight; the in-flight entry goes and the
  // answer is marked as being applied in one step, so a waiting final action never sees
  // neither.
  LogOffset half = kNoLogOffset;
  std::string message_id;
  {
    MutexLock lock(mu_);
    auto it = in_flight_.find(r.request_id);
    if (it != in_flight_.end() && it->second.conn_id == conn.channel_id()) {
      half = it->second.half;
      message_id = it->second.message_id;
      EraseInFlightLocked(it);
      if (action) ++answering_[half.value()];
    }
  }
  if (half == kNoLogOffset) {
    // Not (any more) in flight: timed out, forgotten, or never sent here. An answer naming
    // its half still counts when it comes from a producer of the transaction's group.
    Result<std::optional<txn::TxnEntry>> e =
        r.names_half && !r.message_id.empty() && r.half_offset >= 0
            ? txn_->Get(LogOffset(r.half_offset))
            : Result<std::optional<txn::TxnEntry>>(std::optional<txn::TxnEntry>());
    if (!e.ok() || !e->has_value() || (*e)->message_id != r.message_id ||
        !IsProducerOf((*e)->producer_group, conn)) {
      spdlog::debug("check-back answer {} from channel {} matches no check: ignored",
                    r.request_id, conn.channel_id());
      return CountAnswer(&CheckStats::answers_unmatched);
    }
    half = (*e)->half_offset;
    message_id = (*e)->message_id;
    MutexLock lock(mu_);
    ++stats_.answers_late;
    // An error reply to a check already counted as failed adds nothing.
    if (!answered) return;
    if (action) ++answering_[half.value()];
  }
  if (!answered) {
    spdlog::warn("check-back for transaction {} failed on the producer: {}", message_id,
                 r.error_message);
    CountAnswer(&CheckStats::answers_failed);
    return NoteAnswerSettled(half.value());
  }
  if (!action) {
    CountAnswer(&CheckStats::answers_unknown);
    return NoteAnswerSettled(half.value());
  }
  CountAnswer(*action == txn::TxnAction::kCommit ? &CheckStats::answers_commit
                                                 : &CheckStats::answers_rollback);
  ApplyAnswer(half, message_id, *action);
}

void TxnCoordinator::ApplyAnswer(LogOffset half, const std::string& message_id,
                                 txn::TxnAction action) {
  {
    MutexLock lock(mu_);
    auto it = answering_.find(half.value());
    if (it != answering_.end() && it->second > 1) {
      // Another definitive answer of it is being applied (a producer answering several
      // checks of one transaction at once): the first one decides.
      --it->second;
      return;
    }
  }
  End(half, message_id, action, txn::EndReason::kCheck,
      [this, half, message_id, action](Result<EndOutcome> r) {
        bool retry = false;
        {
          MutexLock lock(mu_);
          auto it = answering_.find(half.value());
          if (it != answering_.end() && --it->second <= 0) answering_.erase(it);
          if (r.ok() || AnswerSettledBy(r.status().code())) {
            remembered_.erase(half.value());
          } else if (remembered_.size() < kMaxRememberedAnswers) {
            remembered_[half.value()] = action;
            retry = true;
          }
        }
        if (!r.ok()) {
          spdlog::warn("ending transaction {} ({}) after its check-back: {}{}", message_id,
                       txn::ToString(action), r.status().ToString(),
                       retry ? " (the answer is kept for the final action)" : "");
        }
        if (retry) Arm(clock_->NowMs() + kRetryAfterFailureMs);
        NoteAnswerSettled(half.value());
      });
}

void TxnCoordinator::NoteAnswerSettled(int64_t half) {
  {
    MutexLock lock(mu_);
    if (final_waits_.count(half) == 0) return;
  }
  RunChecksSoon();
}

void TxnCoordinator::AddInFlightLocked(uint64_t id, InFlight f) {
  std::vector<uint64_t>& ids = in_flight_by_half_[f.half.value()];
  if (ids.size() >= kMaxChecksInFlightPerTxn) {
    // A producer this far behind answers the newest check as well as the oldest (and names
    // the half, so a late answer to the forgotten one still counts).
    in_flight_.erase(ids.front());
    ids.erase(ids.begin());
    ++stats_.answers_failed;
  }
  ids.push_back(id);
  in_flight_.emplace(id, std::move(f));
}

void TxnCoordinator::EraseInFlightLocked(std::map<uint64_t, InFlight>::iterator it) {
  auto ids = in_flight_by_half_.find(it->second.half.value());
  if (ids != in_flight_by_half_.end()) {
    std::erase(ids->second, it->first);
    if (ids->second.empty()) in_flight_by_half_.erase(ids);
  }
  in_flight_.erase(it);
}

void TxnCoordinator::ExpireInFlightLocked(int64_t now_mono_ms) {
  // Request ids are handed out in time order, so the oldest checks come first.
  while (!in_flight_.empty() &&
         in_flight_.begin()->second.sent_ms + config_.txn_check_answer_timeout_ms <=
             now_mono_ms) {
    ++stats_.answers_failed;
    EraseInFlightLocked(in_flight_.begin());
  }
}

bool TxnCoordinator::AnswerPendingLocked(int64_t half) const {
  return in_flight_by_half_.count(half) > 0 || answering_.count(half) > 0;
}

void TxnCoordinator::CountAnswer(int64_t CheckStats::*counter) {
  MutexLock lock(mu_);
  ++(stats_.*counter);
}

CheckStats TxnCoordinator::Stats() const {
  MutexLock lock(mu_);
  CheckStats s = stats_;
  s.waiting_groups = static_cast<int64_t>(waiting_groups_.size());
  s.checks_in_flight = static_cast<int64_t>(in_flight_.size());
  s.final_actions_waiting = static_cast<int64_t>(final_waits_.size());
  return s;
}

}  // namespace tidemq::broker
