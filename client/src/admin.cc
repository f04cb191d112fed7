#include "tidemq/admin.h"

#include "client/src/client_core.h"
#include "common/names.h"

namespace tidemq {
namespace {

constexpr uint32_t kMaxDeadLetterPage = 10'000;

Status Moved() { return Status(Code::kFailedPrecondition, "admin client was moved from"); }

TopicInfo ToTopicInfo(const wire::TopicInfo& t) {
  TopicInfo out;
  out.name = t.config().name();
  out.queue_count = t.config().queue_count();
  for (const auto& q : t.queues())
    out.queues.push_back({q.queue_id(), q.min_offset(), q.max_offset()});
  return out;
}

RetryPolicy FromWire(const wire::RetryPolicy& p) {
  RetryPolicy out;
  switch (p.kind()) {
    case wire::RetryPolicy::CUSTOM: out.kind = RetryPolicy::Kind::kCustom; break;
    case wire::RetryPolicy::EXPONENTIAL: out.kind = RetryPolicy::Kind::kExponential; break;
    default: out.kind = RetryPolicy::Kind::kLadder; break;
  }
  if (out.kind == RetryPolicy::Kind::kCustom) {
    out.delays_ms.assign(p.delays_ms().begin(), p.delays_ms().end());
  }
  if (out.kind == RetryPolicy::Kind::kExponential) {
    out.initial_ms = p.initial_ms();
    out.multiplier = p.multiplier();
    out.max_ms = p.max_ms();
  }
  return out;
}

void ToWire(const RetryPolicy& p, wire::RetryPolicy* out) {
  switch (p.kind) {
    case RetryPolicy::Kind::kLadder: out->set_kind(wire::RetryPolicy::LADDER); break;
    case RetryPolicy::Kind::kCustom:
      out->set_kind(wire::RetryPolicy::CUSTOM);
      for (int64_t d : p.delays_ms) out->add_delays_ms(d);
      break;
    case RetryPolicy::Kind::kExponential:
      out->set_kind(wire::RetryPolicy::EXPONENTIAL);
      out->set_initial_ms(p.initial_ms);
      out->set_multiplier(p.multiplier);
      out->set_max_ms(p.max_ms);
      break;
  }
}

GroupInfo ToGroupInfo(const wire::GroupInfo& g) {
  GroupInfo out;
  out.name = g.config().name();
  out.broadcast = g.config().mode() == wire::BROADCASTING;
  out.fifo = g.config().fifo();
  out.fifo_block = g.config().fifo_block();
  out.max_attempts = g.config().max_attempts();
  out.retry = FromWire(g.config().retry());
  out.retried = g.retried();
  out.dead_lettered = g.dead_lettered();
  out.dlq_messages = g.dlq_messages();
  for (const auto& q : g.queues()) {
    out.queues.push_back({q.topic(), q.queue_id(), q.committed_offset(), q.max_offset(), q.lag(),
                          q.inflight(), q.client_id(), q.lost_to_retention()});
  }
  out.clients.assign(g.clients().begin(), g.clients().end());
  out.total_lag = g.total_lag();
  out.lost_to_retention = g.lost_to_retention();
  return out;
}

TransactionState FromWire(wire::TxnState s) {
  switch (s) {
    case wire::TXN_COMMITTED: return TransactionState::kCommitted;
    case wire::TXN_ROLLED_BACK: return TransactionState::kRolledBack;
    default: return TransactionState::kPending;
  }
}

TransactionInfo ToTransactionInfo(const wire::TxnInfo& t) {
  TransactionInfo out;
  out.half_offset = t.half_offset();
  out.state = FromWire(t.state());
  out.producer_group = t.producer_group();
  out.topic = t.topic();
  out.queue_id = t.queue_id();
  out.message_id = t.message_id();
  out.half_store_ms = t.half_store_ms();
  out.timeout_ms = t.timeout_ms();
  out.checks = t.checks();
  out.next_check_ms = t.next_check_ms();
  out.end_ms = t.end_ms();
  out.end_reason = t.end_reason();
  out.parked = t.parked();
  return out;
}

}  // namespace

bool DeadLetterFilter::empty() const {
  return message_id.empty() && dlq_offset < 0 && tag.empty() && key.empty() &&
         original_topic.empty() && from_ms == 0 && to_ms == 0;
}

const char* ToString(RedriveTarget target) {
  switch (target) {
    case RedriveTarget::kOriginalTopic: return "original topic";
    case RedriveTarget::kRetryQueue: return "retry queue";
  }
  return "unknown";
}

const char* ToString(TransactionState state) {
  switch (state) {
    case TransactionState::kPending: return "pending";
    case TransactionState::kCommitted: return "committed";
    case TransactionState::kRolledBack: return "rolled_back";
  }
  return "unknown";
}

class Admin::Impl {
 public:
  explicit Impl(std::unique_ptr<client::ClientCore> core) : core_(std::move(core)) {}
  ~Impl() { core_->Shutdown(); }

