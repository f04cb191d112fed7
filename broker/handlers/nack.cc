// NACK: a failed delivery is retried after the group's back-off (or the nack's delay) or
// dead-lettered past the group's max attempts; the reply goes out once every retry / DLQ copy
// is durable. `release` gives deliveries back unprocessed instead (consumer shutting down).
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio/post.hpp>

#include <memory>
#include <mutex>

#include "broker/error_mapping.h"
#include "broker/handlers/handlers.h"

namespace tidemq::broker {
namespace {

// Collects one result per handle; replies when the last one is in.
struct NackReply {
  NackReply(Request r, size_t n) : req(std::move(r)), results(n), left(n) {}

  void Done(size_t i, const Status& st) {
    bool last;
    {
      std::lock_guard lock(mu);
      results[i] = st;
      last = --left == 0;
    }
    if (!last) return;
    wire::Header h;
    auto* resp = h.mutable_nack_response();
    for (const Status& s : results) {
      auto* r = resp->add_results();
      r->set_code(ToWireCode(s.code()));
      r->set_error_message(s.message());
    }
    req.Reply(std::move(h));
  }

  Request req;
  std::mutex mu;
  std::vector<Status> results;  // GUARDED_BY(mu)
  size_t left;                  // GUARDED_BY(mu)
};

}  // namespace

void HandleNack(BrokerContext& ctx, const Request& req) {
  if (!req.header().has_nack_request()) return req.ReplyError(MissingPayload(req));
  const auto& nr = req.header().nack_request();
  if (nr.receipt_handles().empty()) {
    wire::Header h;
    h.mutable_nack_response();
    return req.Reply(std::move(h));
  }
  auto reply = std::make_shared<NackReply>(req, nr.receipt_handles_size());
  if (nr.release()) {
    for (int i = 0; i < nr.receipt_handles_size(); ++i) {
      reply->Done(i, ctx.consumers->Release(nr.group(), nr.receipt_handles(i)));
    }
  } else {
    std::vector<std::string> handles(nr.receipt_handles().begin(), nr.receipt_handles().end());
    ctx.consumers->Nack(nr.group(), handles, nr.delay_ms(),
                        [reply](size_t i, const Status& st) { reply->Done(i, st); });
  }
  // In-place retries due now (released, FIFO): wake receivers of the topic.
  for (auto& retry : ctx.polls->Notify(nr.topic())) boost::asio::post(*ctx.io, std::move(retry));
}

}  // namespace tidemq::broker
