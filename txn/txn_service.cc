#include "txn/txn_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace tidemq::txn {
namespace {

// The half's check timeout property; nullopt when absent or not a decimal number >= 0.
std::optional<int64_t> CheckTimeoutOf(const store::Record& half) {
  for (const auto& [key, value] : half.properties) {
    if (key != kCheckTimeoutProperty) continue;
    int64_t ms = 0;
    const char* end = value.data() + value.size();
    auto [ptr, ec] = std::from_chars(value.data(), end, ms);
    if (ec != std::errc() || ptr != end || ms < 0) return std::nullopt;
    return ms;
  }
  return std::nullopt;
}

bool IsTxnProperty(const std::pair<std::string, std::string>& p) {
  return p.first.starts_with(kTxnPropertyPrefix);
}

std::string Describe(const TxnEntry& e) {
  std::string s = "the transaction of the half at log offset " +
                  std::to_string(e.half_offset.value()) + " is already " +
                  std::string(ToString(e.state));
  if (e.state != TxnState::kPending) s += " (by " + std::string(ToString(e.end_reason)) + ")";
  if (e.parked) s += " and parked";
  return s;
}

}  // namespace

Result<std::unique_ptr<TxnService>> TxnService::Open(const TxnServiceOptions& options) {
  if (options.index_path.empty()) return InvalidArgument("txn: index_path is required");
  if (options.default_timeout_ms < 0 || options.check_backoff_ms < 0 ||
      options.check_backoff_max_ms < options.check_backoff_ms) {
    return InvalidArgument(
        "txn: default_timeout_ms and check_backoff_ms must be >= 0 and check_backoff_max_ms >= "
        "check_backoff_ms");
  }
  if (options.max_checks == 0 || options.checkpoint_every < 1) {
    return InvalidArgument("txn: max_checks and checkpoint_every must be positive");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<TxnIndex> index,
                   TxnIndex::Open(options.index_path, CheckBackoff{options.check_backoff_ms,
                                                                   options.check_backoff_max_ms}));
  return std::unique_ptr<TxnService>(new TxnService(options, std::move(index)));
}

TxnService::TxnService(const TxnServiceOptions& options, std::unique_ptr<TxnIndex> index)
    : options_(options), index_(std::move(index)), applied_(index_->applied()) {}

TxnService::~TxnService() {
  MutexLock lock(mu_);
  if (status_.ok() && applied_ != index_->applied()) {
    Status st = index_->SetApplied(applied_, /*sync=*/true);
    if (!st.ok()) spdlog::warn("txn: persisting the applied offset: {}", st.ToString());
  }
}

LogOffset TxnService::Checkpoint() const {
  // A new index has applied nothing: replay the whole log (the store clamps to its start).
  const LogOffset applied = index_->applied();
  return applied == kNoLogOffset ? LogOffset(0) : applied;
}

bool TxnService::OpFor(const store::Record& record, LogOffset offset, TxnOp* op) const {
  using store::RecordType;
  op->half = record.origin_offset;
  op->record = offset;
  op->at_ms = record.store_ms;
  if (record.type == RecordType::kTxnHalf) {
    Result<std::string> group = ProducerGroupOf(record);
    if (!group.ok()) {
      // The broker refuses such halves; one in the log can never be checked or found.
      spdlog::warn("txn: half at {} ignored: {}", offset.value(), group.status().ToString());
      return false;
    }
    op->kind = TxnOp::Kind::kHalf;
    TxnEntry& e = op->entry;
    e.half_offset = offset;
    e.producer_group = std::move(*group);
    e.topic = record.topic;
    e.queue_id = record.queue_id;
    e.message_id = record.message_id;
    e.half_store_ms = record.store_ms;
    e.timeout_ms = CheckTimeoutOf(record).value_or(options_.default_timeout_ms);
    e.next_check_ms = AddMs(record.store_ms, e.timeout_ms);
    return true;
  }
  if (record.origin_offset == kNoLogOffset) return false;
  switch (record.type) {
    case RecordType::kMessage:
    case RecordType::kScheduled:
      if (record.flags & store::kFlagTxnCommit) {
        op->kind = TxnOp::Kind::kCommit;
        op->reason = EndReasonOf(record.flags);
        return true;
      }
      // Other re-puts (timer fires) are not ours; a parked copy marks its rollback parked.
      if (record.type == RecordType::kMessage && record.topic == kParkedTopic) {
        op->kind = TxnOp::Kind::kPark;
        return true;
      }
      return false;
    case RecordType::kTxnEnd:
      op->kind = TxnOp::Kind::kRollback;
      op->reason = EndReasonOf(record.flags);
      return true;
    case RecordType::kTxnCheck:
      op->kind = TxnOp::Kind::kCheck;
      return true;
    default:
      return false;
  }
}

