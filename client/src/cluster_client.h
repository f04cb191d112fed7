// ClusterClient: what a producer, consumer or admin client talks to — one broker, one broker
// group, or a cluster of broker groups (docs/cluster.md; client/README.md, "Clusters of
// broker groups").
//
// Built from the user's address list: a bootstrap ClientCore connects there (as a client of
// one group always did) and the route thread asks it QUERY_ROUTE.
//   - Not clustered (a standalone broker, a group without etcd, or an old broker answering
//     UNSUPPORTED): everything goes through the bootstrap core, exactly as before.
//   - Clustered: one ClientCore per broker group, its endpoint the group's addresses (so
//     in-group failover keeps working), made when the routes name the group and shut down when
//     they stop naming it (or name a master it does not know).
// Routes are asked again, by the route thread only (coalesced, never on an io thread): when a
// response of any core carries a route_revision newer than the routes held (every core's
// response observer watches), when a caller asks (NOT_WRITABLE, TOPIC_NOT_FOUND, a topic not
// yet known), and every 30 s.
//
// Callers wait for the first answer (WhenReady / WhenTopicKnown) before they route: a client
// must not pick a path before it knows whether it is in a cluster.
//
// Cores are never destroyed before the ClusterClient: a core that leaves the routes is shut
// down (its calls fail with Cancelled) and kept, so a ClientCore* handed out stays valid.
//
// Threads: "tidemq-route" (queries, core creation and retirement), plus each core's io
// thread. Every method may be called from any thread; the Wait* / RefreshNow forms block and
// must not be called on a client thread (OnClientThread).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/src/client_core.h"
#include "common/mutex.h"
#include "common/status.h"
#include "tidemq/route.h"

namespace tidemq::client {

inline constexpr int64_t kRouteBackstopMs = 30'000;

// The wire's routes as the public types (Admin's answers use them too).
BrokerGroupRoute FromWire(const wire::GroupRoute& group);
TopicRoute FromWire(const wire::TopicRoute& route);
// A group that failed a send is skipped for this long (if others can take the send).
inline constexpr int64_t kGroupIsolationMs = 2'000;

struct ClusterOptions {
  CoreOptions core;  // for every core; core.endpoint is the bootstrap list
  // Admin: ask for every topic. Otherwise only the topics of interest (consumers: theirs;
  // producers: those they sent to), which grow with WhenTopicKnown.
  bool all_topics = false;
  std::vector<std::string> topics;
  // Make each group's core as soon as the routes name it (producers, consumers: so its
  // connection is up before the first send); false: on first use (admin).
  bool eager_cores = true;
};

class ClusterClient {
 public:
  // Connects the bootstrap core (Unavailable when no address answers) and starts the route
  // thread, whose first act is to ask the routes.
  static Result<std::unique_ptr<ClusterClient>> Create(ClusterOptions options);
  ~ClusterClient();  // Shutdown()
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  // Runs fn once the routes were asked for the first time (answered or failed), at once when
  // they were. fn runs on the caller's thread or the route thread; it must not block.
  void WhenReady(std::function<void()> fn);
  // Runs fn once the routes were asked for `topic` (answered or failed; it may not exist).
  void WhenTopicKnown(const std::string& topic, std::function<void()> fn);
  // Blocking WhenReady; FailedPrecondition on a client thread.
  Status WaitReady();

  bool clustered() const { return clustered_.load(); }
  // Some broker answered the routes (clustered or not): false while every query so far failed,
  // when clustered() says nothing yet.
  bool answered() const { return answered_.load(); }
  // The routes as last answered (clustered = false until the cluster answers). Never null.
  std::shared_ptr<const ClusterRoutes> routes() const;

  ClientCore& bootstrap() { return *bootstrap_; }
  // The core of broker group `group`; the bootstrap core for "" or when not clustered; nullptr
  // when the routes do not name the group or give it no address. Made on first use.
  ClientCore* Core(std::string_view group);

  // A refresh soon (coalesced with any other), from any thread, never blocking.
  void RequestRefresh();
  // Asks the routes now and returns them (blocking; admin calls that must see the newest).
  Result<std::shared_ptr<const ClusterRoutes>> RefreshNow();

  // Send isolation: a group that failed a send is avoided for kGroupIsolationMs.
  void MarkFailed(const std::string& group);
  bool RecentlyFailed(const std::string& group) const;

