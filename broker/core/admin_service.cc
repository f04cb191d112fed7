#include "broker/core/admin_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <tuple>
#include <utility>  // before Boost 1.74 Asio, whose awaitable.hpp needs std::exchange

#include <boost/asio/post.hpp>

#include "broker/core/long_poll.h"
#include "broker/core/message_service.h"
#include "broker/core/queue_time.h"
#include "broker/core/retry_copies.h"
#include "broker/core/topic_manager.h"
#include "broker/core/trace_journal.h"
#include "common/names.h"

namespace tidemq::broker {
namespace {

constexpr uint32_t kDefaultListLimit = 100;
constexpr uint32_t kMaxListLimit = 10'000;
constexpr uint32_t kDefaultQueryMatches = 32;
constexpr uint32_t kMaxQueryMatches = 1024;

Result<Topic> Existing(const CoreParts& p, const std::string& name) {
  if (auto t = p.topics->Find(name)) return *t;
  RETURN_IF_ERROR(ValidateTopicName(name, /*allow_system=*/true));
  return Status(Code::kTopicNotFound, "topic '" + name + "' does not exist");
}

// The error for a query whose every match is damaged.
Status Damaged(const std::vector<std::pair<LogOffset, Status>>& damaged) {
  std::string text = "the record at log offset " + std::to_string(damaged[0].first.value()) +
                     " is damaged and cannot be read (" + damaged[0].second.message() + ")";
  for (size_t i = 1; i < damaged.size(); ++i) {
    text += "; so is the one at log offset " + std::to_string(damaged[i].first.value());
  }
  return Corruption(text);
}

}  // namespace

TopicInfo AdminService::Describe(const Topic& topic) const {
  TopicInfo out;
  out.name = topic.name;
  out.queue_count = topic.queue_count;
  out.queues.reserve(topic.queue_count);
  for (uint32_t q = 0; q < topic.queue_count; ++q) {
    out.queues.push_back(QueueRange{q, p_.store->MinQueueOffset(topic.name, q),
                                    p_.store->MaxQueueOffset(topic.name, q)});
  }
  return out;
}

void AdminService::CreateTopic(const std::string& name, uint32_t queue_count, TopicDone done) {
  const uint32_t queues = queue_count == 0 ? p_.config.default_queue_count : queue_count;
  auto shared = std::make_shared<TopicDone>(std::move(done));
  auto topic = p_.topics->Create(
      name, queues, p_.clock->NowMs(), /*allow_system=*/false,
      [this, shared](const Status& st, const Topic& t) {
        // The store's writer thread: describe the topic on the io_context instead.
        boost::asio::post(*p_.io, [this, shared, st, t] {
          if (!st.ok()) return (*shared)(st);
          spdlog::info("topic '{}' with {} queues is ready", t.name, t.queue_count);
          (*shared)(Describe(t));
        });
      });
  if (!topic.ok()) (*shared)(topic.status());
}

std::vector<TopicInfo> AdminService::ListTopics(bool include_system) const {
  std::vector<TopicInfo> out;
  for (const Topic& t : p_.topics->List()) {
    if (!include_system && IsSystemTopic(t.name)) continue;
    out.push_back(Describe(t));
  }
  return out;
}

Result<TopicInfo> AdminService::DescribeTopic(const std::string& name) const {
  ASSIGN_OR_RETURN(Topic topic, Existing(p_, name));
  return Describe(topic);
}

Result<TopicInfo> AdminService::ExtendTopic(const std::string& name, uint32_t add) {
  ASSIGN_OR_RETURN(Topic topic, Existing(p_, name));
  if (add == 0) return InvalidArgument("no queues to add (--queues must be at least 1)");
  ASSIGN_OR_RETURN(Topic grown, p_.topics->Ensure(name, topic.queue_count + add, p_.clock->NowMs()));
  return Describe(grown);
}

void AdminService::DeleteTopic(const std::string& name, StatusDone done) {
  if (Status st = Existing(p_, name).status(); !st.ok()) return done(st);
  auto shared = std::make_shared<StatusDone>(std::move(done));
  Status st = p_.topics->Delete(name, [shared, name](const Status& durable) {
    if (durable.ok()) spdlog::info("topic '{}' deleted", name);
    (*shared)(durable);
  });
  if (!st.ok()) return (*shared)(st);
  // Its groups' offsets go too (their records follow the topic's in the log).
  p_.consumers->OnTopicDeleted(name);
}

void AdminService::Complete(GroupInfo* info) const {
  info->dlq_messages = p_.dead_letters->Count(info->config.name);
  info->total_lag = 0;
  for (QueueLagInfo& q : info->queues) {
    q.lag = std::max<int64_t>(0, q.max_offset - q.committed);
    info->total_lag += q.lag;
  }
}

Result<GroupConfig> AdminService::GroupConfigFor(GroupSpec spec) const {
  auto existing = p_.consumers->DescribeGroup(spec.config.name);
  return ResolveGroupSpec(std::move(spec), existing.ok() ? &existing->config : nullptr,
                          p_.config.default_retry, p_.config.default_max_attempts);
}

void AdminService::CreateGroup(GroupSpec spec, GroupDone done) {
  Result<GroupConfig> config = GroupConfigFor(std::move(spec));
  if (!config.ok()) return done(config.status());
  auto shared = std::make_shared<GroupDone>(std::move(done));
  const std::string name = config->name;
  auto created = p_.consumers->CreateGroup(*config, [this, shared, name](const Status& st) {
    // The store's writer thread: describe the group on the io_context instead.
    boost::asio::post(*p_.io, [this, shared, name, st] {
      if (!st.ok()) return (*shared)(st);
      (*shared)(DescribeGroup(name));
    });
  });
  if (!created.ok()) (*shared)(created.status());
}

std::vector<GroupInfo> AdminService::ListGroups() const {
  std::vector<GroupInfo> out;
  for (const GroupConfig& c : p_.consumers->ListGroups()) {
    auto info = DescribeGroup(c.name);
    if (info.ok()) out.push_back(std::move(info).value());
  }
  return out;
}

Result<GroupInfo> AdminService::DescribeGroup(const std::string& name) const {
  ASSIGN_OR_RETURN(GroupInfo info, p_.consumers->DescribeGroup(name));
  Complete(&info);
  return info;
}

void AdminService::DeleteGroup(const std::string& name, StatusDone done) {
  auto shared = std::make_shared<StatusDone>(std::move(done));
  Status st = p_.consumers->DeleteGroup(name, [shared](const Status& durable) { (*shared)(durable); });
  if (!st.ok()) (*shared)(st);
}

Result<DlqPage> AdminService::ListDeadLetters(const std::string& group, const DlqFilter& filter,
                                              int64_t after_offset, uint32_t limit) const {
  // The group must exist: a typo should not answer "no dead letters".
  RETURN_IF_ERROR(p_.consumers->DescribeGroup(group).status());
  if (limit == 0) limit = kDefaultListLimit;
  if (limit > kMaxListLimit) {
    return InvalidArgument("limit must be at most " + std::to_string(kMaxListLimit));
  }
  DlqPage page;
  ASSIGN_OR_RETURN(page.messages, p_.dead_letters->List(group, filter, after_offset, limit));
  page.total = p_.dead_letters->Count(group);
  return page;
}

void AdminService::RedriveDeadLetters(const std::string& group, const DlqFilter& filter, bool all,
                                      RedriveTarget target, DeadLetters::CountDone done) {
  auto g = p_.consumers->DescribeGroup(group);
  if (!g.ok()) return done(g.status());
  if (target == RedriveTarget::kRetryQueue && (g->config.fifo || g->config.broadcast)) {
    return done(Status(Code::kFailedPrecondition,
                       "group '" + group + "' is " + (g->config.fifo ? "FIFO" : "broadcasting") +
                           " and retries in place: redrive to the original topic"));
  }
  p_.dead_letters->Redrive(group, filter, all, target, std::move(done));
}

void AdminService::PurgeDeadLetters(const std::string& group, const DlqFilter& filter, bool all,
                                    DeadLetters::CountDone done) {
  if (Status st = p_.consumers->DescribeGroup(group).status(); !st.ok()) return done(st);
  p_.dead_letters->Purge(group, filter, all, std::move(done));
}

void AdminService::CancelScheduled(const std::string& message_id,
                                   std::function<void(Result<CancelResult>)> done) {
  if (message_id.empty()) return done(InvalidArgument("a message id is required"));
  p_.scheduled->Cancel(message_id, std::move(done));
}

TimerReport AdminService::TimerStats() const {
  TimerReport r;
  r.stats = p_.timer->Stats();
  r.lateness = p_.scheduled->Lateness();
  r.broker_time_ms = p_.clock->NowMs();
  return r;
}

Result<ScheduledInfo> AdminService::ShowScheduled(const std::string& message_id) const {
  ASSIGN_OR_RETURN(std::optional<timer::IndexEntry> entry, p_.timer->FindByMessageId(message_id));
  if (!entry) {
    return Status(Code::kNotFound, "no scheduled message '" + message_id +
                                       "' is pending (fired, cancelled or never scheduled)");
  }
  ScheduledInfo out;
  out.firing = p_.timer->IsFiring(entry->offset);
  out.entry = std::move(*entry);
  return out;
}

Result<std::vector<ScheduledInfo>> AdminService::ListScheduled(int64_t after_due_ms,
                                                               int64_t after_offset,
                                                               uint32_t limit) const {
  if (limit == 0) limit = kDefaultListLimit;
  if (limit > kMaxListLimit) {
    return InvalidArgument("list at most " + std::to_string(kMaxListLimit) + " per request");
  }
  // The position after (due, offset): the index orders by due time, then log offset.
  timer::DueKey from{std::max<int64_t>(after_due_ms, 0), after_offset + 1};
  ASSIGN_OR_RETURN(std::vector<timer::IndexEntry> entries, p_.timer->ListPending(from, limit));
  std::vector<ScheduledInfo> out;
  out.reserve(entries.size());
  for (timer::IndexEntry& e : entries) {
    ScheduledInfo info;
    info.firing = p_.timer->IsFiring(e.offset);
    info.entry = std::move(e);
    out.push_back(std::move(info));
  }
  return out;
}

Result<std::vector<txn::TxnEntry>> AdminService::ListTxns(const TxnListQuery& q) const {
  const uint32_t limit = q.limit == 0 ? kDefaultListLimit : q.limit;
  if (limit > kMaxListLimit) {
    return InvalidArgument("list at most " + std::to_string(kMaxListLimit) + " per request");
  }
  const LogOffset after = q.after_offset < 0 ? kNoLogOffset : LogOffset(q.after_offset);
  return p_.txn->List(q.state, q.parked_only, after, limit);
}

Result<txn::TxnEntry> AdminService::ShowTxn(const std::string& message_id,
                                            int64_t half_offset) const {
  if (message_id.empty() && half_offset < 0) {
    return InvalidArgument("name the transaction by message id or half offset");
  }
  return FindTxn(p_.txn, message_id.empty() ? half_offset : -1, message_id);
}

TxnReport AdminService::TxnStats() const {
  return TxnReport{p_.txn->Stats(), p_.txn_coordinator->Stats()};
}

Result<QueryResult> AdminService::Query(const QueryCommand& q) const {
  const size_t max = q.max_messages == 0 ? kDefaultQueryMatches
                                         : std::min<uint32_t>(q.max_messages, kMaxQueryMatches);
  std::vector<LogOffset> offsets;
  const bool by_offset = q.log_offset > 0 || (q.message_id.empty() && q.key.empty());
  if (by_offset) {
    offsets.push_back(LogOffset(q.log_offset));
  } else if (!q.message_id.empty()) {
    ASSIGN_OR_RETURN(offsets, p_.store->LookupMessageId(q.message_id, max + 1));
  } else {
    if (q.topic.empty()) return InvalidArgument("a key query needs a topic");
    ASSIGN_OR_RETURN(offsets, p_.store->LookupKey(q.topic, q.key, max + 1));
  }
  const bool truncated = offsets.size() > max;
  if (truncated) offsets.resize(max);

  // A look-up through the index finds log offsets first, then reads each record: one that no
  // longer exists (retention) is left out, one that exists but cannot be read (kCorruption)
  // is reported as damaged with its log offset — never as "no message matches". Each record
  // keeps its own log offset: skipped entries must not shift the pairing.
  QueryResult out;
  std::vector<std::pair<LogOffset, Status>> damaged;
  for (LogOffset off : offsets) {
    auto rec = p_.store->Read(off);
    if (!rec.ok()) {
      if (by_offset && rec.status().code() == Code::kCorruption) {
        return Corruption(
            "no intact record starts at log offset " + std::to_string(off.value()) +
            " (a damaged record, or not where a record starts): " + rec.status().message());
      }
      if (by_offset) return rec.status();
      // The index says a record is there: damaged. Its topic cannot be read to filter it.
      if (rec.status().code() == Code::kCorruption) damaged.emplace_back(off, rec.status());
      continue;  // otherwise aged out meanwhile
    }
    if (!q.topic.empty() && rec->topic != q.topic) continue;
    out.found.emplace_back(off, std::move(rec).value());
  }
  if (out.found.empty()) {
    if (!damaged.empty()) return Damaged(damaged);
    return NotFound("no message matches the query");
  }
  for (const auto& [off, _] : damaged) out.damaged.push_back(off);
  out.truncated = truncated;
  return out;
}

Result<QueryResult> AdminService::QueryByTime(const TimeRangeQuery& q) const {
  const size_t max = q.max_messages == 0 ? kDefaultQueryMatches
                                         : std::min<uint32_t>(q.max_messages, kMaxQueryMatches);
  ASSIGN_OR_RETURN(Topic topic, Existing(p_, q.topic));
  const int64_t to_ms = q.to_ms > 0 ? q.to_ms : p_.clock->NowMs() + 1;
  if (q.from_ms < 0 || q.from_ms >= to_ms) {
    return InvalidArgument("the time range must have 0 <= from < to (ms since the epoch)");
  }
  // Up to max + 1 entries of each queue in the range; the oldest max of them all are the answer
  // (one more tells that the answer is truncated). Reads consume-queue entries, then records.
  std::vector<store::QueueEntry> candidates;
  for (uint32_t queue = 0; queue < topic.queue_count; ++queue) {
    ASSIGN_OR_RETURN(int64_t off, FirstStoredAtOrAfter(p_.store, q.topic, queue, q.from_ms));
    size_t taken = 0;
    while (taken <= max) {
      ASSIGN_OR_RETURN(std::vector<store::QueueEntry> entries,
                       p_.store->ReadQueue(q.topic, queue, off, std::min<size_t>(max + 1, 256)));
      if (entries.empty()) break;
      bool past = false;
      for (const store::QueueEntry& e : entries) {
        if (e.store_ms >= to_ms || taken > max) {
          past = true;
          break;
        }
        if (e.store_ms >= q.from_ms) {
          candidates.push_back(e);
          ++taken;
        }
      }
      if (past) break;
      off = entries.back().queue_offset + 1;
    }
  }
  std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
    return std::tie(a.store_ms, a.log_offset) < std::tie(b.store_ms, b.log_offset);
  });
  QueryResult out;
  out.truncated = candidates.size() > max;
  if (out.truncated) candidates.resize(max);
  for (const store::QueueEntry& e : candidates) {
    auto rec = p_.store->Read(e.log_offset);
    if (!rec.ok()) {
      if (rec.status().code() == Code::kCorruption) out.damaged.push_back(e.log_offset);
      continue;  // deleted by retention meanwhile
    }
    out.found.emplace_back(e.log_offset, std::move(rec).value());
  }
  return out;
}