void TxnService::OnRecord(const store::Record& record, LogOffset offset, bool /*replay*/) {
  MutexLock lock(mu_);
  if (!status_.ok()) return;  // the index is behind; a restart replays from its checkpoint
  const LogOffset end = offset + static_cast<int64_t>(record.EncodedSize());
  TxnOp op;
  if (!OpFor(record, offset, &op)) {
    staged_.Skip(end);
    return;
  }
  staged_.Add(end, std::move(op));
}

void TxnService::OnBatchEnd(bool replay) {
  MutexLock lock(mu_);
  if (!status_.ok()) return;  // the index is behind; a restart replays from its checkpoint
  std::optional<store::StagedBatch<TxnOp>::Batch> batch = staged_.Take(options_.checkpoint_every);
  if (!batch) return;
  const LogOffset end = batch->end;
  if (batch->ops.empty()) {
    applied_ = end;
    // Only bounds the replay after a restart; losing it is harmless.
    if (batch->persist_checkpoint) SetStatusLocked(index_->SetApplied(end, /*sync=*/false));
    return;
  }
  std::vector<TxnOp> ops = std::move(batch->ops);
  // A live kTxnHalf record is new by construction: no need to look it up.
  Status st = index_->Apply(ops, end, /*sync=*/false, /*halves_are_new=*/!replay);
  if (!st.ok()) {
    spdlog::error(
        "txn: index write failed, transactions stopped until the store catches the index up "
        "(room on the disk again) or a restart: {}",
        st.ToString());
    SetStatusLocked(std::move(st));
    return;
  }
  applied_ = end;
  for (const TxnOp& op : ops) {
    const int64_t half = op.half.value();
    switch (op.kind) {
      case TxnOp::Kind::kCheck:
        checking_.erase(half);
        break;
      case TxnOp::Kind::kCommit:
      case TxnOp::Kind::kRollback: {
        checking_.erase(half);
        auto it = ending_.find(half);
        if (it != ending_.end() && it->second.appended) ending_.erase(it);
        break;
      }
      default:
        break;
    }
  }
}

Result<EndDecision> TxnService::BeginEnd(LogOffset half, std::string_view message_id,
                                         TxnAction action) {
  MutexLock lock(mu_);
  if (!status_.ok()) return status_;
  const std::string at = "log offset " + std::to_string(half.value());
  if (auto it = ending_.find(half.value()); it != ending_.end()) {
    return Status(Code::kTxnConflict, "a " + std::string(ToString(it->second.action)) +
                                          " of the transaction of the half at " + at +
                                          " is in progress");
  }
  ASSIGN_OR_RETURN(std::optional<TxnEntry> entry, index_->Get(half));
  if (!entry.has_value()) return NotFound("no transaction half at " + at);
  if (!message_id.empty() && message_id != entry->message_id) {
    return NotFound("the transaction half at " + at + " has message id '" + entry->message_id +
                    "', not '" + std::string(message_id) + "'");
  }
  const TxnState wanted =
      action == TxnAction::kCommit ? TxnState::kCommitted : TxnState::kRolledBack;
  if (entry->state == wanted) return EndDecision::kAlreadyDone;
  if (entry->state != TxnState::kPending) {
    return Status(Code::kTxnConflict,
                  "cannot " + std::string(ToString(action)) + ": " + Describe(*entry));
  }
  ending_[half.value()] = Ending{action};
  return EndDecision::kProceed;
}