  // The io thread of any core, or the route thread: blocking calls are refused there.
  bool OnClientThread() const;
  bool shut_down() const { return stopping_.load(); }

  const std::string& client_id() const { return options_.core.client_id; }
  int64_t request_timeout_ms() const { return options_.core.request_timeout_ms; }
  int64_t failover_deadline_ms() const { return options_.core.failover_deadline_ms; }

  // Stops the route thread and shuts every core down (pending calls fail with Cancelled).
  // Idempotent; not from a client thread.
  void Shutdown();

  // "h1:p1,h2:p2": a group's core endpoint list from its route (master first); "" when the
  // route names no address.
  static std::string GroupEndpoint(const BrokerGroupRoute& group);

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;
  struct Waiter {
    std::string topic;  // "" : ready waiter
    std::function<void()> fn;
  };

  explicit ClusterClient(ClusterOptions options);
  void RouteLoop();
  // One QUERY_ROUTE on the best core: the one that saw the newest revision, else any
  // connected group core, else the bootstrap core.
  Result<wire::QueryRouteResponse> Query(const std::vector<std::string>& topics,
                                         const std::string& prefer_group);
  // Installs an answer; returns the waiters it satisfies.
  std::vector<std::function<void()>> Apply(const wire::QueryRouteResponse& answer,
                                           const std::set<std::string>& asked) EXCLUDES(mu_);
  // The waiters a failed query releases (they route with what is known).
  std::vector<std::function<void()>> ReleaseAfterFailure(const std::set<std::string>& asked)
      EXCLUDES(mu_);
  std::unique_ptr<ClientCore> MakeGroupCore(const BrokerGroupRoute& group);
  void ObserveResponse(const std::string& group, const wire::Header& header);

  ClusterOptions options_;
  std::unique_ptr<ClientCore> bootstrap_;
  std::thread route_thread_;
  std::thread::id route_thread_id_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> clustered_{false};
  std::atomic<bool> answered_{false};
  std::atomic<int64_t> revision_{0};         // of the routes held
  std::atomic<int64_t> wanted_revision_{0};  // the newest a response announced

  mutable Mutex mu_;
  CondVar cv_;  // the route thread: a refresh wanted, or stopping
  bool ready_ GUARDED_BY(mu_) = false;
  bool refresh_wanted_ GUARDED_BY(mu_) = true;  // the first query
  std::string wanted_from_ GUARDED_BY(mu_);     // the group whose broker announced it
  std::shared_ptr<const ClusterRoutes> routes_ GUARDED_BY(mu_);
  std::set<std::string> topics_ GUARDED_BY(mu_);  // of interest
  std::set<std::string> asked_ GUARDED_BY(mu_);   // asked at least once
  std::vector<Waiter> waiters_ GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<ClientCore>, std::less<>> cores_ GUARDED_BY(mu_);
  // Shut down, kept until the end: pointers handed out stay valid.
  std::vector<std::unique_ptr<ClientCore>> retired_ GUARDED_BY(mu_);

  mutable Mutex failed_mu_;
  std::map<std::string, SteadyTime> failed_at_ GUARDED_BY(failed_mu_);
};

// One queue of a topic in a cluster: queue ids are per group; -1 lets the broker choose.
struct QueueTarget {
  std::string group;
  int32_t queue = -1;
};

// FNV-1a, 64 bits: a hash that every build and platform computes alike.
uint64_t StableHash(std::string_view data);

// Where the messages of a message group (FIFO) go: the hash of `message_group` over the queues
// of the topic's active groups, in route order (a draining group takes no sends; a group with
// no master keeps its queues, so a failover never moves a message group). Without a route for
// the topic: over the active groups by name, queue -1. nullopt when no active group holds any.
std::optional<QueueTarget> FifoTarget(const ClusterRoutes& routes, std::string_view topic,
                                      std::string_view message_group);

// "<group>:<handle>" as a clustered consumer hands receipt handles out, and its parser: the
// group (names are [A-Za-z0-9._-], no ':') and the broker's own handle. InvalidArgument for a
// handle without a group.
std::string PrefixHandle(std::string_view group, std::string_view handle);
Result<std::pair<std::string, std::string>> SplitHandle(std::string_view prefixed);

}  // namespace tidemq::client
