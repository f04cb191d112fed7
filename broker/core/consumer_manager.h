// Broker-managed consumption (shared/DESIGN.md 2.4): consumer groups, leases, acks, nacks,
// committed offsets, FIFO and broadcasting.
//
// Per (group, topic, queue[, client for broadcasting]) the manager keeps (QueueState):
//   committed  every offset below it is acked (persisted in "offset/..." records)
//   next       the smallest offset never delivered
//   inflight   delivered, leased, not yet acked: offset -> lease (deadline, lease id, attempt)
//   retry      to deliver again in place: offset -> when (released, FIFO / broadcast retries)
//   moving     being copied to the retry or dead-letter topic (settled once the copy is durable)
//   acked      acked offsets above committed (acks arrive out of order)
// A receipt handle names (start epoch, topic, queue, offset, lease id); only the current
// lease's handle of this broker run acks. After a restart, offsets above committed are
// delivered again (at-least-once), and their attempt counts go on: the offsets record also
// keeps `next` and the attempt counts of delivered, unsettled offsets (a delivery before the
// restart counts at least once).
//
// Offsets always make sense (docs/operations.md): at start-up committed offsets below their
// queue's start move up (what the group lost is counted), and a queue whose end is below an
// offset some group already passed (the log lost its tail) continues above it
// (Store::RaiseNextQueueOffset), so queue offsets are never reused for different messages.
// After each retention run, messages it deleted before a group consumed them are counted per
// group and queue (persisted with the offsets) and logged.
//
// Failures (docs/retry.md). A nack or a lapsed lease of a clustering group copies the message
// into %RETRY%<group>, due after the group's back-off (or the nack's own delay) through the
// timer engine, and settles the original once the copy is durable; past max_attempts the copy
// goes to %DLQ%<group> instead. Receivers of a topic get the group's retry copies of that
// topic too: the retry topic's queues are consumed per subscribed topic (the key's third part
// names it) and skip copies of other topics. FIFO groups retry in place — the queue waits —
// then dead-letter and move on (or, with fifo_block, keep retrying); broadcasting groups
// retry in place.
//
// Lease deadlines are kept ordered per group; one volatile timer of the timer engine is armed
// at the earliest deadline or in-place retry (SetWakeup) and OnTimer() handles what is due.
//
// Persistence (docs/storage_format.md §9): group configs, the start epoch and the offsets are
// metadata records in the CommitLog (Store::AppendMeta), kept by the GroupRegistry
// (group_registry.h); nothing here waits on a disk except Load() and FlushOffsets(wait=true)
// (start and stop). Offsets are written as periodic snapshots of the queues that changed
// (FlushOffsets), not one record per ack: a busy group acks thousands of times a second, and
// a flush writes each changed queue once.
//
// The parts (each with its own header, contract and unit tests):
//   group_registry.h  the groups (create / update / delete / find / list) and their
//                     persistence: Load (start epoch, configs, offsets checked against the
//                     queues' ranges), group records, offsets flushes, a topic's deletion
//   queue_state.h     per-queue delivery state: acked-prefix tracking, holes, in-flight and
//                     moving offsets, delivery counts, what retention took
//   lease_table.h     a group's leases in deadline order (expiry) and the Wakeup timer
//   failure_policy.h  what a failed delivery becomes: retry copy, retry in place, dead letter
//   group_records.h   the durable form: group config and offsets records, their keys
//   tag_filter.h      a receive's tag filter (tags and their hashes)
// This class composes them: receive (reading the consume queues with no lock held across the
// reads), ack / nack / release / lease change, lease expiry, the retry and dead-letter moves,
// retention and lag; the group calls (Load, CreateGroup, DeleteGroup, ListGroups,
// FlushOffsets, OnTopicDeleted) go to the registry.
//
// Thread safety: every public method may be called from any thread; each group has its own
// mutex (ConsumerGroup::mu guards its queue states, lease table, clients, cursor and
// subscriptions); the registry's locks (its table's shared mutex, and the one that orders a
// change with the append of its record) are taken before any group's mutex, and only by the
// registry. Callers: network threads (receive, ack, nack, lease, admin), the io_context
// (OnTimer: lease expiry), the store's writer thread (move callbacks), and the maintenance
// thread "tidemq-maint" (FlushOffsets, OnRetention, and OldestUnconsumed as a retention guard
// — it reads the consume queues after releasing each group's mutex).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "broker/core/config.h"
#include "broker/core/failure_policy.h"
#include "broker/core/group_records.h"
#include "broker/core/group_registry.h"
#include "broker/core/lease_table.h"
#include "broker/core/queue_state.h"
#include "broker/core/receipt.h"
#include "broker/core/retry_copies.h"
#include "broker/core/trace_journal.h"
#include "broker/core/tag_filter.h"
#include "broker/core/topic_manager.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/retry_policy.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "store/store.h"