  Result<std::vector<ReceivedMessage>> Query(wire::QueryMessageRequest q) {
    wire::Header h;
    h.set_kind(wire::QUERY_MESSAGE);
    *h.mutable_query_message_request() = std::move(q);
    ASSIGN_OR_RETURN(wire::Frame f, core_->Call(std::move(h)));
    return client::FromWireMessages(f.header.query_message_response().messages(), f.body);
  }

  std::unique_ptr<client::ClientCore> core_;
};

Admin::Builder& Admin::Builder::Endpoint(std::string endpoint) {
  endpoint_ = std::move(endpoint);
  return *this;
}
Admin::Builder& Admin::Builder::Endpoints(const std::vector<std::string>& endpoints) {
  endpoint_ = client::JoinAddresses(endpoints);
  return *this;
}
Admin::Builder& Admin::Builder::RequestTimeout(int64_t ms) {
  request_timeout_ms_ = ms;
  return *this;
}
Admin::Builder& Admin::Builder::FailoverDeadline(int64_t ms) {
  failover_deadline_ms_ = ms;
  return *this;
}

Result<Admin> Admin::Builder::Build() const {
  client::CoreOptions options;
  options.endpoint = endpoint_;
  options.request_timeout_ms = request_timeout_ms_;
  options.failover_deadline_ms = failover_deadline_ms_;
  options.heartbeat = false;
  ASSIGN_OR_RETURN(auto core, client::ClientCore::Create(std::move(options)));
  return Admin(std::make_unique<Impl>(std::move(core)));
}

Admin::Admin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Admin::Admin(Admin&&) noexcept = default;
Admin& Admin::operator=(Admin&&) noexcept = default;
Admin::~Admin() = default;

Result<TopicInfo> Admin::CreateTopic(const std::string& name, uint32_t queue_count) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateTopicName(name));
  if (queue_count == 0 || queue_count > 1024) {
    return InvalidArgument("queue count must be 1..1024, not " + std::to_string(queue_count));
  }
  wire::Header h;
  h.set_kind(wire::CREATE_TOPIC);
  auto* c = h.mutable_create_topic_request()->mutable_config();
  c->set_name(name);
  c->set_queue_count(queue_count);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return ToTopicInfo(f.header.create_topic_response().topic());
}

Result<std::vector<TopicInfo>> Admin::ListTopics(bool include_system) {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::LIST_TOPICS);
  h.mutable_list_topics_request()->set_include_system(include_system);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  std::vector<TopicInfo> out;
  for (const auto& t : f.header.list_topics_response().topics()) out.push_back(ToTopicInfo(t));
  return out;
}

Result<TopicInfo> Admin::DescribeTopic(const std::string& name) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateTopicName(name, /*allow_system=*/true));
  wire::Header h;
  h.set_kind(wire::DESCRIBE_TOPIC);
  h.mutable_describe_topic_request()->set_topic(name);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return ToTopicInfo(f.header.describe_topic_response().topic());
}

Status Admin::DeleteTopic(const std::string& name) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateTopicName(name, /*allow_system=*/true));
  wire::Header h;
  h.set_kind(wire::DELETE_TOPIC);
  h.mutable_delete_topic_request()->set_topic(name);
  return impl_->core_->Call(std::move(h)).status();
}

