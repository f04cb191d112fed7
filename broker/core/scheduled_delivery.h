// Drives the timer engine (timer::TimerService) for the broker: the "tidemq-timer" thread
// advances it with the broker's clock and re-puts every due scheduled message into its real
// topic and queue (a kMessage record with origin_offset = the kScheduled record's offset, so
// firing stays exactly once across crashes; docs/timer.md). Also the cancel protocol and the
// lateness histogram.
//
// Threads: Start/Stop from the broker; Run on its own thread; Notify and append callbacks on
// the store's writer thread; Cancel and Lateness from network threads. Stop() must run before
// the store closes; the object must outlive the store (append callbacks use it).
#pragma once

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/histogram.h"
#include "common/mutex.h"
#include "common/clock.h"
#include "common/status.h"
#include "store/store.h"
#include "common/thread_annotations.h"
#include "timer/timer_service.h"

namespace tidemq::broker {

// The property a fired message carries: its due time, decimal ms since the epoch.
inline constexpr char kDeliverAtProperty[] = "DELIVER_AT_MS";

// Upper bounds (exclusive) of the lateness buckets; a last bucket counts the rest.
inline constexpr std::array<int64_t, 8> kLatenessBoundsMs = {1, 2, 5, 10, 20, 50, 100, 1000};
using LatenessCounts = std::array<int64_t, kLatenessBoundsMs.size() + 1>;

struct CancelResult {
  bool cancelled = false;  // false: it had already fired
  int64_t due_ms = 0;
};

class ScheduledDelivery {
 public:
  ScheduledDelivery(timer::TimerService* timer, store::Store* store, Clock* clock);
  ~ScheduledDelivery();
  ScheduledDelivery(const ScheduledDelivery&) = delete;
  ScheduledDelivery& operator=(const ScheduledDelivery&) = delete;

  // Runs `handler` on the timer thread for each volatile timer that fires (keep it short).
  // Call before Start().
  void SetVolatileHandler(std::function<void(const timer::DueTimer&)> handler);
  // Says whether a scheduled record's topic still exists in the incarnation it was scheduled
  // for (TopicManager::IsCurrent); one whose topic was deleted (and maybe created again)
  // while it waited is dropped at its due time (a kTimerCancel record) instead of re-put.
  // Call before Start(); without it every record is current.
  void SetTopicCheck(std::function<bool(const store::Record&)> current);
  // Scheduled messages dropped at their due time because their topic was deleted.
  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  void Start();
  // Joins the timer thread (idempotent). Re-puts already handed to the store still complete.
  void Stop();
  // A kScheduled record due at due_ms is durable: wake the thread if it sleeps past that.
  void Notify(int64_t due_ms);
  // Cancels the pending scheduled message with this id; `done` runs once, maybe on the
  // store's writer thread. NotFound when nothing with that id is pending or was delivered.
  void Cancel(const std::string& message_id, std::function<void(Result<CancelResult>)> done);
  // Fires so far by (fire time - due time), bucketed by kLatenessBoundsMs.
  LatenessCounts Lateness() const;
  // The same, finer and with the sum (docs/metrics.md: tidemq_timer_fire_lateness_ms).
  HistogramSnapshot LatenessHistogram() const { return lateness_ms_.Snapshot(); }

  // The kMessage re-put of a kScheduled record stored at `at`.
  static store::Record MakeRePut(const store::Record& scheduled, LogOffset at);

 private:
  void Run();
  // Reads and re-puts `due` (scheduled messages only), in bounded batches.
  void Fire(const std::vector<timer::DueTimer>& due, int64_t now_ms);
  void AppendBatch(std::vector<store::Record> records, std::vector<LogOffset> origins);
  void CountLateness(int64_t lateness_ms);

  timer::TimerService* const timer_;
  store::Store* const store_;
  std::function<void(const timer::DueTimer&)> volatile_handler_;
  std::function<bool(const store::Record&)> topic_current_;
  std::atomic<int64_t> dropped_{0};
  Clock* const clock_;

  mutable Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  bool woken_ GUARDED_BY(mu_) = false;
  int inflight_batches_ GUARDED_BY(mu_) = 0;
  LatenessCounts lateness_ GUARDED_BY(mu_) = {};
  Histogram lateness_ms_{{1, 2, 5, 10, 20, 50, 100, 250, 500, 1'000, 5'000, 30'000, 60'000}};
  std::atomic<int64_t> sleep_until_ms_{0};  // clock time the thread sleeps until
  std::thread thread_;
};

}  // namespace tidemq::broker
