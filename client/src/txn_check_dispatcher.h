// Answers the broker's transaction check-backs (CHECK_TXN) with the application's checker
// (docs/txn.md "The producer's side of a check").
//
// A broker asks again when an answer is slow, so under a slow checker the same transaction is
// asked many times; answering every request in arrival order on one thread lets the stale ones
// delay the fresh ones until the broker gives up. Instead:
//  - a pool of `threads` checker threads ("tidemq-txn-check") runs the checker, which may
//    block (a database look-up) without stalling the network thread or the other transactions;
//  - requests are grouped per transaction (the half's log offset and message id): a request
//    that arrives while one of the same transaction waits or is being checked joins it, and
//    all of them get the one result; the checker never runs twice at once for a transaction;
//  - a definitive answer (commit or rollback never changes) is kept in a bounded LRU cache:
//    later requests for that transaction are answered at once, without the checker;
//  - bounded memory: at most `max_queued` transactions wait for a thread (beyond that the
//    oldest waiting one is dropped unanswered: the broker asks again), and at most
//    kMaxWaitersPerTxn requests of one transaction are held (the oldest is dropped first).
// Every answer names its half (CheckTxnResponse.half_offset, message_id), so the broker can
// apply it even after it stopped tracking the request.
//
// Threads: Submit may be called from any thread (the connection's io thread); the checker runs
// on the pool, never twice at once for one transaction, possibly at once for different ones.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "client/src/connection.h"
#include "tidemq/producer.h"

namespace tidemq::client {

wire::TxnResolution ToWire(TransactionResolution r);

struct TxnCheckOptions {
  int threads = 4;               // checker threads
  size_t max_queued = 10'000;    // transactions waiting for a thread
  size_t answer_cache = 10'000;  // definitive answers remembered
};

class TxnCheckDispatcher {
 public:
  // Requests of one transaction held at once; a broker keeps about as many in flight.
  static constexpr size_t kMaxWaitersPerTxn = 4;

  struct Stats {
    int64_t checker_calls = 0;  // times the checker ran
    int64_t from_cache = 0;     // requests answered from the answer cache
    int64_t joined = 0;         // requests that joined a waiting or running check
    int64_t dropped = 0;        // requests dropped unanswered (bounds above, or Stop)
  };

  TxnCheckDispatcher(TransactionChecker checker, TxnCheckOptions options);
  ~TxnCheckDispatcher();  // Stop()
  TxnCheckDispatcher(const TxnCheckDispatcher&) = delete;
  TxnCheckDispatcher& operator=(const TxnCheckDispatcher&) = delete;

  // One CHECK_TXN request and how to answer it (called at most once, maybe never).
  void Submit(wire::Frame request, Connection::Responder respond);
  // Stops the threads (a running checker finishes first); waiting requests are dropped: the
  // broker asks again. Idempotent.
  void Stop();
  Stats stats() const;

 private:
  using Key = std::pair<int64_t, std::string>;  // half log offset, message id
  struct Entry {
    wire::Frame request;  // the newest request (all of them carry the same half)
    std::deque<Connection::Responder> waiters;
    bool running = false;
  };

  void Run();
  // The checker's answer to `request` (kUnknown if it throws).
  TransactionResolution Check(const wire::Frame& request);
  // Returns the cached definitive answer for key, if any.
  bool CachedLocked(const Key& key, TransactionResolution* out) REQUIRES(mu_);
  void RememberLocked(const Key& key, TransactionResolution r) REQUIRES(mu_);
  static void Respond(const Key& key, TransactionResolution r, const Connection::Responder& to);

  const TransactionChecker checker_;
  const TxnCheckOptions options_;
  mutable Mutex mu_;
  CondVar cv_;
  std::map<Key, Entry> entries_ GUARDED_BY(mu_);  // waiting or running
  std::deque<Key> queue_ GUARDED_BY(mu_);  // the waiting ones, oldest first
  std::list<Key> lru_ GUARDED_BY(mu_);  // cache order, most recent first
  std::map<Key, std::pair<TransactionResolution, std::list<Key>::iterator>> cache_
      GUARDED_BY(mu_);  // answers by key, with their place in lru_
  Stats stats_ GUARDED_BY(mu_);
  bool stopping_ GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace tidemq::client
