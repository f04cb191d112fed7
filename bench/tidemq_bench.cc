// tidemq-bench: load generator and benchmark for a TideMQ broker.
//
//   tidemq-bench produce --count 1000000 --batch 64
//   tidemq-bench consume --count 1000000
//   tidemq-bench produce --rate 20000 --duration 30        (paced: latency under steady load)
//   tidemq-bench produce-consume --producers 2 --consumers 2
//   tidemq-bench schedule --count 100000 --delay-ms 2000   (scheduled: lateness, fires/s)
//   tidemq-bench produce --count 100000 --delay-ms 3600000 (schedule throughput only)
//   tidemq-bench txn --inflight 64 --duration 10           (half + commit per message)
//   tidemq-bench produce --blocking --inflight 64          (its baseline: 64 threads, Send)
//   tidemq-bench txn-check --count 10000 --check-timeout-ms 1000   (check-back lateness)
//
// Prints progress once a second and a summary; the last line(s) start with RESULT and hold the
// figures as key=value pairs for scripts (bench/run_all.sh). Every run is bounded: at most
// kMaxCount messages and kMaxDurationS seconds. Exit codes: 0 ok, 1 some sends, receives or
// acks failed (or nothing was measured), 2 usage error, 3 the broker cannot be reached.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/workload.h"
#include "tidemq/admin.h"