namespace tidemq::broker {

struct ReceiveArgs {
  std::string group;
  std::string topic;
  std::string tag_filter;  // "", "*" or "a||b"
  uint32_t max_messages = 32;
  int64_t lease_ms = 30'000;
  std::string client_id;
  // Bytes of messages (stored size, see kDeliveryOverheadBytes) one batch may carry; 0: no
  // bound. A batch always takes its first message, however large.
  size_t max_bytes = 0;
};

// Added to a message's stored size when a batch counts its bytes: the receipt handle and the
// fields a delivery carries beyond the stored record.
inline constexpr size_t kDeliveryOverheadBytes = 256;

struct Delivery {
  store::Record record;
  uint32_t queue_id = 0;
  int64_t queue_offset = 0;
  LogOffset log_offset;
  uint32_t attempt = 1;  // every delivery of the message, retry copies included
  std::string receipt;
};

struct QueueLagInfo {
  std::string topic;
  uint32_t queue_id = 0;
  std::string client_id;
  int64_t committed = 0;
  int64_t max_offset = 0;
  int64_t inflight = 0;
  int64_t lost_to_retention = 0;  // deleted before the group consumed them (persisted)
  int64_t lag = 0;                // max_offset - committed, at least 0 (AdminService)
  int64_t next = 0;               // the smallest offset never delivered
  // Since the broker started (QueueState's counters).
  int64_t delivered = 0;
  int64_t delivered_bytes = 0;
  int64_t retried = 0;
  int64_t dead_lettered = 0;
  // When the oldest unacked message was stored (wall ms; 0: none, or unknown). Only filled by
  // AdminService::Metrics.
  int64_t oldest_unacked_store_ms = 0;
};

struct GroupInfo {
  GroupConfig config;
  std::vector<QueueLagInfo> queues;
  std::vector<std::string> clients;
  int64_t retried = 0;            // retry copies made since the broker started
  int64_t dead_lettered = 0;      // DLQ copies made since the broker started
  int64_t lost_to_retention = 0;  // sum over the queues (persisted)
  // Filled by AdminService: messages in the group's DLQ, and the sum of the queues' lag.
  int64_t dlq_messages = 0;
  int64_t total_lag = 0;
};

// One queue moved by ConsumerManager::ResetOffset.
struct OffsetMove {
  uint32_t queue_id = 0;
  std::string client_id;  // broadcasting groups: the member whose position moved
  int64_t from = 0;       // the group's committed offset before
  int64_t to = 0;
};

// Settles the i-th receipt of a nack (OK, or why not); may run on the store's writer thread.
using NackDone = std::function<void(size_t, const Status&)>;

class ConsumerManager {
 public:
  ConsumerManager(store::Store* store, TopicManager* topics, Clock* clock,
                  const BrokerConfig& config);

  using Durable = std::function<void(const Status&)>;

  // Loads group configs and committed offsets from store metadata, checks the offsets against
  // their queues (raising queues some group is above) and starts a new epoch. Call once,
  // after the topics are loaded. Records that do not parse are skipped, logged and counted.
  // (GroupRegistry::Load; what it found deleted by retention counts in lost_to_retention().)
  Status Load();
  // This broker run's start epoch: every receipt handle carries it.
  uint64_t epoch() const { return registry_.epoch(); }

  // Creates a group, or updates an existing one's retry settings (max attempts, back-off,
  // fifo_block). Changing the mode or FIFO of an existing group is refused
  // (kFailedPrecondition): its offsets mean something else.
  // The group is usable at once; `durable` (may be null) runs on the store's writer thread
  // once its record is durable, or with the error (a new group is then gone again).
  Result<GroupConfig> CreateGroup(GroupConfig config, Durable durable = nullptr);
  // kGroupNotFound at once; otherwise the group is gone and `durable` (may be null) runs when
  // the deletion (with its offsets) is durable.
  Status DeleteGroup(const std::string& name, Durable durable = nullptr);
  std::vector<GroupConfig> ListGroups() const;
  // Moves the group's position on `topic` (every queue, or queue_id >= 0) to the first message
  // stored at or after time_ms (past the last one when none is): later messages are delivered
  // (again), earlier ones are settled. Messages in the group's hands on those queues are
  // dropped from its view (their acks fail with RECEIPT_INVALID). Broadcasting groups move
  // every member's position. Persisted with the next offsets flush.
  Result<std::vector<OffsetMove>> ResetOffset(const std::string& group, const std::string& topic,
                                              int64_t time_ms, int32_t queue_id = -1);
  Result<GroupInfo> DescribeGroup(const std::string& name) const;