Result<GroupInfo> Admin::CreateGroup(const std::string& name, bool broadcast, bool fifo,
                                     uint32_t max_attempts) {
  GroupOptions options;
  options.broadcast = broadcast;
  options.fifo = fifo;
  options.max_attempts = max_attempts;
  return CreateGroup(name, options);
}

Result<GroupInfo> Admin::CreateGroup(const std::string& name, const GroupOptions& options) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateGroupName(name));
  if (options.fifo_block && !options.fifo) {
    return InvalidArgument("fifo_block applies to FIFO groups only (set fifo too)");
  }
  if (options.retry) {
    Status st = options.retry->Validate();
    if (!st.ok()) return InvalidArgument("retry back-off: " + st.message());
  }
  wire::Header h;
  h.set_kind(wire::CREATE_GROUP);
  auto* c = h.mutable_create_group_request()->mutable_config();
  c->set_name(name);
  c->set_mode(options.broadcast ? wire::BROADCASTING : wire::CLUSTERING);
  c->set_fifo(options.fifo);
  c->set_fifo_block(options.fifo_block);
  c->set_max_attempts(options.max_attempts);
  if (options.retry) ToWire(*options.retry, c->mutable_retry());
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return ToGroupInfo(f.header.create_group_response().group());
}

Result<std::vector<GroupInfo>> Admin::ListGroups() {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::LIST_GROUPS);
  h.mutable_list_groups_request();
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  std::vector<GroupInfo> out;
  for (const auto& g : f.header.list_groups_response().groups()) out.push_back(ToGroupInfo(g));
  return out;
}

Result<GroupInfo> Admin::DescribeGroup(const std::string& name) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateGroupName(name));
  wire::Header h;
  h.set_kind(wire::DESCRIBE_GROUP);
  h.mutable_describe_group_request()->set_group(name);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return ToGroupInfo(f.header.describe_group_response().group());
}

Status Admin::DeleteGroup(const std::string& name) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateGroupName(name));
  wire::Header h;
  h.set_kind(wire::DELETE_GROUP);
  h.mutable_delete_group_request()->set_group(name);
  return impl_->core_->Call(std::move(h)).status();
}

namespace {

Status CheckDeadLetterFilter(const DeadLetterFilter& f) {
  if (f.message_id.size() > kMaxMessageIdLength) {
    return InvalidArgument("message id is longer than " + std::to_string(kMaxMessageIdLength) +
                           " characters");
  }
  if (f.dlq_offset < -1) return InvalidArgument("DLQ offset must be -1 (any) or >= 0");
  if (!f.tag.empty()) RETURN_IF_ERROR(ValidateTag(f.tag));
  if (f.key.size() > kMaxKeyLength) {
    return InvalidArgument("key is longer than " + std::to_string(kMaxKeyLength) + " bytes");
  }
  if (!f.original_topic.empty()) RETURN_IF_ERROR(ValidateTopicName(f.original_topic));
  if (f.from_ms < 0 || f.to_ms < 0) return InvalidArgument("times must not be negative");
  if (f.from_ms > 0 && f.to_ms > 0 && f.from_ms >= f.to_ms) {
    return InvalidArgument("the time range is empty: from " + std::to_string(f.from_ms) +
                           " is not before to " + std::to_string(f.to_ms));
  }
  return Status::Ok();
}

// Redrive and purge act on "everything" only when told so.
Status CheckSelection(const std::string& group, const DeadLetterFilter& f, bool all,
                      const char* verb) {
  RETURN_IF_ERROR(ValidateGroupName(group));
  RETURN_IF_ERROR(CheckDeadLetterFilter(f));
  if (f.empty() && !all) {
    return InvalidArgument(std::string("nothing selected to ") + verb +
                           ": give a filter, or all = true for every dead letter of group '" +
                           group + "'");
  }
  return Status::Ok();
}

// dlq_offset is proto3 int64 where 0 is a valid offset: "any" travels as -1, always.
void ToWire(const DeadLetterFilter& f, wire::DlqFilter* out) {
  out->set_message_id(f.message_id);
  out->set_dlq_offset(f.dlq_offset);
  out->set_tag(f.tag);
  out->set_key(f.key);
  out->set_from_ms(f.from_ms);
  out->set_to_ms(f.to_ms);
  out->set_original_topic(f.original_topic);
}

}  // namespace