namespace tidemq::bench {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;
constexpr int kExitUnreachable = 3;

constexpr uint64_t kMaxCount = 10'000'000;
constexpr double kMaxDurationS = 600;
constexpr double kMaxWarmupS = 60;
constexpr int64_t kDrainLimitNs = 60'000'000'000;  // consumers behind producers: catch-up time
// Transactional and blocking sends: producers x inflight threads.
constexpr int kMaxSenderThreads = 1024;

RunControl* g_control = nullptr;

void OnSignal(int) {
  if (g_control != nullptr) g_control->Stop();
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
  std::signal(SIGTERM, SIG_DFL);
}

enum class Mode { kProduce, kConsume, kProduceConsume, kSchedule, kTxn, kTxnCheck };

const char* ModeName(Mode m) {
  switch (m) {
    case Mode::kProduce:
      return "produce";
    case Mode::kConsume:
      return "consume";
    case Mode::kProduceConsume:
      return "produce-consume";
    case Mode::kSchedule:
      return "schedule";
    case Mode::kTxn:
      return "txn";
    case Mode::kTxnCheck:
      return "txn-check";
  }
  return "?";
}

void AddCommonOptions(CLI::App* cmd, BenchOptions* o) {
  cmd->add_option("--addr", o->addr, "Broker address HOST:PORT")->capture_default_str();
  cmd->add_option("--topic", o->topic, "Topic (created if missing)")->capture_default_str();
  cmd->add_option("--queues", o->queues, "Queues of the topic when it is created")
      ->capture_default_str();
  cmd->add_option("--size", o->size, "Message body bytes")->capture_default_str();
  cmd->add_option("--count", o->count,
                  "Messages to measure (consume: to receive and ack, warm-up included); "
                  "the run then ends at this count or --duration, whichever comes first");
  cmd->add_option("--duration", o->duration_s,
                  "Measured seconds (default 10; with --count " +
                      std::to_string(static_cast<int>(kMaxDurationS)) + ")");
  cmd->add_option("--warmup", o->warmup_s, "Unmeasured seconds before measuring")
      ->capture_default_str();
}

void AddProduceOptions(CLI::App* cmd, BenchOptions* o) {
  cmd->add_option("--producers", o->producers, "Producer objects, one connection each")
      ->capture_default_str();
  cmd->add_option("--inflight", o->inflight, "Outstanding sends per producer")
      ->capture_default_str();
  cmd->add_option("--batch", o->batch,
                  "Messages per SendBatch (1: SendAsync; >1: inflight/batch sender threads "
                  "per producer, each one SendBatch at a time)")
      ->capture_default_str();
  cmd->add_option("--rate", o->rate, "Target msg/s over all producers (0: as fast as possible)")
      ->capture_default_str();
}

void AddBlockingOption(CLI::App* cmd, BenchOptions* o) {
  cmd->add_flag("--blocking", o->blocking,
                "--inflight threads per producer, each one blocking Send at a time (the "
                "baseline for txn) instead of SendAsync");
}

void AddScheduleOptions(CLI::App* cmd, BenchOptions* o) {
  cmd->add_option("--delay-ms", o->delay_ms, "Scheduled messages: each due this long after its send")
      ->capture_default_str();
  cmd->add_option("--spread-ms", o->spread_ms,
                  "Spread due times uniformly over [delay, delay + spread)")
      ->capture_default_str();
  cmd->add_option("--same-due-ms", o->same_due_ms,
                  "All messages share one due time: this long after the run starts "
                  "(overrides --delay-ms / --spread-ms)")
      ->capture_default_str();
}

void AddTxnOptions(CLI::App* cmd, BenchOptions* o, bool choose_end) {
  cmd->add_option("--check-timeout-ms", o->check_timeout_ms,
                  "Per-message check timeout (0: the broker's --txn-check-timeout-ms)")
      ->capture_default_str();
  cmd->add_option("--txn-group", o->txn_group, "Producer group of the transactional producers")
      ->capture_default_str();
  if (choose_end) {
    const std::map<std::string, BenchOptions::TxnEnd> ends = {
        {"commit", BenchOptions::TxnEnd::kCommit},
        {"rollback", BenchOptions::TxnEnd::kRollback},
        {"open", BenchOptions::TxnEnd::kOpen}};
    cmd->add_option("--txn-end", o->txn_end,
                    "What the local transaction answers: commit (default), rollback, or open "
                    "(no end: left to the check-back, e.g. to measure pending transactions)")
        ->transform(CLI::CheckedTransformer(ends, CLI::ignore_case));
  }
}

void AddConsumeOptions(CLI::App* cmd, BenchOptions* o) {
  cmd->add_option("--group", o->group, "Consumer group")->capture_default_str();
  cmd->add_option("--consumers", o->consumers, "SimpleConsumer objects, one connection each")
      ->capture_default_str();
  cmd->add_option("--receive-batch", o->receive_batch, "Messages per Receive (1..1024)")
      ->capture_default_str();
  cmd->add_option("--idle-stop-ms", o->idle_stop_ms,
                  "Consumers stop after this long without a message")
      ->capture_default_str();
}

// Empty when the options are usable.
std::string CheckOptions(const BenchOptions& o) {
  if (o.count > kMaxCount) return "--count is at most " + std::to_string(kMaxCount);
  if (o.duration_s <= 0 || o.duration_s > kMaxDurationS) {
    return "--duration must be in (0, " + std::to_string(static_cast<int>(kMaxDurationS)) + "]";
  }
  if (o.warmup_s < 0 || o.warmup_s > kMaxWarmupS) return "--warmup must be 0..60";
  if (o.size < 1 || o.size > kMaxMessageBodyBytes) return "--size must be 1..4194304";
  if (o.queues < 1 || o.queues > 1024) return "--queues must be 1..1024";
  if (o.producers < 1 || o.producers > 256) return "--producers must be 1..256";
  if (o.inflight < 1 || o.inflight > 65536) return "--inflight must be 1..65536";
  if (o.batch < 1 || o.batch > 4096) return "--batch must be 1..4096";
  if (o.rate < 0) return "--rate must not be negative";
  if (o.consumers < 1 || o.consumers > 64) return "--consumers must be 1..64";
  if (o.receive_batch < 1 || o.receive_batch > 1024) return "--receive-batch must be 1..1024";
  constexpr int64_t kMaxScheduleMs = int64_t{400} * 24 * 3600 * 1000;
  if (o.delay_ms < 0 || o.spread_ms < 0 || o.same_due_ms < 0 ||
      o.delay_ms + o.spread_ms > kMaxScheduleMs || o.same_due_ms > kMaxScheduleMs) {
    return "--delay-ms, --spread-ms and --same-due-ms must be 0..400 days";
  }
  if (o.idle_stop_ms < 100 || o.idle_stop_ms > 60'000) return "--idle-stop-ms must be 100..60000";
  if (o.check_timeout_ms < 0 || o.check_timeout_ms > int64_t{24} * 3600 * 1000) {
    return "--check-timeout-ms must be 0..86400000";
  }
  if (o.Transactional() || o.blocking) {
    if (o.batch != 1) return "transactional and blocking sends are one at a time: no --batch";
    if (o.producers * o.inflight > kMaxSenderThreads) {
      return "--producers x --inflight (sender threads) is at most " +
             std::to_string(kMaxSenderThreads) + " for transactional and blocking sends";
    }
  }
  return "";
}

Status EnsureTopic(const BenchOptions& o) {
  ASSIGN_OR_RETURN(Admin admin, Admin::NewBuilder().Endpoint(o.addr).Build());
  auto info = admin.DescribeTopic(o.topic);
  if (info.ok()) {
    if (info->queue_count != o.queues) {
      std::printf("note: topic %s exists with %u queues (--queues %u ignored)\n", o.topic.c_str(),
                  info->queue_count, o.queues);
    }
    return Status::Ok();
  }
  if (info.status().code() != Code::kTopicNotFound && info.status().code() != Code::kNotFound) {
    return info.status();
  }
  auto created = admin.CreateTopic(o.topic, o.queues);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  std::printf("created topic %s with %u queues\n", o.topic.c_str(), o.queues);
  return Status::Ok();
}

// Prints each side's msg/s once a second until Finish() is called.
class ProgressPrinter {
 public:
  struct Side {
    const char* name;  // "produce", "consume", "check"
    const SideStats* stats;
  };
  ProgressPrinter(const RunControl& control, std::vector<Side> sides)
      : control_(control), sides_(std::move(sides)) {}

  void Run() {
    std::vector<uint64_t> last(sides_.size(), 0);
    int64_t last_ns = control_.start_ns();
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return finished_; })) {
      int64_t now = NowNanos();
      double dt = static_cast<double>(now - last_ns) / 1e9;
      std::string line = "[" + Fixed(static_cast<double>(now - control_.start_ns()) / 1e9, 0) +
                         "s" + (control_.Measuring(now) ? "" : " warm-up") + "]";
      for (size_t i = 0; i < sides_.size(); ++i) {
        const SideStats& st = *sides_[i].stats;
        uint64_t n = st.total();
        line += std::string(" ") + sides_[i].name + " " +
                Fixed(static_cast<double>(n - last[i]) / dt, 0) + " msg/s";
        if (st.errors() > 0) line += " (" + std::to_string(st.errors()) + " errors)";
        last[i] = n;
      }
      last_ns = now;
      std::printf("%s\n", line.c_str());
      std::fflush(stdout);
    }
  }

  void Finish() {
    {
      std::lock_guard lock(mu_);
      finished_ = true;
    }
    cv_.notify_all();
  }

  static std::string Fixed(double v, int decimals) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%.*f", decimals, v);
    return buf;
  }

 private:
  const RunControl& control_;
  const std::vector<Side> sides_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;  // GUARDED_BY(mu_)
};

