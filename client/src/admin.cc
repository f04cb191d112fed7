#include "tidemq/admin.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>
#include <set>

#include "client/src/client_core.h"
#include "client/src/cluster_client.h"
#include "common/names.h"

namespace tidemq {
namespace {

constexpr uint32_t kMaxDeadLetterPage = 10'000;

Status Moved() { return Status(Code::kFailedPrecondition, "admin client was moved from"); }

TopicInfo ToTopicInfo(const wire::TopicInfo& t, const std::string& group = "") {
  TopicInfo out;
  out.name = t.config().name();
  out.queue_count = t.config().queue_count();
  for (const auto& q : t.queues())
    out.queues.push_back({q.queue_id(), q.min_offset(), q.max_offset(), group});
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

GroupInfo ToGroupInfo(const wire::GroupInfo& g, const std::string& broker_group = "") {
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
                          q.inflight(), q.client_id(), q.lost_to_retention(), broker_group});
  }
  out.clients.assign(g.clients().begin(), g.clients().end());
  out.total_lag = g.total_lag();
  out.lost_to_retention = g.lost_to_retention();
  return out;
}

// Adds one broker group's view of a consumer group to the cluster-wide one: the config from
// the first, queues appended, clients joined, counters summed.
void MergeGroup(GroupInfo from, GroupInfo* into, bool first) {
  if (first) {
    *into = std::move(from);
    return;
  }
  for (auto& q : from.queues) into->queues.push_back(std::move(q));
  for (auto& c : from.clients) {
    if (std::find(into->clients.begin(), into->clients.end(), c) == into->clients.end()) {
      into->clients.push_back(std::move(c));
    }
  }
  into->total_lag += from.total_lag;
  into->retried += from.retried;
  into->dead_lettered += from.dead_lettered;
  into->dlq_messages += from.dlq_messages;
  into->lost_to_retention += from.lost_to_retention;
}

TransactionState FromWire(wire::TxnState s) {
  switch (s) {
    case wire::TXN_COMMITTED: return TransactionState::kCommitted;
    case wire::TXN_ROLLED_BACK: return TransactionState::kRolledBack;
    default: return TransactionState::kPending;
  }
}

