#include "bench/workload.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <thread>
#include <unordered_set>
#include <vector>

#include "common/logging.h"
#include "common/mutex.h"
#include "tidemq/producer.h"
#include "tidemq/simple_consumer.h"

namespace tidemq::bench {
namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int kMaxBatchSendersPerProducer = 64;
// A check later than this after its timeout counts as missing.
constexpr int64_t kCheckDrainLimitNs = 60'000'000'000;
constexpr auto kCheckPollInterval = std::chrono::milliseconds(20);

int64_t SecondsToNanos(double s) { return static_cast<int64_t>(s * kNanosPerSecond); }

constexpr char kDueProperty[] = "DELIVER_AT_MS";  // set by the broker on a fired message
constexpr char kCheckTimeoutProperty[] = "TXN_CHECK_TIMEOUT_MS";  // a half's own timeout

// The message every send copies, or, with stamp_bodies, a fresh one carrying its send time,
// or, with number_bodies, its sequence number. Scheduled messages carry their delay (or the
// shared due time); with a spread each is built afresh with its own delay.
class MessageFactory {
 public:
  MessageFactory(const BenchOptions& options, int64_t run_start_wall_ms)
      : topic_(options.topic),
        body_(Body(options.size)),
        stamp_(options.stamp_bodies && options.size >= sizeof(int64_t)),
        number_(options.number_bodies && options.size >= sizeof(uint64_t)),
        delay_ms_(options.delay_ms),
        spread_ms_(options.spread_ms),
        template_(
            Schedule(Message::NewBuilder().Topic(topic_).Body(body_), options, run_start_wall_ms)
                .Build()) {}

  const Status& status() const { return template_.status(); }

  static std::string Body(size_t size) {
    std::string body(size, '\0');
    for (size_t i = 0; i < size; ++i) body[i] = static_cast<char>('a' + i % 26);
    return body;
  }

  Message Make() const {
    if (spread_ms_ > 0) {
      thread_local std::minstd_rand rng(std::random_device{}());
      int64_t delay = delay_ms_ + static_cast<int64_t>(rng() % static_cast<uint64_t>(spread_ms_));
      return *Message::NewBuilder()
                  .Topic(topic_)
                  .Body(body_)
                  .Delay(std::max<int64_t>(delay, 1))
                  .Build();
    }
    if (!stamp_ && !number_) return *template_;
    std::string body = body_;
    if (number_) {
      uint64_t seq = next_seq_.fetch_add(1, std::memory_order_relaxed);
      std::memcpy(body.data(), &seq, sizeof(seq));
    } else {
      int64_t now = WallNanos();
      std::memcpy(body.data(), &now, sizeof(now));
    }
    return *Message::NewBuilder().Topic(topic_).Body(std::move(body)).Build();
  }

 private:
  static Message::Builder& Schedule(Message::Builder& b, const BenchOptions& o,
                                    int64_t run_start_wall_ms) {
    if (o.check_timeout_ms > 0) b.TransactionCheckTimeout(o.check_timeout_ms);
    if (o.same_due_ms > 0) return b.DeliverAt(run_start_wall_ms + o.same_due_ms);
    if (o.delay_ms > 0) return b.Delay(o.delay_ms);
    return b;
  }

  std::string topic_;
  std::string body_;
  bool stamp_;
  bool number_;
  // Handed out by Make (const: the senders share one factory). Every Make follows a granted
  // RunControl::Claim, so a run's numbers are 0 .. sent - 1 without gaps.
  mutable std::atomic<uint64_t> next_seq_{0};
  int64_t delay_ms_;
  int64_t spread_ms_;
  Result<Message> template_;
};

// Spaces sends `interval_ns` apart (0: no pacing). Returns when the next send is due: the
// schedule, not the wake-up, so latency includes any delay in getting to send (no coordinated
// omission).
class Pacer {
 public:
  Pacer(double per_second, int64_t start_ns)
      : interval_ns_(per_second > 0 ? static_cast<int64_t>(kNanosPerSecond / per_second) : 0),
        next_ns_(start_ns) {}

  int64_t WaitForTurn() {
    if (interval_ns_ == 0) return NowNanos();
    int64_t due = next_ns_;
    next_ns_ += interval_ns_;
    if (due > NowNanos()) {
      std::this_thread::sleep_until(
          std::chrono::steady_clock::time_point(std::chrono::nanoseconds(due)));
    }
    return due;
  }

 private:
  int64_t interval_ns_;
  int64_t next_ns_;
};

// Caps the sends in flight. A full window reopens only once an eighth of it has drained, so
// the sender is woken once per burst instead of once per acknowledgement (which would cost a
// context switch per message and distort what is measured).
class InflightWindow {
 public:
  explicit InflightWindow(int limit) : limit_(limit), reopen_at_(limit - std::max(1, limit / 8)) {}