std::string Ms(int64_t nanos) {
  return ProgressPrinter::Fixed(static_cast<double>(nanos) / 1e6, 3);
}

// " latency=NAME p50_ms=... p99_ms=... p999_ms=... max_ms=..." for a RESULT line.
std::string LatencyFields(const char* latency_name, const LatencyHistogram& h) {
  return std::string(" latency=") + latency_name + " p50_ms=" + Ms(h.PercentileNanos(0.5)) +
         " p99_ms=" + Ms(h.PercentileNanos(0.99)) + " p999_ms=" + Ms(h.PercentileNanos(0.999)) +
         " max_ms=" + Ms(h.max_nanos());
}

// "  <what> ms: p50 ...": what is e.g. "send latency" or "check lateness".
void PrintLatency(const std::string& what, const LatencyHistogram& h) {
  std::printf("  %s ms: p50 %s  p99 %s  p99.9 %s  max %s  mean %s\n", what.c_str(),
              Ms(h.PercentileNanos(0.5)).c_str(), Ms(h.PercentileNanos(0.99)).c_str(),
              Ms(h.PercentileNanos(0.999)).c_str(), Ms(h.max_nanos()).c_str(),
              Ms(static_cast<int64_t>(h.MeanNanos())).c_str());
}

// Prints one side's summary and its RESULT line. latency_name: "" when no latency was taken.
void Report(Mode mode, const char* side, const BenchOptions& o, const RunControl& control,
            const SideStats& stats, const char* latency_name) {
  uint64_t msgs = stats.measured();
  double secs =
      msgs == 0 ? 0 : static_cast<double>(stats.last_ns() - control.measure_start_ns()) / 1e9;
  double msg_s = secs > 0 ? static_cast<double>(msgs) / secs : 0;
  double mb_s = secs > 0 ? static_cast<double>(stats.measured_bytes()) / 1e6 / secs : 0;
  const LatencyHistogram& h = stats.latency();
  std::printf("%s: %llu msgs in %.3f s = %.0f msg/s, %.1f MB/s, %llu errors\n", side,
              static_cast<unsigned long long>(msgs), secs, msg_s, mb_s,
              static_cast<unsigned long long>(stats.errors()));
  if (stats.errors() > 0) std::printf("  first error: %s\n", stats.first_error().c_str());
  bool has_latency = latency_name[0] != '\0' && h.count() > 0;
  if (has_latency) PrintLatency(std::string(latency_name) + " latency", h);
  std::string line = std::string("RESULT mode=") + ModeName(mode) + " side=" + side +
                     " msgs=" + std::to_string(msgs) + " secs=" + ProgressPrinter::Fixed(secs, 3) +
                     " msg_s=" + ProgressPrinter::Fixed(msg_s, 0) +
                     " mb_s=" + ProgressPrinter::Fixed(mb_s, 1);
  if (has_latency) line += LatencyFields(latency_name, h);
  line += " errors=" + std::to_string(stats.errors()) + " size=" + std::to_string(o.size);
  if (std::string(side) == "produce") {
    line += " producers=" + std::to_string(o.producers) + " batch=" + std::to_string(o.batch) +
            " inflight=" + std::to_string(o.inflight) +
            " rate=" + ProgressPrinter::Fixed(o.rate, 0);
    if (o.blocking) line += " blocking=1";
    if (o.Transactional()) {
      const char* end = o.txn_end == BenchOptions::TxnEnd::kCommit     ? "commit"
                        : o.txn_end == BenchOptions::TxnEnd::kRollback ? "rollback"
                                                                       : "open";
      line += std::string(" txn_end=") + end +
              " check_timeout_ms=" + std::to_string(o.check_timeout_ms);
    }
  } else {
    line += " consumers=" + std::to_string(o.consumers) +
            " receive_batch=" + std::to_string(o.receive_batch);
  }
  if (o.Scheduled() && std::string(side) == "consume" && msgs > 1) {
    // Deliveries from the first to the last: how fast due messages go out.
    double fire_secs = static_cast<double>(stats.last_ns() - stats.first_ns()) / 1e9;
    double fire_s = fire_secs > 0 ? static_cast<double>(msgs - 1) / fire_secs : 0;
    std::printf("  delivered over %.3f s (first to last) = %.0f msg/s\n", fire_secs, fire_s);
    line += " deliver_secs=" + ProgressPrinter::Fixed(fire_secs, 3) +
            " deliver_msg_s=" + ProgressPrinter::Fixed(fire_s, 0);
  }
  if (o.Scheduled()) {
    line += " delay_ms=" + std::to_string(o.delay_ms) + " spread_ms=" + std::to_string(o.spread_ms) +
            " same_due_ms=" + std::to_string(o.same_due_ms);
  }
  std::printf("%s\n", line.c_str());
}

