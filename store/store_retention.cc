// Retention: whole oldest segments go, by age or disk pressure, never past what the
// derived state and the retention guards still need.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "store/store_impl.h"

namespace tidemq::store {

Result<int> StoreImpl::RunRetention() {
  MutexLock lock(retention_mu_);
  // A fresh checkpoint lets retention reach everything dispatched so far; when the store is
  // closing the last persisted one is still a safe bound.
  (void)RunOnWriter([this] {
    WriteCheckpoint(/*sync=*/false);
    return Status::Ok();
  });
  LogOffset limit(persisted_dispatch_.load(std::memory_order_acquire));
  std::vector<std::function<LogOffset()>> guards;
  {
    MutexLock guards_lock(guards_mu_);
    guards = guards_;
  }
  for (const auto& guard : guards) {
    LogOffset g = guard();
    if (g != kNoLogOffset) limit = std::min(limit, g);
  }
  // The newest complete metadata snapshot stays, with everything after it: replay from the
  // log's first byte must rebuild every metadata fact (docs/storage_format.md §9). Until one
  // is written, nothing goes.
  const int64_t snapshot = meta_snapshot_.load(std::memory_order_acquire);
  limit = std::min(limit, snapshot >= 0 ? LogOffset(snapshot) : log_->min_offset());
  const int64_t expiry = clock_->NowMs() - options_.retention_ms;
  int deleted = 0;
  while (true) {
    auto segments = log_->Segments();
    if (segments.size() < 2) break;  // the active segment stays
    const auto& oldest = segments[0];
    if (oldest.end > limit) break;
    // store_ms never decreases along the log, so the first record of the next segment is at
    // least as new as anything in this one.
    int64_t newest = oldest.newest_store_ms;
    if (newest < 0 && segments[1].end > segments[1].base) {
      auto first = Read(segments[1].base);
      if (first.ok()) newest = first->store_ms;
    }
    bool expired = newest >= 0 && newest < expiry;
    bool disk_full = false;
    if (!expired) {
      uint64_t free_bytes = 0, total = 0;
      Status st = fs_->DiskUsage(options_.data_dir, &free_bytes, &total);
      if (st.ok() && total > 0) {
        double used = static_cast<double>(total - free_bytes) / static_cast<double>(total);
        disk_full = used > options_.disk_high_watermark;
      }
    }
    if (!expired && !disk_full) break;
    RETURN_IF_ERROR(log_->DeleteOldestSegment());
    spdlog::info("store {}: deleted segment {} ({})", options_.data_dir, oldest.base.value(),
                 expired ? "expired" : "disk above the high watermark");
    ++deleted;
  }
  if (deleted > 0) {
    const LogOffset log_min = log_->min_offset();
    for (const auto& cq : queues_->All()) RETURN_IF_ERROR(cq->TrimBelowLog(log_min));
    // The key and message-id entries of the deleted segments go with them.
    ASSIGN_OR_RETURN(int64_t trimmed, index_->DropSegmentsBelow(log_min));
    index_trimmed_.fetch_add(trimmed, std::memory_order_relaxed);
  }
  return deleted;
}

}  // namespace tidemq::store
