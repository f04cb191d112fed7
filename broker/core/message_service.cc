#include "broker/core/message_service.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange

#include "broker/core/long_poll.h"
#include "broker/core/scheduled_delivery.h"
#include "broker/core/topic_manager.h"
#include "cluster/replication_source.h"
#include "common/mutex.h"
#include "common/names.h"
#include "txn/txn_service.h"

namespace tidemq::broker {
namespace {

constexpr int64_t kMaxCheckTimeoutMs = int64_t{24} * 3600 * 1000;
constexpr uint32_t kDefaultReceiveBatch = 32;

// ---- send ----

Status Validate(const BrokerConfig& config, const SendMessage& m) {
  if (m.body.size() > config.max_message_bytes) {
    return Status(Code::kTooLarge, "message body of " + std::to_string(m.body.size()) +
                                       " bytes exceeds the limit of " +
                                       std::to_string(config.max_message_bytes));
  }
  RETURN_IF_ERROR(ValidateTag(m.tag));
  if (m.message_id.empty() || m.message_id.size() > kMaxMessageIdLength) {
    return InvalidArgument("message id must be 1 to " + std::to_string(kMaxMessageIdLength) +
                           " bytes");
  }
  if (m.message_group.size() > kMaxKeyLength) {
    return InvalidArgument("message group must be at most " + std::to_string(kMaxKeyLength) +
                           " bytes");
  }
  if (m.keys.size() > kMaxKeysPerMessage) {
    return InvalidArgument("a message may carry at most " + std::to_string(kMaxKeysPerMessage) +
                           " keys");
  }
  for (const auto& k : m.keys) {
    if (k.empty() || k.size() > kMaxKeyLength) {
      return InvalidArgument("keys must be 1 to " + std::to_string(kMaxKeyLength) + " bytes");
    }
  }
  if (m.properties.size() > kMaxPropertyCount) {
    return InvalidArgument("a message may carry at most " + std::to_string(kMaxPropertyCount) +
                           " properties");
  }
  for (const auto& [k, v] : m.properties) {
    if (k.empty() || k.size() > kMaxPropertyKeyLength) {
      return InvalidArgument("property names must be 1 to " +
                             std::to_string(kMaxPropertyKeyLength) + " bytes");
    }
    if (v.size() > kMaxPropertyValueLength) {
      return Status(Code::kTooLarge, "property '" + k + "' is longer than " +
                                         std::to_string(kMaxPropertyValueLength) + " bytes");
    }
  }
  return Status::Ok();
}

// The due time of a scheduled message, or 0 for a plain one.
Result<int64_t> DueTime(const BrokerConfig& config, const SendMessage& m, int64_t now_ms) {
  if (m.deliver_at_ms == 0 && m.delay_ms == 0) return int64_t{0};
  if (m.deliver_at_ms != 0 && m.delay_ms != 0) {
    return InvalidArgument("a message may set deliver_at_ms or delay_ms, not both");
  }
  if (m.deliver_at_ms < 0 || m.delay_ms < 0) {
    return InvalidArgument("deliver_at_ms and delay_ms must not be negative");
  }
  const int64_t max_ahead_ms = config.max_schedule_days * 24 * 3600 * 1000;
  const int64_t ahead_ms = m.delay_ms != 0 ? m.delay_ms : m.deliver_at_ms - now_ms;
  if (ahead_ms > max_ahead_ms) {
    return InvalidArgument("scheduled delivery is " + std::to_string(ahead_ms) +
                           " ms ahead, past the broker's limit of " +
                           std::to_string(config.max_schedule_days) +
                           " days (--max-schedule-days)");
  }
  return now_ms + ahead_ms;
}

Result<Topic> FindTopic(const CoreParts& p, const std::string& name, int32_t queue_id) {
  // Only the broker appends to its own topics (%RETRY%, %DLQ%, %TXN_PARKED%, ...): a client's
  // copy there would pass for the broker's bookkeeping (a forged dead letter, say).
  if (IsSystemTopic(name)) {
    return InvalidArgument("topic '" + name +
                           "' is a system topic: clients cannot send to it "
                           "(names starting with '%' are reserved for the broker)");
  }
  if (auto t = p.topics->FindRouted(name, p.clock->NowMs(), queue_id)) return *t;
  RETURN_IF_ERROR(ValidateTopicName(name));
  if (p.cluster != nullptr && queue_id >= 0) {
    // A client's routes name a queue here that ours do not (yet): it picks another group.
    return Status(Code::kNotWritable, "broker group '" + p.cluster->group +
                                          "' holds no queues of topic '" + name + "'");
  }
  if (p.config.auto_create_topics) {
    return p.topics->Create(name, p.config.default_queue_count, p.clock->NowMs());
  }
  return Status(Code::kTopicNotFound, "topic '" + name +
                                          "' does not exist (create it with "
                                          "`tidemq topic create " +
                                          name + "`)");
}

// A half's own checks: the producer group and no property that txn/ reserves.
Status ValidateHalf(const SendCommand& c, const SendMessage& m) {
  if (c.producer_group.empty()) {
    return InvalidArgument(
        "a transactional send needs a producer group (its check-backs go "
        "to a live producer of that group)");
  }
  for (const auto& [k, v] : m.properties) {
    if (k.starts_with(txn::kTxnPropertyPrefix)) {
      return InvalidArgument("property '" + k + "': names starting with '" +
                             txn::kTxnPropertyPrefix + "' are reserved for transactions");
    }
  }
  if (m.txn_check_timeout_ms < 0 || m.txn_check_timeout_ms > kMaxCheckTimeoutMs) {
    return InvalidArgument("transaction check timeout must be 0 (broker default) to " +
                           std::to_string(kMaxCheckTimeoutMs) + " ms");
  }
  return Status::Ok();
}

// ---- receive ----

// One parked receive. Completed exactly once: by a delivery, by its timer, or at shutdown.
struct ParkedReceive : std::enable_shared_from_this<ParkedReceive> {
  ParkedReceive(const CoreParts& parts, ReceiveArgs a, std::shared_ptr<ReceiveWaiter> w,
                int64_t wait_ms)
      : p(parts), args(std::move(a)), waiter(std::move(w)), timer(*parts.io) {
    deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
    timer.expires_at(deadline);
  }

