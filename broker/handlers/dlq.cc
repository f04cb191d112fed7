// DLQ_LIST, DLQ_REDRIVE, DLQ_PURGE: a consumer group's dead letters (broker/dead_letters.h).
#include "broker/core/retry_copies.h"
#include "broker/handlers/handlers.h"
#include "broker/message_codec.h"

namespace tidemq::broker {
namespace {

DlqFilter FromWire(const wire::DlqFilter& f) {
  DlqFilter out;
  out.message_id = f.message_id();
  out.dlq_offset = f.has_dlq_offset() ? f.dlq_offset() : -1;
  out.tag = f.tag();
  out.key = f.key();
  out.original_topic = f.original_topic();
  out.from_ms = f.from_ms();
  out.to_ms = f.to_ms();
  return out;
}

}  // namespace

void HandleDlqList(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_dlq_list_request()) return req.ReplyError(MissingPayload(req));
  const auto& lr = req.header().dlq_list_request();
  auto got =
      ctx.admin()->ListDeadLetters(lr.group(), FromWire(lr.filter()), lr.after_offset(), lr.limit());
  if (!got.ok()) return req.ReplyError(got.status());
  wire::Header h;
  auto* resp = h.mutable_dlq_list_response();
  std::vector<std::string_view> bodies;
  for (const DeadLetter& d : got->messages) {
    wire::Message* m = resp->add_messages();
    ToWireMessage(d.record, m);
    m->set_log_offset(d.log_offset.value());
    m->set_dlq_offset(d.dlq_offset);
    m->set_delivery_attempt(ReadRetryInfo(d.record).attempts);
    if (lr.with_bodies()) bodies.push_back(d.record.body);
  }
  resp->set_total(got->total);
  req.Reply(std::move(h), bodies);
}

void HandleDlqRedrive(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_dlq_redrive_request()) return req.ReplyError(MissingPayload(req));
  const auto& rr = req.header().dlq_redrive_request();
  RedriveTarget target = rr.target() == wire::DlqRedriveRequest::RETRY_QUEUE
                             ? RedriveTarget::kRetryQueue
                             : RedriveTarget::kOriginalTopic;
  ctx.admin()->RedriveDeadLetters(rr.group(), FromWire(rr.filter()), rr.all(), target,
                                [req](Result<int64_t> n) {
                                  if (!n.ok()) return req.ReplyError(n.status());
                                  wire::Header h;
                                  h.mutable_dlq_redrive_response()->set_redriven(*n);
                                  req.Reply(std::move(h));
                                });
}

void HandleDlqPurge(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_dlq_purge_request()) return req.ReplyError(MissingPayload(req));
  const auto& pr = req.header().dlq_purge_request();
  ctx.admin()->PurgeDeadLetters(pr.group(), FromWire(pr.filter()), pr.all(),
                              [req](Result<int64_t> n) {
                                if (!n.ok()) return req.ReplyError(n.status());
                                wire::Header h;
                                h.mutable_dlq_purge_response()->set_purged(*n);
                                req.Reply(std::move(h));
                              });
}

}  // namespace tidemq::broker