TransactionInfo ToTransactionInfo(const wire::TxnInfo& t, const std::string& broker_group = "") {
  TransactionInfo out;
  out.broker_group = broker_group;
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

// One broker group's answer to a request asked of several.
struct GroupAnswer {
  std::string group;  // "" outside a cluster
  Result<wire::Frame> frame;
};

namespace {

// "Not here": what a group answers for a message, topic or group it does not hold.
bool IsAbsent(Code code) {
  return code == Code::kNotFound || code == Code::kTopicNotFound || code == Code::kGroupNotFound;
}

Status Named(const GroupAnswer& a) {
  const Status& st = a.frame.status();
  if (a.group.empty() || st.ok()) return st;
  return Status(st.code(), "broker group '" + a.group + "': " + st.message());
}

bool AnyOk(const std::vector<GroupAnswer>& answers) {
  return std::any_of(answers.begin(), answers.end(), [](const auto& a) { return a.frame.ok(); });
}

// When no group answered: the first failure other than "not here", else the first.
Status FirstError(const std::vector<GroupAnswer>& answers) {
  for (const auto& a : answers) {
    if (!a.frame.ok() && !IsAbsent(a.frame.status().code())) return Named(a);
  }
  for (const auto& a : answers) {
    if (!a.frame.ok()) return Named(a);
  }
  return Internal("no broker group was asked");
}

// "GROUP: why" for each group that failed, for group_errors.
std::vector<std::string> Failures(const std::vector<GroupAnswer>& answers) {
  std::vector<std::string> out;
  for (const auto& a : answers) {
    if (!a.frame.ok()) out.push_back(a.group + ": " + a.frame.status().ToString());
  }
  return out;
}

// The first answer that succeeded (lookups of one thing: a transaction, a timer); else the
// first failure, "not here" only when every group said so.
Result<GroupAnswer> FirstFound(std::vector<GroupAnswer> answers) {
  for (auto& a : answers) {
    if (a.frame.ok()) return std::move(a);
  }
  return FirstError(answers);
}

}  // namespace

class Admin::Impl {
 public:
  Impl(std::unique_ptr<client::ClusterClient> cluster, std::string broker_group)
      : cluster_(std::move(cluster)), broker_group_(std::move(broker_group)) {}
  ~Impl() { cluster_->Shutdown(); }

  bool Clustered() {
    (void)cluster_->WaitReady();
    return cluster_->clustered();
  }

  // Requests any broker answers for the whole cluster (and everything outside a cluster).
  Result<wire::Frame> CallAny(wire::Header h) {
    RETURN_IF_ERROR(cluster_->WaitReady());
    return cluster_->bootstrap().Call(std::move(h));
  }

  // The routes asked now (a cluster's topics and groups change under an admin's feet).
  Result<std::shared_ptr<const ClusterRoutes>> FreshRoutes() {
    RETURN_IF_ERROR(cluster_->WaitReady());
    return cluster_->RefreshNow();
  }

  // Asks `groups` (empty: every group of the routes; Builder::BrokerGroup narrows it) in
  // parallel, each through its master; outside a cluster, the one broker (group "").
  Result<std::vector<GroupAnswer>> AskGroups(const wire::Header& request,
                                             std::vector<std::string> groups = {}) {
    RETURN_IF_ERROR(cluster_->WaitReady());
    std::vector<GroupAnswer> answers;
    if (!cluster_->clustered()) {
      answers.push_back({"", cluster_->bootstrap().Call(request)});
      return answers;
    }
    auto routes = cluster_->routes();
    if (!broker_group_.empty()) {
      if (routes->FindGroup(broker_group_) == nullptr) {
        return NotFound("broker group '" + broker_group_ + "' is not in the cluster's routes");
      }
      groups = {broker_group_};
    } else if (groups.empty()) {
      for (const auto& g : routes->groups) groups.push_back(g.name);
    }
    if (groups.empty()) return Status(Code::kUnavailable, "the cluster has no broker group");
    std::vector<std::future<Result<wire::Frame>>> futures;
    for (const std::string& g : groups) {
      auto promise = std::make_shared<std::promise<Result<wire::Frame>>>();
      futures.push_back(promise->get_future());
      client::ClientCore* core = cluster_->Core(g);
      if (core == nullptr) {
        promise->set_value(Status(Code::kUnavailable, "no address in the routes"));
        continue;
      }
      core->CallAsync(request, {}, nullptr, 0, 1,
                      [promise](Result<wire::Frame> r) { promise->set_value(std::move(r)); });
    }
    for (size_t i = 0; i < groups.size(); ++i) answers.push_back({groups[i], futures[i].get()});
    return answers;
  }

  // The groups holding queues of `topic` (every group when the routes have none).
  std::vector<std::string> TopicGroups(const std::string& topic) {
    std::vector<std::string> out;
    if (!cluster_->clustered()) return out;
    if (const TopicRoute* t = cluster_->routes()->FindTopic(topic)) {
      for (const auto& r : t->queues) {
        if (std::find(out.begin(), out.end(), r.group) == out.end()) out.push_back(r.group);
      }
    }
    return out;
  }

  Result<std::vector<ReceivedMessage>> Query(wire::QueryMessageRequest q) {
    wire::Header h;
    h.set_kind(wire::QUERY_MESSAGE);
    *h.mutable_query_message_request() = std::move(q);
    ASSIGN_OR_RETURN(auto answers, AskGroups(h));
    std::vector<ReceivedMessage> out;
    bool found = false;
    for (auto& a : answers) {
      if (!a.frame.ok()) continue;
      found = true;
      ASSIGN_OR_RETURN(auto messages,
                       client::FromWireMessages(a.frame->header.query_message_response().messages(),
                                                a.frame->body));
      for (auto& m : messages) {
        ReceivedMessageAccess::SetBrokerGroup(&m, a.group);
        out.push_back(std::move(m));
      }
    }
    if (!found) return FirstError(answers);
    return out;
  }

  std::unique_ptr<client::ClusterClient> cluster_;
  const std::string broker_group_;
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
Admin::Builder& Admin::Builder::BrokerGroup(std::string group) {
  broker_group_ = std::move(group);
  return *this;
}

Result<Admin> Admin::Builder::Build() const {
  client::CoreOptions options;
  options.endpoint = endpoint_;
  options.request_timeout_ms = request_timeout_ms_;
  options.failover_deadline_ms = failover_deadline_ms_;
  options.heartbeat = false;
  if (!broker_group_.empty()) RETURN_IF_ERROR(ValidateGroupName(broker_group_));
  client::ClusterOptions cluster_options;
  cluster_options.core = std::move(options);
  cluster_options.all_topics = true;
  cluster_options.eager_cores = false;  // a core per group asked, when first asked
  ASSIGN_OR_RETURN(auto cluster, client::ClusterClient::Create(std::move(cluster_options)));
  return Admin(std::make_unique<Impl>(std::move(cluster), broker_group_));
}

Admin::Admin(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Admin::Admin(Admin&&) noexcept = default;
Admin& Admin::operator=(Admin&&) noexcept = default;
Admin::~Admin() = default;

namespace {

Status CheckGroupNames(const std::vector<std::string>& groups) {
  for (const auto& g : groups) RETURN_IF_ERROR(ValidateGroupName(g));
  return Status::Ok();
}

using client::FromWire;

// A topic as its route describes it: one entry per queue, offsets not known.
TopicInfo FromRoute(const TopicRoute& r) {
  TopicInfo out;
  out.name = r.topic;
  out.queue_count = r.queue_count();
  out.route = r.queues;
  for (const auto& range : r.queues) {
    for (uint32_t q = 0; q < range.queue_count; ++q) {
      out.queues.push_back({static_cast<int32_t>(q), 0, 0, range.group});
    }
  }
  return out;
}


// Queues of one group's answer, added to a cluster-wide view of the topic.
void AddQueues(const wire::TopicInfo& t, const std::string& group, TopicInfo* out) {
  for (const auto& q : t.queues()) {
    out->queues.push_back({q.queue_id(), q.min_offset(), q.max_offset(), group});
  }
}

}  // namespace

Result<ClusterRoutes> Admin::QueryRoute(const std::vector<std::string>& topics) {
  if (!impl_) return Moved();
  for (const auto& t : topics) RETURN_IF_ERROR(ValidateTopicName(t, /*allow_system=*/true));
  ASSIGN_OR_RETURN(auto routes, impl_->FreshRoutes());
  ClusterRoutes out = *routes;
  if (!topics.empty()) {
    out.topics.clear();
    for (const auto& t : topics) {
      if (const TopicRoute* r = routes->FindTopic(t)) out.topics.push_back(*r);
    }
  }
  return out;
}

Result<TopicInfo> Admin::CreateTopic(const std::string& name, uint32_t queue_count,
                                     const std::vector<std::string>& groups) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateTopicName(name));
  if (queue_count == 0 || queue_count > 1024) {
    return InvalidArgument("queue count must be 1..1024, not " + std::to_string(queue_count));
  }
  RETURN_IF_ERROR(CheckGroupNames(groups));
  if (!groups.empty() && !impl_->Clustered()) {
    return InvalidArgument("broker groups were named, but the broker is not in a cluster");
  }
  wire::Header h;
  h.set_kind(wire::CREATE_TOPIC);
  auto* req = h.mutable_create_topic_request();
  auto* c = req->mutable_config();
  c->set_name(name);
  c->set_queue_count(queue_count);
  for (const auto& g : groups) req->add_groups(g);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->CallAny(std::move(h)));
  const auto& resp = f.header.create_topic_response();
  if (!resp.has_route() || resp.route().queues().empty()) return ToTopicInfo(resp.topic());
  impl_->cluster_->RequestRefresh();
  return FromRoute(FromWire(resp.route()));
}

