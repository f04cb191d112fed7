// RECEIVE: delivers available messages with a lease, or long-polls until one arrives, a
// redelivery falls due, or the wait runs out (then replies with no messages).
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "broker/handlers/handlers.h"

namespace tidemq::broker {
namespace {

void ReplyDeliveries(const Request& req, std::vector<Delivery> deliveries) {
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
  req.Reply(std::move(h), bodies);
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
    ReplyDeliveries(req, std::move(deliveries));
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
  auto got = ctx.consumers->TryReceive(args);
  if (!got.ok()) return req.ReplyError(got.status());
  if (!got->empty() || rr.wait_ms() == 0) return ReplyDeliveries(req, std::move(got).value());
  auto poll = std::make_shared<Poll>(ctx, req, std::move(args), rr.wait_ms());
  poll->Start();
}

}  // namespace tidemq::broker
