#include "broker/core/trace_journal.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <iterator>
#include <utility>

#include "common/coding.h"

namespace tidemq::broker {
namespace {

constexpr uint8_t kMaxKind = static_cast<uint8_t>(TraceEventKind::kLeaseChanged);

// Group and client names are cut to this many bytes: with at most 4,096 points per record
// (Flush), a record stays small whatever a client calls itself.
constexpr size_t kMaxTraceNameBytes = 255;
// A run's bytes besides its names: the names' lengths and the point count.
constexpr size_t kRunFixedBytes = 2 + 2 + 4;
// A point's bytes: kind, queue, offset, time, until, attempt, log end.
constexpr size_t kPointBytes = 1 + 4 + 8 + 8 + 8 + 4 + 8;
constexpr size_t kMaxPointsPerRecord = 4096;

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
  return "q" + std::to_string(queue_id) + "@" + std::to_string(queue_offset / kTracePositionsPerKey);
}

std::string EncodeTraceRuns(std::span<const TraceRun> runs) {
  size_t size = 1 + 4;
  for (const TraceRun& r : runs) {
    size += kRunFixedBytes + std::min(r.group.size(), kMaxTraceNameBytes) +
            std::min(r.client.size(), kMaxTraceNameBytes) + r.points.size() * kPointBytes;
  }
  // Written in place (one allocation, then a memcpy per field): a busy pass encodes thousands.
  std::string out(size, '\0');
  char* p = out.data();
  auto put = [&p](const auto& v) {
    std::memcpy(p, &v, sizeof(v));
    p += sizeof(v);
  };
  put(kTraceFormatVersion);
  put(static_cast<uint32_t>(runs.size()));
  for (const TraceRun& r : runs) {
    for (std::string_view name : {r.group, r.client}) {
      const auto n = static_cast<uint16_t>(std::min(name.size(), kMaxTraceNameBytes));
      put(n);
      std::memcpy(p, name.data(), n);
      p += n;
    }
    put(static_cast<uint32_t>(r.points.size()));
    for (const TracePoint& e : r.points) {
      put(static_cast<uint8_t>(e.kind));
      put(e.queue_id);
      put(static_cast<uint64_t>(e.queue_offset));
      put(static_cast<uint64_t>(e.time_ms));
      put(static_cast<uint64_t>(e.until_ms));
      put(e.attempt);
      put(static_cast<uint64_t>(e.log_end));
    }
  }
  return out;
}

std::string EncodeTraceEvents(const std::vector<TraceEvent>& events) {
  std::vector<TracePoint> points(events.begin(), events.end());
  std::vector<TraceRun> runs;
  for (size_t i = 0; i < events.size();) {
    size_t j = i + 1;
    while (j < events.size() && events[j].group == events[i].group &&
           events[j].client == events[i].client) {
      ++j;
    }
    runs.push_back(TraceRun{events[i].group, events[i].client,
                            std::span<const TracePoint>(points.data() + i, j - i)});
    i = j;
  }
  return EncodeTraceRuns(runs);
}

Result<std::vector<TraceEvent>> DecodeTraceEvents(std::string_view body) {
  Reader in(body);
  uint8_t version = 0;
  uint32_t runs = 0;
  if (!in.GetU8(&version) || version != kTraceFormatVersion) {
    return Corruption("trace record: unknown version");
  }
  // Counts beyond what the body can hold are malformed (and must not size an allocation).
  if (!in.GetFixed32(&runs) || runs > in.remaining() / kRunFixedBytes) {
    return Corruption("trace record: bad run count");
  }
  std::vector<TraceEvent> events;
  for (uint32_t r = 0; r < runs; ++r) {
    std::string group, client;
    uint32_t count = 0;
    if (!GetShort(&in, &group) || !GetShort(&in, &client) || !in.GetFixed32(&count)) {
      return Corruption("trace record: truncated run");
    }
    if (count > in.remaining() / kPointBytes) return Corruption("trace record: bad point count");
    events.reserve(events.size() + count);
    for (uint32_t i = 0; i < count; ++i) {
      TraceEvent& e = events.emplace_back();
      uint8_t kind = 0;
      uint64_t offset = 0, time = 0, until = 0, log_end = 0;
      if (!in.GetU8(&kind) || !in.GetFixed32(&e.queue_id) || !in.GetFixed64(&offset) ||
          !in.GetFixed64(&time) || !in.GetFixed64(&until) || !in.GetFixed32(&e.attempt) ||
          !in.GetFixed64(&log_end)) {
        return Corruption("trace record: truncated event");
      }
      if (kind == 0 || kind > kMaxKind) return Corruption("trace record: unknown event kind");
      e.kind = static_cast<TraceEventKind>(kind);
      e.queue_offset = static_cast<int64_t>(offset);
      e.time_ms = static_cast<int64_t>(time);
      e.until_ms = static_cast<int64_t>(until);
      e.log_end = static_cast<int64_t>(log_end);
      e.group = group;
      e.client = client;
    }
  }
  if (in.remaining() != 0) return Corruption("trace record: bytes after the last event");
  return events;
}

std::vector<TracePoint>& TraceJournal::RunFor(std::string_view topic, std::string_view group,
                                              std::string_view client) {
  const RunView key(topic, group, client);
  if (last_run_ != nullptr && key == last_key_) return *last_run_;
  auto it = pending_.find(key);
  if (it == pending_.end()) {
    it = pending_.try_emplace(RunKey(topic, group, client)).first;
    it->second.reserve(64);  // a busy run grows to thousands: skip the first doublings
  }
  last_key_ = RunLess::View(it->first);
  last_run_ = &it->second;
  return it->second;
}

void TraceJournal::Note(std::string_view topic, std::string_view group, std::string_view client,
                        TracePoint point) {
  Note(topic, group, client, std::span<TracePoint>(&point, 1));
}

void TraceJournal::Note(std::string_view topic, std::string_view group, std::string_view client,
                        std::span<TracePoint> points) {
  if (!enabled_ || points.empty()) return;
  const int64_t log_end = store_->ConfirmedEnd().value();
  for (TracePoint& p : points) p.log_end = log_end;
  MutexLock lock(mu_);
  const size_t room = kMaxPendingTraceEvents - std::min(pending_count_, kMaxPendingTraceEvents);
  if (points.size() > room) {
    dropped_.fetch_add(static_cast<int64_t>(points.size() - room), std::memory_order_relaxed);
    points = points.first(room);
    if (points.empty()) return;
  }
  std::vector<TracePoint>& run = RunFor(topic, group, client);
  run.insert(run.end(), points.begin(), points.end());
  pending_count_ += points.size();
}

void TraceJournal::Flush() {
  Pending batch;
  {
    MutexLock lock(mu_);
    batch.swap(pending_);
    pending_count_ = 0;
    last_run_ = nullptr;
  }
  if (batch.empty() || store_->read_only() || store_->replica()) return;
  std::vector<store::Record> records;
  int64_t events = 0;
  // One record per topic (the map keeps a topic's runs together), split past 4,096 points: a
  // record's keys are u16-counted, and a trace reads whole records.
  std::vector<TraceRun> runs;
  std::vector<std::pair<uint32_t, int64_t>> buckets;  // (queue, position / 64) of the record
  size_t points = 0;
  auto seal = [&](const std::string& topic) {
    if (runs.empty()) return;
    store::Record& r = records.emplace_back();
    r.type = store::RecordType::kTrace;
    r.topic = TraceTopic(topic);
    std::sort(buckets.begin(), buckets.end());
    buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
    r.keys.reserve(buckets.size());
    for (const auto& [queue, bucket] : buckets) {
      r.keys.push_back(PositionKey(queue, bucket * kTracePositionsPerKey));
    }
    r.body = EncodeTraceRuns(runs);
    events += static_cast<int64_t>(points);
    runs.clear();
    buckets.clear();
    points = 0;
  };
  for (auto it = batch.begin(); it != batch.end(); ++it) {
    const auto& [topic, group, client] = it->first;
    const std::vector<TracePoint>& list = it->second;
    for (size_t from = 0; from < list.size();) {
      const size_t n = std::min(list.size() - from, kMaxPointsPerRecord - points);
      runs.push_back(TraceRun{group, client, std::span<const TracePoint>(list.data() + from, n)});
      // One key per bucket of positions: consecutive points mostly share it.
      for (size_t i = from; i < from + n; ++i) {
        const std::pair<uint32_t, int64_t> b(list[i].queue_id,
                                             list[i].queue_offset / kTracePositionsPerKey);
        if (buckets.empty() || buckets.back() != b) buckets.push_back(b);
      }
      points += n;
      from += n;
      if (points == kMaxPointsPerRecord) seal(topic);
    }
    const auto next = std::next(it);
    if (next == batch.end() || std::get<0>(next->first) != topic) seal(topic);
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