Result<TopicRoute> Admin::ExtendTopic(const std::string& topic, uint32_t add_queues,
                                      const std::vector<std::string>& groups) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateTopicName(topic));
  if (add_queues == 0 || add_queues > 1024) {
    return InvalidArgument("queues to add must be 1..1024, not " + std::to_string(add_queues));
  }
  RETURN_IF_ERROR(CheckGroupNames(groups));
  wire::Header h;
  h.set_kind(wire::EXTEND_TOPIC);
  auto* req = h.mutable_extend_topic_request();
  req->set_topic(topic);
  req->set_add_queues(add_queues);
  for (const auto& g : groups) req->add_groups(g);
  ASSIGN_OR_RETURN(wire::Frame f, impl_->CallAny(std::move(h)));
  impl_->cluster_->RequestRefresh();
  return FromWire(f.header.extend_topic_response().route());
}

Result<std::vector<TopicInfo>> Admin::ListTopics(bool include_system) {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::LIST_TOPICS);
  h.mutable_list_topics_request()->set_include_system(include_system);
  if (!impl_->Clustered()) {
    ASSIGN_OR_RETURN(wire::Frame f, impl_->CallAny(std::move(h)));
    std::vector<TopicInfo> out;
    for (const auto& t : f.header.list_topics_response().topics()) out.push_back(ToTopicInfo(t));
    return out;
  }
  // The routes say which topics there are and where; each group adds its queues' offsets
  // (and, with include_system, its own system topics).
  ASSIGN_OR_RETURN(auto routes, impl_->FreshRoutes());
  std::map<std::string, TopicInfo> by_name;
  for (const auto& r : routes->topics) {
    TopicInfo t;
    t.name = r.topic;
    t.queue_count = r.queue_count();
    t.route = r.queues;
    by_name.emplace(r.topic, std::move(t));
  }
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  for (const auto& a : answers) {
    if (!a.frame.ok()) {
      for (auto& [name, t] : by_name) {
        for (const auto& r : t.route) {
          if (r.group == a.group)
            t.group_errors.push_back(a.group + ": " + a.frame.status().ToString());
        }
      }
      continue;
    }
    for (const auto& wt : a.frame->header.list_topics_response().topics()) {
      auto it = by_name.find(wt.config().name());
      if (it == by_name.end()) {
        if (!include_system) continue;  // not routed: local to the group
        TopicInfo t;
        t.name = wt.config().name();
        it = by_name.emplace(t.name, std::move(t)).first;
      }
      if (it->second.route.empty()) it->second.queue_count += wt.config().queue_count();
      AddQueues(wt, a.group, &it->second);
    }
  }
  std::vector<TopicInfo> out;
  for (auto& [name, t] : by_name) out.push_back(std::move(t));
  return out;
}

