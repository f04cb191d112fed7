// AdminService::Metrics: everything /metrics shows, gathered in one pass over the topics and
// the groups (docs/metrics.md). Per-topic and per-queue figures are counters the hot paths
// keep without a lock of their own (TopicCounters, QueueState under the group's mutex it
// already holds); this pass only reads them.
#include <map>
#include <utility>

#include "broker/core/admin_service.h"
#include "broker/core/retry_copies.h"
#include "broker/core/topic_manager.h"

namespace tidemq::broker {
namespace {

// The topic a queue's figures belong to: a retry queue's state is kept per subscribed topic.
const std::string& ConsumedTopic(const QueueLagInfo& q) {
  return IsRetryTopic(q.topic) ? q.client_id : q.topic;
}

}  // namespace

MetricsReport AdminService::Metrics() const {
  MetricsReport r;
  r.now_ms = p_.clock->NowMs();
  r.stats = Stats();
  r.store = p_.store->Stats();

  for (const Topic& t : p_.topics->List()) {
    TopicMetrics& m = r.topics.emplace_back();
    m.name = t.name;
    m.queue_count = t.queue_count;
    for (size_t k = 0; k < kMessageKinds; ++k) {
      m.messages_in[k] = t.counters->messages_in[k].load(std::memory_order_relaxed);
      m.bytes_in[k] = t.counters->bytes_in[k].load(std::memory_order_relaxed);
    }
    for (uint32_t q = 0; q < t.queue_count; ++q) {
      m.stored_messages += std::max<int64_t>(
          0, p_.store->MaxQueueOffset(t.name, q) - p_.store->MinQueueOffset(t.name, q));
    }
  }

  for (const GroupInfo& g : ListGroups()) {
    GroupMetrics& gm = r.groups.emplace_back();
    gm.name = g.config.name;
    gm.fifo = g.config.fifo;
    gm.clients = static_cast<int64_t>(g.clients.size());
    gm.dlq_messages = g.dlq_messages;
    std::map<std::string, ConsumptionMetrics> by_topic;
    for (const QueueLagInfo& q : g.queues) {
      const std::string& topic = ConsumedTopic(q);
      ConsumptionMetrics& c = by_topic[topic];
      c.inflight += q.inflight;
      c.delivered += q.delivered;
      c.delivered_bytes += q.delivered_bytes;
      c.retried += q.retried;
      c.dead_lettered += q.dead_lettered;
      // A retry queue holds copies of every subscribed topic: its lag is not this topic's.
      if (IsRetryTopic(q.topic)) continue;
      c.lag += q.lag;
      c.ready += std::max<int64_t>(0, q.max_offset - std::max(q.next, q.committed));
      if (q.lag <= 0) continue;
      auto oldest = p_.store->ReadQueue(q.topic, q.queue_id, q.committed, 1);
      if (oldest.ok() && !oldest->empty()) {
        const int64_t age = std::max<int64_t>(0, r.now_ms - oldest->front().store_ms);
        c.oldest_unacked_age_ms = std::max(c.oldest_unacked_age_ms, age);
      }
    }
    for (auto& [topic, c] : by_topic) {
      c.group = g.config.name;
      c.topic = topic;
      r.consumption.push_back(std::move(c));
    }
  }

  r.send_latency_us = p_.stats->send_latency_us.Snapshot();
  r.message_size_bytes = p_.stats->message_size_bytes.Snapshot();
  r.append_latency_us = r.store.append_latency_us;
  r.sync_latency_us = r.store.sync_latency_us;
  r.timer_lateness_ms = p_.scheduled->LatenessHistogram();
  r.timer_next_due_ms = p_.timer->Stats().next_due_ms.value_or(0);
  const CheckStats checks = p_.txn_coordinator->Stats();
  r.txn_answers_failed = checks.answers_failed;
  r.txn_waiting_groups = checks.waiting_groups;
  return r;
}

}  // namespace tidemq::broker