  // Delivers what is available now (possibly nothing); never waits.
  Result<std::vector<Delivery>> TryReceive(const ReceiveArgs& args);
  Status Ack(const std::string& group, const std::string& receipt);
  // A failed delivery: retried after delay_ms (0: the group's back-off) or dead-lettered
  // (past the group's max attempts, or at once with `dead_letter`). `done` runs once: at
  // once, or when the retry / DLQ copy is durable.
  void Nack(const std::string& group, const std::vector<std::string>& receipts, int64_t delay_ms,
            bool dead_letter, const NackDone& done);
  // Gives a delivery back unprocessed: deliverable again at once, the attempt not counted.
  Status Release(const std::string& group, const std::string& receipt);
  // Returns the new receipt handle.
  Result<std::string> ChangeLease(const std::string& group, const std::string& receipt,
                                  int64_t lease_ms);
  void Touch(const std::string& group, const std::string& client_id);

  // `arm(monotonic_ms)` asks to be called back (OnTimer) at that time; called when a lease
  // deadline or an in-place retry earlier than the one armed appears. Call before use.
  void SetWakeup(std::function<void(int64_t)> arm);
  // Where deliveries, acks, nacks and lapses are noted for the trace (nullptr: nowhere).
  void SetTrace(TraceJournal* trace) { trace_ = trace; }
  // `ready(topic)` is called when a message of `topic` became deliverable without a new
  // arrival: a FIFO queue unblocked by an ack or a dead-letter move. Call before use.
  void SetReadyNotifier(std::function<void(const std::string&)> ready);
  // In a cluster: the consumer groups' configuration from etcd (GroupRegistry::ClusterGroups).
  void SetClusterGroups(GroupRegistry::ClusterGroups hooks) {
    registry_.SetClusterGroups(std::move(hooks));
  }
  // Turns lapsed leases into retries (copies or in place) and re-arms the wake-up. Returns the
  // topics that now have a message ready for redelivery, so long-polling receivers can be
  // woken (retry copies wake them when they are stored).
  std::set<std::string> OnTimer();
  // Appends one metadata record with the offsets of every queue that changed since the last
  // flush. wait=true blocks until it is durable (shutdown; never on a network thread).
  Status FlushOffsets(bool wait);
  void OnTopicDeleted(const std::string& topic);
  // Right after the store's retention ran: what it deleted that a group had not consumed is
  // counted (per group and queue, and in lost_to_retention()) and logged, and the group's
  // offsets move to the queue's new start.
  void OnRetention();
  // The retention guard of --retention-keep-unconsumed: the log offset of the oldest message
  // some group has not consumed (acked) yet, kNoLogOffset when none. Reads only.
  LogOffset OldestUnconsumed() const;

  int64_t delivered() const { return delivered_.load(std::memory_order_relaxed); }
  int64_t acked() const { return acked_.load(std::memory_order_relaxed); }
  int64_t nacked() const { return nacked_.load(std::memory_order_relaxed); }
  int64_t lapsed() const { return lapsed_.load(std::memory_order_relaxed); }
  int64_t retried() const { return retried_.load(std::memory_order_relaxed); }
  int64_t dead_lettered() const { return dead_lettered_.load(std::memory_order_relaxed); }
  // Since the broker started: messages deleted by retention before a group consumed them
  // (once per group), and queue entries skipped because their record could not be read.
  int64_t lost_to_retention() const { return lost_to_retention_.load(std::memory_order_relaxed); }
  int64_t damaged_skipped() const { return damaged_skipped_.load(std::memory_order_relaxed); }
  // FlushOffsets calls that completed: everything dirty before one began is persisted.
  int64_t offset_flushes() const { return registry_.offset_flushes(); }
  // Metadata records Load() skipped because they did not parse.
  int64_t malformed_skipped() const { return registry_.malformed_skipped(); }

 private:
  using Group = ConsumerGroup;  // group_registry.h
  // A failed delivery to copy into the retry or dead-letter topic.
  struct Move {
    std::shared_ptr<Group> group;
    QueueKey key;
    int64_t offset = 0;
    LogOffset log_offset;
    uint32_t attempts = 0;
    int64_t delay_ms = 0;
    bool dead = false;
    std::function<void(const Status&)> done;
    const char* reason = kMaxAttemptsReason;  // of a dead letter
  };

