#include "broker/core/consumer_manager.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "broker/core/queue_time.h"
#include "broker/core/retry_copies.h"
#include "common/names.h"

namespace tidemq::broker {

ConsumerManager::ConsumerManager(store::Store* store, TopicManager* topics, Clock* clock,
                                 const BrokerConfig& config)
    : store_(store),
      topics_(topics),
      clock_(clock),
      config_(config),
      registry_(store, topics, clock, config) {}

Status ConsumerManager::Load() {
  RETURN_IF_ERROR(registry_.Load());
  lost_to_retention_.fetch_add(registry_.lost_at_start(), std::memory_order_relaxed);
  return Status::Ok();
}

Result<GroupConfig> ConsumerManager::CreateGroup(GroupConfig config, Durable durable) {
  return registry_.Create(std::move(config), std::move(durable));
}

Status ConsumerManager::DeleteGroup(const std::string& name, Durable durable) {
  return registry_.Delete(name, std::move(durable));
}

std::vector<GroupConfig> ConsumerManager::ListGroups() const { return registry_.List(); }

Result<GroupInfo> ConsumerManager::DescribeGroup(const std::string& name) const {
  ASSIGN_OR_RETURN(auto g, registry_.Find(name));
  GroupInfo info;
  MutexLock lock(g->mu);
  info.config = g->config;
  info.retried = g->retried.load(std::memory_order_relaxed);
  info.dead_lettered = g->dead_lettered.load(std::memory_order_relaxed);
  // Queues of a consumed topic that this group has not touched yet still have lag to show:
  // they start at the oldest stored message.
  std::map<QueueKey, QueueState> untouched;
  if (!g->config.broadcast) {
    std::set<std::string> topics;
    for (const auto& [key, _] : g->queues) {
      // Retry topics are read per subscribed topic: only the keys in use count.
      if (!IsRetryTopic(std::get<0>(key))) topics.insert(std::get<0>(key));
    }
    for (const std::string& t : topics) {
      auto topic = topics_->Find(t);
      if (!topic) continue;
      for (uint32_t q = 0; q < topic->queue_count; ++q) {
        QueueKey key{t, q, ""};
        if (g->queues.count(key)) continue;
        QueueState& st = untouched[key];
        st.key = key;
        st.committed = store_->MinQueueOffset(t, q);
      }
    }
  }
  for (const auto* states : {&g->queues, &untouched}) {
    for (const auto& [key, st] : *states) {
      QueueLagInfo q;
      q.topic = std::get<0>(key);
      q.queue_id = std::get<1>(key);
      q.client_id = std::get<2>(key);
      q.committed = st.committed;
      q.max_offset = store_->MaxQueueOffset(q.topic, q.queue_id);
      q.inflight = static_cast<int64_t>(st.inflight.size());
      q.lost_to_retention = st.lost;
      q.next = st.next;
      q.delivered = st.delivered;
      q.delivered_bytes = st.delivered_bytes;
      q.retried = st.retried;
      q.dead_lettered = st.dead_lettered;
      info.lost_to_retention += st.lost;
      info.queues.push_back(std::move(q));
    }
  }
  std::sort(info.queues.begin(), info.queues.end(), [](const auto& a, const auto& b) {
    return std::tie(a.topic, a.queue_id, a.client_id) < std::tie(b.topic, b.queue_id, b.client_id);
  });
  for (const auto& [client, _] : g->clients) info.clients.push_back(client);
  return info;
}

QueueState& ConsumerManager::StateFor(Group& g, const QueueKey& key) {
  auto it = g.queues.find(key);
  if (it != g.queues.end()) return it->second;
  // A queue this group has never consumed starts at the oldest stored message.
  QueueState& st = g.queues[key];
  st.key = key;
  st.committed = st.next = store_->MinQueueOffset(std::get<0>(key), std::get<1>(key));
  st.dirty = true;
  return st;
}

int64_t ConsumerManager::SkipDeleted(Group& g, QueueState& st, int64_t min) {
  const int64_t lost = SkipToQueueStart(g.config.name, st, min);
  if (lost > 0) lost_to_retention_.fetch_add(lost, std::memory_order_relaxed);
  return lost;
}

bool ConsumerManager::IsStaleCopy(const Group& g, const store::Record& copy, LogOffset at) {
  if (topics_->IsCurrent(copy)) return false;
  topics_->CountStale();
  spdlog::warn(
      "group '{}': retry copy of message {} (log offset {}) dropped: topic '{}' was "
      "deleted, or deleted and created again, since the message failed",
      g.config.name, copy.message_id, at.value(), ReadRetryInfo(copy).original_topic);
  return true;
}

void ConsumerManager::NoteUnreadable(const Group& g, QueueState& st, int64_t off, LogOffset at,
                                     const Status& why) {
  const std::string& topic = std::get<0>(st.key);
  const uint32_t queue = std::get<1>(st.key);
  if (why.code() == Code::kNotFound) {
    // Retention deleted its segment after the queue entry was read.
    if (!IsRetryTopic(topic)) {
      ++st.lost;
      st.dirty = true;
      lost_to_retention_.fetch_add(1, std::memory_order_relaxed);
    }
    spdlog::warn(
        "group '{}': {}:{}@{} (log offset {}) was deleted by retention before the "
        "group consumed it",
        g.config.name, topic, queue, off, at.value());
    return;
  }
  damaged_skipped_.fetch_add(1, std::memory_order_relaxed);
  spdlog::error(
      "group '{}': skipping {}:{}@{}: its record at log offset {} cannot be read "
      "({}); counted in messages_damaged_skipped",
      g.config.name, topic, queue, off, at.value(), why.ToString());
}

ConsumerManager::Claim ConsumerManager::ClaimOffset(Group& g, QueueState& st, int64_t off,
                                                    LogOffset log_offset, uint32_t size,
                                                    int64_t lease_ms, int64_t now) {
  // Deliveries of earlier copies (retry topics: added when the record is read) plus this
  // queue's own; one of an earlier broker run that left no count counts once.
  const uint32_t attempt = st.CountDelivery(off);
  const uint64_t lease_id = lease_seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  const int64_t deadline = now + lease_ms;
  g.leases.Grant(st, off, Lease{deadline, lease_id, attempt, log_offset});
  wakeup_.Note(deadline);
  return Claim{off, log_offset, size, lease_id};
}

bool ConsumerManager::ConfirmClaim(Group& g, QueueState& st, const Claim& c,
                                   Result<store::Record> rec, const TagFilter& filter,
                                   const std::string& subscription, std::vector<Delivery>* out) {
  auto lease = st.inflight.find(c.offset);
  // Lapsed meanwhile (only a clock jump past the whole lease can do it): the lapse made it a
  // retry already.
  if (lease == st.inflight.end() || lease->second.lease_id != c.lease_id) return false;
  auto drop = [&]() REQUIRES(g.mu) {
    g.leases.End(st, lease);
    st.attempts.erase(c.offset);
    st.MarkAcked(c.offset);
    return false;
  };
  if (!rec.ok()) {
    // Deleted by retention, or damaged: nothing to deliver; settle it, loudly.
    NoteUnreadable(g, st, c.offset, c.log_offset, rec.status());
    return drop();
  }
  if (!filter.Matches(rec->tag)) return drop();  // a tag-hash collision
  // A retry topic's queue is read per subscribed topic: copies of other topics are not ours.
  if (!subscription.empty() && ReadRetryInfo(*rec).original_topic != subscription) return drop();
  if (!subscription.empty() && IsStaleCopy(g, *rec, c.log_offset)) return drop();
  const QueueKey& key = st.key;
  if (IsRetryTopic(std::get<0>(key))) lease->second.attempt += ReadRetryInfo(*rec).attempts;
  Delivery d;
  d.record = std::move(rec).value();
  d.queue_id = std::get<1>(key);
  d.queue_offset = c.offset;
  d.log_offset = c.log_offset;
  d.attempt = lease->second.attempt;
  d.receipt = EncodeReceipt(Receipt{registry_.epoch(), std::get<0>(key), std::get<1>(key),
                                    c.offset, c.lease_id, std::get<2>(key)});
  st.delivered += 1;
  st.delivered_bytes += static_cast<int64_t>(d.record.body.size());
  out->push_back(std::move(d));
  delivered_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

void ConsumerManager::CollectFromQueue(Group& g, const QueueKey& key, const TagFilter& filter,
                                       const ReceiveArgs& args, int64_t now,
                                       std::vector<Delivery>* out, BatchBytes* bytes) {
  const bool fifo = g.config.fifo;
  const std::string& topic = std::get<0>(key);
  const uint32_t queue = std::get<1>(key);
  // A retry topic's queue is read per subscribed topic: copies of other topics are not ours.
  const std::string& subscription = IsRetryTopic(topic) ? std::get<2>(key) : std::string();
  // FIFO: at most one message of a queue in flight, so a nack can never let a later message
  // of the queue overtake it. Other queues may still fill the rest of the batch.
  const size_t limit = fifo ? out->size() + 1 : args.max_messages;
  // The lock is released around every read of the consume queue or the log (each a pread):
  // what this receive takes is claimed (leased) first, so no other receive takes it meanwhile,
  // and the queue state is looked up again after each read (a deleted topic drops it).
  auto relock = [&]() ACQUIRE(g.mu) -> QueueState* {
    g.mu.lock();
    auto it = g.queues.find(key);
    return it == g.queues.end() ? nullptr : &it->second;
  };
  QueueState* st = &StateFor(g, key);
  // What retention deleted meanwhile (normally counted already when retention ran).
  SkipDeleted(g, *st, store_->MinQueueOffset(topic, queue));
  while (true) {
    // FIFO: the next message of a queue goes out only after the previous one is settled.
    if (fifo && (!st->inflight.empty() || !st->moving.empty())) return;
    std::vector<Claim> claims;
    // Whether a message of `size` stored bytes still fits in the batch (the first always
    // does); when not, the batch is complete and the message stays for the next receive.
    auto fits = [&](uint32_t size) {
      if (args.max_bytes == 0 || (out->empty() && claims.empty())) return true;
      if (bytes->used + size + kDeliveryOverheadBytes <= args.max_bytes) return true;
      bytes->full = true;
      return false;
    };
    auto claim = [&](int64_t off, LogOffset log_offset, uint32_t size) REQUIRES(g.mu) {
      claims.push_back(ClaimOffset(g, *st, off, log_offset, size, args.lease_ms, now));
      bytes->used += size + kDeliveryOverheadBytes;
    };
    bool stop = false;  // the batch or this queue has nothing more to give after the claims

    // 1. Redeliveries that are due, in offset order. FIFO stops at the first one not yet due:
    //    nothing after it may overtake it.
    std::vector<std::pair<int64_t, int64_t>> due;  // (offset, ready at), out of st->retry
    bool retry_waits = false;
    for (auto it = st->retry.begin(); it != st->retry.end() && out->size() + due.size() < limit;) {
      if (it->second > now) {
        if (fifo) {
          retry_waits = true;
          break;
        }
        ++it;
        continue;
      }
      due.emplace_back(*it);
      it = st->retry.erase(it);
    }
    if (!due.empty()) {
      g.mu.unlock();
      std::vector<Result<std::vector<store::QueueEntry>>> entries;
      entries.reserve(due.size());
      for (const auto& [off, _] : due) entries.push_back(store_->ReadQueue(topic, queue, off, 1));
      if ((st = relock()) == nullptr) return;
      for (size_t i = 0; i < due.size(); ++i) {
        const int64_t off = due[i].first;
        // Settled meanwhile (retention moved the queue past it).
        if (st->IsAcked(off)) continue;
        const auto& e = entries[i];
        if (!e.ok() || e->empty() || e->front().queue_offset != off) {
          st->attempts.erase(off);
          st->MarkAcked(off);
          continue;
        }
        if (stop || !fits(e->front().size)) {
          st->retry.emplace(off, due[i].second);  // stays for the next receive
          stop = true;
          continue;
        }
        claim(off, e->front().log_offset, e->front().size);
      }
    }
    if (fifo && (retry_waits || !st->retry.empty() || !claims.empty())) stop = true;

    // 2. Messages never delivered.
    while (!stop && out->size() + claims.size() < limit) {
      const size_t want = limit - out->size() - claims.size();
      const int64_t from = st->next;
      g.mu.unlock();
      auto entries = store_->ReadQueue(topic, queue, from, std::max<size_t>(want, 16));
      if ((st = relock()) == nullptr) return;
      if (!entries.ok() || entries->empty()) break;
      // Another receive of the group may have taken a FIFO turn meanwhile.
      if (fifo && claims.empty() &&
          (!st->inflight.empty() || !st->moving.empty() || !st->retry.empty())) {
        break;
      }
      for (const store::QueueEntry& e : *entries) {
        if (out->size() + claims.size() >= limit) break;
        if (e.queue_offset < st->next) continue;  // taken by another receive meanwhile
        // Offsets skipped by the read are holes: no message was ever stored there.
        st->MarkRangeAcked(st->next, e.queue_offset);
        st->next = e.queue_offset;
        if (st->moving.count(e.queue_offset) > 0) {  // ResetOffset moved back over a move
          st->next = e.queue_offset + 1;
          continue;
        }
        if (!filter.MayMatchHash(e.tag_hash)) {
          st->next = e.queue_offset + 1;
          st->MarkAcked(e.queue_offset);
          continue;
        }
        if (!fits(e.size)) {
          stop = true;
          break;
        }
        st->next = e.queue_offset + 1;
        claim(e.queue_offset, e.log_offset, e.size);
      }
    }
    if (claims.empty()) return;

    // 3. The claimed records, read outside the lock, become deliveries (or are settled when
    //    unreadable or not for this subscription after all).
    g.mu.unlock();
    std::vector<Result<store::Record>> records;
    records.reserve(claims.size());
    for (const Claim& c : claims) records.push_back(store_->Read(c.log_offset));
    if ((st = relock()) == nullptr) return;
    bool dropped = false;
    for (size_t i = 0; i < claims.size(); ++i) {
      if (!ConfirmClaim(g, *st, claims[i], std::move(records[i]), filter, subscription, out)) {
        bytes->used -= claims[i].size + kDeliveryOverheadBytes;
        dropped = true;
      }
    }
    // Dropped ones left room: look again (as one pass under the lock would have).
    if (stop || !dropped || out->size() >= limit) return;
  }
}

Result<std::vector<Delivery>> ConsumerManager::TryReceive(const ReceiveArgs& args) {
  if (args.max_messages == 0 || args.max_messages > config_.max_receive_batch) {
    return InvalidArgument("max_messages must be between 1 and " +
                           std::to_string(config_.max_receive_batch));
  }
  if (args.lease_ms < 1000 || args.lease_ms > 12 * 3600 * 1000) {
    return InvalidArgument("lease must be between 1 s and 12 h, got " +
                           std::to_string(args.lease_ms) + " ms");
  }
  RETURN_IF_ERROR(ValidateGroupName(args.group));
  auto topic = topics_->FindRouted(args.topic, clock_->NowMs());
  if (!topic) {
    RETURN_IF_ERROR(ValidateTopicName(args.topic, /*allow_system=*/true));
    return Status(Code::kTopicNotFound, "topic '" + args.topic + "' does not exist");
  }
  ASSIGN_OR_RETURN(TagFilter filter, TagFilter::Parse(args.tag_filter));
  ASSIGN_OR_RETURN(auto g, registry_.FindOrCreate(args.group));
  if (g->config.broadcast || !args.client_id.empty()) {
    RETURN_IF_ERROR(ValidateClientId(args.client_id.empty() ? "-" : args.client_id));
  }
  if (g->config.broadcast && args.client_id.empty()) {
    return InvalidArgument("group '" + args.group +
                           "' is broadcasting: every receive must carry a client id");
  }
  std::string client = g->config.broadcast ? args.client_id : std::string();

  std::vector<Delivery> out;
  BatchBytes bytes;
  MutexLock lock(g->mu);
  int64_t now = clock_->MonotonicMs();
  if (!args.client_id.empty()) g->clients[args.client_id] = clock_->NowMs();
  // The group's retry copies of this topic go first: they are due (the timer put them in the
  // retry queue at their due time) and were sent before anything waiting in the topic.
  if (!g->config.broadcast && !g->config.fifo && args.topic[0] != '%') {
    if (auto retry = topics_->Find(RetryTopic(args.group))) {
      for (uint32_t q = 0; q < retry->queue_count && out.size() < args.max_messages && !bytes.full;
           ++q) {
        CollectFromQueue(*g, QueueKey{retry->name, q, args.topic}, filter, args, now, &out, &bytes);
      }
    }
  }
  uint32_t n = topic->queue_count;
  if (g->subscribed.emplace(args.topic, client).second) {
    for (uint32_t q = 0; q < n; ++q) StateFor(*g, QueueKey{args.topic, q, client});
  }
  uint32_t start = g->cursor++;
  for (uint32_t i = 0; i < n && out.size() < args.max_messages && !bytes.full; ++i) {
    QueueKey key{args.topic, (start + i) % n, client};
    CollectFromQueue(*g, key, filter, args, now, &out, &bytes);
  }
  if (trace_ != nullptr && trace_->enabled() && !out.empty()) {
    // One note per topic of the batch (the retry topic's copies and the topic's messages).
    const int64_t wall = clock_->NowMs();
    std::map<std::string_view, std::vector<TracePoint>> points;
    for (const Delivery& d : out) {
      points[d.record.topic].push_back(TracePoint{.kind = TraceEventKind::kDelivered,
                                                  .queue_id = d.queue_id,
                                                  .queue_offset = d.queue_offset,
                                                  .time_ms = wall,
                                                  .until_ms = wall + args.lease_ms,
                                                  .attempt = d.attempt});
    }
    for (auto& [topic, list] : points) trace_->Note(topic, args.group, args.client_id, list);
  }
  return out;
}

void ConsumerManager::Trace(const std::string& topic, TraceEventKind kind, const std::string& group,
                            uint32_t queue, int64_t offset, int64_t until_ms) {
  if (trace_ == nullptr) return;
  trace_->Note(topic, group, "",
               TracePoint{.kind = kind,
                          .queue_id = queue,
                          .queue_offset = offset,
                          .time_ms = clock_->NowMs(),
                          .until_ms = until_ms});
}

Result<QueueState*> ConsumerManager::CheckReceipt(Group& g, const Receipt& r) {
  const uint64_t epoch = registry_.epoch();
  if (r.epoch != epoch) {
    return EarlierRunReceipt(r.epoch < epoch ? "its start epoch is " + std::to_string(r.epoch) +
                                                   ", this run's is " + std::to_string(epoch)
                                             : "its start epoch " + std::to_string(r.epoch) +
                                                   " is not this run's " + std::to_string(epoch));
  }
  std::string client = g.config.broadcast || IsRetryTopic(r.topic) ? r.client_id : std::string();
  auto it = g.queues.find(QueueKey{r.topic, r.queue_id, client});
  if (it == g.queues.end()) {
    return Status(Code::kReceiptInvalid,
                  "receipt handle does not belong to group '" + g.config.name + "'");
  }
  QueueState& st = it->second;
  auto lease = st.inflight.find(r.queue_offset);
  if (lease == st.inflight.end() || lease->second.lease_id != r.lease_id) {
    if (r.queue_offset < st.committed || st.acked.count(r.queue_offset)) {
      return Status(Code::kReceiptInvalid, "message was already acknowledged");
    }
    if (st.moving.count(r.queue_offset)) {
      return Status(Code::kReceiptInvalid, "message was already nacked");
    }
    return Status(Code::kReceiptInvalid,
                  "receipt handle expired: the lease lapsed or was changed, and the message "
                  "is (or will be) delivered again with a new handle");
  }
  return &st;
}

Status ConsumerManager::Ack(const std::string& group, const std::string& receipt) {
  ASSIGN_OR_RETURN(Receipt r, DecodeReceipt(receipt));
  ASSIGN_OR_RETURN(auto g, registry_.Find(group));
  {
    MutexLock lock(g->mu);
    ASSIGN_OR_RETURN(QueueState * st, CheckReceipt(*g, r));
    g->leases.End(*st, st->inflight.find(r.queue_offset));
    st->attempts.erase(r.queue_offset);
    st->MarkAcked(r.queue_offset);
  }
  acked_.fetch_add(1, std::memory_order_relaxed);
  Trace(r.topic, TraceEventKind::kAcked, group, r.queue_id, r.queue_offset);
  // A FIFO queue's next message is deliverable now: wake its long-polling receivers.
  if (g->config.fifo && ready_) ready_(r.topic);
  return Status::Ok();
}

std::optional<ConsumerManager::Move> ConsumerManager::Fail(const std::shared_ptr<Group>& g,
                                                           QueueState& st, int64_t off,
                                                           const Lease& lease, int64_t delay_ms,
                                                           int64_t now) {
  const FailureDecision d = DecideFailure(g->config, lease.attempt, delay_ms);
  if (d.kind == FailureDecision::kRetryInPlace) {
    st.retry[off] = now + d.delay_ms;
    wakeup_.Note(now + d.delay_ms);
    return std::nullopt;
  }
  const bool dead = d.kind == FailureDecision::kDeadLetter;
  st.moving.insert(off);
  return Move{g, st.key, off, lease.log_offset, lease.attempt, d.delay_ms, dead, nullptr};
}

std::optional<ConsumerManager::Move> ConsumerManager::DeadLetter(const std::shared_ptr<Group>& g,
                                                                 QueueState& st, int64_t off,
                                                                 const Lease& lease) {
  st.moving.insert(off);
  return Move{g, st.key, off, lease.log_offset, lease.attempt, 0, /*dead=*/true, nullptr,
              kConsumerGaveUpReason};
}

void ConsumerManager::Nack(const std::string& group, const std::vector<std::string>& receipts,
                           int64_t delay_ms, bool dead_letter, const NackDone& done) {
  if (delay_ms < 0 || delay_ms > 24ll * 3600 * 1000) {
    for (size_t i = 0; i < receipts.size(); ++i) {
      done(i, InvalidArgument("nack delay must be between 0 and 24 h"));
    }
    return;
  }
  auto g = registry_.Find(group);
  if (!g.ok()) {
    for (size_t i = 0; i < receipts.size(); ++i) done(i, g.status());
    return;
  }
  std::vector<Move> moves;
  std::vector<std::pair<size_t, Status>> settled;  // answered without a copy
  {
    MutexLock lock((*g)->mu);
    const int64_t now = clock_->MonotonicMs();
    for (size_t i = 0; i < receipts.size(); ++i) {
      auto r = DecodeReceipt(receipts[i]);
      if (!r.ok()) {
        settled.emplace_back(i, r.status());
        continue;
      }
      auto st = CheckReceipt(**g, *r);
      if (!st.ok()) {
        settled.emplace_back(i, st.status());
        continue;
      }
      Lease lease = (*g)->leases.End(**st, (*st)->inflight.find(r->queue_offset));
      nacked_.fetch_add(1, std::memory_order_relaxed);
      Trace(r->topic, dead_letter ? TraceEventKind::kGivenUp : TraceEventKind::kNacked, group,
            r->queue_id, r->queue_offset, dead_letter ? 0 : clock_->NowMs() + delay_ms);
      if (auto move = dead_letter ? DeadLetter(*g, **st, r->queue_offset, lease)
                                  : Fail(*g, **st, r->queue_offset, lease, delay_ms, now)) {
        move->done = [done, i](const Status& s) { done(i, s); };
        moves.push_back(std::move(*move));
      } else {
        settled.emplace_back(i, Status::Ok());
      }
    }
  }
  for (auto& [i, st] : settled) done(i, st);
  // All copies of one nack request in one store append.
  if (!moves.empty()) ExecuteMoves(std::move(moves));
}

Status ConsumerManager::Release(const std::string& group, const std::string& receipt) {
  ASSIGN_OR_RETURN(Receipt r, DecodeReceipt(receipt));
  ASSIGN_OR_RETURN(auto g, registry_.Find(group));
  MutexLock lock(g->mu);
  ASSIGN_OR_RETURN(QueueState * st, CheckReceipt(*g, r));
  g->leases.End(*st, st->inflight.find(r.queue_offset));
  st->UncountDelivery(r.queue_offset);
  st->retry[r.queue_offset] = clock_->MonotonicMs();
  Trace(r.topic, TraceEventKind::kReleased, group, r.queue_id, r.queue_offset);
  return Status::Ok();
}

void ConsumerManager::ExecuteMoves(std::vector<Move> moves) {
  const int64_t now_ms = clock_->NowMs();
  std::vector<store::Record> records;
  std::vector<Move> appended;
  std::set<std::string> created;
  for (Move& m : moves) {
    const std::string& name = m.group->config.name;
    const std::string copy_topic = m.dead ? DlqTopic(name) : RetryTopic(name);
    if (!created.count(copy_topic) && !topics_->Find(copy_topic)) {
      auto t = topics_->Create(copy_topic, 1, now_ms, /*allow_system=*/true);
      if (!t.ok() && t.status().code() != Code::kAlreadyExists) {
        spdlog::error("group '{}': cannot create {}: {}", name, copy_topic, t.status().ToString());
        EndMove(m, /*settled=*/false, t.status());
        continue;
      }
      created.insert(copy_topic);
    }
    auto rec = store_->Read(m.log_offset);
    if (!rec.ok()) {
      // Gone (retention) or damaged: nothing left to retry.
      {
        MutexLock lock(m.group->mu);
        auto it = m.group->queues.find(m.key);
        if (it != m.group->queues.end()) {
          NoteUnreadable(*m.group, it->second, m.offset, m.log_offset, rec.status());
        }
      }
      EndMove(m, /*settled=*/true, Status::Ok());
      continue;
    }
    // The incarnation of the topic the copy is for: a retry copy keeps the one it carries
    // (and is dropped when that is no longer the topic's), a first failure takes the topic's.
    uint64_t incarnation = 0;
    if (IsRetryTopic(rec->topic)) {
      if (IsStaleCopy(*m.group, *rec, m.log_offset)) {
        EndMove(m, /*settled=*/true, Status::Ok());
        continue;
      }
      incarnation = TopicManager::IncarnationOf(*rec);
    } else {
      incarnation = topics_->IncarnationNow(ReadRetryInfo(*rec).original_topic);
    }
    if (m.dead) {
      spdlog::info("group '{}': message {} dead-lettered after {} deliveries", name,
                   rec->message_id, m.attempts);
      records.push_back(MakeDeadLetter(*rec, name, m.attempts, m.reason, now_ms));
    } else {
      records.push_back(
          MakeRetryCopy(*rec, name, m.attempts, now_ms + m.delay_ms, now_ms, incarnation));
    }
    appended.push_back(std::move(m));
  }
  if (records.empty()) return;
  auto shared = std::make_shared<std::vector<Move>>(std::move(appended));
  store_->Append(std::move(records), [this, shared](const Status& st,
                                                    std::vector<store::AppendResult>) {
    for (Move& m : *shared) {
      if (!st.ok()) {
        spdlog::warn("group '{}': storing a {} copy failed: {}", m.group->config.name,
                     m.dead ? "dead-letter" : "retry", st.ToString());
        EndMove(m, /*settled=*/false, st);
        continue;
      }
      (m.dead ? m.group->dead_lettered : m.group->retried).fetch_add(1, std::memory_order_relaxed);
      (m.dead ? dead_lettered_ : retried_).fetch_add(1, std::memory_order_relaxed);
      EndMove(m, /*settled=*/true, Status::Ok(), /*copied=*/true);
    }
  });
}

void ConsumerManager::EndMove(Move& m, bool settled, const Status& why, bool copied) {
  {
    MutexLock lock(m.group->mu);
    auto it = m.group->queues.find(m.key);
    if (it != m.group->queues.end() && copied) ++(m.dead ? it->second.dead_lettered : it->second.retried);
    if (it != m.group->queues.end() && it->second.moving.erase(m.offset)) {
      if (settled) {
        it->second.attempts.erase(m.offset);
        it->second.MarkAcked(m.offset);
      } else {
        // No copy was made: the original stays and is delivered again in place.
        it->second.retry[m.offset] = clock_->MonotonicMs();
      }
    }
  }
  // Either way the message is deliverable again or settled: a FIFO queue can go on.
  if (m.group->config.fifo && ready_) ready_(std::get<0>(m.key));
  if (m.done) m.done(why);
}

Result<std::string> ConsumerManager::ChangeLease(const std::string& group,
                                                 const std::string& receipt, int64_t lease_ms) {
  if (lease_ms < 1000 || lease_ms > 12 * 3600 * 1000) {
    return InvalidArgument("lease must be between 1 s and 12 h");
  }
  ASSIGN_OR_RETURN(Receipt r, DecodeReceipt(receipt));
  ASSIGN_OR_RETURN(auto g, registry_.Find(group));
  MutexLock lock(g->mu);
  ASSIGN_OR_RETURN(QueueState * st, CheckReceipt(*g, r));
  const int64_t deadline = clock_->MonotonicMs() + lease_ms;
  r.lease_id = lease_seq_.fetch_add(1, std::memory_order_relaxed) + 1;
  g->leases.Extend(*st, r.queue_offset, deadline, r.lease_id);
  wakeup_.Note(deadline);
  Trace(r.topic, TraceEventKind::kLeaseChanged, group, r.queue_id, r.queue_offset,
        clock_->NowMs() + lease_ms);
  return EncodeReceipt(r);
}

void ConsumerManager::Touch(const std::string& group, const std::string& client_id) {
  auto g = registry_.Find(group);
  if (!g.ok()) return;
  MutexLock lock((*g)->mu);
  (*g)->clients[client_id] = clock_->NowMs();
}

void ConsumerManager::SetWakeup(std::function<void(int64_t)> arm) {
  wakeup_.SetArm(std::move(arm));
}

void ConsumerManager::SetReadyNotifier(std::function<void(const std::string&)> ready) {
  ready_ = std::move(ready);
}

std::set<std::string> ConsumerManager::OnTimer() {
  // Whatever is armed now is this call: anything later must arm again.
  wakeup_.Fired();
  std::vector<std::shared_ptr<Group>> groups = registry_.All();
  std::set<std::string> ready_topics;
  std::vector<Move> moves;
  const int64_t now = clock_->MonotonicMs();
  int64_t next = INT64_MAX;
  for (auto& g : groups) {
    MutexLock lock(g->mu);
    QueueState* st = nullptr;
    int64_t off = 0;
    Lease lease;
    while (g->leases.EndFirstDue(now, &st, &off, &lease)) {
      lapsed_.fetch_add(1, std::memory_order_relaxed);
      Trace(std::get<0>(st->key), TraceEventKind::kLeaseLapsed, g->config.name,
            std::get<1>(st->key), off);
      // The lease was its wait: the retry is due at once.
      if (auto move = Fail(g, *st, off, lease, kDueNow, now)) {
        moves.push_back(std::move(*move));
      }
    }
    next = std::min(next, g->leases.Earliest());
    for (auto& [key, st] : g->queues) {
      for (const auto& [_, ready_at] : st.retry) {
        if (ready_at <= now) {
          ready_topics.insert(std::get<0>(key));
        } else {
          next = std::min(next, ready_at);
        }
        if (g->config.fifo) break;  // only the first can go
      }
    }
  }
  if (!moves.empty()) ExecuteMoves(std::move(moves));
  if (next != INT64_MAX) wakeup_.Note(next);
  return ready_topics;
}

Result<std::vector<OffsetMove>> ConsumerManager::ResetOffset(const std::string& group,
                                                             const std::string& topic,
                                                             int64_t time_ms, int32_t queue_id) {
  ASSIGN_OR_RETURN(auto g, registry_.Find(group));
  auto t = topics_->Find(topic);
  if (!t) return Status(Code::kTopicNotFound, "topic '" + topic + "' does not exist");
  if (queue_id >= static_cast<int32_t>(t->queue_count)) {
    return Status(Code::kOutOfRange, "topic '" + topic + "' has " + std::to_string(t->queue_count) +
                      " queues; there is no queue " + std::to_string(queue_id));
  }
  // The targets are found first, with no lock held (they read the consume queues).
  std::map<uint32_t, int64_t> targets;
  for (uint32_t q = 0; q < t->queue_count; ++q) {
    if (queue_id >= 0 && q != static_cast<uint32_t>(queue_id)) continue;
    ASSIGN_OR_RETURN(targets[q], FirstStoredAtOrAfter(store_, topic, q, time_ms));
  }
  std::vector<OffsetMove> moved;
  MutexLock lock(g->mu);
  for (const auto& [q, to] : targets) {
    std::vector<QueueState*> states;
    if (g->config.broadcast) {
      for (auto& [key, st] : g->queues) {
        if (std::get<0>(key) == topic && std::get<1>(key) == q) states.push_back(&st);
      }
    } else {
      states.push_back(&StateFor(*g, QueueKey{topic, q, ""}));
    }
    for (QueueState* st : states) {
      moved.push_back(OffsetMove{q, std::get<2>(st->key), st->committed, to});
      // Leases end (their acks fail); moves being copied to the retry or dead-letter topic
      // stay, and their end settles them (the receive skips them meanwhile).
      while (!st->inflight.empty()) g->leases.End(*st, st->inflight.begin());
      st->retry.clear();
      st->attempts.clear();
      st->acked.clear();
      st->committed = st->next = to;
      st->delivered_before = std::min(st->delivered_before, to);
      st->AdvanceCommitted();
      st->dirty = true;
    }
  }
  spdlog::info("group '{}': position on topic '{}' reset to {} ({} queue positions moved)", group,
               topic, time_ms, moved.size());
  if (ready_) ready_(topic);
  return moved;
}

Status ConsumerManager::FlushOffsets(bool wait) { return registry_.FlushOffsets(wait); }

void ConsumerManager::OnTopicDeleted(const std::string& topic) { registry_.OnTopicDeleted(topic); }

void ConsumerManager::OnRetention() {
  for (auto& g : registry_.All()) {
    MutexLock lock(g->mu);
    for (auto& [key, st] : g->queues) {
      SkipDeleted(*g, st, store_->MinQueueOffset(std::get<0>(key), std::get<1>(key)));
    }
  }
}

LogOffset ConsumerManager::OldestUnconsumed() const {
  std::vector<std::shared_ptr<Group>> groups = registry_.All();
  // Each queue's committed offset is noted under its group's mutex; the consume queues are
  // read after it is released (a read is a pread: no group lock is held across disk I/O).
  std::vector<std::tuple<std::string, uint32_t, int64_t>> committed;
  for (const auto& g : groups) {
    MutexLock lock(g->mu);
    for (const auto& [key, st] : g->queues) {
      committed.emplace_back(std::get<0>(key), std::get<1>(key), st.committed);
    }
  }
  LogOffset oldest = kNoLogOffset;
  for (const auto& [topic, queue, offset] : committed) {
    // The first stored message at or above committed is the oldest one not yet acked.
    auto first = store_->ReadQueue(topic, queue, offset, 1);
    if (!first.ok() || first->empty()) continue;
    if (oldest == kNoLogOffset || first->front().log_offset < oldest) {
      oldest = first->front().log_offset;
    }
  }
  return oldest;
}

}  // namespace tidemq::broker
