// RECEIVE: delivers available messages with a lease, or long-polls until one arrives, a
// redelivery falls due, or the wait runs out (then replies with no messages).
//
// A reply carries at most --max-receive-bytes of messages (always at least one), and no more
// than the connection has room for in flight (broker/inflight_budget.h): with no room at all
// the receive gets RESOURCE_EXHAUSTED. A reply that never reached the socket (the connection
// closed first) gives its messages back at once without counting the delivery attempt.
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>

#include "broker/handlers/handlers.h"

namespace tidemq::broker {
namespace {

// How many bytes of messages the reply may carry now; 0 with the error to answer instead.
Result<size_t> ReplyByteBound(BrokerContext& ctx, const Request& req) {
  const int64_t room = req.conn->ReplyRoom();
  if (room <= 0) {
    ctx.stats->receives_refused.fetch_add(1, std::memory_order_relaxed);
    return Status(Code::kResourceExhausted,
                  "no room for a receive reply: this connection holds " +
                      std::to_string(req.conn->held_bytes()) +
                      " bytes of requests and unread replies (or the broker its limit of "
                      "bytes in flight); read the replies, then receive again");
  }
  return static_cast<size_t>(std::min<int64_t>(ctx.config.max_receive_bytes, room));
}

// Deliveries whose reply could not be written never reached the client: deliverable again at
// once, the attempt not counted.
void ReleaseUnsent(BrokerContext& ctx, const std::string& group, const std::string& topic,
                   const std::vector<std::string>& receipts) {
  for (const std::string& r : receipts) (void)ctx.consumers->Release(group, r);
  ctx.stats->deliveries_unsent.fetch_add(static_cast<int64_t>(receipts.size()),
                                         std::memory_order_relaxed);
  for (auto& w : ctx.polls->Notify(topic)) boost::asio::post(*ctx.io, std::move(w));
}

void ReplyDeliveries(BrokerContext& ctx, const Request& req, const ReceiveArgs& args,
                     std::vector<Delivery> deliveries) {
  wire::Header h;
  auto* resp = h.mutable_receive_response();
  std::vector<std::string_view> bodies;
  bodies.reserve(deliveries.size());
  for (const Delivery& d : deliveries) {
    wire::Message* m = resp->add_messages();
    ToWireMessage(d.record, m);
    // A retry copy is delivered as a message of the topic it was sent to.
    if (!m->original_topic().empty()) m->set_topic(m->original_topic());
    m->set_queue_id(static_cast<int32_t>(d.queue_id));
    m->set_delivered_queue_id(static_cast<int32_t>(d.queue_id));
    m->set_queue_offset(d.queue_offset);
    m->set_log_offset(d.log_offset.value());
    m->set_delivery_attempt(d.attempt);
    m->set_receipt_handle(d.receipt);
    bodies.push_back(d.record.body);
  }
  Connection::Written written;
  if (!deliveries.empty()) {
    std::vector<std::string> receipts;
    receipts.reserve(deliveries.size());
    for (const Delivery& d : deliveries) receipts.push_back(d.receipt);
    written = [&ctx, group = args.group, topic = args.topic,
               receipts = std::move(receipts)](bool ok) {
      if (!ok) ReleaseUnsent(ctx, group, topic, receipts);
    };
  }
  req.Reply(std::move(h), bodies, std::move(written));
}

// One parked receive. Completed exactly once: by a delivery, by its timer, or at shutdown.
struct Poll : std::enable_shared_from_this<Poll> {
  Poll(BrokerContext& c, Request r, ReceiveArgs a, int64_t wait_ms)
      : ctx(c), req(std::move(r)), args(std::move(a)), timer(*c.io) {
    deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    timer.expires_at(deadline);
  }

  void Start() {
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;  // cancelled: completed by a delivery
      if (self->ctx.polls->Cancel(self->args.topic, self->ticket)) self->Finish({});
    });
    Attempt();
  }

  // Looks for messages; parks again when there are none and the wait is not over.
  void Attempt() {
    while (!done.load()) {
      uint64_t seq = ctx.polls->Seq(args.topic);
      auto bound = ReplyByteBound(ctx, req);
      if (!bound.ok()) return Finish({}, bound.status());
      args.max_bytes = *bound;
      auto got = ctx.consumers->TryReceive(args);
      if (!got.ok()) return Finish({}, got.status());
      if (!got->empty()) return Finish(std::move(got).value());
      // A wake that raced with the timer must not park past the deadline.
      if (std::chrono::steady_clock::now() >= deadline) return Finish({});
      auto self = shared_from_this();
      if (ctx.polls->Park(args.topic, seq, &ticket, [self] {
            boost::asio::post(*self->ctx.io, [self] { self->Attempt(); });
          })) {
        return;
      }
    }
  }

  void Finish(std::vector<Delivery> deliveries, Status error = Status::Ok()) {
    if (done.exchange(true)) {
      // Lost a race with the timer: give the messages back at once for someone else.
      for (const Delivery& d : deliveries) (void)ctx.consumers->Release(args.group, d.receipt);
      return;
    }
    timer.cancel();
    if (!error.ok()) return req.ReplyError(error);
    ReplyDeliveries(ctx, req, args, std::move(deliveries));
  }

  BrokerContext& ctx;
  Request req;
  ReceiveArgs args;
  boost::asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline;
  uint64_t ticket = 0;
  std::atomic<bool> done{false};
};

}  // namespace

void HandleReceive(BrokerContext& ctx, const Request& req) {
  ctx.stats->receive_requests.fetch_add(1, std::memory_order_relaxed);
  if (!req.header().has_receive_request()) return req.ReplyError(MissingPayload(req));
  const wire::ReceiveRequest& rr = req.header().receive_request();
  ReceiveArgs args;
  args.group = rr.group();
  args.topic = rr.topic();
  args.tag_filter = rr.tag_filter();
  args.max_messages = rr.max_messages() == 0 ? 32 : rr.max_messages();
  args.lease_ms = rr.lease_ms() == 0 ? ctx.config.default_lease_ms : rr.lease_ms();
  args.client_id = rr.client_id();
  if (rr.wait_ms() < 0 || rr.wait_ms() > ctx.config.max_wait_ms) {
    return req.ReplyError(InvalidArgument("wait must be between 0 and " +
                                          std::to_string(ctx.config.max_wait_ms) + " ms"));
  }
  auto bound = ReplyByteBound(ctx, req);
  if (!bound.ok()) return req.ReplyError(bound.status());
  args.max_bytes = *bound;
  auto got = ctx.consumers->TryReceive(args);
  if (!got.ok()) return req.ReplyError(got.status());
  if (!got->empty() || rr.wait_ms() == 0) {
    return ReplyDeliveries(ctx, req, args, std::move(got).value());
  }
  auto poll = std::make_shared<Poll>(ctx, req, std::move(args), rr.wait_ms());
  poll->Start();
}

}  // namespace tidemq::broker