Result<std::vector<OffsetMove>> AdminService::ResetOffset(const std::string& group,
                                                          const std::string& topic,
                                                          int64_t time_ms, int32_t queue_id) const {
  if (time_ms < 0) return InvalidArgument("the time to reset to must be ms since the epoch, >= 0");
  if (IsRetryTopic(topic) || topic.starts_with(kDlqTopicPrefix)) {
    return InvalidArgument("reset the group's position on the topic it subscribes to, not on '" +
                           topic + "'");
  }
  return p_.consumers->ResetOffset(group, topic, time_ms, queue_id);
}

StatsReport BaseStats(const BrokerConfig& config, Clock* clock, const BrokerStats& s,
                      const store::Store& store) {
  StatsReport r;
  auto& c = r.counters;
  c.emplace_back("uptime_ms", clock->NowMs() - s.start_ms);
  c.emplace_back("connections", s.connections.load());
  c.emplace_back("connections_total", s.connections_total.load());
  c.emplace_back("bad_frames", s.bad_frames.load());
  c.emplace_back("connections_refused", s.connections_refused.load());
  c.emplace_back("connections_timed_out", s.connections_timed_out.load());
  c.emplace_back("reads_paused", s.reads_paused.load());
  const store::StoreStats ss = store.Stats();
  c.emplace_back("log_min_offset", ss.min_log_offset);
  c.emplace_back("log_max_offset", ss.max_log_offset);
  c.emplace_back("log_segments", ss.segments);
  c.emplace_back("store_syncs", ss.syncs);
  c.emplace_back("store_batches", ss.batches);
  c.emplace_back("store_damaged_ranges", ss.damaged_ranges);
  c.emplace_back("store_damaged_bytes", ss.damaged_bytes);
  c.emplace_back("store_torn_tail_bytes", ss.torn_tail_bytes);
  c.emplace_back("store_corrupt_reads", ss.corrupt_reads);
  c.emplace_back("store_disk_free_bytes", ss.disk_free_bytes);
  c.emplace_back("store_disk_reserve_bytes", ss.disk_reserve_bytes);
  c.emplace_back("store_open_queue_files", ss.open_queue_files);
  // Metadata in the log (docs/storage_format.md §9).
  c.emplace_back("store_meta_snapshot_offset", ss.meta_snapshot_offset);
  c.emplace_back("store_malformed_control_records", ss.malformed_control_records);
  c.emplace_back("store_index_entries_trimmed", ss.index_entries_trimmed);
  auto& info = r.info;
  info.emplace_back("version", "0.1.0");
  info.emplace_back("data_dir", config.data_dir);
  info.emplace_back("flush_policy", std::string(FlushPolicyName(config.flush_policy)));
  info.emplace_back("read_only", ss.read_only ? "yes: " + ss.read_only_reason : "no");
  info.emplace_back("refusing_appends",
                    ss.refusing_reason.empty() ? "no" : "yes: " + ss.refusing_reason);
  return r;
}