// The check-back side of txn-check: lateness of the first check of each half, and how fast
// the checks came (first to last). `sent`: the halves sent.
void ReportChecks(const BenchOptions& o, const CheckRecord& checks, uint64_t sent) {
  const SideStats& stats = checks.stats;
  const uint64_t n = stats.total();
  const uint64_t missing = sent > n ? sent - n : 0;
  double secs = n > 1 ? static_cast<double>(stats.last_ns() - stats.first_ns()) / 1e9 : 0;
  double per_s = secs > 0 ? static_cast<double>(n - 1) / secs : 0;
  std::printf(
      "check: %llu of %llu halves checked (%llu missing), over %.3f s (first to last) = "
      "%.0f checks/s; %llu early, %llu repeated, %llu of other topics\n",
      static_cast<unsigned long long>(n), static_cast<unsigned long long>(sent),
      static_cast<unsigned long long>(missing), secs, per_s,
      static_cast<unsigned long long>(checks.early.load()),
      static_cast<unsigned long long>(checks.repeats.load()),
      static_cast<unsigned long long>(checks.foreign.load()));
  if (n > 0) PrintLatency("check lateness", stats.latency());
  std::string line = std::string("RESULT mode=") + ModeName(Mode::kTxnCheck) +
                     " side=check msgs=" + std::to_string(n) +
                     " secs=" + ProgressPrinter::Fixed(secs, 3) +
                     " msg_s=" + ProgressPrinter::Fixed(per_s, 0);
  if (n > 0) line += LatencyFields("lateness", stats.latency());
  line += " missing=" + std::to_string(missing) + " early=" + std::to_string(checks.early.load()) +
          " repeats=" + std::to_string(checks.repeats.load()) +
          " check_timeout_ms=" + std::to_string(o.check_timeout_ms) +
          " producers=" + std::to_string(o.producers) + " inflight=" + std::to_string(o.inflight);
  std::printf("%s\n", line.c_str());
}

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
  return st.code() == Code::kUnavailable ? kExitUnreachable : kExitError;
}

