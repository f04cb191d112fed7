#include "cluster/etcd_watch.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "cluster/etcd_client.h"
#include "cluster/etcd_json.h"
#include "common/logging.h"

namespace tidemq::cluster {

namespace {
constexpr size_t kMaxLineBytes = 64u << 20;  // one watch message; etcd's own limit is lower
}  // namespace

EtcdWatch::EtcdWatch(EtcdWatchOptions options, EtcdWatchCallbacks callbacks)
    : options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      next_revision_(options_.start_revision) {}

EtcdWatch::~EtcdWatch() { Stop(); }

void EtcdWatch::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] {
    SetThreadName("tidemq-etcdwatch");
    Run();
  });
}

void EtcdWatch::Stop() {
  {
    MutexLock lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  conn_.Interrupt();
  if (thread_.joinable()) thread_.join();
}

bool EtcdWatch::stopping() const {
  MutexLock lock(mu_);
  return stopping_;
}

void EtcdWatch::Backoff(int64_t ms) {
  MutexLock lock(mu_);
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!stopping_ && std::chrono::steady_clock::now() < until) cv_.wait_until(lock, until);
}

void EtcdWatch::Run() {
  if (options_.endpoints.empty()) {
    if (callbacks_.on_error) callbacks_.on_error(InvalidArgument("no etcd endpoints to watch"));
    return;
  }
  size_t endpoint = 0;
  int64_t backoff = options_.min_backoff_ms;
  while (!stopping()) {
    int64_t created_before = created_count_.load();
    Status why = Session(options_.endpoints[endpoint % options_.endpoints.size()]);
    conn_.Close();
    if (stopping() || why.code() == Code::kCancelled) break;
    if (why.ok()) {  // a deliberate restart (after a compaction): no back-off
      backoff = options_.min_backoff_ms;
      continue;
    }
    if (created_count_.load() > created_before) backoff = options_.min_backoff_ms;
    spdlog::debug("etcd watch {}: {}; reconnecting from revision {}", options_.prefix,
                  why.ToString(), next_revision_.load());
    if (callbacks_.on_error) callbacks_.on_error(why);
    ++endpoint;
    Backoff(backoff);
    backoff = std::min(backoff * 2, options_.max_backoff_ms);
  }
}

Status EtcdWatch::Session(const std::string& endpoint) {
  auto connect_deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.connect_timeout_ms);
  RETURN_IF_ERROR(conn_.Connect(endpoint, connect_deadline));
  std::string body = etcd_json::WatchCreateRequest(options_.prefix, PrefixEnd(options_.prefix),
                                                   next_revision_.load());
  ASSIGN_OR_RETURN(int http_status, conn_.StartStream("/v3/watch", body, connect_deadline));
  std::string pending;
  if (http_status != 200) {
    // The body of an error answer says why; read what there is, bounded by the deadline.
    while (pending.size() < 65536) {
      auto more = conn_.ReadStream(connect_deadline);
      if (!more.ok() || more->empty()) break;
      pending += *more;
    }
    return Status(Code::kUnavailable, "etcd " + endpoint + " refused the watch: HTTP " +
                                          std::to_string(http_status) + " " +
                                          pending.substr(0, 200));
  }
  while (true) {
    ASSIGN_OR_RETURN(std::string chunk, conn_.ReadStream(Deadline::max()));
    if (chunk.empty()) return Status(Code::kUnavailable, "etcd " + endpoint + " ended the watch");
    pending += chunk;
    size_t start = 0;
    while (true) {
      size_t nl = pending.find('\n', start);
      if (nl == std::string::npos) break;
      std::string_view line(pending.data() + start, nl - start);
      start = nl + 1;
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      bool restart = false;
      RETURN_IF_ERROR(HandleLine(line, &restart));
      if (restart) return Status::Ok();
    }
    pending.erase(0, start);
    if (pending.size() > kMaxLineBytes) {
      return Internal("etcd watch message over " + std::to_string(kMaxLineBytes) + " bytes");
    }
  }
}

Status EtcdWatch::HandleLine(std::string_view line, bool* restart) {
  ASSIGN_OR_RETURN(etcd_json::WatchMessage msg, etcd_json::DecodeWatchMessage(line));
  if (msg.compact_revision > 0) {
    spdlog::warn("etcd watch {}: revision {} was compacted (etcd keeps from {}); re-reading",
                 options_.prefix, next_revision_.load(), msg.compact_revision);
    EtcdClient client(EtcdClientOptions{options_.endpoints, 5000, options_.connect_timeout_ms});
    ASSIGN_OR_RETURN(RangeResult snapshot, client.GetPrefix(options_.prefix));
    next_revision_ = snapshot.revision + 1;
    if (callbacks_.on_compacted) callbacks_.on_compacted(snapshot, msg.compact_revision);
    *restart = true;
    return Status::Ok();
  }
  if (msg.created) {
    if (next_revision_.load() <= 0) next_revision_ = msg.revision + 1;
    ++created_count_;
  }
  if (msg.canceled) {
    return Status(Code::kUnavailable, "etcd canceled the watch: " + msg.cancel_reason);
  }
  if (!msg.events.empty()) {
    int64_t next = next_revision_.load();
    for (const auto& ev : msg.events) next = std::max(next, ev.revision() + 1);
    if (callbacks_.on_events) callbacks_.on_events(msg.events);
    next_revision_ = next;
  }
  return Status::Ok();
}

}  // namespace tidemq::cluster
