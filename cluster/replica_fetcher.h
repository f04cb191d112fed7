// The replica's side of log replication (docs/replication.md): connects to the master's
// replication port, says hello (its epoch history and log end), and pulls the log into its
// store (Store::AppendReplicated) for as long as it runs, reconnecting after any failure. When
// the master says the replica's log diverged, the fetcher stops and hands the truncation point
// to the broker, which truncates the closed store (Store::TruncateLog) and starts again.
//
// Threads: one thread of its own ("tidemq-fetch") does the socket I/O and waits for each chunk
// to be written; Stop and Progress may be called from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "cluster/repl_protocol.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "store/store.h"

namespace tidemq::cluster {

struct ReplicaFetcherOptions {
  std::string group;
  std::string replica_id;
  std::string master_address;  // host:port of the master's replication listener
  uint32_t max_fetch_bytes = 4u << 20;
  uint32_t max_wait_ms = 500;      // a fetch parks this long on the master when nothing is new
  int64_t io_timeout_ms = 5000;    // beyond max_wait_ms: a silent master is a dead connection
  int64_t retry_min_ms = 50;       // reconnect back-off, doubling up to retry_max_ms
  int64_t retry_max_ms = 2000;
  bool sync_writes = false;        // fdatasync each chunk before asking for the next
};

struct ReplicaProgress {
  bool connected = false;
  int64_t master_epoch = 0;
  LogOffset written;                 // this replica's log end
  LogOffset master_end;              // the master's end at the last chunk
  LogOffset commit_end;              // what the master's in-sync set held then
  int64_t last_chunk_ms = 0;         // monotonic
  int64_t caught_up_ms = 0;          // monotonic: when it last held all the master had
  int64_t chunks = 0;
  int64_t bytes = 0;
  std::string last_error;
};

class ReplicaFetcher {
 public:
  ReplicaFetcher(store::Store* store, ReplicaFetcherOptions options, Clock* clock = nullptr);
  ~ReplicaFetcher();

  // `on_truncate(to)` runs on the fetcher thread when the master says this log diverged; the
  // fetcher has stopped fetching by then.
  void Start(std::function<void(LogOffset)> on_truncate);
  void Stop();
  ReplicaProgress Progress() const;

 private:
  class Connection;
  void Run();
  // One connection's life: hello, then fetch until an error (returned) or a truncation.
  Status RunOnce(LogOffset* truncate_to);
  void Note(const std::function<void(ReplicaProgress&)>& change) EXCLUDES(mu_);

  store::Store* const store_;
  const ReplicaFetcherOptions options_;
  Clock* const clock_;
  std::function<void(LogOffset)> on_truncate_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> fd_{-1};  // the live socket, shut down by Stop

  mutable Mutex mu_;
  CondVar cv_;  // Stop wakes the back-off
  ReplicaProgress progress_ GUARDED_BY(mu_);
};

}  // namespace tidemq::cluster