void TxnService::FinishEnd(LogOffset half, bool appended) {
  MutexLock lock(mu_);
  auto it = ending_.find(half.value());
  if (it == ending_.end()) return;
  if (!appended) {
    ending_.erase(it);  // pending again
    return;
  }
  // The store applies a batch before its appenders return, so the end is normally in the
  // index already; if not, OnBatchEnd releases the hold when it applies it.
  Result<std::optional<TxnEntry>> entry = index_->Get(half);
  if (!entry.ok()) {
    spdlog::error("txn: reading the half at {}: {}", half.value(), entry.status().ToString());
    it->second.appended = true;  // keep refusing other ends: the record is in the log
    return;
  }
  if (!entry->has_value() || (*entry)->state != TxnState::kPending) {
    ending_.erase(it);
  } else {
    it->second.appended = true;
  }
}

bool TxnService::HeldLocked(LogOffset half) const {
  return checking_.count(half.value()) > 0 || ending_.count(half.value()) > 0;
}

Result<std::vector<TxnEntry>> TxnService::TakeDueChecks(const std::string& group, int64_t now_ms,
                                                        size_t limit) {
  MutexLock lock(mu_);
  if (!status_.ok()) return status_;
  ASSIGN_OR_RETURN(
      std::vector<TxnEntry> due,
      index_->ScanDue(group, now_ms, limit, [this](LogOffset half) REQUIRES(mu_) { return HeldLocked(half); }));
  for (const TxnEntry& e : due) checking_.insert(e.half_offset.value());
  return due;
}

void TxnService::CheckAborted(LogOffset half) {
  MutexLock lock(mu_);
  checking_.erase(half.value());
}

std::optional<int64_t> TxnService::NextCheckMs(const std::string& group) const {
  MutexLock lock(mu_);
  Result<std::optional<int64_t>> next =
      index_->NextDue(group, [this](LogOffset half) REQUIRES(mu_) { return HeldLocked(half); });
  if (!next.ok()) {
    spdlog::error("txn: reading the check schedule of {}: {}", group, next.status().ToString());
    return std::nullopt;
  }
  return *next;
}

std::vector<std::string> TxnService::PendingGroups() const {
  Result<std::vector<std::string>> groups = index_->ListPendingGroups();
  if (!groups.ok()) {
    spdlog::error("txn: listing the pending groups: {}", groups.status().ToString());
    return {};
  }
  return std::move(*groups);
}

Result<std::optional<TxnEntry>> TxnService::Get(LogOffset half) const { return index_->Get(half); }

Result<std::optional<TxnEntry>> TxnService::FindByMessageId(const std::string& message_id) const {
  ASSIGN_OR_RETURN(std::optional<LogOffset> half, index_->FindByMessageId(message_id));
  if (!half.has_value()) return std::optional<TxnEntry>();
  return index_->Get(*half);
}

Result<std::vector<TxnEntry>> TxnService::List(std::optional<TxnState> state, bool parked_only,
                                               LogOffset after, size_t limit) const {
  return index_->List(state, parked_only, after, limit);
}

LogOffset TxnService::OldestPendingOffset() const {
  Result<std::optional<LogOffset>> oldest = index_->OldestPendingOffset();
  // On a read error keep everything: retention must never guess.
  if (!oldest.ok()) return LogOffset(0);
  return oldest->value_or(kNoLogOffset);
}

TxnStats TxnService::Stats() const {
  const TxnCounters c = index_->Counters();
  TxnStats s;
  s.pending = c.pending;
  s.committed = c.committed;
  s.rolled_back = c.rolled_back;
  s.parked = c.parked;
  s.checks_sent = c.checks_sent;
  MutexLock lock(mu_);
  s.checking = checking_.size();
  s.ending = ending_.size();
  return s;
}