Result<TopicInfo> Admin::DescribeTopic(const std::string& name) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateTopicName(name, /*allow_system=*/true));
  wire::Header h;
  h.set_kind(wire::DESCRIBE_TOPIC);
  h.mutable_describe_topic_request()->set_topic(name);
  if (!impl_->Clustered()) {
    ASSIGN_OR_RETURN(wire::Frame f, impl_->CallAny(std::move(h)));
    return ToTopicInfo(f.header.describe_topic_response().topic());
  }
  ASSIGN_OR_RETURN(auto routes, impl_->FreshRoutes());
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h, impl_->TopicGroups(name)));
  if (!AnyOk(answers)) return FirstError(answers);
  TopicInfo out;
  out.name = name;
  const TopicRoute* route = routes->FindTopic(name);
  if (route != nullptr) {
    out.route = route->queues;
    out.queue_count = route->queue_count();
  }
  for (const auto& a : answers) {
    if (!a.frame.ok()) {
      // A group without a system topic simply does not have it.
      if (route != nullptr || !IsAbsent(a.frame.status().code())) {
        out.group_errors.push_back(a.group + ": " + a.frame.status().ToString());
      }
      continue;
    }
    const auto& t = a.frame->header.describe_topic_response().topic();
    if (route == nullptr) out.queue_count += t.config().queue_count();
    AddQueues(t, a.group, &out);
  }
  return out;
}

