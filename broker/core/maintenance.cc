#include "broker/core/maintenance.h"

#include "broker/core/trace_journal.h"

#include <spdlog/spdlog.h>

#include <chrono>

#include "broker/core/consumer_manager.h"
#include "common/logging.h"
#include "store/store.h"
#include "txn/txn_service.h"

namespace tidemq::broker {

void Maintenance::Start() {
  thread_ = std::thread([this] {
    SetThreadName("tidemq-maint");
    MutexLock lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::milliseconds(p_.config.housekeeping_interval_ms));
      if (stop_) break;
      lock.unlock();
      RunDue();
      lock.lock();
    }
  });
}

void Maintenance::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Maintenance::RunDue() {
  const int64_t now = p_.clock->MonotonicMs();
  if (p_.trace != nullptr) p_.trace->Flush();
  if (now - last_offset_flush_ >= p_.config.offset_flush_interval_ms) {
    last_offset_flush_ = now;
    FlushOffsets();
  }
  // Every minute; every few seconds while the store refuses appends for want of space, so
  // that what retention may delete is deleted soon.
  const int64_t retention_every = p_.store->Stats().refusing_reason.empty() ? 60'000 : 5'000;
  if (now - last_retention_ >= retention_every) {
    last_retention_ = now;
    Retention();
  }
}

void Maintenance::FlushOffsets() {
  if (p_.consumers == nullptr) return;  // a replica: its offsets come from the master's log
  if (Status st = p_.consumers->FlushOffsets(false); !st.ok()) {
    spdlog::error("persisting consumer offsets: {}", st.ToString());
  }
}

void Maintenance::Retention() {
  auto deleted = p_.store->RunRetention();
  if (!deleted.ok()) spdlog::error("retention: {}", deleted.status().ToString());
  // Now, not at the groups' next receive: what retention took from a group is told at once
  // (log, counters, group status).
  if (p_.consumers != nullptr) p_.consumers->OnRetention();
  p_.stats->retention_runs.fetch_add(1, std::memory_order_relaxed);
  // Ended transactions are remembered (a repeated end answers OK) for a while.
  const int64_t keep_ms = p_.config.txn_keep_resolved_hours * 3600 * 1000;
  auto purged = p_.txn->PurgeResolved(p_.clock->NowMs() - keep_ms, 100'000);
  if (!purged.ok()) spdlog::error("purging ended transactions: {}", purged.status().ToString());
}

}  // namespace tidemq::broker