  // One sender thread only.
  void Acquire() {
    int now = inflight_.load(std::memory_order_acquire);
    if (now >= limit_) {
      while ((now = inflight_.load(std::memory_order_acquire)) > reopen_at_) inflight_.wait(now);
    }
    inflight_.fetch_add(1, std::memory_order_acq_rel);
  }

  // Any thread.
  void Release() {
    int now = inflight_.fetch_sub(1, std::memory_order_acq_rel) - 1;
    if (now == reopen_at_ || now == 0) inflight_.notify_all();
  }

  void WaitUntilEmpty() {
    int now;
    while ((now = inflight_.load(std::memory_order_acquire)) != 0) inflight_.wait(now);
  }

 private:
  const int limit_;
  const int reopen_at_;
  std::atomic<int> inflight_{0};
};

// The ids of acknowledged messages, written to BenchOptions::acked_ids (nothing when empty).
class AckedIds {
 public:
  explicit AckedIds(const std::string& path)
      : file_(path.empty() ? nullptr : std::fopen(path.c_str(), "w")) {}
  ~AckedIds() {
    if (file_ != nullptr) std::fclose(file_);
  }
  bool failed(const std::string& path) const { return !path.empty() && file_ == nullptr; }
  void Add(const std::string& id) {
    if (file_ == nullptr) return;
    MutexLock lock(mu_);
    std::fprintf(file_, "%s\n", id.c_str());
  }

 private:
  Mutex mu_;
  std::FILE* const file_;
};

// batch == 1: SendAsync, at most `inflight` outstanding.
void RunAsyncSender(Producer& producer, const BenchOptions& options, double rate,
                    const MessageFactory& factory, RunControl& control, SideStats& stats,
                    AckedIds* acked) {
  // Shared with the callbacks: the last release may still be returning when the wait below
  // is already done.
  auto window = std::make_shared<InflightWindow>(options.inflight);
  Pacer pacer(rate, control.start_ns());
  const uint64_t size = options.size;
  while (true) {
    int64_t due = pacer.WaitForTurn();
    window->Acquire();
    bool measured = false;
    if (control.Claim(1, NowNanos(), &measured) == 0) {
      window->Release();
      break;
    }
    producer.SendAsync(factory.Make(),
                       [window, &stats, due, measured, size, acked](const Result<SendReceipt>& r) {
                         int64_t now = NowNanos();
                         if (r.ok()) {
                           acked->Add(r->message_id);
                           stats.Completed(1, size, measured, now);
                           if (measured) stats.latency().Record(now - due);
                         } else {
                           stats.Failed(1, r.status());
                         }
                         window->Release();
                       });
  }
  // Sends end within their timeout and retries, so this is bounded.
  window->WaitUntilEmpty();
}

// batch > 1: blocking SendBatch, one batch in flight per sender thread.
void RunBatchSender(Producer& producer, const BenchOptions& options, double rate,
                    const MessageFactory& factory, RunControl& control, SideStats& stats) {
  Pacer pacer(rate / options.batch, control.start_ns());
  while (true) {
    int64_t due = pacer.WaitForTurn();
    bool measured = false;
    uint32_t n = control.Claim(static_cast<uint32_t>(options.batch), NowNanos(), &measured);
    if (n == 0) break;
    std::vector<Message> messages;
    messages.reserve(n);
    for (uint32_t i = 0; i < n; ++i) messages.push_back(factory.Make());
    auto r = producer.SendBatch(std::move(messages));
    int64_t now = NowNanos();
    if (r.ok()) {
      stats.Completed(n, uint64_t{n} * options.size, measured, now);
      if (measured) stats.latency().Record(now - due, n);
    } else {
      stats.Failed(n, r.status());
    }
  }
}

// One blocking call at a time: Send, or with transactions SendInTransaction (half, local
// transaction, end), the local transaction answering options.txn_end at once.
void RunBlockingSender(Producer& producer, const BenchOptions& options, double rate,
                       const MessageFactory& factory, RunControl& control, SideStats& stats) {
  TransactionResolution answer = TransactionResolution::kUnknown;
  if (options.txn_end == BenchOptions::TxnEnd::kCommit) answer = TransactionResolution::kCommit;
  if (options.txn_end == BenchOptions::TxnEnd::kRollback) {
    answer = TransactionResolution::kRollback;
  }
  const LocalTransaction local = [answer](const SendReceipt&) { return answer; };
  Pacer pacer(rate, control.start_ns());
  while (true) {
    int64_t due = pacer.WaitForTurn();
    bool measured = false;
    if (control.Claim(1, NowNanos(), &measured) == 0) break;
    Status st = options.Transactional() ? producer.SendInTransaction(factory.Make(), local).status()
                                        : producer.Send(factory.Make()).status();
    int64_t now = NowNanos();
    if (st.ok()) {
      stats.Completed(1, options.size, measured, now);
      if (measured) stats.latency().Record(now - due);
    } else {
      stats.Failed(1, st);
    }
  }
}

// The checker of a transactional run: records each check into *record (see CheckRecord) and
// answers commit. Runs on the producers' "tidemq-txn-check" threads.
class BenchChecker {
 public:
  BenchChecker(const BenchOptions& options, CheckRecord* record)
      : topic_(options.topic), default_timeout_ms_(options.check_timeout_ms), record_(record) {}

