#include "broker/core/trace_journal.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <iterator>
#include <set>
#include <utility>

#include "common/coding.h"

namespace tidemq::broker {
namespace {

constexpr uint8_t kMaxKind = static_cast<uint8_t>(TraceEventKind::kLeaseChanged);

// Group and client names are cut to this many bytes in a trace event: with at most 4,096 events
// per record (Flush), a record stays a few MiB whatever a client calls itself.
constexpr size_t kMaxTraceNameBytes = 255;

void PutShort(std::string* out, std::string_view s) {
  const size_t n = std::min(s.size(), kMaxTraceNameBytes);
  PutFixed16(out, static_cast<uint16_t>(n));
  out->append(s.data(), n);
}

bool GetShort(Reader* in, std::string* out) {
  uint16_t n = 0;
  std::string_view bytes;
  if (!in->GetFixed16(&n) || !in->GetBytes(n, &bytes)) return false;
  out->assign(bytes);
  return true;
}

}  // namespace

std::string_view TraceEventKindName(TraceEventKind kind) {
  switch (kind) {
    case TraceEventKind::kDelivered: return "delivered";
    case TraceEventKind::kAcked: return "acked";
    case TraceEventKind::kNacked: return "nacked";
    case TraceEventKind::kLeaseLapsed: return "lease_lapsed";
    case TraceEventKind::kReleased: return "released";
    case TraceEventKind::kGivenUp: return "given_up";
    case TraceEventKind::kLeaseChanged: return "lease_changed";
  }
  return "unknown";
}

std::string PositionKey(uint32_t queue_id, int64_t queue_offset) {
  return "q" + std::to_string(queue_id) + "@" + std::to_string(queue_offset);
}

std::string EncodeTraceEvents(const std::vector<TraceEvent>& events) {
  std::string out;
  out.push_back(static_cast<char>(kTraceFormatVersion));
  PutFixed32(&out, static_cast<uint32_t>(events.size()));
  for (const TraceEvent& e : events) {
    out.push_back(static_cast<char>(e.kind));
    PutFixed32(&out, e.queue_id);
    PutFixed64(&out, static_cast<uint64_t>(e.queue_offset));
    PutFixed64(&out, static_cast<uint64_t>(e.time_ms));
    PutFixed64(&out, static_cast<uint64_t>(e.until_ms));
    PutFixed32(&out, e.attempt);
    PutFixed64(&out, static_cast<uint64_t>(e.log_end));
    PutShort(&out, e.group);
    PutShort(&out, e.client);
  }
  return out;
}

Result<std::vector<TraceEvent>> DecodeTraceEvents(std::string_view body) {
  Reader in(body);
  uint8_t version = 0;
  uint32_t count = 0;
  if (!in.GetU8(&version) || version != kTraceFormatVersion) {
    return Corruption("trace record: unknown version");
  }
  // Each event takes at least 49 bytes: a count beyond what the body can hold is malformed
  // (and must not size an allocation).
  constexpr size_t kMinEventBytes = 1 + 4 + 8 + 8 + 8 + 4 + 8 + 2 + 2;
  if (!in.GetFixed32(&count) || count > in.remaining() / kMinEventBytes) {
    return Corruption("trace record: bad event count");
  }
  std::vector<TraceEvent> events(count);
  for (TraceEvent& e : events) {
    uint8_t kind = 0;
    uint64_t offset = 0, time = 0, until = 0, log_end = 0;
    if (!in.GetU8(&kind) || !in.GetFixed32(&e.queue_id) || !in.GetFixed64(&offset) ||
        !in.GetFixed64(&time) || !in.GetFixed64(&until) || !in.GetFixed32(&e.attempt) ||
        !in.GetFixed64(&log_end) || !GetShort(&in, &e.group) || !GetShort(&in, &e.client)) {
      return Corruption("trace record: truncated event");
    }
    if (kind == 0 || kind > kMaxKind) return Corruption("trace record: unknown event kind");
    e.kind = static_cast<TraceEventKind>(kind);
    e.queue_offset = static_cast<int64_t>(offset);
    e.time_ms = static_cast<int64_t>(time);
    e.until_ms = static_cast<int64_t>(until);
    e.log_end = static_cast<int64_t>(log_end);
  }
  if (in.remaining() != 0) return Corruption("trace record: bytes after the last event");
  return events;
}

void TraceJournal::Note(const std::string& topic, TraceEvent event) {
  if (!enabled_) return;
  event.log_end = store_->ConfirmedEnd().value();
  MutexLock lock(mu_);
  if (pending_count_ >= kMaxPendingTraceEvents) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_[topic].push_back(std::move(event));
  ++pending_count_;
}

void TraceJournal::Note(const std::string& topic, std::vector<TraceEvent> events) {
  if (!enabled_ || events.empty()) return;
  const int64_t log_end = store_->ConfirmedEnd().value();
  for (TraceEvent& e : events) e.log_end = log_end;
  MutexLock lock(mu_);
  const size_t room = kMaxPendingTraceEvents - std::min(pending_count_, kMaxPendingTraceEvents);
  if (events.size() > room) {
    dropped_.fetch_add(static_cast<int64_t>(events.size() - room), std::memory_order_relaxed);
    events.resize(room);
  }
  auto& list = pending_[topic];
  pending_count_ += events.size();
  for (TraceEvent& e : events) list.push_back(std::move(e));
}

void TraceJournal::Flush() {
  std::map<std::string, std::vector<TraceEvent>> batch;
  {
    MutexLock lock(mu_);
    batch.swap(pending_);
    pending_count_ = 0;
  }
  if (batch.empty() || store_->read_only() || store_->replica()) return;
  std::vector<store::Record> records;
  int64_t events = 0;
  for (auto& [topic, list] : batch) {
    // A record's keys are u16-counted: big batches go in several records.
    constexpr size_t kMaxEventsPerRecord = 4096;
    for (size_t from = 0; from < list.size(); from += kMaxEventsPerRecord) {
      const size_t to = std::min(list.size(), from + kMaxEventsPerRecord);
      std::vector<TraceEvent> part(std::make_move_iterator(list.begin() + from),
                                   std::make_move_iterator(list.begin() + to));
      store::Record& r = records.emplace_back();
      r.type = store::RecordType::kTrace;
      r.topic = TraceTopic(topic);
      std::set<std::string> keys;
      for (const TraceEvent& e : part) keys.insert(PositionKey(e.queue_id, e.queue_offset));
      r.keys.assign(keys.begin(), keys.end());
      r.body = EncodeTraceEvents(part);
      events += static_cast<int64_t>(part.size());
    }
  }
  store_->Append(std::move(records), [this, events](const Status& st,
                                                    std::vector<store::AppendResult>) {
    if (st.ok()) {
      written_.fetch_add(events, std::memory_order_relaxed);
    } else {
      dropped_.fetch_add(events, std::memory_order_relaxed);
    }
  });
}

}  // namespace tidemq::broker
