// The master's side of log replication (docs/replication.md): serves replicas on the
// replication port, tracks what each holds, decides the in-sync set, and tells the broker when
// a record is held by enough copies (the `sync` ack policy).
//
// Threads: one io thread of its own ("tidemq-repl") runs the sessions; it reads the log
// (ReadLog: page cache, or the disk for a replica catching up — never a broker network thread).
// The store's writer calls OnBatchEnd (a store::Observer: posts a wake-up, nothing more). Any
// thread may call WaitReplicated, Replicas, CommitEnd, CanAccept; callbacks of WaitReplicated
// run on the io thread (keep them short: post elsewhere).
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>

#include "cluster/repl_protocol.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "store/store.h"

namespace tidemq::cluster {

struct ReplicationSourceOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (tests)
  std::string group;  // replicas of another group are refused
  // Copies (the master's included) a record needs before a send is acknowledged: 1 is async.
  int min_copies = 1;
  // A replica that has not been caught up with the master's end for this long leaves the
  // in-sync set; it rejoins when it is caught up again.
  int64_t max_lag_ms = 3000;
  // A send still short of min_copies after this fails (kUnavailable, NOT_ENOUGH_REPLICAS).
  int64_t ack_timeout_ms = 3000;
  Clock* clock = nullptr;  // nullptr: SystemClock
};

// What the master knows of one replica.
struct ReplicaInfo {
  std::string id;
  std::string peer;          // its address, as connected
  LogOffset written;         // its log end at its last fetch
  LogOffset flushed;
  int64_t last_fetch_ms = 0;
  int64_t caught_up_ms = 0;  // when it last held everything the master had
  bool in_sync = false;
  bool connected = false;
};

class ReplicationSource final : public store::Observer {
 public:
  // Built before the store it serves: it is one of the store's observers.
  explicit ReplicationSource(ReplicationSourceOptions options);
  ~ReplicationSource() override;

  // Listens and starts the io thread, serving `store` (not owned; outlives this).
  Status Start(store::Store* store);
  void Stop();
  uint16_t port() const { return port_.load(); }
  // The port it listens on once started (0: any free port, known only then).
  uint16_t configured_port() const { return options_.port; }

  // The epoch this master serves and the group's epoch history (ascending; its last entry is
  // this epoch's start). Replicas are served only once it is set.
  void SetEpoch(int64_t epoch, std::vector<EpochStart> history);

  // store::Observer: new records are durable on the master: wake parked fetches.
  LogOffset Checkpoint() const override { return kNoLogOffset; }
  void OnRecord(const store::Record&, LogOffset, bool) override {}
  void OnBatchEnd(bool replay) override;

  // Whether a send may be admitted now: enough replicas are in sync for min_copies.
  Status CanAccept() const;
  // Calls done once the log up to `end` is held by min_copies copies (OK), or when that did not
  // happen within ack_timeout_ms or the source stops (kUnavailable). With min_copies 1, at once.
  void WaitReplicated(LogOffset end, std::function<void(const Status&)> done);
  // The end of what min_copies copies hold: consumers see up to here.
  LogOffset CommitEnd() const { return LogOffset(commit_end_.load()); }
  std::vector<ReplicaInfo> Replicas() const;
  // Blocks until every connected replica holds the master's whole log, at most timeout_ms
  // (a master stopping on purpose). Whether they all do. Not on the io thread.
  bool WaitCaughtUp(int64_t timeout_ms) const;
  // Called (on the io thread) when the in-sync set changes: the ids of the in-sync replicas.
  void OnInSyncChanged(std::function<void(std::vector<std::string>)> callback);
  // Called (on the io thread) when the commit end moves forward under min_copies > 1: more
  // messages are visible to consumers (wake receivers).
  void OnCommitAdvanced(std::function<void(LogOffset)> callback);

 private:
  class Session;
  struct Waiter {
    int64_t deadline_ms;
    std::function<void(const Status&)> done;
  };

  void Accept();
  void Sweep();
  // Session events (io thread).
  Result<Welcome> Welcomed(Session* session, const Hello& hello) EXCLUDES(mu_);
  void Fetched(Session* session, const Fetch& fetch) EXCLUDES(mu_);
  void Sent(Session* session, LogOffset chunk_end, LogOffset master_end);
  void Disconnected(Session* session) EXCLUDES(mu_);
  // Recomputes the in-sync set and the commit end; completes the waiters it allows. io thread.
  void Update() EXCLUDES(mu_);
  void SweepTimeouts() EXCLUDES(mu_);
  int64_t NowMs() const { return clock_->MonotonicMs(); }

  store::Store* store_ = nullptr;  // set by Start
  const ReplicationSourceOptions options_;
  Clock* const clock_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer sweep_timer_;
  std::thread thread_;
  std::atomic<uint16_t> port_{0};
  std::atomic<bool> started_{false};
  std::atomic<bool> wake_pending_{false};

  mutable Mutex mu_;
  int64_t epoch_ GUARDED_BY(mu_) = 0;
  std::vector<EpochStart> history_ GUARDED_BY(mu_);
  std::map<std::string, ReplicaInfo> replicas_ GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Session>> sessions_ GUARDED_BY(mu_);
  std::multimap<int64_t, Waiter> waiters_ GUARDED_BY(mu_);  // by the log end they wait for
  std::vector<std::string> in_sync_ GUARDED_BY(mu_);
  std::function<void(std::vector<std::string>)> on_in_sync_ GUARDED_BY(mu_);
  std::function<void(LogOffset)> on_commit_ GUARDED_BY(mu_);
  bool stopped_ GUARDED_BY(mu_) = false;
  std::atomic<int> in_sync_count_{0};
  std::atomic<int64_t> commit_end_{0};
};

}  // namespace tidemq::cluster