  TransactionResolution Check(const ReceivedMessage& half) {
    const int64_t now_wall = WallNanos();
    if (record_ == nullptr) return TransactionResolution::kCommit;
    if (half.topic() != topic_) {
      record_->foreign.fetch_add(1, std::memory_order_relaxed);
      return TransactionResolution::kCommit;
    }
    {
      std::lock_guard lock(mu_);
      if (!checked_.insert(half.message_id()).second) {
        record_->repeats.fetch_add(1, std::memory_order_relaxed);
        return TransactionResolution::kCommit;
      }
    }
    int64_t timeout_ms = default_timeout_ms_;
    if (auto it = half.properties().find(kCheckTimeoutProperty); it != half.properties().end()) {
      timeout_ms = std::atoll(it->second.c_str());
    }
    const int64_t late = now_wall - (half.store_ms() + timeout_ms) * 1'000'000;
    if (late < 0) record_->early.fetch_add(1, std::memory_order_relaxed);
    record_->stats.latency().Record(late);
    record_->stats.Completed(1, half.body().size(), true, NowNanos());
    return TransactionResolution::kCommit;
  }

 private:
  const std::string topic_;
  const int64_t default_timeout_ms_;
  CheckRecord* const record_;
  std::mutex mu_;
  std::unordered_set<std::string> checked_;  // GUARDED_BY(mu_): message ids
};

// Waits until every half of the run was checked once, the run is stopped, or the limit.
void WaitForChecks(const BenchOptions& options, const RunControl& control, const SideStats& sent,
                   const CheckRecord& checks) {
  const int64_t deadline = NowNanos() + options.check_timeout_ms * 1'000'000 + kCheckDrainLimitNs;
  while (!control.stopped() && checks.stats.total() < sent.total() && NowNanos() < deadline) {
    std::this_thread::sleep_for(kCheckPollInterval);
  }
}

}  // namespace

RunControl::RunControl(uint64_t count, double warmup_s, double duration_s)
    : count_(count),
      start_ns_(NowNanos()),
      start_wall_ms_(WallNanos() / 1'000'000),
      measure_start_ns_(start_ns_ + SecondsToNanos(warmup_s)),
      end_ns_(measure_start_ns_ + SecondsToNanos(duration_s)) {}

uint32_t RunControl::Claim(uint32_t wanted, int64_t now_ns, bool* measured) {
  if (Over(now_ns)) return 0;
  *measured = Measuring(now_ns);
  if (!*measured || count_ == 0) return wanted;
  uint64_t before = claimed_.fetch_add(wanted, std::memory_order_relaxed);
  if (before >= count_) return 0;
  return static_cast<uint32_t>(std::min<uint64_t>(wanted, count_ - before));
}

void SideStats::Completed(uint64_t n, uint64_t bytes, bool measured, int64_t now_ns) {
  total_.fetch_add(n, std::memory_order_relaxed);
  if (!measured) return;
  measured_.fetch_add(n, std::memory_order_relaxed);
  measured_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  int64_t unset = 0;
  first_ns_.compare_exchange_strong(unset, now_ns, std::memory_order_relaxed);
  int64_t seen = last_ns_.load(std::memory_order_relaxed);
  while (now_ns > seen &&
         !last_ns_.compare_exchange_weak(seen, now_ns, std::memory_order_relaxed)) {
  }
}

void SideStats::Failed(uint64_t n, const Status& status) {
  if (errors_.fetch_add(n, std::memory_order_relaxed) == 0) {
    std::lock_guard lock(error_mu_);
    first_error_ = status.ToString();
  }
}

std::string SideStats::first_error() const {
  std::lock_guard lock(error_mu_);
  return first_error_;
}

