// The broker's periodic disk work, on its own thread so that no network thread waits on it
// (shared/DESIGN.md decision 6): the consumer offset flush (every --offset-flush-interval-ms),
// store retention (every minute; every 5 s while the store refuses appends for want of space)
// followed by the consumer groups' count of what it deleted unconsumed
// (ConsumerManager::OnRetention), and the purge of transactions ended longer ago than
// --txn-keep-resolved-hours. Each job takes its locks only around memory: the offsets to
// write are collected under each group's mutex and written after it is released.
//
// Threads: one thread, "tidemq-maint", started by Start() and joined by Stop() (idempotent;
// before the store closes). It looks every --housekeeping-interval-ms (real time) and runs
// the jobs whose interval has passed on the broker's clock (monotonic).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "broker/core/core_parts.h"
#include "common/mutex.h"
#include "common/thread_annotations.h"

namespace tidemq::broker {

class Maintenance {
 public:
  explicit Maintenance(const CoreParts& parts) : p_(parts) {}
  ~Maintenance() { Stop(); }
  Maintenance(const Maintenance&) = delete;
  Maintenance& operator=(const Maintenance&) = delete;

  void Start();
  void Stop();
  // One round of every job that is due; the thread's body (public for tests).
  void RunDue();

 private:
  void FlushOffsets();
  void Retention();

  const CoreParts p_;
  std::thread thread_;
  Mutex mu_;
  CondVar cv_;
  bool stop_ GUARDED_BY(mu_) = false;
  // The maintenance thread only.
  int64_t last_offset_flush_ = 0;
  int64_t last_retention_ = 0;
};

}  // namespace tidemq::broker
