// Consumption events for the message lifecycle trace (docs/console.md, "Trace"): deliveries,
// acks, nacks, releases, lapsed leases. Everything else in a message's life is a record in the
// CommitLog already (sent, scheduled, fired, committed, checked, retry copies, dead letters,
// redrives); these events are made records too, so the trace is derived from the log alone.
//
// The journal collects events from any thread (one short mutex per batch of events, never per
// message in a receive) and Flush() — run by the maintenance thread every housekeeping
// interval — appends one kTrace record per topic (under TraceTopic), asynchronously: no send, receive or ack
// waits for it. The record's keys are the queue positions its events are about
// (PositionKey: one per 64 consecutive positions, so that a busy topic's record of thousands of
// events adds tens of index entries, not thousands), so the store's key index finds them
// (docs/storage_format.md §11).
//
// Bounded: past kMaxPendingEvents waiting for a flush, new events are dropped and counted
// (dropped()); the trace is observability and never holds up consumption.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/thread_annotations.h"
#include "store/store.h"

namespace tidemq::broker {

enum class TraceEventKind : uint8_t {
  kDelivered = 1,
  kAcked = 2,
  kNacked = 3,
  kLeaseLapsed = 4,
  kReleased = 5,
  kGivenUp = 6,  // dead-lettered at the consumer's request
  kLeaseChanged = 7,
};
std::string_view TraceEventKindName(TraceEventKind kind);

// What happened at one queue position: a noted event without its names (a receive batch's
// deliveries share one group and client; the journal keeps them once per run).
struct TracePoint {
  TraceEventKind kind = TraceEventKind::kDelivered;
  uint32_t queue_id = 0;
  int64_t queue_offset = 0;
  int64_t time_ms = 0;
  int64_t until_ms = 0;  // the lease's end (delivered, lease changed), the retry's (nacked)
  uint32_t attempt = 0;  // delivered: the delivery's number (1-based)
  // The store's confirmed end when it happened (TraceJournal::Note fills it in): the records
  // of the message below it came before this event, those at or above it after. The trace
  // orders by it, not by clocks.
  int64_t log_end = 0;
  bool operator==(const TracePoint&) const = default;
};

// An event as a trace record holds it: the point and the consumer group and client.
struct TraceEvent : TracePoint {
  std::string group;
  std::string client;
  bool operator==(const TraceEvent&) const = default;
};

inline constexpr uint8_t kTraceFormatVersion = 1;
inline constexpr size_t kMaxPendingTraceEvents = 100'000;

// The key of a queue position in kTrace records: "q<queue>@<offset / 64>", shared by the 64
// positions of a bucket (a trace reads the bucket's records and keeps its position's events).
inline constexpr int64_t kTracePositionsPerKey = 64;
std::string PositionKey(uint32_t queue_id, int64_t queue_offset);
// kTrace records are stored under "%TRACE%<topic>": their position keys never mix with the
// keys of the topic's messages in the key index.
inline constexpr char kTraceTopicPrefix[] = "%TRACE%";
inline std::string TraceTopic(const std::string& topic) { return kTraceTopicPrefix + topic; }

// Points of one consumer group and client, in the order noted.
struct TraceRun {
  std::string_view group;
  std::string_view client;
  std::span<const TracePoint> points;
};
// A record's body (docs/storage_format.md §11). Names longer than 255 bytes are cut.
std::string EncodeTraceRuns(std::span<const TraceRun> runs);
// The same for flat events (consecutive events with the same names share a run).
std::string EncodeTraceEvents(const std::vector<TraceEvent>& events);
// Untrusted bytes (a record read back): kCorruption on anything malformed.
Result<std::vector<TraceEvent>> DecodeTraceEvents(std::string_view body);

class TraceJournal {
 public:
  // enabled=false (--trace-consumption off): Note does nothing.
  TraceJournal(store::Store* store, bool enabled) : store_(store), enabled_(enabled) {}

  bool enabled() const { return enabled_; }
  // Any thread. One short lock per call, no allocation per point but the run's growth.
  void Note(std::string_view topic, std::string_view group, std::string_view client,
            TracePoint point) EXCLUDES(mu_);
  void Note(std::string_view topic, std::string_view group, std::string_view client,
            std::span<TracePoint> points) EXCLUDES(mu_);
  // Appends what is pending (the maintenance thread; at shutdown before the store closes).
  void Flush() EXCLUDES(mu_);

  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  int64_t written() const { return written_.load(std::memory_order_relaxed); }

 private:
  // (topic, group, client): a map sorted by topic first, so a topic's runs are together.
  using RunKey = std::tuple<std::string, std::string, std::string>;
  using RunView = std::tuple<std::string_view, std::string_view, std::string_view>;
  struct RunLess {
    using is_transparent = void;
    static RunView View(const RunKey& k) { return {std::get<0>(k), std::get<1>(k), std::get<2>(k)}; }
    static RunView View(const RunView& k) { return k; }
    template <typename A, typename B>
    bool operator()(const A& a, const B& b) const { return View(a) < View(b); }
  };
  using Pending = std::map<RunKey, std::vector<TracePoint>, RunLess>;
  std::vector<TracePoint>& RunFor(std::string_view topic, std::string_view group,
                                  std::string_view client) REQUIRES(mu_);

  store::Store* const store_;
  const bool enabled_;
  Mutex mu_;
  Pending pending_ GUARDED_BY(mu_);
  // The run the last Note went to (acks of one consumer come in a row): its key views the
  // map node's strings, which stay put until Flush takes the map.
  RunView last_key_ GUARDED_BY(mu_);
  std::vector<TracePoint>* last_run_ GUARDED_BY(mu_) = nullptr;
  size_t pending_count_ GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> written_{0};
};

}  // namespace tidemq::broker
