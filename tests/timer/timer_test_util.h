// Helpers shared by the timer tests: record builders that feed a TimerService as the store's
// writer thread would.
#pragma once

#include <string>

#include "store/record.h"
#include "timer/timer_service.h"

namespace tidemq::timer::testing {

inline store::Record Scheduled(const std::string& message_id, int64_t due_ms) {
  store::Record r;
  r.type = store::RecordType::kScheduled;
  r.topic = "orders";
  r.queue_id = 3;
  r.message_id = message_id;
  r.deliver_at_ms = due_ms;
  r.body = "close order " + message_id;
  return r;
}

inline store::Record Cancel(LogOffset scheduled) {
  store::Record r;
  r.type = store::RecordType::kTimerCancel;
  r.origin_offset = scheduled;
  return r;
}

// The broker's re-put of a fired scheduled message.
inline store::Record RePut(LogOffset scheduled) {
  store::Record r;
  r.type = store::RecordType::kMessage;
  r.topic = "orders";
  r.queue_id = 3;
  r.queue_offset = 0;
  r.origin_offset = scheduled;
  return r;
}

// Hands records to an observer at consecutive log offsets, as the store would.
class FakeLog {
 public:
  explicit FakeLog(int64_t start = 0) : end_(start) {}
  LogOffset Append(store::Observer* observer, const store::Record& record) {
    const LogOffset at(end_);
    end_ += static_cast<int64_t>(record.EncodedSize());
    observer->OnRecord(record, at, /*replay=*/false);
    observer->OnBatchEnd(/*replay=*/false);
    return at;
  }
  LogOffset end() const { return LogOffset(end_); }

 private:
  int64_t end_;
};

}  // namespace tidemq::timer::testing