Status RunProducers(const BenchOptions& options, RunControl& control, SideStats& stats,
                    CheckRecord* checks) {
  MessageFactory factory(options, control.start_wall_ms());
  RETURN_IF_ERROR(factory.status());
  // Declared before the producers: their checker threads use it until they are destroyed.
  BenchChecker checker(options, checks);
  std::vector<Producer> producers;
  producers.reserve(options.producers);
  for (int i = 0; i < options.producers; ++i) {
    auto builder = Producer::NewBuilder();
    builder.Endpoint(options.addr);
    if (options.Transactional()) {
      builder.Group(options.txn_group).TransactionChecker([&checker](const ReceivedMessage& half) {
        return checker.Check(half);
      });
    }
    ASSIGN_OR_RETURN(Producer p, builder.Build());
    producers.push_back(std::move(p));
  }
  const bool blocking = options.blocking || options.Transactional();
  int senders_per_producer = 1;  // SendAsync
  if (blocking) {
    senders_per_producer = options.inflight;  // one call at a time each
  } else if (options.batch > 1) {
    senders_per_producer =
        std::clamp(options.inflight / options.batch, 1, kMaxBatchSendersPerProducer);
  }
  double rate_per_sender = options.rate / (options.producers * senders_per_producer);
  AckedIds acked(options.acked_ids);
  if (acked.failed(options.acked_ids)) {
    return Status(Code::kIOError, "cannot write --acked-ids file " + options.acked_ids);
  }
  RunThreads(options.producers * senders_per_producer, "bench-prod", [&](int i) {
    Producer& p = producers[i / senders_per_producer];
    if (blocking) {
      RunBlockingSender(p, options, rate_per_sender, factory, control, stats);
    } else if (options.batch == 1) {
      RunAsyncSender(p, options, rate_per_sender, factory, control, stats, &acked);
    } else {
      RunBatchSender(p, options, rate_per_sender, factory, control, stats);
    }
  });
  if (checks != nullptr && options.txn_end == BenchOptions::TxnEnd::kOpen) {
    WaitForChecks(options, control, stats, *checks);
  }
  for (Producer& p : producers) p.Shutdown();  // before the checker goes
  return Status::Ok();
}

Status RunConsumers(const BenchOptions& options, RunControl& control, const ConsumeLimits& limits,
                    SideStats& stats) {
  std::vector<SimpleConsumer> consumers;
  consumers.reserve(options.consumers);
  for (int i = 0; i < options.consumers; ++i) {
    ASSIGN_OR_RETURN(SimpleConsumer c, SimpleConsumer::NewBuilder()
                                           .Endpoint(options.addr)
                                           .Group(options.group)
                                           .Topic(options.topic)
                                           .AwaitDuration(kReceiveWaitMs)
                                           .Build());
    consumers.push_back(std::move(c));
  }
  const bool stamped = options.stamp_bodies && options.size >= sizeof(int64_t);
  const bool scheduled = options.Scheduled();
  const int64_t idle_stop_ns = options.idle_stop_ms * 1'000'000;
  RunThreads(options.consumers, "bench-cons", [&](int i) {
    SimpleConsumer& consumer = consumers[i];
    int64_t last_message_ns = NowNanos();
    while (true) {
      int64_t now = NowNanos();
      if (control.stopped() || (limits.obey_run_deadline && control.Over(now)) ||
          now >= limits.drain_deadline_ns.load()) {
        break;
      }
      uint64_t limit = limits.count.load();
      uint64_t done = stats.total();
      if (done >= limit) break;
      if (limits.producers_done.load() &&
          now - std::max(last_message_ns, limits.idle_from_ns.load()) >= idle_stop_ns) {
        break;
      }
      auto wanted = static_cast<uint32_t>(std::min<uint64_t>(options.receive_batch, limit - done));
      auto batch = consumer.Receive(wanted);
      if (!batch.ok()) {
        stats.Failed(1, batch.status());
        if (batch.status().code() == Code::kUnavailable) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        continue;
      }
      if (batch->empty()) continue;
      int64_t received_wall = WallNanos();
      Status st = consumer.Ack(*batch);
      now = NowNanos();
      last_message_ns = now;
      if (!st.ok()) {
        stats.Failed(batch->size(), st);
        continue;
      }
      bool measured = control.Measuring(now);
      uint64_t bytes = 0;
      for (const auto& m : *batch) {
        bytes += m.body().size();
        if (scheduled) {
          auto due = m.properties().find(kDueProperty);
          if (measured && due != m.properties().end()) {
            int64_t due_ns = std::atoll(due->second.c_str()) * 1'000'000;
            stats.latency().Record(std::max<int64_t>(received_wall - due_ns, 0));
          }
        } else if (stamped && measured && m.body().size() >= sizeof(int64_t)) {
          int64_t sent_wall;
          std::memcpy(&sent_wall, m.body().data(), sizeof(sent_wall));
          stats.latency().Record(received_wall - sent_wall);
        }
      }
      stats.Completed(batch->size(), bytes, measured, now);
    }
  });
  return Status::Ok();
}

}  // namespace tidemq::bench