StatsReport AdminService::Stats() const {
  StatsReport r = BaseStats(p_.config, p_.clock, *p_.stats, *p_.store);
  auto& c = r.counters;
  const BrokerStats& s = *p_.stats;
  const ConsumerManager& consumers = *p_.consumers;
  c.emplace_back("messages_in", s.messages_in.load());
  c.emplace_back("bytes_in", s.bytes_in.load());
  c.emplace_back("send_requests", s.send_requests.load());
  c.emplace_back("send_errors", s.send_errors.load());
  c.emplace_back("receive_requests", s.receive_requests.load());
  c.emplace_back("messages_delivered", consumers.delivered());
  c.emplace_back("messages_acked", consumers.acked());
  c.emplace_back("messages_nacked", consumers.nacked());
  c.emplace_back("leases_lapsed", consumers.lapsed());
  c.emplace_back("messages_retried", consumers.retried());
  c.emplace_back("messages_dead_lettered", consumers.dead_lettered());
  c.emplace_back("messages_lost_to_retention", consumers.lost_to_retention());
  c.emplace_back("messages_damaged_skipped", consumers.damaged_skipped());
  c.emplace_back("topic_stale_dropped", p_.topics->stale_dropped());
  c.emplace_back("retention_runs", s.retention_runs.load());
  c.emplace_back("offset_flushes", consumers.offset_flushes());
  c.emplace_back("dlq_redriven", p_.dead_letters->redriven());
  c.emplace_back("dlq_purged", p_.dead_letters->purged());
  c.emplace_back("receives_refused", s.receives_refused.load());
  c.emplace_back("deliveries_unsent", s.deliveries_unsent.load());
  c.emplace_back("inflight_bytes", s.inflight_bytes ? s.inflight_bytes() : 0);
  c.emplace_back("long_polls_parked", static_cast<int64_t>(p_.polls->parked()));
  c.emplace_back("topics", static_cast<int64_t>(p_.topics->List().size()));
  c.emplace_back("groups", static_cast<int64_t>(consumers.ListGroups().size()));
  c.emplace_back("metadata_records_skipped", p_.topics->malformed_skipped() +
                                                 p_.consumers->malformed_skipped() +
                                                 p_.dead_letters->malformed_skipped());
  timer::TimerStats ts = p_.timer->Stats();
  c.emplace_back("timer_pending", ts.pending);
  c.emplace_back("timer_fired", ts.fired);
  c.emplace_back("timer_cancelled", ts.cancelled);
  c.emplace_back("timer_dropped_topic_deleted", p_.scheduled->dropped());
  txn::TxnStats xs = p_.txn->Stats();
  c.emplace_back("txn_pending", xs.pending);
  c.emplace_back("txn_committed", xs.committed);
  c.emplace_back("txn_rolled_back", xs.rolled_back);
  c.emplace_back("txn_parked", xs.parked);
  c.emplace_back("txn_checks_sent", xs.checks_sent);
  if (p_.trace != nullptr) {
    c.emplace_back("trace_events_written", p_.trace->written());
    c.emplace_back("trace_events_dropped", p_.trace->dropped());
  }
  r.info.emplace_back("start_epoch", std::to_string(consumers.epoch()));
  r.info.emplace_back("retention_keep_unconsumed",
                      p_.config.retention_keep_unconsumed ? "yes" : "no");
  r.info.emplace_back("trace_consumption", p_.config.trace_consumption ? "yes" : "no");
  return r;
}

}  // namespace tidemq::broker
