// Transactions (docs/txn.md): END_TXN commits or rolls back a half message (idempotent; the
// opposite of a decision already taken is refused with TXN_CONFLICT); TXN_LIST, TXN_SHOW and
// TXN_STATS read the transaction index. SEND_HALF is in send.cc.
#include "broker/handlers/handlers.h"
#include "broker/txn_coordinator.h"
#include "common/names.h"
#include "txn/txn_types.h"

namespace tidemq::broker {
namespace {

constexpr uint32_t kDefaultListLimit = 100;
constexpr uint32_t kMaxListLimit = 10'000;

wire::TxnState ToWire(txn::TxnState s) {
  switch (s) {
    case txn::TxnState::kPending: return wire::TXN_PENDING;
    case txn::TxnState::kCommitted: return wire::TXN_COMMITTED;
    case txn::TxnState::kRolledBack: return wire::TXN_ROLLED_BACK;
  }
  return wire::TXN_STATE_UNSPECIFIED;
}

void ToWire(const txn::TxnEntry& e, wire::TxnInfo* out) {
  out->set_half_offset(e.half_offset.value());
  out->set_state(ToWire(e.state));
  out->set_producer_group(e.producer_group);
  out->set_topic(e.topic);
  out->set_queue_id(static_cast<int32_t>(e.queue_id));
  out->set_message_id(e.message_id);
  out->set_half_store_ms(e.half_store_ms);
  out->set_timeout_ms(e.timeout_ms);
  out->set_checks(e.checks);
  if (e.state == txn::TxnState::kPending) {
    out->set_next_check_ms(e.next_check_ms);
  } else {
    out->set_end_ms(e.end_ms);
    out->set_end_reason(std::string(txn::ToString(e.end_reason)));
  }
  out->set_parked(e.parked);
}

txn::EndReason ReasonFor(wire::EndTxnRequest::Source source) {
  switch (source) {
    case wire::EndTxnRequest::CHECK: return txn::EndReason::kCheck;
    case wire::EndTxnRequest::OPERATOR: return txn::EndReason::kOperator;
    default: return txn::EndReason::kProducer;
  }
}

// The half an END_TXN or TXN_SHOW names: by offset, or (offset < 0) by message id.
Result<txn::TxnEntry> FindTxn(BrokerContext& ctx, int64_t half_offset,
                              const std::string& message_id) {
  Result<std::optional<txn::TxnEntry>> e =
      half_offset >= 0 ? ctx.txn->Get(LogOffset(half_offset)) : ctx.txn->FindByMessageId(message_id);
  if (!e.ok()) return e.status();
  if (!e->has_value()) {
    return Status(Code::kNotFound,
                  half_offset >= 0
                      ? "no transaction has its half message at log offset " +
                            std::to_string(half_offset) +
                            " (never sent, or ended longer ago than --txn-keep-resolved-hours)"
                      : "no transaction for message id '" + message_id +
                            "' (never sent, or ended longer ago than --txn-keep-resolved-hours)");
  }
  return std::move(**e);
}

}  // namespace

void HandleEndTxn(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_end_txn_request()) return req.ReplyError(MissingPayload(req));
  const wire::EndTxnRequest& er = req.header().end_txn_request();
  txn::TxnAction action;
  if (er.resolution() == wire::TXN_COMMIT) {
    action = txn::TxnAction::kCommit;
  } else if (er.resolution() == wire::TXN_ROLLBACK) {
    action = txn::TxnAction::kRollback;
  } else {
    return req.ReplyError(InvalidArgument(
        "an end must be COMMIT or ROLLBACK (UNKNOWN leaves the transaction to the check-back)"));
  }
  if (er.half_offset() < 0 && er.message_id().empty()) {
    return req.ReplyError(InvalidArgument("name the half message by half_offset or message_id"));
  }
  if (!er.producer_group().empty()) {
    if (Status st = ValidateGroupName(er.producer_group()); !st.ok()) return req.ReplyError(st);
  }
  Result<txn::TxnEntry> e = FindTxn(ctx, er.half_offset(), er.message_id());
  if (!e.ok()) return req.ReplyError(e.status());
  if (!er.producer_group().empty() && er.producer_group() != e->producer_group) {
    return req.ReplyError(Status(Code::kFailedPrecondition,
                                 "transaction " + e->message_id + " belongs to producer group '" +
                                     e->producer_group + "', not '" + er.producer_group() + "'"));
  }
  ctx.txn_coordinator->End(e->half_offset, er.message_id(), action, ReasonFor(er.source()),
                           [req](Result<EndOutcome> r) {
                             if (!r.ok()) return req.ReplyError(r.status());
                             wire::Header h;
                             auto* resp = h.mutable_end_txn_response();
                             resp->set_already_done(r->already_done);
                             if (r->committed_at != kNoLogOffset) {
                               resp->set_log_offset(r->committed_at.value());
                             }
                             req.Reply(std::move(h));
                           });
}