Status Admin::DeleteTopic(const std::string& name) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateTopicName(name, /*allow_system=*/true));
  wire::Header h;
  h.set_kind(wire::DELETE_TOPIC);
  h.mutable_delete_topic_request()->set_topic(name);
  if (!impl_->Clustered()) return impl_->CallAny(std::move(h)).status();
  // Every group holding it: deleted when one did and no other failed otherwise than by not
  // (or no longer) having it.
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h, impl_->TopicGroups(name)));
  impl_->cluster_->RequestRefresh();
  if (!AnyOk(answers)) return FirstError(answers);
  for (const auto& a : answers) {
    if (!a.frame.ok() && !IsAbsent(a.frame.status().code())) return Named(a);
  }
  return Status::Ok();
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
  // Every group (create-or-update is idempotent), so each one has it whatever keeps it.
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  if (!AnyOk(answers)) return FirstError(answers);
  GroupInfo out;
  bool first = true;
  for (const auto& a : answers) {
    if (!a.frame.ok()) {
      out.group_errors.push_back(a.group + ": " + a.frame.status().ToString());
      continue;
    }
    MergeGroup(ToGroupInfo(a.frame->header.create_group_response().group(), a.group), &out, first);
    first = false;
  }
  return out;
}

Result<std::vector<GroupInfo>> Admin::ListGroups() {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::LIST_GROUPS);
  h.mutable_list_groups_request();
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  if (!AnyOk(answers)) return FirstError(answers);
  std::vector<GroupInfo> out;  // in the order the first group lists them
  std::map<std::string, size_t> index;
  for (const auto& a : answers) {
    if (!a.frame.ok()) continue;
    for (const auto& g : a.frame->header.list_groups_response().groups()) {
      GroupInfo info = ToGroupInfo(g, a.group);
      auto [it, fresh] = index.try_emplace(info.name, out.size());
      if (fresh) out.emplace_back();
      MergeGroup(std::move(info), &out[it->second], fresh);
    }
  }
  const std::vector<std::string> failures = Failures(answers);
  for (auto& g : out) g.group_errors = failures;
  return out;
}

Result<GroupInfo> Admin::DescribeGroup(const std::string& name) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateGroupName(name));
  wire::Header h;
  h.set_kind(wire::DESCRIBE_GROUP);
  h.mutable_describe_group_request()->set_group(name);
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  if (!AnyOk(answers)) return FirstError(answers);
  GroupInfo out;
  bool first = true;
  for (const auto& a : answers) {
    if (!a.frame.ok()) {
      out.group_errors.push_back(a.group + ": " + a.frame.status().ToString());
      continue;
    }
    MergeGroup(ToGroupInfo(a.frame->header.describe_group_response().group(), a.group), &out,
               first);
    first = false;
  }
  return out;
}

Status Admin::DeleteGroup(const std::string& name) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateGroupName(name));
  wire::Header h;
  h.set_kind(wire::DELETE_GROUP);
  h.mutable_delete_group_request()->set_group(name);
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  if (!AnyOk(answers)) return FirstError(answers);
  for (const auto& a : answers) {
    if (!a.frame.ok() && !IsAbsent(a.frame.status().code())) return Named(a);
  }
  return Status::Ok();
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
  if (!f.broker_group.empty()) RETURN_IF_ERROR(ValidateGroupName(f.broker_group));
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

