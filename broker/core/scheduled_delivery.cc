#include "broker/core/scheduled_delivery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

#include "broker/core/retry_copies.h"
#include "common/logging.h"

namespace tidemq::broker {
namespace {

// Longest sleep between Advance calls. Also bounds how late an injected (virtual) clock's
// jumps are noticed, since the thread waits in real time.
constexpr int64_t kMaxSleepMs = 10;
// Re-puts per store Append: bounds the bodies held in memory after a long outage.
constexpr size_t kMaxRePutBatch = 4096;
// Batches handed to the store and not yet confirmed: back-pressure for big bursts.
constexpr int kMaxInflightBatches = 4;
// When a re-put could not be read or appended, try again this much later.
constexpr int64_t kRetryBackoffMs = 1000;

}  // namespace

ScheduledDelivery::ScheduledDelivery(timer::TimerService* timer, store::Store* store, Clock* clock)
    : timer_(timer), store_(store), clock_(clock) {}

ScheduledDelivery::~ScheduledDelivery() { Stop(); }

void ScheduledDelivery::SetVolatileHandler(std::function<void(const timer::DueTimer&)> handler) {
  volatile_handler_ = std::move(handler);
}

void ScheduledDelivery::SetTopicCheck(std::function<bool(const store::Record&)> current) {
  topic_current_ = std::move(current);
}

void ScheduledDelivery::Start() {
  thread_ = std::thread([this] { Run(); });
}

void ScheduledDelivery::Stop() {
  {
    MutexLock lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ScheduledDelivery::Notify(int64_t due_ms) {
  if (due_ms >= sleep_until_ms_.load(std::memory_order_relaxed)) return;
  {
    MutexLock lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

store::Record ScheduledDelivery::MakeRePut(const store::Record& scheduled, LogOffset at) {
  store::Record r = scheduled;
  r.type = store::RecordType::kMessage;
  r.queue_offset = -1;
  r.store_ms = 0;
  r.origin_offset = at;
  r.flags = 0;  // a transaction's commit flag belongs to the kScheduled record only
  auto& props = r.properties;
  std::erase_if(props, [](const auto& p) { return p.first == kDeliverAtProperty; });
  props.emplace_back(kDeliverAtProperty, std::to_string(scheduled.deliver_at_ms));
  std::sort(props.begin(), props.end());
  return r;
}

void ScheduledDelivery::Run() {
  SetThreadName("tidemq-timer");
  bool reported = false;
  MutexLock lock(mu_);
  while (!stop_) {
    woken_ = false;
    lock.unlock();
    const int64_t now = clock_->NowMs();
    Result<std::vector<timer::DueTimer>> due = timer_->Advance(now);
    bool fired = false;
    if (!due.ok()) {
      if (!reported) spdlog::error("timer stopped firing: {}", due.status().ToString());
      reported = true;
    } else if (reported) {
      spdlog::info("timer firing again");
      reported = false;
    }
    if (due.ok() && !due->empty()) {
      fired = true;
      Fire(*due, now);
    }
    const int64_t after = clock_->NowMs();
    int64_t sleep = std::clamp<int64_t>(timer_->NextWakeMs() - after, fired ? 0 : 1, kMaxSleepMs);
    sleep_until_ms_.store(after + sleep, std::memory_order_relaxed);
    lock.lock();
    if (sleep > 0 && !stop_ && !woken_) {
      cv_.wait_for(lock, std::chrono::milliseconds(sleep), [this]() REQUIRES(mu_) { return stop_ || woken_; });
    }
  }
}

void ScheduledDelivery::Fire(const std::vector<timer::DueTimer>& due, int64_t now_ms) {
  std::vector<store::Record> records;
  std::vector<LogOffset> origins;
  for (const timer::DueTimer& t : due) {
    if (t.kind == timer::TimerKind::kVolatile) {
      if (volatile_handler_) volatile_handler_(t);
      continue;
    }
    Result<store::Record> scheduled = store_->Read(t.log_offset);
    if (!scheduled.ok() || scheduled->type != store::RecordType::kScheduled) {
      spdlog::error("scheduled message at log offset {} unreadable ({}); retrying in {} ms",
                    t.log_offset.value(),
                    scheduled.ok() ? "not a scheduled record" : scheduled.status().ToString(),
                    kRetryBackoffMs);
      timer_->RetryFire(t.log_offset, now_ms + kRetryBackoffMs);
      continue;
    }
    if (topic_current_ && !topic_current_(*scheduled)) {
      // Its topic was deleted while it waited (maybe created again since: a new topic that
      // must not get it). The cancel record takes it out of the index, exactly once like a
      // re-put.
      spdlog::warn("{} {} (log offset {}) dropped at its due time: topic '{}' was deleted, or "
                   "deleted and created again, since it was scheduled",
                   IsRetryTopic(scheduled->topic) ? "retry copy of message" : "scheduled message",
                   scheduled->message_id, t.log_offset.value(),
                   ReadRetryInfo(*scheduled).original_topic);
      dropped_.fetch_add(1, std::memory_order_relaxed);
      store::Record c;
      c.type = store::RecordType::kTimerCancel;
      c.topic = scheduled->topic;
      c.queue_id = scheduled->queue_id;
      c.message_id = scheduled->message_id;
      c.origin_offset = t.log_offset;
      records.push_back(std::move(c));
    } else {
      CountLateness(now_ms - scheduled->deliver_at_ms);
      records.push_back(MakeRePut(*scheduled, t.log_offset));
    }
    origins.push_back(t.log_offset);
    if (records.size() >= kMaxRePutBatch) {
      AppendBatch(std::move(records), std::move(origins));
      records.clear();
      origins.clear();
    }
  }
  if (!records.empty()) AppendBatch(std::move(records), std::move(origins));
}

void ScheduledDelivery::AppendBatch(std::vector<store::Record> records,
                                    std::vector<LogOffset> origins) {
  {
    MutexLock lock(mu_);
    // Not on stop: the store completes what it was handed before it closes.
    cv_.wait(lock, [this]() REQUIRES(mu_) { return inflight_batches_ < kMaxInflightBatches; });
    ++inflight_batches_;
  }
  store_->Append(std::move(records), [this, origins = std::move(origins)](
                                         const Status& st, std::vector<store::AppendResult>) {
    if (!st.ok()) {
      spdlog::warn("re-putting {} scheduled messages failed ({}); retrying in {} ms",
                   origins.size(), st.ToString(), kRetryBackoffMs);
      const int64_t retry_at = clock_->NowMs() + kRetryBackoffMs;
      for (LogOffset at : origins) timer_->RetryFire(at, retry_at);
    }
    {
      MutexLock lock(mu_);
      --inflight_batches_;
    }
    cv_.notify_all();
  });
}

void ScheduledDelivery::CountLateness(int64_t lateness_ms) {
  size_t i = 0;
  while (i < kLatenessBoundsMs.size() && lateness_ms >= kLatenessBoundsMs[i]) ++i;
  lateness_ms_.Observe(lateness_ms);
  MutexLock lock(mu_);
  ++lateness_[i];
}

LatenessCounts ScheduledDelivery::Lateness() const {
  MutexLock lock(mu_);
  return lateness_;
}

void ScheduledDelivery::Cancel(const std::string& message_id,
                               std::function<void(Result<CancelResult>)> done) {
  Result<std::optional<timer::IndexEntry>> entry = timer_->FindByMessageId(message_id);
  if (!entry.ok()) return done(entry.status());
  if (entry->has_value()) {
    const timer::IndexEntry e = **entry;
    Result<timer::CancelState> state = timer_->BeginCancel(e.offset);
    if (!state.ok()) return done(state.status());
    if (*state == timer::CancelState::kFiring) return done(CancelResult{false, e.due_ms});
    if (*state == timer::CancelState::kPending) {
      store::Record c;
      c.type = store::RecordType::kTimerCancel;
      c.topic = e.topic;
      c.queue_id = e.queue_id;
      c.message_id = e.message_id;  // the trace finds the cancel by the message's id
      c.origin_offset = e.offset;
      std::vector<store::Record> records;
      records.push_back(std::move(c));
      timer::TimerService* timer = timer_;
      store_->Append(std::move(records), [timer, e, done = std::move(done)](
                                             const Status& st, std::vector<store::AppendResult>) {
        timer->EndCancel(e.offset, st.ok());
        if (!st.ok()) return done(st);
        done(CancelResult{true, e.due_ms});
      });
      return;
    }
  }
  // Not pending: delivered already, or never scheduled / already cancelled.
  Result<std::vector<LogOffset>> offsets = store_->LookupMessageId(message_id, 16);
  if (!offsets.ok()) return done(offsets.status());
  for (LogOffset at : *offsets) {
    Result<store::Record> r = store_->Read(at);
    if (r.ok() && r->type == store::RecordType::kMessage) {
      return done(CancelResult{false, r->deliver_at_ms});
    }
  }
  done(Status(Code::kNotFound, "no scheduled message '" + message_id +
                                   "' is pending (never scheduled, or already cancelled)"));
}

}  // namespace tidemq::broker
