// Consumption events for the message lifecycle trace (docs/console.md, "Trace"): deliveries,
// acks, nacks, releases, lapsed leases. Everything else in a message's life is a record in the
// CommitLog already (sent, scheduled, fired, committed, checked, retry copies, dead letters,
// redrives); these events are made records too, so the trace is derived from the log alone.
//
// The journal collects events from any thread (one short mutex per batch of events, never per
// message in a receive) and Flush() — run by the maintenance thread every housekeeping
// interval — appends one kTrace record per topic (under TraceTopic), asynchronously: no send, receive or ack
// waits for it. The record's keys are the queue positions its events are about
// (PositionKey), so the store's key index finds them (docs/storage_format.md §11).
//
// Bounded: past kMaxPendingEvents waiting for a flush, new events are dropped and counted
// (dropped()); the trace is observability and never holds up consumption.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
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

struct TraceEvent {
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
  std::string group;
  std::string client;
  bool operator==(const TraceEvent&) const = default;
};

inline constexpr uint8_t kTraceFormatVersion = 1;
inline constexpr size_t kMaxPendingTraceEvents = 100'000;

// The key of a queue position in kTrace records: "q<queue>@<offset>".
std::string PositionKey(uint32_t queue_id, int64_t queue_offset);
// kTrace records are stored under "%TRACE%<topic>": their position keys never mix with the
// keys of the topic's messages in the key index.
inline constexpr char kTraceTopicPrefix[] = "%TRACE%";
inline std::string TraceTopic(const std::string& topic) { return kTraceTopicPrefix + topic; }
std::string EncodeTraceEvents(const std::vector<TraceEvent>& events);
// Untrusted bytes (a record read back): kCorruption on anything malformed.
Result<std::vector<TraceEvent>> DecodeTraceEvents(std::string_view body);

class TraceJournal {
 public:
  // enabled=false (--trace-consumption off): Note does nothing.
  TraceJournal(store::Store* store, bool enabled) : store_(store), enabled_(enabled) {}

  bool enabled() const { return enabled_; }
  // Any thread.
  void Note(const std::string& topic, TraceEvent event) EXCLUDES(mu_);
  void Note(const std::string& topic, std::vector<TraceEvent> events) EXCLUDES(mu_);
  // Appends what is pending (the maintenance thread; at shutdown before the store closes).
  void Flush() EXCLUDES(mu_);

  int64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }
  int64_t written() const { return written_.load(std::memory_order_relaxed); }

 private:
  store::Store* const store_;
  const bool enabled_;
  Mutex mu_;
  std::map<std::string, std::vector<TraceEvent>> pending_ GUARDED_BY(mu_);
  size_t pending_count_ GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> written_{0};
};

}  // namespace tidemq::broker
