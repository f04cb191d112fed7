// DLQ_LIST, DLQ_REDRIVE, DLQ_PURGE: a consumer group's dead letters (broker/dead_letters.h).
#include "broker/dead_letters.h"
#include "broker/handlers/handlers.h"
#include "broker/retry_copies.h"

namespace tidemq::broker {
namespace {

constexpr uint32_t kDefaultListLimit = 100;
constexpr uint32_t kMaxListLimit = 10'000;

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

// The group must exist: a typo should not answer "no dead letters".
Status CheckGroup(BrokerContext& ctx, const std::string& group) {
  return ctx.consumers->DescribeGroup(group).status();
}

}  // namespace

void HandleDlqList(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_dlq_list_request()) return req.ReplyError(MissingPayload(req));
  const auto& lr = req.header().dlq_list_request();
  if (Status st = CheckGroup(ctx, lr.group()); !st.ok()) return req.ReplyError(st);
  uint32_t limit = lr.limit() == 0 ? kDefaultListLimit : lr.limit();
  if (limit > kMaxListLimit) {
    return req.ReplyError(
        InvalidArgument("limit must be at most " + std::to_string(kMaxListLimit)));
  }
  auto got = ctx.dead_letters->List(lr.group(), FromWire(lr.filter()), lr.after_offset(), limit);
  if (!got.ok()) return req.ReplyError(got.status());
  wire::Header h;
  auto* resp = h.mutable_dlq_list_response();
  std::vector<std::string_view> bodies;
  for (const DeadLetter& d : *got) {
    wire::Message* m = resp->add_messages();
    ToWireMessage(d.record, m);
    m->set_log_offset(d.log_offset.value());
    m->set_dlq_offset(d.dlq_offset);
    m->set_delivery_attempt(ReadRetryInfo(d.record).attempts);
    if (lr.with_bodies()) bodies.push_back(d.record.body);
  }
  resp->set_total(ctx.dead_letters->Count(lr.group()));
  req.Reply(std::move(h), bodies);
}

void HandleDlqRedrive(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_dlq_redrive_request()) return req.ReplyError(MissingPayload(req));
  const auto& rr = req.header().dlq_redrive_request();
  auto group = ctx.consumers->DescribeGroup(rr.group());
  if (!group.ok()) return req.ReplyError(group.status());
  RedriveTarget target = rr.target() == wire::DlqRedriveRequest::RETRY_QUEUE
                             ? RedriveTarget::kRetryQueue
                             : RedriveTarget::kOriginalTopic;
  if (target == RedriveTarget::kRetryQueue &&
      (group->config.fifo || group->config.broadcast)) {
    return req.ReplyError(Status(Code::kFailedPrecondition,
                                 "group '" + rr.group() + "' is " +
                                     (group->config.fifo ? "FIFO" : "broadcasting") +
                                     " and retries in place: redrive to the original topic"));
  }
  ctx.dead_letters->Redrive(rr.group(), FromWire(rr.filter()), rr.all(), target,
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
  if (Status st = CheckGroup(ctx, pr.group()); !st.ok()) return req.ReplyError(st);
  ctx.dead_letters->Purge(pr.group(), FromWire(pr.filter()), pr.all(),
                          [req](Result<int64_t> n) {
                            if (!n.ok()) return req.ReplyError(n.status());
                            wire::Header h;
                            h.mutable_dlq_purge_response()->set_purged(*n);
                            req.Reply(std::move(h));
                          });
}

}  // namespace tidemq::broker