Result<DeadLetterPage> Admin::ListDeadLetters(const std::string& group,
                                              const DeadLetterFilter& filter, int64_t after_offset,
                                              uint32_t limit, bool with_bodies) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateGroupName(group));
  RETURN_IF_ERROR(CheckDeadLetterFilter(filter));
  if (after_offset < -1) return InvalidArgument("after offset must be -1 (start) or >= 0");
  if (limit == 0 || limit > kMaxDeadLetterPage) {
    return InvalidArgument("limit must be 1.." + std::to_string(kMaxDeadLetterPage) + ", not " +
                           std::to_string(limit));
  }
  wire::Header h;
  h.set_kind(wire::DLQ_LIST);
  auto* r = h.mutable_dlq_list_request();
  r->set_group(group);
  ToWire(filter, r->mutable_filter());
  r->set_after_offset(after_offset);
  r->set_limit(limit);
  r->set_with_bodies(with_bodies);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  const auto& resp = f.header.dlq_list_response();
  DeadLetterPage page;
  page.total = resp.total();
  std::vector<std::string_view> bodies;
  if (with_bodies) {
    Status st = wire::SplitBodies(resp.messages(), f.body, &bodies);
    if (!st.ok()) return Status(st.code(), "bad response from broker: " + st.message());
  }
  page.messages.reserve(resp.messages_size());
  for (int i = 0; i < resp.messages_size(); ++i) {
    // Without bodies, body_size may still say how long the body is: nothing follows.
    page.messages.push_back(ReceivedMessageAccess::FromWireDeadLetter(
        resp.messages(i), with_bodies ? bodies[i] : std::string_view()));
  }
  return page;
}

Result<int64_t> Admin::RedriveDeadLetters(const std::string& group, const DeadLetterFilter& filter,
                                          bool all, RedriveTarget target) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(CheckSelection(group, filter, all, "redrive"));
  wire::Header h;
  h.set_kind(wire::DLQ_REDRIVE);
  auto* r = h.mutable_dlq_redrive_request();
  r->set_group(group);
  ToWire(filter, r->mutable_filter());
  r->set_all(all);
  r->set_target(target == RedriveTarget::kRetryQueue ? wire::DlqRedriveRequest::RETRY_QUEUE
                                                     : wire::DlqRedriveRequest::ORIGINAL_TOPIC);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return f.header.dlq_redrive_response().redriven();
}

Result<int64_t> Admin::PurgeDeadLetters(const std::string& group, const DeadLetterFilter& filter,
                                        bool all) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(CheckSelection(group, filter, all, "purge"));
  wire::Header h;
  h.set_kind(wire::DLQ_PURGE);
  auto* r = h.mutable_dlq_purge_request();
  r->set_group(group);
  ToWire(filter, r->mutable_filter());
  r->set_all(all);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return f.header.dlq_purge_response().purged();
}

// log_offset is proto3 int64 where 0 is a valid offset, so "not by offset" is sent as -1.
Result<std::vector<ReceivedMessage>> Admin::QueryById(const std::string& message_id,
                                                      const std::string& topic) {
  if (!impl_) return Moved();
  if (message_id.empty() || message_id.size() > kMaxMessageIdLength) {
    return InvalidArgument("message id must be 1.." + std::to_string(kMaxMessageIdLength) +
                           " characters");
  }
  if (!topic.empty()) RETURN_IF_ERROR(ValidateTopicName(topic, /*allow_system=*/true));
  wire::QueryMessageRequest q;
  q.set_message_id(message_id);
  q.set_topic(topic);
  q.set_log_offset(-1);
  return impl_->Query(std::move(q));
}

Result<std::vector<ReceivedMessage>> Admin::QueryByKey(const std::string& topic,
                                                       const std::string& key,
                                                       uint32_t max_messages) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateTopicName(topic, /*allow_system=*/true));
  if (key.empty() || key.size() > kMaxKeyLength) {
    return InvalidArgument("key must be 1.." + std::to_string(kMaxKeyLength) + " bytes");
  }
  wire::QueryMessageRequest q;
  q.set_topic(topic);
  q.set_key(key);
  q.set_log_offset(-1);
  q.set_max_messages(max_messages);
  return impl_->Query(std::move(q));
}