  QueueState& StateFor(Group& g, const QueueKey& key) REQUIRES(g.mu);
  // The bytes a batch holds against ReceiveArgs::max_bytes.
  struct BatchBytes {
    size_t used = 0;
    bool full = false;  // a message did not fit: the batch is complete
  };
  // Appends deliverable messages of one queue to *out (up to max total, within the byte
  // bound). Called with g.mu held and returns with it held, but releases it around every
  // read of the consume queue or the log: no group lock is held across disk I/O.
  void CollectFromQueue(Group& g, const QueueKey& key, const TagFilter& filter,
                        const ReceiveArgs& args, int64_t now, std::vector<Delivery>* out,
                        BatchBytes* bytes) REQUIRES(g.mu);
  // A queue offset leased for a receive before its record is read (the lock is released for
  // the read; the lease keeps other receives off it).
  struct Claim {
    int64_t offset = 0;
    LogOffset log_offset;
    uint32_t size = 0;
    uint64_t lease_id = 0;
  };
  // Leases offset `off` for a receive whose record is still to be read.
  Claim ClaimOffset(Group& g, QueueState& st, int64_t off, LogOffset log_offset, uint32_t size,
                    int64_t lease_ms, int64_t now) REQUIRES(g.mu);
  // With the claimed record read: appends the delivery, or settles the offset (unreadable,
  // not for this subscription) and returns false.
  bool ConfirmClaim(Group& g, QueueState& st, const Claim& c, Result<store::Record> record,
                    const TagFilter& filter, const std::string& subscription,
                    std::vector<Delivery>* out) REQUIRES(g.mu);
  // Carries out the failure policy for a failed delivery: an in-place retry (returns
  // nullopt) or a move.
  std::optional<Move> Fail(const std::shared_ptr<Group>& g, QueueState& st, int64_t off,
                           const Lease& lease, int64_t delay_ms, int64_t now) REQUIRES(g->mu);
  // A delivery its consumer gave up on: dead-lettered now (kConsumerGaveUpReason).
  std::optional<Move> DeadLetter(const std::shared_ptr<Group>& g, QueueState& st, int64_t off,
                                 const Lease& lease) REQUIRES(g->mu);
  // Reads, copies and appends; settles each original when its copy is durable.
  void ExecuteMoves(std::vector<Move> moves);
  // A move is over: the original is settled (its copy is durable, or it is gone) or, when no
  // copy could be made, deliverable again in place.
  // copied: its retry or dead-letter copy was stored (counted per queue).
  void EndMove(Move& m, bool settled, const Status& why, bool copied = false);
  // Moves a queue state up to the queue's start `min` (SkipToQueueStart, group_registry.h)
  // and counts what the group had not consumed in lost_to_retention(). Returns how many.
  int64_t SkipDeleted(Group& g, QueueState& st, int64_t min) REQUIRES(g.mu);
  // A queue entry whose record cannot be read: deleted by retention meanwhile (counted as
  // lost) or damaged (counted, logged as an error). The caller settles it.
  void NoteUnreadable(const Group& g, QueueState& st, int64_t off, LogOffset at, const Status& why)
      REQUIRES(g.mu);
  // A retry copy made for an earlier incarnation of its topic (topic_manager.h): counted and
  // logged; the caller drops it. Takes no group lock.
  bool IsStaleCopy(const Group& g, const store::Record& copy, LogOffset at);
  // Validates a receipt against the current lease.
  Result<QueueState*> CheckReceipt(Group& g, const Receipt& r) REQUIRES(g.mu);

  store::Store* store_;
  TopicManager* topics_;
  Clock* clock_;
  const BrokerConfig& config_;
  std::atomic<uint64_t> lease_seq_{0};  // lease ids are unique within one epoch
  std::atomic<int64_t> delivered_{0}, acked_{0}, nacked_{0}, lapsed_{0};
  std::atomic<int64_t> retried_{0}, dead_lettered_{0};
  std::atomic<int64_t> lost_to_retention_{0}, damaged_skipped_{0};
  std::function<void(const std::string&)> ready_;  // set before use
  TraceJournal* trace_ = nullptr;
  // Notes one event of the message at (topic, queue, offset) of group g.
  void Trace(const std::string& topic, TraceEventKind kind, const std::string& group,
             uint32_t queue, int64_t offset, int64_t until_ms = 0);
  Wakeup wakeup_;

  // The groups, their configs, offsets records and the start epoch.
  GroupRegistry registry_;
};

}  // namespace tidemq::broker