// The broker groups a dead-letter filter names (none: every group).
std::vector<std::string> BrokerGroups(const DeadLetterFilter& f) {
  if (f.broker_group.empty()) return {};
  return {f.broker_group};
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
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h, BrokerGroups(filter)));
  if (!AnyOk(answers)) return FirstError(answers);
  DeadLetterPage page;
  for (const auto& a : answers) {
    if (!a.frame.ok()) {
      if (!IsAbsent(a.frame.status().code())) {
        spdlog::warn("dead letters of broker group {}: {}", a.group, a.frame.status().ToString());
      }
      continue;
    }
    const auto& resp = a.frame->header.dlq_list_response();
    page.total += resp.total();
    std::vector<std::string_view> bodies;
    if (with_bodies) {
      Status st = wire::SplitBodies(resp.messages(), a.frame->body, &bodies);
      if (!st.ok()) return Status(st.code(), "bad response from broker: " + st.message());
    }
    for (int i = 0; i < resp.messages_size(); ++i) {
      // Without bodies, body_size may still say how long the body is: nothing follows.
      page.messages.push_back(ReceivedMessageAccess::FromWireDeadLetter(
          resp.messages(i), with_bodies ? bodies[i] : std::string_view()));
      ReceivedMessageAccess::SetBrokerGroup(&page.messages.back(), a.group);
    }
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
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h, BrokerGroups(filter)));
  if (!AnyOk(answers)) return FirstError(answers);
  int64_t n = 0;
  for (const auto& a : answers) {
    if (a.frame.ok()) {
      n += a.frame->header.dlq_redrive_response().redriven();
    } else if (!IsAbsent(a.frame.status().code())) {
      return Status(a.frame.status().code(), Named(a).message() + " (" + std::to_string(n) +
                                                 " redriven by the other groups)");
    }
  }
  return n;
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
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h, BrokerGroups(filter)));
  if (!AnyOk(answers)) return FirstError(answers);
  int64_t n = 0;
  for (const auto& a : answers) {
    if (a.frame.ok()) {
      n += a.frame->header.dlq_purge_response().purged();
    } else if (!IsAbsent(a.frame.status().code())) {
      return Status(a.frame.status().code(),
                    Named(a).message() + " (" + std::to_string(n) + " purged by the other groups)");
    }
  }
  return n;
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
  ASSIGN_OR_RETURN(wire::Frame f, impl_->CallAny(std::move(h)));
  if (!f.header.has_cluster_status_response()) {
    return Internal("broker answered CLUSTER_STATUS without a status");
  }
  return f.header.cluster_status_response().json();
}

Result<std::string> Admin::ClusterStatus(const std::string& broker_group) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(ValidateGroupName(broker_group));
  if (!impl_->Clustered()) {
    return Status(Code::kFailedPrecondition, "the broker is not in a cluster of broker groups");
  }
  client::ClientCore* core = impl_->cluster_->Core(broker_group);
  if (core == nullptr) {
    return NotFound("broker group '" + broker_group + "' is not in the cluster's routes");
  }
  wire::Header h;
  h.set_kind(wire::CLUSTER_STATUS);
  h.mutable_cluster_status_request();
  ASSIGN_OR_RETURN(wire::Frame f, core->Call(std::move(h)));
  if (!f.header.has_cluster_status_response()) {
    return Internal("broker answered CLUSTER_STATUS without a status");
  }
  return f.header.cluster_status_response().json();
}

namespace {

Result<BrokerGroupRoute> ChangeGroup(Admin::Impl& impl, const std::string& name,
                                     wire::ClusterGroupRequest::Action action, bool force);

}  // namespace

Result<BrokerGroupRoute> Admin::AddBrokerGroup(const std::string& name) {
  if (!impl_) return Moved();
  return ChangeGroup(*impl_, name, wire::ClusterGroupRequest::ADD, false);
}

