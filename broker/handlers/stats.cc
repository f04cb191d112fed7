// STATS: counters and facts about the broker and its store.
#include "broker/dead_letters.h"
#include "broker/handlers/handlers.h"
#include "broker/inflight_budget.h"

namespace tidemq::broker {

void HandleStats(BrokerContext& ctx, const Request& req) {
  wire::Header h;
  auto* resp = h.mutable_stats_response();
  auto& c = *resp->mutable_counters();
  const BrokerStats& s = *ctx.stats;
  c["uptime_ms"] = ctx.clock->NowMs() - s.start_ms;
  c["messages_in"] = s.messages_in.load();
  c["bytes_in"] = s.bytes_in.load();
  c["send_requests"] = s.send_requests.load();
  c["send_errors"] = s.send_errors.load();
  c["receive_requests"] = s.receive_requests.load();
  c["messages_delivered"] = ctx.consumers->delivered();
  c["messages_acked"] = ctx.consumers->acked();
  c["messages_nacked"] = ctx.consumers->nacked();
  c["leases_lapsed"] = ctx.consumers->lapsed();
  c["messages_retried"] = ctx.consumers->retried();
  c["messages_dead_lettered"] = ctx.consumers->dead_lettered();
  c["messages_lost_to_retention"] = ctx.consumers->lost_to_retention();
  c["messages_damaged_skipped"] = ctx.consumers->damaged_skipped();
  c["topic_stale_dropped"] = ctx.topics->stale_dropped();
  c["retention_runs"] = s.retention_runs.load();
  c["offset_flushes"] = ctx.consumers->offset_flushes();
  c["dlq_redriven"] = ctx.dead_letters->redriven();
  c["dlq_purged"] = ctx.dead_letters->purged();
  c["connections"] = s.connections.load();
  c["connections_total"] = s.connections_total.load();
  c["bad_frames"] = s.bad_frames.load();
  c["connections_refused"] = s.connections_refused.load();
  c["connections_timed_out"] = s.connections_timed_out.load();
  c["reads_paused"] = s.reads_paused.load();
  c["receives_refused"] = s.receives_refused.load();
  c["deliveries_unsent"] = s.deliveries_unsent.load();
  c["inflight_bytes"] = s.inflight ? s.inflight->used() : 0;
  c["long_polls_parked"] = static_cast<int64_t>(ctx.polls->parked());
  c["topics"] = static_cast<int64_t>(ctx.topics->List().size());
  c["groups"] = static_cast<int64_t>(ctx.consumers->ListGroups().size());
  store::StoreStats ss = ctx.store->Stats();
  c["log_min_offset"] = ss.min_log_offset;
  c["log_max_offset"] = ss.max_log_offset;
  c["log_segments"] = ss.segments;
  c["store_syncs"] = ss.syncs;
  c["store_batches"] = ss.batches;
  c["store_damaged_ranges"] = ss.damaged_ranges;
  c["store_damaged_bytes"] = ss.damaged_bytes;
  c["store_torn_tail_bytes"] = ss.torn_tail_bytes;
  c["store_corrupt_reads"] = ss.corrupt_reads;
  c["store_disk_free_bytes"] = ss.disk_free_bytes;
  c["store_disk_reserve_bytes"] = ss.disk_reserve_bytes;
  c["store_open_queue_files"] = ss.open_queue_files;
  // Metadata in the log (docs/storage_format.md §9).
  c["store_meta_snapshot_offset"] = ss.meta_snapshot_offset;
  c["store_malformed_control_records"] = ss.malformed_control_records;
  c["store_index_entries_trimmed"] = ss.index_entries_trimmed;
  c["metadata_records_skipped"] = ctx.topics->malformed_skipped() +
                                  ctx.consumers->malformed_skipped() +
                                  ctx.dead_letters->malformed_skipped();
  timer::TimerStats ts = ctx.timer->Stats();
  c["timer_pending"] = ts.pending;
  c["timer_fired"] = ts.fired;
  c["timer_cancelled"] = ts.cancelled;
  c["timer_dropped_topic_deleted"] = ctx.scheduled->dropped();
  txn::TxnStats xs = ctx.txn->Stats();
  c["txn_pending"] = xs.pending;
  c["txn_committed"] = xs.committed;
  c["txn_rolled_back"] = xs.rolled_back;
  c["txn_parked"] = xs.parked;
  c["txn_checks_sent"] = xs.checks_sent;
  auto& info = *resp->mutable_info();
  info["version"] = "0.1.0";
  info["listen"] = ctx.listen_address;
  info["data_dir"] = ctx.config.data_dir;
  info["flush_policy"] = std::string(FlushPolicyName(ctx.config.flush_policy));
  info["start_epoch"] = std::to_string(ctx.consumers->epoch());
  info["retention_keep_unconsumed"] = ctx.config.retention_keep_unconsumed ? "yes" : "no";
  info["read_only"] = ss.read_only ? "yes: " + ss.read_only_reason : "no";
  info["refusing_appends"] = ss.refusing_reason.empty() ? "no" : "yes: " + ss.refusing_reason;
  req.Reply(std::move(h));
}

}  // namespace tidemq::broker