Result<std::vector<ReceivedMessage>> Admin::QueryByOffset(int64_t log_offset) {
  if (!impl_) return Moved();
  if (log_offset < 0) return InvalidArgument("log offset is negative");
  wire::QueryMessageRequest q;
  q.set_log_offset(log_offset);
  return impl_->Query(std::move(q));
}

Result<std::string> Admin::ClusterStatus() {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::CLUSTER_STATUS);
  h.mutable_cluster_status_request();
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  if (!f.header.has_cluster_status_response()) {
    return Internal("broker answered CLUSTER_STATUS without a status");
  }
  return f.header.cluster_status_response().json();
}

Result<StatsInfo> Admin::Stats() {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::STATS);
  h.mutable_stats_request();
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  StatsInfo out;
  for (const auto& [k, v] : f.header.stats_response().counters()) out.counters.emplace(k, v);
  for (const auto& [k, v] : f.header.stats_response().info()) out.info.emplace(k, v);
  return out;
}

namespace {

Status CheckMessageId(const std::string& message_id) {
  if (message_id.empty() || message_id.size() > kMaxMessageIdLength) {
    return InvalidArgument("message id must be 1.." + std::to_string(kMaxMessageIdLength) +
                           " characters");
  }
  return Status::Ok();
}

}  // namespace

Result<CancelOutcome> Admin::CancelScheduled(const std::string& message_id) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(CheckMessageId(message_id));
  wire::Header h;
  h.set_kind(wire::CANCEL_SCHEDULED);
  h.mutable_cancel_scheduled_request()->set_message_id(message_id);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  const auto& r = f.header.cancel_scheduled_response();
  return CancelOutcome{r.outcome() == wire::CancelScheduledResponse::CANCELLED, r.due_ms()};
}

Result<TimerStatsInfo> Admin::TimerStats() {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::TIMER_STATS);
  h.mutable_timer_stats_request();
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  const auto& r = f.header.timer_stats_response();
  TimerStatsInfo out;
  out.pending = r.pending();
  out.fired = r.fired();
  out.cancelled = r.cancelled();
  out.next_due_ms = r.next_due_ms();
  out.loaded = r.loaded();
  out.firing = r.firing();
  out.broker_time_ms = r.broker_time_ms();
  for (const auto& b : r.lateness()) out.lateness.push_back({b.below_ms(), b.count()});
  return out;
}

Result<ScheduledInfo> Admin::ShowTimer(const std::string& message_id) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(CheckMessageId(message_id));
  wire::Header h;
  h.set_kind(wire::TIMER_SHOW);
  h.mutable_timer_show_request()->set_message_id(message_id);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  const auto& r = f.header.timer_show_response();
  return ScheduledInfo{r.message_id(), r.due_ms(), r.topic(),
                       r.queue_id(),   r.firing(), r.log_offset()};
}

namespace {

TraceResult FromWire(const wire::TraceResponse& r) {
  TraceResult out;
  out.truncated = r.truncated();
  out.consumption_traced = r.consumption_traced();
  out.events_dropped = r.events_dropped();
  for (const auto& t : r.traces()) {
    MessageTrace& m = out.traces.emplace_back();
    m.message_id = t.message_id();
    m.truncated = t.truncated();
    for (int64_t at : t.damaged_log_offsets()) m.damaged_log_offsets.push_back(at);
    for (const auto& s : t.steps()) {
      TraceStep& step = m.steps.emplace_back();
      step.time_ms = s.time_ms();
      step.kind = s.kind();
      step.log_offset = s.log_offset();
      for (const auto& d : s.detail()) step.detail.emplace_back(d.key(), d.value());
    }
  }
  return out;
}

}  // namespace

Result<TraceResult> Admin::Trace(const std::string& message_id) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(CheckMessageId(message_id));
  wire::Header h;
  h.set_kind(wire::TRACE);
  h.mutable_trace_request()->set_message_id(message_id);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return FromWire(f.header.trace_response());
}

