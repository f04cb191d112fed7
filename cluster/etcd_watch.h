// EtcdWatch: a prefix watch on its own thread over the gateway's streaming /v3/watch (one JSON
// object per line), calling back with the events as they come.
//
// Resumption: it remembers the next revision it needs (the last event's + 1, or the created
// answer's header revision + 1 for a watch "from now"). On a broken stream (etcd restarted,
// connection lost, an endpoint down) it reconnects, trying the endpoints in turn with a bounded
// back-off, and asks for exactly that revision, so no event is lost or repeated. When etcd has
// compacted that revision away, it calls on_compacted with the prefix re-read by GetPrefix (the
// state as of the snapshot's revision) and watches on from there.
//
// Threads: callbacks run on the watch's thread ("tidemq-etcdwatch"), in revision order, never
// two at once; they must not call Stop(). Start/Stop/destructor from the owner's thread. Stop()
// is prompt: it interrupts the blocking read (and any back-off wait) and joins.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_api.h"
#include "cluster/http_connection.h"
#include "common/mutex.h"

namespace tidemq::cluster {

struct EtcdWatchOptions {
  std::vector<std::string> endpoints;
  std::string prefix;
  int64_t start_revision = 0;  // 0: from now on
  int64_t connect_timeout_ms = 2000;
  int64_t min_backoff_ms = 100;  // after a broken stream; doubles up to max_backoff_ms
  int64_t max_backoff_ms = 2000;
};

struct EtcdWatchCallbacks {
  std::function<void(const std::vector<WatchEvent>& events)> on_events;
  // History up to compact_revision is gone: `snapshot` is the whole prefix as read afterwards
  // (its revision is where the watch continues from).
  std::function<void(const RangeResult& snapshot, int64_t compact_revision)> on_compacted;
  // Optional: the stream broke (the watch reconnects by itself).
  std::function<void(const Status& why)> on_error;
};

class EtcdWatch {
 public:
  EtcdWatch(EtcdWatchOptions options, EtcdWatchCallbacks callbacks);
  ~EtcdWatch();  // Stop()
  EtcdWatch(const EtcdWatch&) = delete;
  EtcdWatch& operator=(const EtcdWatch&) = delete;

  void Start();
  void Stop();

  // The revision the watch asks for when it (re)connects; 0 until the first created answer.
  int64_t next_revision() const { return next_revision_.load(); }
  // How many times etcd confirmed the watch (1 after the first connect, +1 per resumption).
  int64_t created_count() const { return created_count_.load(); }

 private:
  void Run();
  // One connection's life: connect, create, read until the stream breaks. Returns why it ended.
  Status Session(const std::string& endpoint);
  Status HandleLine(std::string_view line, bool* restart);
  void Backoff(int64_t ms);
  bool stopping() const;

  const EtcdWatchOptions options_;
  const EtcdWatchCallbacks callbacks_;
  std::atomic<int64_t> next_revision_;
  std::atomic<int64_t> created_count_{0};
  HttpConnection conn_;  // used by the watch thread; Interrupt() from Stop()

  mutable Mutex mu_;
  CondVar cv_;
  bool stopping_ GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace tidemq::cluster
