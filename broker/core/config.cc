#include "broker/core/config.h"

namespace tidemq::broker {

store::StoreOptions BrokerConfig::ToStoreOptions() const {
  store::StoreOptions o;
  o.data_dir = data_dir;
  o.segment_bytes = segment_bytes;
  o.flush_policy = flush_policy;
  o.flush_interval_ms = flush_interval_ms;
  o.retention_ms = retention_hours * 3600 * 1000;
  o.disk_high_watermark = disk_high_watermark;
  o.disk_reserve_bytes = disk_reserve_mb << 20;
  o.strict_recovery = strict_recovery;
  o.max_open_queue_files = max_open_queue_files;
  // Retention may not delete unconsumed messages: above the watermark, writes stop instead.
  o.refuse_writes_above_watermark = retention_keep_unconsumed;
  return o;
}

std::string_view FlushPolicyName(store::FlushPolicy p) {
  return p == store::FlushPolicy::kSync ? "sync" : "async";
}

}  // namespace tidemq::broker