Result<TraceResult> Admin::TraceByKey(const std::string& topic, const std::string& key,
                                      uint32_t max_messages) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateTopicName(topic, /*allow_system=*/true));
  if (key.empty() || key.size() > kMaxKeyLength) {
    return InvalidArgument("key must be 1.." + std::to_string(kMaxKeyLength) + " bytes");
  }
  wire::Header h;
  h.set_kind(wire::TRACE);
  auto* req = h.mutable_trace_request();
  req->set_topic(topic);
  req->set_key(key);
  req->set_max_messages(max_messages);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return FromWire(f.header.trace_response());
}

Result<std::vector<OffsetReset>> Admin::ResetOffset(const std::string& group,
                                                    const std::string& topic, int64_t time_ms,
                                                    int32_t queue_id) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateGroupName(group));
  RETURN_IF_ERROR(ValidateTopicName(topic));
  if (time_ms < 0) return InvalidArgument("the time must be ms since the epoch, >= 0");
  wire::Header h;
  h.set_kind(wire::RESET_OFFSET);
  auto* req = h.mutable_reset_offset_request();
  req->set_group(group);
  req->set_topic(topic);
  req->set_time_ms(time_ms);
  req->set_queue_id(queue_id < 0 ? -1 : queue_id);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  std::vector<OffsetReset> out;
  for (const auto& q : f.header.reset_offset_response().queues()) {
    out.push_back({q.queue_id(), q.from_offset(), q.to_offset()});
  }
  return out;
}

Result<std::vector<TransactionInfo>> Admin::ListTransactions(const TransactionFilter& filter) {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::TXN_LIST);
  auto* req = h.mutable_txn_list_request();
  if (filter.state) {
    switch (*filter.state) {
      case TransactionState::kPending: req->set_state(wire::TXN_PENDING); break;
      case TransactionState::kCommitted: req->set_state(wire::TXN_COMMITTED); break;
      case TransactionState::kRolledBack: req->set_state(wire::TXN_ROLLED_BACK); break;
    }
  }
  req->set_parked_only(filter.parked_only);
  req->set_after_offset(filter.after_offset);
  req->set_limit(filter.limit);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  std::vector<TransactionInfo> out;
  for (const auto& t : f.header.txn_list_response().transactions()) {
    out.push_back(ToTransactionInfo(t));
  }
  return out;
}

Result<TransactionInfo> Admin::ShowTransaction(const std::string& message_id) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(CheckMessageId(message_id));
  wire::Header h;
  h.set_kind(wire::TXN_SHOW);
  h.mutable_txn_show_request()->set_message_id(message_id);
  h.mutable_txn_show_request()->set_half_offset(-1);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return ToTransactionInfo(f.header.txn_show_response().transaction());
}

Status Admin::ResolveTransaction(const std::string& message_id, bool commit) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(CheckMessageId(message_id));
  wire::Header h;
  h.set_kind(wire::END_TXN);
  auto* req = h.mutable_end_txn_request();
  req->set_half_offset(-1);
  req->set_message_id(message_id);
  req->set_resolution(commit ? wire::TXN_COMMIT : wire::TXN_ROLLBACK);
  req->set_source(wire::EndTxnRequest::OPERATOR);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  return Status::Ok();
}

Result<TransactionStatsInfo> Admin::TransactionStats() {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::TXN_STATS);
  h.mutable_txn_stats_request();
  ASSIGN_OR_RETURN(wire::Frame f, impl_->core_->Call(std::move(h)));
  const auto& r = f.header.txn_stats_response();
  TransactionStatsInfo out;
  out.pending = r.pending();
  out.committed = r.committed();
  out.rolled_back = r.rolled_back();
  out.parked = r.parked();
  out.checks_sent = r.checks_sent();
  out.answers_commit = r.answers_commit();
  out.answers_rollback = r.answers_rollback();
  out.answers_unknown = r.answers_unknown();
  out.answers_failed = r.answers_failed();
  out.waiting_groups = r.waiting_groups();
  out.answers_unmatched = r.answers_unmatched();
  out.answers_late = r.answers_late();
  out.final_actions_deferred = r.final_actions_deferred();
  out.checks_in_flight = r.checks_in_flight();
  out.final_actions_waiting = r.final_actions_waiting();
  return out;
}

void Admin::Shutdown() {
  if (impl_) impl_->core_->Shutdown();
}

}  // namespace tidemq
