#include "cluster/route_cache.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "cluster/etcd_watch.h"
#include "common/logging.h"

namespace tidemq::cluster {

namespace {
constexpr int64_t kStartRetryMs = 500;
}  // namespace

RouteCache::RouteCache(EtcdApi* etcd, RouteCacheOptions options, OnChange on_change)
    : etcd_(etcd),
      options_(std::move(options)),
      keys_(options_.prefix),
      on_change_(std::move(on_change)),
      published_(std::make_shared<RouteView>()) {}

RouteCache::~RouteCache() { Stop(); }

Status RouteCache::Start() {
  auto snapshot = etcd_->GetPrefix(keys_.Root());
  if (!snapshot.ok()) {
    spdlog::warn("cluster routes: cannot read etcd yet ({}); retrying",
                 snapshot.status().ToString());
    retry_thread_ = std::thread([this] {
      SetThreadName("tidemq-routes");
      RetryStart();
    });
    return snapshot.status();
  }
  return StartFrom(*snapshot);
}

void RouteCache::RetryStart() {
  while (true) {
    {
      MutexLock lock(mu_);
      applied_cv_.wait_for(lock, std::chrono::milliseconds(kStartRetryMs),
                           [this]() REQUIRES(mu_) { return stopping_; });
      if (stopping_) return;
    }
    auto snapshot = etcd_->GetPrefix(keys_.Root());
    if (!snapshot.ok()) continue;
    if (Status st = StartFrom(*snapshot); !st.ok()) {
      spdlog::warn("cluster routes: {}", st.ToString());
    }
    spdlog::info("cluster routes: read from etcd at revision {}", snapshot->revision);
    return;
  }
}

Status RouteCache::StartFrom(const RangeResult& snapshot) {
  Status loaded = LoadSnapshot(snapshot);
  EtcdWatchOptions wo;
  wo.endpoints = options_.watch_endpoints;
  wo.prefix = keys_.Root();
  wo.start_revision = snapshot.revision + 1;
  EtcdWatchCallbacks cb;
  cb.on_events = [this](const std::vector<WatchEvent>& events) { Apply(events); };
  cb.on_compacted = [this](const RangeResult& snap, int64_t) {
    if (Status st = LoadSnapshot(snap); !st.ok()) {
      spdlog::warn("cluster routes: {}", st.ToString());
    }
  };
  cb.on_error = [](const Status& why) {
    spdlog::debug("cluster routes: watch interrupted ({}); resuming", why.ToString());
  };
  auto watch = std::make_unique<EtcdWatch>(std::move(wo), std::move(cb));
  watch->Start();
  MutexLock lock(mu_);
  if (stopping_) return Status(Code::kCancelled, "route cache stopped");
  watch_ = std::move(watch);
  return loaded;
}

void RouteCache::Stop() {
  std::unique_ptr<EtcdWatch> watch;
  {
    MutexLock lock(mu_);
    stopping_ = true;
    watch = std::move(watch_);
  }
  applied_cv_.notify_all();
  if (retry_thread_.joinable()) retry_thread_.join();
  if (watch) watch->Stop();
}

Status RouteCache::LoadSnapshot(const RangeResult& snapshot) {
  RouteView view;
  Status first_bad;
  for (const KeyValue& kv : snapshot.kvs) {
    Status st = ApplyKey(keys_, kv, /*deleted=*/false, &view);
    if (!st.ok() && first_bad.ok()) first_bad = st;
  }
  view.revision = snapshot.revision;
  std::shared_ptr<const RouteView> published;
  {
    MutexLock lock(mu_);
    working_ = view;
    published = Publish(std::move(view));
    applied_revision_ = std::max(applied_revision_, snapshot.revision);
  }
  applied_cv_.notify_all();
  if (on_change_) on_change_(std::move(published));
  if (!first_bad.ok()) return Status(first_bad.code(), "skipped: " + first_bad.message());
  return Status::Ok();
}

void RouteCache::Apply(const std::vector<WatchEvent>& events) {
  std::shared_ptr<const RouteView> published;
  {
    MutexLock lock(mu_);
    bool changed = false;  // routes, or consumer groups' configuration
    int64_t last = applied_revision_;
    for (const WatchEvent& e : events) {
      bool routes = false, config = false;
      Status st = ApplyKey(keys_, e.kv, e.type == WatchEvent::Type::kDelete, &working_, &routes,
                           &config);
      if (!st.ok()) spdlog::warn("cluster routes: skipping {}", st.ToString());
      if (routes) working_.revision = e.revision();
      changed = changed || routes || config;
      last = std::max(last, e.revision());
    }
    // The view is published before the revision counts as applied, under the same lock: a
    // WaitForRevision that returns sees the routes of that revision.
    if (changed) published = Publish(working_);
    applied_revision_ = last;
  }
  applied_cv_.notify_all();
  if (published && on_change_) on_change_(std::move(published));
}

std::shared_ptr<const RouteView> RouteCache::Publish(RouteView view) {
  auto published = std::make_shared<const RouteView>(std::move(view));
  published_ = published;
  revision_.store(published->revision, std::memory_order_release);
  return published;
}

std::shared_ptr<const RouteView> RouteCache::View() const {
  MutexLock lock(mu_);
  return published_;
}

bool RouteCache::WaitForRevision(int64_t rev, int64_t timeout_ms) {
  MutexLock lock(mu_);
  return applied_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                              [&]() REQUIRES(mu_) { return applied_revision_ >= rev || stopping_; }) &&
         applied_revision_ >= rev;
}

}  // namespace tidemq::cluster
