#include "broker/txn_coordinator.h"

#include <spdlog/spdlog.h>

#include <boost/asio/post.hpp>

#include <algorithm>
#include <climits>

#include "broker/handlers/handlers.h"
#include "proto/frame.h"
#include "txn/txn_types.h"

namespace tidemq::broker {
namespace {

namespace asio = boost::asio;

// Due transactions taken per group per round; more are taken in the next round at once.
constexpr size_t kChecksPerRound = 1024;
// When an append for a check or a final action fails, look again this much later.
constexpr int64_t kRetryAfterFailureMs = 1000;

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
  std::lock_guard lock(mu_);
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
  std::lock_guard lock(mu_);
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
    std::lock_guard lock(mu_);
    armed_id_ = 0;
    if (stopped_) return;
  }
  asio::post(strand_, [this] { RunChecks(); });
}

void TxnCoordinator::RegisterProducer(const std::string& group,
                                      const std::shared_ptr<Connection>& conn) {
  bool first = false;
  {
    std::lock_guard lock(mu_);
    auto& conns = producers_[group];
    std::erase_if(conns, [](const std::weak_ptr<Connection>& w) {
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

void TxnCoordinator::OnClosed(const std::shared_ptr<Connection>& conn) {
  std::lock_guard lock(mu_);
  for (auto& [group, conns] : producers_) {
    std::erase_if(conns, [&](const std::weak_ptr<Connection>& w) {
      auto c = w.lock();
      return !c || c == conn;
    });
  }
  std::erase_if(producers_, [](const auto& kv) { return kv.second.empty(); });
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    if (it->second.conn_id == conn->id()) {
      outstanding_by_half_.erase(it->second.half.value());
      ++stats_.answers_failed;
      it = outstanding_.erase(it);
    } else {
      ++it;
    }
  }
}

bool TxnCoordinator::HasProducer(const std::string& group) const {
  std::lock_guard lock(mu_);
  auto it = producers_.find(group);
  if (it == producers_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [](const auto& w) {
    auto c = w.lock();
    return c && !c->closed();
  });
}

std::shared_ptr<Connection> TxnCoordinator::PickConnection(const std::string& group) {
  std::lock_guard lock(mu_);
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

void TxnCoordinator::RunChecks() {
  {
    std::lock_guard lock(mu_);
    if (stopped_) return;
  }
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
      if (txn_->ChecksExhausted(e)) {
        txn_->CheckAborted(e.half_offset);
        FinalAction(e);
      } else {
        checks.push_back(std::move(e));
      }
    }
    if (!checks.empty()) SendChecks(std::move(checks));
  }
  {
    std::lock_guard lock(mu_);
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
  if (next != INT64_MAX) Arm(next);
}

void TxnCoordinator::Start() {
  asio::post(strand_, [this] { RunChecks(); });
}

void TxnCoordinator::SendChecks(std::vector<txn::TxnEntry> entries) {
  std::vector<store::Record> records;
  records.reserve(entries.size());
  for (const txn::TxnEntry& e : entries) records.push_back(txn::TxnService::MakeCheck(e));
  store_->Append(std::move(records), [this, entries = std::move(entries)](
                                         const Status& st, std::vector<store::AppendResult>) {
    if (!st.ok()) {
      spdlog::warn("recording {} transaction checks failed ({}); retrying in {} ms",
                   entries.size(), st.ToString(), kRetryAfterFailureMs);
      for (const txn::TxnEntry& e : entries) txn_->CheckAborted(e.half_offset);
      Arm(clock_->NowMs() + kRetryAfterFailureMs);
      return;
    }
    // The kTxnCheck records are applied: each transaction's next check is scheduled.
    asio::post(strand_, [this, entries] {
      for (const txn::TxnEntry& e : entries) {
        Result<store::Record> half = store_->Read(e.half_offset);
        if (!half.ok()) {
          spdlog::error("transaction check: half at log offset {} unreadable: {}",
                        e.half_offset.value(), half.status().ToString());
          continue;
        }
        std::shared_ptr<Connection> conn = PickConnection(e.producer_group);
        if (!conn) {
          std::lock_guard lock(mu_);
          waiting_groups_.insert(e.producer_group);
          continue;
        }
        const uint64_t id = next_request_id_++;
        wire::Header h;
        h.set_request_id(id);
        h.set_kind(wire::CHECK_TXN);
        auto* req = h.mutable_check_txn_request();
        ToWireMessage(*half, req->mutable_message());
        req->mutable_message()->set_log_offset(e.half_offset.value());
        req->mutable_message()->set_body_size(static_cast<uint32_t>(half->body.size()));
        req->set_producer_group(e.producer_group);
        req->set_check_number(e.checks + 1);
        std::string frame;
        wire::EncodeFrame(h, half->body, &frame);
        {
          std::lock_guard lock(mu_);
          auto prev = outstanding_by_half_.find(e.half_offset.value());
          if (prev != outstanding_by_half_.end()) {  // superseded: never answered
            outstanding_.erase(prev->second);
            ++stats_.answers_failed;
          }
          outstanding_[id] = Outstanding{e.half_offset, e.message_id, conn->id()};
          outstanding_by_half_[e.half_offset.value()] = id;
        }
        conn->Send(std::move(frame));
      }
      ArmForGroups();
    });
  });
}

void TxnCoordinator::FinalAction(const txn::TxnEntry& e) {
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

void TxnCoordinator::OnResponse(const std::shared_ptr<Connection>& conn,
                                const wire::Frame& frame) {
  const wire::Header& h = frame.header;
  if (h.kind() != wire::CHECK_TXN) return;
  Outstanding o;
  {
    std::lock_guard lock(mu_);
    auto it = outstanding_.find(h.request_id());
    if (it == outstanding_.end() || it->second.conn_id != conn->id()) return;  // superseded
    o = it->second;
    outstanding_by_half_.erase(o.half.value());
    outstanding_.erase(it);
  }
  if (h.code() != wire::OK || !h.has_check_txn_response()) {
    spdlog::warn("check-back for transaction {} failed on the producer: {}", o.message_id,
                 h.error_message());
    return CountAnswer(&CheckStats::answers_failed);
  }
  txn::TxnAction action;
  switch (h.check_txn_response().resolution()) {
    case wire::TXN_COMMIT:
      CountAnswer(&CheckStats::answers_commit);
      action = txn::TxnAction::kCommit;
      break;
    case wire::TXN_ROLLBACK:
      CountAnswer(&CheckStats::answers_rollback);
      action = txn::TxnAction::kRollback;
      break;
    default:
      return CountAnswer(&CheckStats::answers_unknown);
  }
  End(o.half, o.message_id, action, txn::EndReason::kCheck,
      [o](Result<EndOutcome> r) {
        if (!r.ok()) {
          spdlog::warn("ending transaction {} after its check-back: {}", o.message_id,
                       r.status().ToString());
        }
      });
}

void TxnCoordinator::CountAnswer(int64_t CheckStats::*counter) {
  std::lock_guard lock(mu_);
  ++(stats_.*counter);
}

CheckStats TxnCoordinator::Stats() const {
  std::lock_guard lock(mu_);
  CheckStats s = stats_;
  s.waiting_groups = static_cast<int64_t>(waiting_groups_.size());
  return s;
}

}  // namespace tidemq::broker