void HandleTxnList(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_txn_list_request()) return req.ReplyError(MissingPayload(req));
  const wire::TxnListRequest& lr = req.header().txn_list_request();
  std::optional<txn::TxnState> state;
  switch (lr.state()) {
    case wire::TXN_PENDING: state = txn::TxnState::kPending; break;
    case wire::TXN_COMMITTED: state = txn::TxnState::kCommitted; break;
    case wire::TXN_ROLLED_BACK: state = txn::TxnState::kRolledBack; break;
    case wire::TXN_STATE_UNSPECIFIED: break;
    default: return req.ReplyError(InvalidArgument("unknown transaction state filter"));
  }
  const uint32_t limit = lr.limit() == 0 ? kDefaultListLimit : lr.limit();
  if (limit > kMaxListLimit) {
    return req.ReplyError(
        InvalidArgument("list at most " + std::to_string(kMaxListLimit) + " per request"));
  }
  const LogOffset after = lr.after_offset() < 0 ? kNoLogOffset : LogOffset(lr.after_offset());
  Result<std::vector<txn::TxnEntry>> entries = ctx.txn->List(state, lr.parked_only(), after, limit);
  if (!entries.ok()) return req.ReplyError(entries.status());
  wire::Header h;
  auto* resp = h.mutable_txn_list_response();
  for (const txn::TxnEntry& e : *entries) ToWire(e, resp->add_transactions());
  req.Reply(std::move(h));
}

void HandleTxnShow(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_txn_show_request()) return req.ReplyError(MissingPayload(req));
  const wire::TxnShowRequest& sr = req.header().txn_show_request();
  if (sr.message_id().empty() && sr.half_offset() < 0) {
    return req.ReplyError(InvalidArgument("name the transaction by message id or half offset"));
  }
  Result<txn::TxnEntry> e =
      FindTxn(ctx, sr.message_id().empty() ? sr.half_offset() : -1, sr.message_id());
  if (!e.ok()) return req.ReplyError(e.status());
  wire::Header h;
  ToWire(*e, h.mutable_txn_show_response()->mutable_transaction());
  req.Reply(std::move(h));
}

void HandleTxnStats(BrokerContext& ctx, const Request& req) {
  const txn::TxnStats s = ctx.txn->Stats();
  const CheckStats c = ctx.txn_coordinator->Stats();
  wire::Header h;
  auto* resp = h.mutable_txn_stats_response();
  resp->set_pending(s.pending);
  resp->set_committed(s.committed);
  resp->set_rolled_back(s.rolled_back);
  resp->set_parked(s.parked);
  resp->set_checks_sent(s.checks_sent);
  resp->set_answers_commit(c.answers_commit);
  resp->set_answers_rollback(c.answers_rollback);
  resp->set_answers_unknown(c.answers_unknown);
  resp->set_answers_failed(c.answers_failed);
  resp->set_waiting_groups(c.waiting_groups);
  resp->set_answers_unmatched(c.answers_unmatched);
  resp->set_answers_late(c.answers_late);
  resp->set_final_actions_deferred(c.final_actions_deferred);
  resp->set_checks_in_flight(c.checks_in_flight);
  resp->set_final_actions_waiting(c.final_actions_waiting);
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
