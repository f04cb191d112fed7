// RouteCache: every broker's copy of the cluster's routes (docs/cluster.md), fed by a watch on
// etcd — no NameServer state of its own. It reads the whole cluster prefix once, then applies
// the watch's events in revision order and publishes a new RouteView whenever what clients
// route by changes (a group's master, members' addresses, a group drained, a topic created or
// extended); member progress, rewritten at every keepalive, changes nothing. After a compaction
// the watch hands over a fresh snapshot and the view is rebuilt from it.
//
// Writes (ClusterAdmin below) go to etcd by compare-and-set; WaitForRevision lets a writer
// answer only once its own cache holds what it wrote.
//
// Threads: View(), revision() and WaitForRevision() from any thread (a mutex-protected
// shared_ptr swap; readers copy the pointer). on_change runs on the watch thread, in order,
// after a view whose routes or consumer groups' configuration changed was published.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_api.h"
#include "cluster/routes.h"
#include "common/clock.h"
#include "common/mutex.h"

namespace tidemq::cluster {

class EtcdWatch;

struct RouteCacheOptions {
  std::string prefix = "/tidemq";
  std::vector<std::string> watch_endpoints;
};

class RouteCache {
 public:
  using OnChange = std::function<void(std::shared_ptr<const RouteView> view)>;
  RouteCache(EtcdApi* etcd, RouteCacheOptions options, OnChange on_change = nullptr);
  ~RouteCache();  // Stop()
  RouteCache(const RouteCache&) = delete;
  RouteCache& operator=(const RouteCache&) = delete;

  // Reads the prefix and starts the watch. An error (etcd unreachable) leaves the cache empty
  // and retrying in the background: the view fills in once etcd answers.
  Status Start();
  void Stop();

  std::shared_ptr<const RouteView> View() const EXCLUDES(mu_);
  // The revision of the routes held (RouteView::revision); 0 before the first read.
  int64_t revision() const { return revision_.load(std::memory_order_acquire); }
  // Blocks until every event up to etcd revision `rev` was applied (View() shows it; on_change
  // may still be running on the watch thread), or timeout_ms passed.
  bool WaitForRevision(int64_t rev, int64_t timeout_ms) EXCLUDES(mu_);
  const ClusterKeys& keys() const { return keys_; }

  // Tests: apply events as the watch would (no etcd needed).
  void ApplyForTest(const std::vector<WatchEvent>& events) { Apply(events); }

 private:
  Status LoadSnapshot(const RangeResult& snapshot) EXCLUDES(mu_);
  void Apply(const std::vector<WatchEvent>& events) EXCLUDES(mu_);
  // Makes `view` the one View() returns; the caller notifies and calls on_change_ after unlocking.
  std::shared_ptr<const RouteView> Publish(RouteView view) REQUIRES(mu_);
  void RetryStart();
  // Loads the snapshot and watches on from the revision after it.
  Status StartFrom(const RangeResult& snapshot) EXCLUDES(mu_);

  EtcdApi* etcd_;
  const RouteCacheOptions options_;
  const ClusterKeys keys_;
  const OnChange on_change_;
  std::unique_ptr<EtcdWatch> watch_;

  mutable Mutex mu_;
  CondVar applied_cv_;
  RouteView working_ GUARDED_BY(mu_);  // every event applied
  std::shared_ptr<const RouteView> published_ GUARDED_BY(mu_);
  int64_t applied_revision_ GUARDED_BY(mu_) = 0;  // the last etcd revision applied
  bool stopping_ GUARDED_BY(mu_) = false;
  std::atomic<int64_t> revision_{0};
  std::thread retry_thread_;  // while the first read fails
};

}  // namespace tidemq::cluster
