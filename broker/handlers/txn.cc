// Transactions (docs/txn.md): END_TXN commits or rolls back a half message (idempotent; the
// opposite of a decision already taken is refused with TXN_CONFLICT); TXN_LIST, TXN_SHOW and
// TXN_STATS read the transaction index; a CHECK_TXN response is a producer's answer to a
// check-back. SEND_HALF is in send.cc.
#include "broker/handlers/handlers.h"

namespace tidemq::broker {
namespace {

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
    default:
      return txn::EndReason::kProducer;
  }
}

TxnResolution FromWire(wire::TxnResolution r) {
  switch (r) {
    case wire::TXN_COMMIT: return TxnResolution::kCommit;
    case wire::TXN_ROLLBACK: return TxnResolution::kRollback;
    default:
      return TxnResolution::kUnknown;
  }
}

}  // namespace

void HandleEndTxn(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_end_txn_request()) return req.ReplyError(MissingPayload(req));
  const wire::EndTxnRequest& er = req.header().end_txn_request();
  EndTxnCommand command;
  command.resolution = FromWire(er.resolution());
  command.half_offset = er.half_offset();
  command.message_id = er.message_id();
  command.producer_group = er.producer_group();
  command.reason = ReasonFor(er.source());
  ctx.messages()->EndTxn(command, [req](Result<EndOutcome> r) {
    if (!r.ok()) return req.ReplyError(r.status());
    wire::Header h;
    auto* resp = h.mutable_end_txn_response();
    resp->set_already_done(r->already_done);
    if (r->committed_at != kNoLogOffset) resp->set_log_offset(r->committed_at.value());
    req.Reply(std::move(h));
  });
}

void HandleCheckTxnAnswer(BrokerContext& ctx, const Request& req) {
  const wire::Header& h = req.header();
  if (h.kind() != wire::CHECK_TXN) return;  // the broker sends no other requests
  const wire::CheckTxnResponse& r = h.check_txn_response();
  CheckAnswer answer;
  answer.request_id = h.request_id();
  answer.answered = h.code() == wire::OK && h.has_check_txn_response();
  answer.error_message = h.error_message();
  if (r.resolution() == wire::TXN_COMMIT) answer.action = txn::TxnAction::kCommit;
  if (r.resolution() == wire::TXN_ROLLBACK) answer.action = txn::TxnAction::kRollback;
  answer.names_half = r.has_half_offset();
  answer.half_offset = r.half_offset();
  answer.message_id = r.message_id();
  ctx.messages()->CheckAnswered(*req.conn, answer);
}

void HandleTxnList(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_txn_list_request()) return req.ReplyError(MissingPayload(req));
  const wire::TxnListRequest& lr = req.header().txn_list_request();
  TxnListQuery query;
  switch (lr.state()) {
    case wire::TXN_PENDING: query.state = txn::TxnState::kPending; break;
    case wire::TXN_COMMITTED: query.state = txn::TxnState::kCommitted; break;
    case wire::TXN_ROLLED_BACK: query.state = txn::TxnState::kRolledBack; break;
    case wire::TXN_STATE_UNSPECIFIED: break;
    default:
      return req.ReplyError(InvalidArgument("unknown transaction state filter"));
  }
  query.parked_only = lr.parked_only();
  query.after_offset = lr.after_offset();
  query.limit = lr.limit();
  Result<std::vector<txn::TxnEntry>> entries = ctx.admin()->ListTxns(query);
  if (!entries.ok()) return req.ReplyError(entries.status());
  wire::Header h;
  auto* resp = h.mutable_txn_list_response();
  for (const txn::TxnEntry& e : *entries) ToWire(e, resp->add_transactions());
  req.Reply(std::move(h));
}

void HandleTxnShow(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_txn_show_request()) return req.ReplyError(MissingPayload(req));
  const wire::TxnShowRequest& sr = req.header().txn_show_request();
  Result<txn::TxnEntry> e = ctx.admin()->ShowTxn(sr.message_id(), sr.half_offset());
  if (!e.ok()) return req.ReplyError(e.status());
  wire::Header h;
  ToWire(*e, h.mutable_txn_show_response()->mutable_transaction());
  req.Reply(std::move(h));
}

void HandleTxnStats(BrokerContext& ctx, const Request& req) {
  const TxnReport report = ctx.admin()->TxnStats();
  const txn::TxnStats& s = report.index;
  const CheckStats& c = report.checks;
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