Result<BrokerGroupRoute> Admin::DrainBrokerGroup(const std::string& name) {
  if (!impl_) return Moved();
  return ChangeGroup(*impl_, name, wire::ClusterGroupRequest::DRAIN, false);
}

Result<BrokerGroupRoute> Admin::RemoveBrokerGroup(const std::string& name, bool force) {
  if (!impl_) return Moved();
  return ChangeGroup(*impl_, name, wire::ClusterGroupRequest::REMOVE, force);
}

namespace {

Result<BrokerGroupRoute> ChangeGroup(Admin::Impl& impl, const std::string& name,
                                     wire::ClusterGroupRequest::Action action, bool force) {
  RETURN_IF_ERROR(ValidateGroupName(name));
  wire::Header h;
  h.set_kind(wire::CLUSTER_GROUP);
  auto* req = h.mutable_cluster_group_request();
  req->set_action(action);
  req->set_group(name);
  req->set_force(force);
  ASSIGN_OR_RETURN(wire::Frame f, impl.CallAny(std::move(h)));
  impl.cluster_->RequestRefresh();
  return FromWire(f.header.cluster_group_response().group());
}

}  // namespace

Result<StatsInfo> Admin::Stats() {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::STATS);
  h.mutable_stats_request();
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  if (!AnyOk(answers)) return FirstError(answers);
  // Several groups: counters summed, each group's information under "GROUP/key".
  const bool several = answers.size() > 1;
  StatsInfo out;
  for (const auto& a : answers) {
    if (!a.frame.ok()) {
      out.info.emplace(a.group + "/error", a.frame.status().ToString());
      continue;
    }
    for (const auto& [k, v] : a.frame->header.stats_response().counters()) out.counters[k] += v;
    for (const auto& [k, v] : a.frame->header.stats_response().info()) {
      out.info.emplace(several ? a.group + "/" + k : k, v);
    }
  }
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
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  ASSIGN_OR_RETURN(GroupAnswer found, FirstFound(std::move(answers)));
  const auto& r = found.frame->header.cancel_scheduled_response();
  return CancelOutcome{r.outcome() == wire::CancelScheduledResponse::CANCELLED, r.due_ms()};
}

Result<TimerStatsInfo> Admin::TimerStats() {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::TIMER_STATS);
  h.mutable_timer_stats_request();
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  if (!AnyOk(answers)) return FirstError(answers);
  // Several groups: summed; the earliest due time; buckets added by bound.
  TimerStatsInfo out;
  for (const auto& a : answers) {
    if (!a.frame.ok()) continue;
    const auto& r = a.frame->header.timer_stats_response();
    out.pending += r.pending();
    out.fired += r.fired();
    out.cancelled += r.cancelled();
    if (r.next_due_ms() > 0 && (out.next_due_ms == 0 || r.next_due_ms() < out.next_due_ms)) {
      out.next_due_ms = r.next_due_ms();
    }
    out.loaded += r.loaded();
    out.firing += r.firing();
    out.broker_time_ms = std::max(out.broker_time_ms, r.broker_time_ms());
    for (const auto& b : r.lateness()) {
      auto it = std::find_if(out.lateness.begin(), out.lateness.end(),
                             [&](const auto& x) { return x.below_ms == b.below_ms(); });
      if (it == out.lateness.end()) {
        out.lateness.push_back({b.below_ms(), b.count()});
      } else {
        it->count += b.count();
      }
    }
  }
  return out;
}

