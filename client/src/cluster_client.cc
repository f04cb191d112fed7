#include "client/src/cluster_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <future>

#include "client/src/message_id.h"
#include "common/logging.h"

namespace tidemq {

const char* ToString(BrokerGroupState state) {
  return state == BrokerGroupState::kDraining ? "draining" : "active";
}

uint32_t TopicRoute::queue_count() const {
  uint32_t n = 0;
  for (const auto& r : queues) n += r.queue_count;
  return n;
}

const BrokerGroupRoute* ClusterRoutes::FindGroup(std::string_view name) const {
  for (const auto& g : groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

const TopicRoute* ClusterRoutes::FindTopic(std::string_view name) const {
  for (const auto& t : topics) {
    if (t.topic == name) return &t;
  }
  return nullptr;
}

namespace client {
namespace {

using SteadyClock = std::chrono::steady_clock;

// A route refresh that got an answer older than a response announced (the broker asked lags
// behind the one that announced it) is asked again after this, a few times.
constexpr int64_t kStaleRetryMs = 200;
constexpr int kMaxStaleRetries = 10;
// A failed refresh in a cluster is tried again after this.
constexpr int64_t kFailedRefreshRetryMs = 1000;

}  // namespace

BrokerGroupRoute FromWire(const wire::GroupRoute& g) {
  BrokerGroupRoute b;
  b.name = g.name();
  b.state = g.state() == wire::GroupRoute::DRAINING ? BrokerGroupState::kDraining
                                                    : BrokerGroupState::kActive;
  b.master_id = g.master_id();
  b.master_address = g.master_address();
  b.addresses.assign(g.addresses().begin(), g.addresses().end());
  b.master_grpc_address = g.master_grpc_address();
  b.epoch = g.epoch();
  return b;
}

TopicRoute FromWire(const wire::TopicRoute& r) {
  TopicRoute out;
  out.topic = r.topic();
  for (const auto& q : r.queues()) out.queues.push_back({q.group(), q.queue_count()});
  return out;
}

namespace {

ClusterRoutes RoutesFromWire(const wire::QueryRouteResponse& r) {
  ClusterRoutes out;
  out.revision = r.revision();
  out.clustered = r.clustered();
  if (!out.clustered) return out;  // the rest is the broker's own view: not routes
  for (const auto& g : r.groups()) out.groups.push_back(FromWire(g));
  for (const auto& t : r.topics()) out.topics.push_back(FromWire(t));
  std::sort(out.groups.begin(), out.groups.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  std::sort(out.topics.begin(), out.topics.end(),
            [](const auto& a, const auto& b) { return a.topic < b.topic; });
  return out;
}

bool KnowsAddress(ClientCore& core, const std::string& address) {
  Result<Endpoint> ep = ParseEndpoint(address);
  if (!ep.ok()) return true;  // nothing better to connect to
  const auto& list = core.connection().endpoints();
  return std::find(list.begin(), list.end(), *ep) != list.end();
}

// The outcome of one QUERY_ROUTE, shared with its callback (which may outlive the waiter).
struct QueryState {
  Mutex mu;
  bool done GUARDED_BY(mu) = false;
  Result<wire::QueryRouteResponse> answer GUARDED_BY(mu) = Status(Code::kInternal, "unset");
};

}  // namespace

std::string ClusterClient::GroupEndpoint(const BrokerGroupRoute& group) {
  std::vector<std::string> list = group.addresses;
  if (!group.master_address.empty() &&
      std::find(list.begin(), list.end(), group.master_address) == list.end()) {
    list.insert(list.begin(), group.master_address);
  }
  if (list.size() > kMaxEndpoints) list.resize(kMaxEndpoints);
  return JoinAddresses(list);
}

ClusterClient::ClusterClient(ClusterOptions options) : options_(std::move(options)) {
  routes_ = std::make_shared<ClusterRoutes>();
  topics_.insert(options_.topics.begin(), options_.topics.end());
}

Result<std::unique_ptr<ClusterClient>> ClusterClient::Create(ClusterOptions options) {
  // One client id on every core: the brokers see one client.
  if (options.core.client_id.empty()) options.core.client_id = NewClientId();
  std::unique_ptr<ClusterClient> c(new ClusterClient(std::move(options)));
  CoreOptions boot = c->options_.core;
  ClusterClient* raw = c.get();
  boot.response_observer = [raw](const wire::Header& h) { raw->ObserveResponse("", h); };
  ASSIGN_OR_RETURN(c->bootstrap_, ClientCore::Create(std::move(boot)));
  c->route_thread_ = std::thread([raw] { raw->RouteLoop(); });
  c->route_thread_id_ = c->route_thread_.get_id();
  return c;
}

ClusterClient::~ClusterClient() { Shutdown(); }

std::shared_ptr<const ClusterRoutes> ClusterClient::routes() const {
  MutexLock lock(mu_);
  return routes_;
}

void ClusterClient::WhenReady(std::function<void()> fn) {
  {
    MutexLock lock(mu_);
    if (!ready_ && !stopping_) {
      waiters_.push_back({"", std::move(fn)});
      return;
    }
  }
  fn();
}

void ClusterClient::WhenTopicKnown(const std::string& topic, std::function<void()> fn) {
  {
    MutexLock lock(mu_);
    const bool routed = routes_->FindTopic(topic) != nullptr;
    const bool known =
        ready_ && (!clustered_ || options_.all_topics || routed || asked_.count(topic) > 0);
    // Kept in the routes from now on (a first query without topics brought every one).
    if (routed && !options_.all_topics) topics_.insert(topic);
    if (!known && !stopping_) {
      topics_.insert(topic);
      waiters_.push_back({topic, std::move(fn)});
      // Before the first answer the waiter waits for it (it may say "not clustered").
      if (ready_) {
        refresh_wanted_ = true;
        cv_.notify_all();
      }
      return;
    }
  }
  fn();
}

Status ClusterClient::WaitReady() {
  if (OnClientThread()) {
    return Status(Code::kFailedPrecondition,
                  "blocking client call made from a client callback (use the async form)");
  }
  std::promise<void> promise;
  auto future = promise.get_future();
  WhenReady([&promise] { promise.set_value(); });
  future.get();
  if (shut_down()) return Status(Code::kCancelled, "client is shut down");
  return Status::Ok();
}

ClientCore* ClusterClient::Core(std::string_view group) {
  if (group.empty() || !clustered_) return bootstrap_.get();
  MutexLock lock(mu_);
  auto it = cores_.find(group);
  if (it != cores_.end()) return it->second.get();
  if (stopping_) return nullptr;
  const BrokerGroupRoute* g = routes_->FindGroup(group);
  if (g == nullptr) return nullptr;
  std::unique_ptr<ClientCore> core = MakeGroupCore(*g);
  if (!core) return nullptr;
  ClientCore* out = core.get();
  cores_.emplace(std::string(group), std::move(core));
  return out;
}

std::unique_ptr<ClientCore> ClusterClient::MakeGroupCore(const BrokerGroupRoute& group) {
  CoreOptions o = options_.core;
  o.endpoint = GroupEndpoint(group);
  if (o.endpoint.empty()) return nullptr;  // no member alive: nothing to connect to
  o.wait_for_connect = false;
  o.response_observer = [this, name = group.name](const wire::Header& h) {
    ObserveResponse(name, h);
  };
  auto core = ClientCore::Create(std::move(o));
  if (!core.ok()) {
    spdlog::warn("broker group {}: cannot use its addresses '{}': {}", group.name,
                 GroupEndpoint(group), core.status().ToString());
    return nullptr;
  }
  return std::move(core).value();
}

void ClusterClient::ObserveResponse(const std::string& group, const wire::Header& header) {
  const int64_t announced = header.route_revision();
  if (announced <= revision_.load()) return;
  int64_t wanted = wanted_revision_.load();
  while (announced > wanted) {
    if (wanted_revision_.compare_exchange_weak(wanted, announced)) {
      // The route thread compares revisions when it wakes: a QUERY_ROUTE answer announcing
      // its own revision costs no second query.
      MutexLock lock(mu_);
      wanted_from_ = group;
      cv_.notify_all();
      return;
    }
  }
}

void ClusterClient::RequestRefresh() {
  MutexLock lock(mu_);
  refresh_wanted_ = true;
  cv_.notify_all();
}

void ClusterClient::MarkFailed(const std::string& group) {
  MutexLock lock(failed_mu_);
  failed_at_[group] = SteadyClock::now();
}

bool ClusterClient::RecentlyFailed(const std::string& group) const {
  MutexLock lock(failed_mu_);
  auto it = failed_at_.find(group);
  return it != failed_at_.end() &&
         SteadyClock::now() - it->second < std::chrono::milliseconds(kGroupIsolationMs);
}

bool ClusterClient::OnClientThread() const {
  if (std::this_thread::get_id() == route_thread_id_) return true;
  if (bootstrap_ && bootstrap_->connection().OnIoThread()) return true;
  MutexLock lock(mu_);
  for (const auto& [name, core] : cores_) {
    if (core->connection().OnIoThread()) return true;
  }
  return false;
}

namespace {

// Starts one QUERY_ROUTE on `core`; the answer lands in `state`, then `notify` runs.
void StartQuery(ClientCore& core, const std::vector<std::string>& topics, int64_t budget_ms,
                std::shared_ptr<QueryState> state, std::function<void()> notify) {
  wire::Header h;
  h.set_kind(wire::QUERY_ROUTE);
  auto* q = h.mutable_query_route_request();
  for (const auto& t : topics) q->add_topics(t);
  core.CallAsync(
      std::move(h), {}, nullptr, 0, 1,
      [state, notify = std::move(notify)](Result<wire::Frame> f) {
        {
          MutexLock lock(state->mu);
          state->done = true;
          if (!f.ok()) {
            state->answer = f.status();
          } else {
            state->answer = f->header.query_route_response();
          }
        }
        notify();
      },
      budget_ms);
}

}  // namespace

Result<wire::QueryRouteResponse> ClusterClient::Query(const std::vector<std::string>& topics,
                                                      const std::string& prefer_group) {
  ClientCore* core = nullptr;
  if (clustered_) {
    MutexLock lock(mu_);
    auto preferred = cores_.find(prefer_group);
    if (preferred != cores_.end() && preferred->second->connection().connected()) {
      core = preferred->second.get();
    }
    for (auto it = cores_.begin(); core == nullptr && it != cores_.end(); ++it) {
      if (it->second->connection().connected()) core = it->second.get();
    }
  }
  if (core == nullptr) core = bootstrap_.get();
  // Not the whole failover deadline: a refresh that fails is tried again (and the first one
  // holds the client's first calls).
  const int64_t budget =
      std::min(options_.core.failover_deadline_ms, options_.core.request_timeout_ms);
  auto state = std::make_shared<QueryState>();
  const bool on_route_thread = std::this_thread::get_id() == route_thread_id_;
  StartQuery(*core, topics, budget, state, [this] {
    MutexLock lock(mu_);
    cv_.notify_all();
  });
  // The route thread stops waiting at Shutdown (the call then ends with Cancelled); any other
  // caller (RefreshNow) waits for the call, which Shutdown ends.
  MutexLock lock(mu_);
  while (true) {
    {
      MutexLock s(state->mu);
      if (state->done) return state->answer;
    }
    if (on_route_thread && stopping_) return Status(Code::kCancelled, "client is shut down");
    cv_.wait(lock);
  }
}

std::vector<std::function<void()>> ClusterClient::Apply(const wire::QueryRouteResponse& answer,
                                                        const std::set<std::string>& asked) {
  auto routes = std::make_shared<ClusterRoutes>(RoutesFromWire(answer));
  std::vector<std::unique_ptr<ClientCore>> to_retire;
  std::vector<std::function<void()>> run;
  {
    MutexLock lock(mu_);
    if (stopping_) return run;
    if (routes->clustered && !clustered_) {
      spdlog::debug("in a cluster of {} broker group(s) (route revision {})", routes->groups.size(),
                   routes->revision);
    }
    for (auto it = cores_.begin(); it != cores_.end();) {
      const BrokerGroupRoute* g = routes->clustered ? routes->FindGroup(it->first) : nullptr;
      // A core whose list lacks the group's master now (members replaced) starts afresh.
      const bool stale = g != nullptr && !g->master_address.empty() &&
                         !KnowsAddress(*it->second, g->master_address);
      if (g == nullptr || stale) {
        spdlog::info("broker group {} {}", it->first,
                     g == nullptr ? "left the routes" : "has a master at a new address");
        to_retire.push_back(std::move(it->second));
        it = cores_.erase(it);
      } else {
        ++it;
      }
    }
    if (routes->clustered && options_.eager_cores) {
      for (const auto& g : routes->groups) {
        if (cores_.count(g.name) > 0) continue;
        if (auto core = MakeGroupCore(g)) cores_.emplace(g.name, std::move(core));
      }
    }
    routes_ = routes;
    revision_ = routes->revision;
    clustered_ = routes->clustered;
    answered_ = true;
    ready_ = true;
    asked_.insert(asked.begin(), asked.end());
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->topic.empty() || !clustered_ || options_.all_topics || asked_.count(it->topic)) {
        run.push_back(std::move(it->fn));
        it = waiters_.erase(it);
      } else {
        refresh_wanted_ = true;  // asked for after this query began
        ++it;
      }
    }
  }
  for (auto& core : to_retire) core->Shutdown();
  MutexLock lock(mu_);
  for (auto& core : to_retire) retired_.push_back(std::move(core));
  return run;
}

std::vector<std::function<void()>> ClusterClient::ReleaseAfterFailure(
    const std::set<std::string>& asked) {
  std::vector<std::function<void()>> run;
  MutexLock lock(mu_);
  ready_ = true;
  asked_.insert(asked.begin(), asked.end());
  for (auto it = waiters_.begin(); it != waiters_.end();) {
    if (it->topic.empty() || !clustered_ || asked_.count(it->topic)) {
      run.push_back(std::move(it->fn));
      it = waiters_.erase(it);
    } else {
      ++it;
    }
  }
  return run;
}

Result<std::shared_ptr<const ClusterRoutes>> ClusterClient::RefreshNow() {
  if (OnClientThread()) {
    return Status(Code::kFailedPrecondition,
                  "blocking client call made from a client callback (use the async form)");
  }
  std::set<std::string> asked;
  {
    MutexLock lock(mu_);
    asked = topics_;
  }
  std::vector<std::string> topics;
  if (!options_.all_topics) topics.assign(asked.begin(), asked.end());
  auto answer = Query(topics, "");
  std::vector<std::function<void()>> run;
  if (answer.ok()) {
    run = Apply(*answer, asked);
  } else if (answer.status().code() == Code::kUnsupported) {
    run = Apply(wire::QueryRouteResponse(), asked);
  } else {
    run = ReleaseAfterFailure(asked);
  }
  for (auto& fn : run) fn();
  if (!answer.ok() && answer.status().code() != Code::kUnsupported) return answer.status();
  return routes();
}

void ClusterClient::RouteLoop() {
  SetThreadName("tidemq-route");
  SteadyClock::time_point next_backstop = SteadyClock::time_point::max();
  SteadyClock::time_point retry_at = SteadyClock::time_point::max();
  int stale_answers = 0;
  while (true) {
    std::set<std::string> asked;
    std::string prefer;
    {
      MutexLock lock(mu_);
      // A newer revision announced (and not already being retried after a stale answer).
      auto announced = [&] {
        return stale_answers == 0 && wanted_revision_.load() > revision_.load();
      };
      while (!stopping_ && !refresh_wanted_ && !announced()) {
        const auto wake = std::min(next_backstop, retry_at);
        if (SteadyClock::now() >= wake) break;
        if (wake == SteadyClock::time_point::max()) {
          cv_.wait(lock);
        } else {
          cv_.wait_until(lock, wake);
        }
      }
      if (stopping_) return;
      refresh_wanted_ = false;
      retry_at = SteadyClock::time_point::max();
      asked = topics_;
      prefer = wanted_from_;
    }
    std::vector<std::string> topics;
    if (!options_.all_topics) topics.assign(asked.begin(), asked.end());
    auto answer = Query(topics, prefer);
    if (stopping_) return;
    std::vector<std::function<void()>> run;
    const auto now = SteadyClock::now();
    if (answer.ok() || answer.status().code() == Code::kUnsupported) {
      // UNSUPPORTED: a broker older than clusters, so not in one.
      run = Apply(answer.ok() ? *answer : wire::QueryRouteResponse(), asked);
      if (revision_.load() < wanted_revision_.load()) {
        if (++stale_answers <= kMaxStaleRetries) {
          retry_at = now + std::chrono::milliseconds(kStaleRetryMs);
        } else {
          wanted_revision_ = revision_.load();  // a newer announcement starts over
          stale_answers = 0;
        }
      } else {
        stale_answers = 0;
      }
      next_backstop = clustered_ ? now + std::chrono::milliseconds(kRouteBackstopMs)
                                 : SteadyClock::time_point::max();
    } else {
      spdlog::log(clustered_ ? spdlog::level::warn : spdlog::level::debug,
                  "asking the cluster's routes failed: {}", answer.status().ToString());
      run = ReleaseAfterFailure(asked);
      if (clustered_) retry_at = now + std::chrono::milliseconds(kFailedRefreshRetryMs);
      next_backstop = now + std::chrono::milliseconds(kRouteBackstopMs);
    }
    for (auto& fn : run) fn();
  }
}

void ClusterClient::Shutdown() {
  std::vector<std::function<void()>> run;
  {
    MutexLock lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& w : waiters_) run.push_back(std::move(w.fn));
    waiters_.clear();
    cv_.notify_all();
  }
  if (route_thread_.joinable()) route_thread_.join();
  std::vector<std::unique_ptr<ClientCore>> cores;
  {
    MutexLock lock(mu_);
    for (auto& [name, core] : cores_) cores.push_back(std::move(core));
    cores_.clear();
  }
  if (bootstrap_) bootstrap_->Shutdown();
  for (auto& core : cores) core->Shutdown();
  {
    MutexLock lock(mu_);
    for (auto& core : cores) retired_.push_back(std::move(core));
  }
  for (auto& fn : run) fn();  // they see shut_down() and fail with Cancelled
}

uint64_t StableHash(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::optional<QueueTarget> FifoTarget(const ClusterRoutes& routes, std::string_view topic,
                                      std::string_view message_group) {
  std::vector<QueueTarget> queues;
  auto active = [&](const std::string& group) {
    const BrokerGroupRoute* g = routes.FindGroup(group);
    return g != nullptr && g->state == BrokerGroupState::kActive;
  };
  if (const TopicRoute* t = routes.FindTopic(topic)) {
    for (const QueueRange& r : t->queues) {
      if (!active(r.group)) continue;
      for (uint32_t q = 0; q < r.queue_count; ++q) {
        queues.push_back({r.group, static_cast<int32_t>(q)});
      }
    }
  } else {
    for (const auto& g : routes.groups) {
      if (g.state == BrokerGroupState::kActive) queues.push_back({g.name, -1});
    }
  }
  if (queues.empty()) return std::nullopt;
  return queues[StableHash(message_group) % queues.size()];
}

std::string PrefixHandle(std::string_view group, std::string_view handle) {
  std::string out;
  out.reserve(group.size() + 1 + handle.size());
  out.append(group);
  out.push_back(':');
  out.append(handle);
  return out;
}

Result<std::pair<std::string, std::string>> SplitHandle(std::string_view prefixed) {
  const size_t colon = prefixed.find(':');
  auto bad = [&] {
    return InvalidArgument("receipt handle '" + std::string(prefixed.substr(0, 64)) +
                           "' names no broker group (in a cluster a handle is "
                           "'<group>:<handle>', as Receive returns it)");
  };
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == prefixed.size()) return bad();
  for (char c : prefixed.substr(0, colon)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return bad();
  }
  return std::make_pair(std::string(prefixed.substr(0, colon)),
                        std::string(prefixed.substr(colon + 1)));
}

}  // namespace client
}  // namespace tidemq