Status TxnService::status() const {
  MutexLock lock(mu_);
  return status_;
}

Result<size_t> TxnService::PurgeResolved(int64_t before_ms, size_t limit) {
  MutexLock lock(mu_);
  if (!status_.ok()) return status_;
  Result<size_t> purged = index_->PurgeResolvedBefore(before_ms, limit);
  if (!purged.ok()) {
    spdlog::error("txn: purge failed, transactions stopped until restart: {}",
                  purged.status().ToString());
    SetStatusLocked(purged.status());
  }
  return purged;
}

store::Record TxnService::MakeCommit(const store::Record& half, LogOffset at, EndReason why) {
  store::Record r = half;
  r.type = half.deliver_at_ms != 0 ? store::RecordType::kScheduled : store::RecordType::kMessage;
  r.flags = store::kFlagTxnCommit | EndReasonFlags(why);
  r.queue_offset = -1;
  r.store_ms = 0;
  r.origin_offset = at;
  std::erase_if(r.properties, IsTxnProperty);
  return r;
}

store::Record TxnService::MakeRollback(const store::Record& half, LogOffset at, EndReason why) {
  store::Record r;
  r.type = store::RecordType::kTxnEnd;
  r.flags = EndReasonFlags(why);
  r.topic = half.topic;
  r.queue_id = half.queue_id;
  r.message_id = half.message_id;
  r.origin_offset = at;
  return r;
}

store::Record TxnService::MakeCheck(const TxnEntry& e) {
  store::Record r;
  r.type = store::RecordType::kTxnCheck;
  r.topic = e.topic;
  r.queue_id = e.queue_id;
  r.message_id = e.message_id;
  r.origin_offset = e.half_offset;
  return r;
}

store::Record TxnService::MakePark(const store::Record& half, LogOffset at, std::string reason) {
  store::Record r = half;
  r.type = store::RecordType::kMessage;
  r.flags = 0;  // not a commit: the rollback before it ended the transaction
  r.topic = kParkedTopic;
  r.queue_id = 0;
  r.queue_offset = -1;
  r.message_group.clear();
  r.store_ms = 0;
  r.deliver_at_ms = 0;
  r.origin_offset = at;
  std::erase_if(r.properties, [](const auto& p) {
    return p.first == kParkReasonProperty || p.first == kRealTopicProperty;
  });
  r.properties.emplace_back(kParkReasonProperty, std::move(reason));
  r.properties.emplace_back(kRealTopicProperty, half.topic);
  return r;
}

Result<std::string> TxnService::ProducerGroupOf(const store::Record& half) {
  for (const auto& [key, value] : half.properties) {
    if (key == kProducerGroupProperty && !value.empty()) return value;
  }
  return InvalidArgument("transaction half has no " + std::string(kProducerGroupProperty) +
                         " property");
}

bool TxnService::NeedsReplay() const {
  // Lock-free: the store asks before every group commit.
  return needs_replay_.load(std::memory_order_acquire);
}

void TxnService::SetStatusLocked(Status st) {
  status_ = std::move(st);
  needs_replay_.store(status_.code() == Code::kResourceExhausted, std::memory_order_release);
}

Status TxnService::Resume() {
  MutexLock lock(mu_);
  if (status_.ok()) return Status::Ok();
  RETURN_IF_ERROR(index_->Reopen());
  spdlog::info("txn: index reopened after \"{}\"; catching up from log offset {}",
               status_.ToString(), index_->applied().value());
  SetStatusLocked(Status::Ok());
  // Records after the index's applied offset are replayed: forget what was staged of them.
  staged_ = decltype(staged_)();
  applied_ = index_->applied();
  return Status::Ok();
}

void TxnService::FailForTesting(Status st) {
  MutexLock lock(mu_);
  SetStatusLocked(std::move(st));
}

}  // namespace tidemq::txn