Result<ScheduledInfo> Admin::ShowTimer(const std::string& message_id) {
  if (!impl_) return Moved();
  RETURN_IF_ERROR(CheckMessageId(message_id));
  wire::Header h;
  h.set_kind(wire::TIMER_SHOW);
  h.mutable_timer_show_request()->set_message_id(message_id);
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  ASSIGN_OR_RETURN(GroupAnswer found, FirstFound(std::move(answers)));
  const auto& r = found.frame->header.timer_show_response();
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

namespace {

// Every group's traces in one result: a message traced by several groups (it moved, or was
// redriven) gets its steps merged by time.
Result<TraceResult> MergeTraces(const std::vector<GroupAnswer>& answers) {
  if (!AnyOk(answers)) return FirstError(answers);
  TraceResult out;
  bool first = true;
  for (const auto& a : answers) {
    if (!a.frame.ok()) continue;
    TraceResult r = FromWire(a.frame->header.trace_response());
    out.truncated = out.truncated || r.truncated;
    out.consumption_traced =
        first ? r.consumption_traced : out.consumption_traced && r.consumption_traced;
    out.events_dropped += r.events_dropped;
    first = false;
    for (auto& t : r.traces) {
      auto it = std::find_if(out.traces.begin(), out.traces.end(),
                             [&](const auto& x) { return x.message_id == t.message_id; });
      if (it == out.traces.end()) {
        out.traces.push_back(std::move(t));
        continue;
      }
      for (auto& step : t.steps) it->steps.push_back(std::move(step));
      std::stable_sort(it->steps.begin(), it->steps.end(),
                       [](const auto& x, const auto& y) { return x.time_ms < y.time_ms; });
      it->truncated = it->truncated || t.truncated;
      for (int64_t d : t.damaged_log_offsets) it->damaged_log_offsets.push_back(d);
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
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  return MergeTraces(answers);
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
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h, impl_->TopicGroups(topic)));
  return MergeTraces(answers);
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
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h, impl_->TopicGroups(topic)));
  if (!AnyOk(answers)) return FirstError(answers);
  std::vector<OffsetReset> out;
  for (const auto& a : answers) {
    if (!a.frame.ok()) return Named(a);  // the others were moved: say which was not
    for (const auto& q : a.frame->header.reset_offset_response().queues()) {
      out.push_back({q.queue_id(), q.from_offset(), q.to_offset(), a.group});
    }
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
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  if (!AnyOk(answers)) return FirstError(answers);
  std::vector<TransactionInfo> out;  // by group, each by half offset
  for (const auto& a : answers) {
    if (!a.frame.ok()) continue;
    for (const auto& t : a.frame->header.txn_list_response().transactions()) {
      out.push_back(ToTransactionInfo(t, a.group));
    }
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
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  ASSIGN_OR_RETURN(GroupAnswer found, FirstFound(std::move(answers)));
  return ToTransactionInfo(found.frame->header.txn_show_response().transaction(), found.group);
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
  // The group holding the half resolves it; the others do not know it.
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  return FirstFound(std::move(answers)).status();
}

Result<TransactionStatsInfo> Admin::TransactionStats() {
  if (!impl_) return Moved();
  wire::Header h;
  h.set_kind(wire::TXN_STATS);
  h.mutable_txn_stats_request();
  ASSIGN_OR_RETURN(auto answers, impl_->AskGroups(h));
  if (!AnyOk(answers)) return FirstError(answers);
  TransactionStatsInfo out;  // summed over the groups
  for (const auto& a : answers) {
    if (!a.frame.ok()) continue;
    const auto& r = a.frame->header.txn_stats_response();
    out.pending += r.pending();
    out.committed += r.committed();
    out.rolled_back += r.rolled_back();
    out.parked += r.parked();
    out.checks_sent += r.checks_sent();
    out.answers_commit += r.answers_commit();
    out.answers_rollback += r.answers_rollback();
    out.answers_unknown += r.answers_unknown();
    out.answers_failed += r.answers_failed();
    out.waiting_groups += r.waiting_groups();
    out.answers_unmatched += r.answers_unmatched();
    out.answers_late += r.answers_late();
    out.final_actions_deferred += r.final_actions_deferred();
    out.checks_in_flight += r.checks_in_flight();
    out.final_actions_waiting += r.final_actions_waiting();
  }
  return out;
}

void Admin::Shutdown() {
  if (impl_) impl_->cluster_->Shutdown();
}

}  // namespace tidemq