  void Start() {
    timer.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (ec) return;  // cancelled: completed by a delivery
      if (self->p.polls->Cancel(self->args.topic, self->ticket))
        self->Finish(std::vector<Delivery>());
    });
    Attempt();
  }

  // Looks for messages; parks again when there are none and the wait is not over.
  void Attempt() {
    while (!done.load()) {
      // Shutdown: answer now with what there is (Park refuses from now on).
      const bool last_look = p.polls->stopping();
      uint64_t seq = p.polls->Seq(args.topic);
      Result<size_t> room = waiter->ReplyRoom();
      if (!room.ok()) {
        p.stats->receives_refused.fetch_add(1, std::memory_order_relaxed);
        return Finish(room.status());
      }
      args.max_bytes = std::min<size_t>(p.config.max_receive_bytes, *room);
      auto got = p.consumers->TryReceive(args);
      if (!got.ok()) return Finish(got.status());
      if (!got->empty()) return Finish(std::move(got).value());
      // A wake that raced with the timer must not park past the deadline.
      if (last_look || std::chrono::steady_clock::now() >= deadline) {
        return Finish(std::vector<Delivery>());
      }
      auto self = shared_from_this();
      if (p.polls->Park(args.topic, seq, &ticket,
                        [self] { boost::asio::post(*self->p.io, [self] { self->Attempt(); }); })) {
        return;
      }
    }
  }

  void Finish(Result<std::vector<Delivery>> got) {
    if (done.exchange(true)) {
      // Lost a race with the timer: give the messages back at once for someone else.
      if (got.ok()) {
        for (const Delivery& d : *got) (void)p.consumers->Release(args.group, d.receipt);
      }
      return;
    }
    timer.cancel();
    waiter->Complete(std::move(got));
  }

  const CoreParts& p;
  ReceiveArgs args;
  std::shared_ptr<ReceiveWaiter> waiter;
  boost::asio::steady_timer timer;
  std::chrono::steady_clock::time_point deadline;
  uint64_t ticket = 0;
  std::atomic<bool> done{false};
};

// Collects one result per receipt of a nack; completes when the last one is in.
struct NackResults {
  NackResults(size_t n, std::function<void(std::vector<Status>)> d)
      : done(std::move(d)), results(n), left(n) {}

  void Done(size_t i, const Status& st) {
    std::vector<Status> all;
    {
      MutexLock lock(mu);
      results[i] = st;
      if (--left != 0) return;
      all = std::move(results);  // the last one in: nobody else touches them
    }
    done(std::move(all));
  }