int Run(Mode mode, BenchOptions o, bool duration_given) {
  if (o.count > 0 && !duration_given) o.duration_s = kMaxDurationS;
  if (mode == Mode::kTxn && o.txn_end == BenchOptions::TxnEnd::kNone) {
    o.txn_end = BenchOptions::TxnEnd::kCommit;
  }
  if (mode == Mode::kTxnCheck) {
    o.txn_end = BenchOptions::TxnEnd::kOpen;
    if (o.check_timeout_ms <= 0) {
      std::fprintf(stderr, "error: txn-check needs --check-timeout-ms\n");
      return kExitUsage;
    }
  }
  if (std::string err = CheckOptions(o); !err.empty()) {
    std::fprintf(stderr, "error: %s (see --help)\n", err.c_str());
    return kExitUsage;
  }
  o.stamp_bodies = mode == Mode::kProduceConsume;
  if (mode == Mode::kSchedule && !o.Scheduled()) {
    std::fprintf(stderr, "error: schedule needs --delay-ms, --spread-ms or --same-due-ms\n");
    return kExitUsage;
  }
  if (Status st = EnsureTopic(o); !st.ok()) return Fail(st);

  // Consumers count their own limit (warm-up included); RunControl's budget is for sends.
  RunControl control(mode == Mode::kConsume ? 0 : o.count, o.warmup_s, o.duration_s);
  g_control = &control;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  bool produce = mode != Mode::kConsume;
  bool consume = mode == Mode::kConsume || mode == Mode::kProduceConsume || mode == Mode::kSchedule;
  bool check = mode == Mode::kTxnCheck;
  SideStats produced, consumed;
  CheckRecord checks;
  ConsumeLimits limits;
  if (mode == Mode::kConsume) {
    if (o.count > 0) limits.count = o.count;
    limits.producers_done = true;
  } else {
    limits.obey_run_deadline = false;
  }
  std::vector<ProgressPrinter::Side> sides;
  if (produce) sides.push_back({"produce", &produced});
  if (consume) sides.push_back({"consume", &consumed});
  if (check) sides.push_back({"check", &checks.stats});
  ProgressPrinter progress(control, std::move(sides));
  std::thread progress_thread([&progress] { progress.Run(); });

  Status produce_status, consume_status;
  std::thread consumer_thread;
  if (consume) {
    consumer_thread =
        std::thread([&] { consume_status = RunConsumers(o, control, limits, consumed); });
  }
  if (produce) {
    produce_status = RunProducers(o, control, produced, check ? &checks : nullptr);
    if (!produce_status.ok()) control.Stop();
    limits.count = produced.total();
    // Scheduled messages: nothing to drain before the last one falls due.
    int64_t now = NowNanos();
    int64_t last_due_ns = now + (o.delay_ms + o.spread_ms) * 1'000'000;
    if (o.same_due_ms > 0) last_due_ns = std::max(now, control.start_ns() + o.same_due_ms * 1'000'000);
    limits.idle_from_ns = last_due_ns;
    limits.drain_deadline_ns = last_due_ns + kDrainLimitNs;
    limits.producers_done = true;
  }
  if (consumer_thread.joinable()) consumer_thread.join();
  progress.Finish();
  progress_thread.join();
  g_control = nullptr;

  if (!produce_status.ok()) return Fail(produce_status);
  if (!consume_status.ok()) return Fail(consume_status);
  bool failed = false;
  if (produce) {
    // Transactional with an end: from the half's send to the end's acknowledgement.
    const bool ended =
        o.txn_end == BenchOptions::TxnEnd::kCommit || o.txn_end == BenchOptions::TxnEnd::kRollback;
    Report(mode, "produce", o, control, produced, ended ? "txn" : "send");
    failed |= produced.errors() > 0 || produced.measured() == 0;
  }
  if (consume) {
    const char* latency = o.Scheduled() ? "lateness" : o.stamp_bodies ? "end-to-end" : "";
    Report(mode, "consume", o, control, consumed, latency);
    failed |= consumed.errors() > 0 || consumed.measured() == 0;
  }
  if (check) {
    ReportChecks(o, checks, produced.total());
    failed |= checks.stats.total() < produced.total() || checks.early.load() > 0;
  }
  return failed ? kExitError : kExitOk;
}

}  // namespace
}  // namespace tidemq::bench