  std::function<void(std::vector<Status>)> done;
  Mutex mu;
  std::vector<Status> results GUARDED_BY(mu);
  size_t left GUARDED_BY(mu);
};

// The transaction an end or a show names: by offset, or (offset < 0) by message id.
Result<txn::TxnEntry> FindTxnEntry(txn::TxnService* txn, int64_t half_offset,
                                   const std::string& message_id) {
  Result<std::optional<txn::TxnEntry>> e =
      half_offset >= 0 ? txn->Get(LogOffset(half_offset)) : txn->FindByMessageId(message_id);
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

Result<txn::TxnEntry> FindTxn(txn::TxnService* txn, int64_t half_offset,
                              const std::string& message_id) {
  return FindTxnEntry(txn, half_offset, message_id);
}

bool MessageService::NeedsCopies(const CoreParts& parts) {
  return parts.replication != nullptr && parts.config.min_copies > 1;
}

void MessageService::WaitForCopies(const CoreParts& parts, LogOffset end,
                                   std::function<void(const Status&)> done) {
  parts.replication->WaitReplicated(end, std::move(done));
}

Status MessageService::Admit(SendCommand& c, AdmittedSend* admitted) {
  BrokerStats* stats = p_.stats;
  stats->send_requests.fetch_add(1, std::memory_order_relaxed);
  auto refuse = [stats](Status st) {
    stats->send_errors.fetch_add(1, std::memory_order_relaxed);
    return st;
  };
  // Below the ack policy's copies, refused before anything is stored.
  if (NeedsCopies(p_)) {
    if (Status st = p_.replication->CanAccept(); !st.ok()) return refuse(st);
  }
  if (c.messages.empty() || c.messages.size() > static_cast<size_t>(kMaxSendBatch)) {
    // Not counted as a send error: nothing was looked at.
    return InvalidArgument("a send carries 1 to " + std::to_string(kMaxSendBatch) + " messages");
  }
  if (!c.producer_group.empty()) RETURN_IF_ERROR(ValidateGroupName(c.producer_group));
  if (p_.cluster != nullptr && p_.cluster->draining.load(std::memory_order_relaxed)) {
    return refuse(Status(Code::kNotWritable, "broker group '" + p_.cluster->group +
                                                 "' is draining: it takes no new messages; "
                                                 "send to another group of the cluster"));
  }

  AdmittedSend& out = *admitted;
  out.admitted = std::chrono::steady_clock::now();
  out.records.reserve(c.messages.size());
  out.queues.reserve(c.messages.size());
  const int64_t now_ms = p_.clock->NowMs();
  for (SendMessage& m : c.messages) {
    auto topic = FindTopic(p_, m.topic, m.queue_id);
    if (!topic.ok()) return refuse(topic.status());
    if (Status st = Validate(p_.config, m); !st.ok()) return refuse(st);
    if (c.half) {
      if (Status st = ValidateHalf(c, m); !st.ok()) return refuse(st);
    }
    Result<int64_t> due = DueTime(p_.config, m, now_ms);
    if (!due.ok()) return refuse(due.status());
    if (p_.cluster != nullptr && m.queue_id >= 0 &&
        static_cast<uint32_t>(m.queue_id) >= topic->queue_count) {
      // The client's routes are newer than ours, or wrong: it picks another queue.
      return refuse(Status(Code::kNotWritable, "broker group '" + p_.cluster->group +
                                                   "' holds queues 0.." +
                                                   std::to_string(topic->queue_count - 1) +
                                                   " of topic '" + topic->name + "', not " +
                                                   std::to_string(m.queue_id)));
    }
    ASSIGN_OR_RETURN(uint32_t queue, TopicManager::PickQueue(*topic, m.queue_id, m.message_group));

    store::Record& r = out.records.emplace_back();
    r.type = store::RecordType::kMessage;
    if (*due > now_ms) {  // due now or in the past: delivered at once
      r.type = store::RecordType::kScheduled;
      r.deliver_at_ms = *due;
      out.earliest_due = std::min(out.earliest_due, *due);
    }
    r.topic = std::move(m.topic);
    r.queue_id = queue;
    out.queues.push_back(queue);
    r.message_id = std::move(m.message_id);
    r.tag = std::move(m.tag);
    r.message_group = std::move(m.message_group);
    r.keys = std::move(m.keys);
    r.properties = std::move(m.properties);
    if (c.half) {
      // Scheduled and transactional: the commit re-puts it as a scheduled message.
      r.type = store::RecordType::kTxnHalf;
      const int64_t timeout =
          m.txn_check_timeout_ms > 0 ? m.txn_check_timeout_ms : p_.config.txn_check_timeout_ms;
      r.properties.emplace_back(txn::kProducerGroupProperty, c.producer_group);
      r.properties.emplace_back(txn::kCheckTimeoutProperty, std::to_string(timeout));
      out.first_check = std::min(out.first_check, now_ms + timeout);
    }
    std::sort(r.properties.begin(), r.properties.end());
    // What waits (scheduled, half) is fenced by the topic's incarnation (topic_manager.h).
    if (r.type != store::RecordType::kMessage) {
      TopicManager::StampIncarnation(&r, topic->incarnation);
    }
    r.born_ms = m.born_ms;
    const MessageKind kind = c.half                                   ? MessageKind::kTransaction
                             : r.type == store::RecordType::kScheduled ? MessageKind::kDelay
                             : !r.message_group.empty()                ? MessageKind::kFifo
                                                                       : MessageKind::kNormal;
    const auto body_bytes = static_cast<int64_t>(m.body.size());
    if (out.tallies.empty() || out.tallies.back().counters != topic->counters ||
        out.tallies.back().kind != kind) {
      out.tallies.push_back(TopicTally{topic->counters, kind, 0, 0});
    }
    out.tallies.back().messages += 1;
    out.tallies.back().bytes += body_bytes;
    p_.stats->message_size_bytes.Observe(body_bytes);
    out.bytes += body_bytes;
    r.body = std::move(m.body);
  }
  return Status::Ok();
}

void MessageService::Appended(const CoreParts& p, const Status& st, const AdmittedSend& send) {
  if (!st.ok()) {
    p.stats->send_errors.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (send.earliest_due != INT64_MAX) p.scheduled->Notify(send.earliest_due);
  if (send.first_check != INT64_MAX) p.txn_coordinator->NoteHalf(send.first_check);
  p.stats->messages_in.fetch_add(static_cast<int64_t>(send.queues.size()),
                                 std::memory_order_relaxed);
  p.stats->bytes_in.fetch_add(send.bytes, std::memory_order_relaxed);
  for (const TopicTally& t : send.tallies) {
    const auto k = static_cast<size_t>(t.kind);
    t.counters->messages_in[k].fetch_add(t.messages, std::memory_order_relaxed);
    t.counters->bytes_in[k].fetch_add(t.bytes, std::memory_order_relaxed);
  }
}

void MessageService::ObserveLatency(const CoreParts& p,
                                    std::chrono::steady_clock::time_point admitted) {
  p.stats->send_latency_us.Observe(std::chrono::duration_cast<std::chrono::microseconds>(
                                       std::chrono::steady_clock::now() - admitted)
                                       .count());
}

void MessageService::Receive(ReceiveCommand c, ReceiveWaiter& waiter) {
  p_.stats->receive_requests.fetch_add(1, std::memory_order_relaxed);
  ReceiveArgs& args = c.args;
  if (args.max_messages == 0) args.max_messages = kDefaultReceiveBatch;
  if (args.lease_ms == 0) args.lease_ms = p_.config.default_lease_ms;
  if (c.wait_ms < 0 || c.wait_ms > p_.config.max_wait_ms) {
    return waiter.Complete(InvalidArgument("wait must be between 0 and " +
                                           std::to_string(p_.config.max_wait_ms) + " ms"));
  }
  Result<size_t> room = waiter.ReplyRoom();
  if (!room.ok()) {
    p_.stats->receives_refused.fetch_add(1, std::memory_order_relaxed);
    return waiter.Complete(room.status());
  }
  args.max_bytes = std::min<size_t>(p_.config.max_receive_bytes, *room);
  auto got = p_.consumers->TryReceive(args);
  if (!got.ok() || !got->empty() || c.wait_ms == 0) return waiter.Complete(std::move(got));
  auto poll = std::make_shared<ParkedReceive>(p_, std::move(args), waiter.Park(), c.wait_ms);
  poll->Start();
}

void MessageService::ReleaseUnsent(const std::string& group, const std::string& topic,
                                   const std::vector<std::string>& receipts) {
  for (const std::string& r : receipts) (void)p_.consumers->Release(group, r);
  p_.stats->deliveries_unsent.fetch_add(static_cast<int64_t>(receipts.size()),
                                        std::memory_order_relaxed);
  for (auto& w : p_.polls->Notify(topic)) boost::asio::post(*p_.io, std::move(w));
}

Status MessageService::Ack(const std::string& group, const std::string& receipt) {
  return p_.consumers->Ack(group, receipt);
}

void MessageService::Nack(const std::string& group, const std::string& topic,
                          std::vector<std::string> receipts, int64_t delay_ms, NackKind kind,
                          std::function<void(std::vector<Status>)> done) {
  if (receipts.empty()) return done(std::vector<Status>());
  auto results = std::make_shared<NackResults>(receipts.size(), std::move(done));
  if (kind == NackKind::kRelease) {
    for (size_t i = 0; i < receipts.size(); ++i) {
      results->Done(i, p_.consumers->Release(group, receipts[i]));
    }
  } else {
    p_.consumers->Nack(group, receipts, delay_ms, kind == NackKind::kDeadLetter,
                       [results](size_t i, const Status& st) { results->Done(i, st); });
  }
  // In-place retries due now (released, FIFO): wake receivers of the topic.
  for (auto& retry : p_.polls->Notify(topic)) boost::asio::post(*p_.io, std::move(retry));
}

Result<std::string> MessageService::ChangeLease(const std::string& group,
                                                const std::string& receipt, int64_t lease_ms) {
  return p_.consumers->ChangeLease(group, receipt, lease_ms);
}

Result<int64_t> MessageService::Heartbeat(const HeartbeatCommand& c,
                                          const std::shared_ptr<ProducerChannel>& channel) {
  if (!c.client_id.empty()) {
    RETURN_IF_ERROR(ValidateClientId(c.client_id));
    for (const auto& g : c.consumer_groups) p_.consumers->Touch(g, c.client_id);
  }
  for (const auto& g : c.producer_groups) RETURN_IF_ERROR(ValidateGroupName(g));
  // Check-backs for these groups may come over this channel.
  for (const auto& g : c.producer_groups) p_.txn_coordinator->RegisterProducer(g, channel);
  return p_.clock->NowMs();
}

void MessageService::ChannelClosed(const ProducerChannel& channel) {
  p_.txn_coordinator->OnClosed(channel);
}

void MessageService::CheckAnswered(const ProducerChannel& channel, const CheckAnswer& answer) {
  p_.txn_coordinator->OnAnswer(channel, answer);
}

void MessageService::EndTxn(const EndTxnCommand& c, std::function<void(Result<EndOutcome>)> done) {
  txn::TxnAction action;
  if (c.resolution == TxnResolution::kCommit) {
    action = txn::TxnAction::kCommit;
  } else if (c.resolution == TxnResolution::kRollback) {
    action = txn::TxnAction::kRollback;
  } else {
    return done(InvalidArgument(
        "an end must be COMMIT or ROLLBACK (UNKNOWN leaves the transaction to the check-back)"));
  }
  if (c.half_offset < 0 && c.message_id.empty()) {
    return done(InvalidArgument("name the half message by half_offset or message_id"));
  }
  if (!c.producer_group.empty()) {
    if (Status st = ValidateGroupName(c.producer_group); !st.ok()) return done(st);
  }
  Result<txn::TxnEntry> e = FindTxnEntry(p_.txn, c.half_offset, c.message_id);
  if (!e.ok()) return done(e.status());
  if (!c.producer_group.empty() && c.producer_group != e->producer_group) {
    return done(Status(Code::kFailedPrecondition,
                       "transaction " + e->message_id + " belongs to producer group '" +
                           e->producer_group + "', not '" + c.producer_group + "'"));
  }
  if (NeedsCopies(p_)) {
    if (Status st = p_.replication->CanAccept(); !st.ok()) return done(st);
    // The end is acknowledged once the replicas hold the log up to where it was written.
    const CoreParts* parts = &p_;
    done = [parts, done = std::move(done)](Result<EndOutcome> r) mutable {
      if (!r.ok()) return done(std::move(r));
      auto shared = std::make_shared<Result<EndOutcome>>(std::move(r));
      WaitForCopies(*parts, parts->store->ConfirmedEnd(),
                    [shared, done = std::move(done)](const Status& copied) mutable {
                      if (!copied.ok()) return done(copied);
                      done(std::move(*shared));
                    });
    };
  }
  p_.txn_coordinator->End(e->half_offset, c.message_id, action, c.reason, std::move(done));
}

}  // namespace tidemq::broker