int main(int argc, char** argv) {
  using tidemq::bench::Mode;
  CLI::App app{
      "tidemq-bench: load generator and benchmark for a TideMQ broker. Prints msg/s once a "
      "second, then a summary and RESULT key=value lines."};
  app.require_subcommand(1);
  tidemq::bench::BenchOptions options;
  struct Command {
    Mode mode;
    const char* name;
    const char* help;
  };
  const Command commands[] = {
      {Mode::kProduce, "produce", "Send messages; report msg/s, MB/s and send latency"},
      {Mode::kConsume, "consume", "Receive and ack stored messages; report msg/s and MB/s"},
      {Mode::kProduceConsume, "produce-consume",
       "Both at once; report both sides and end-to-end latency"},
      {Mode::kSchedule, "schedule",
       "Send scheduled messages while consumers receive them as they fall due; report schedule "
       "msg/s, delivery msg/s and lateness (receive time - DELIVER_AT_MS)"},
      {Mode::kTxn, "txn",
       "Transactional sends: half message, local transaction, end (commit by default), one at a "
       "time on each of producers x inflight threads; report msg/s and latency (half to end)"},
      {Mode::kTxnCheck, "txn-check",
       "Send half messages with --check-timeout-ms and never end them; the checker answers "
       "commit and records check lateness (arrival - (half store time + timeout))"},
  };
  std::vector<std::pair<Mode, CLI::App*>> subs;
  for (const auto& c : commands) {
    CLI::App* cmd = app.add_subcommand(c.name, c.help);
    tidemq::bench::AddCommonOptions(cmd, &options);
    const bool txn = c.mode == Mode::kTxn || c.mode == Mode::kTxnCheck;
    if (c.mode != Mode::kConsume) tidemq::bench::AddProduceOptions(cmd, &options);
    if (c.mode == Mode::kProduce || c.mode == Mode::kSchedule) {
      tidemq::bench::AddScheduleOptions(cmd, &options);
    }
    if (c.mode == Mode::kProduce) tidemq::bench::AddBlockingOption(cmd, &options);
    if (txn) tidemq::bench::AddTxnOptions(cmd, &options, c.mode == Mode::kTxn);
    if (c.mode != Mode::kProduce && !txn) tidemq::bench::AddConsumeOptions(cmd, &options);
    subs.emplace_back(c.mode, cmd);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? tidemq::bench::kExitOk : tidemq::bench::kExitUsage;
  }
  for (const auto& [mode, cmd] : subs) {
    if (cmd->parsed()) {
      return tidemq::bench::Run(mode, options, cmd->get_option("--duration")->count() > 0);
    }
  }
  return tidemq::bench::kExitUsage;
}
