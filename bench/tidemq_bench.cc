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
//   tidemq-bench consume-fail --count 200000 --fail-rate 0.01      (1 % nacked once)
//   tidemq-bench retry-lateness --count 20000 --nack-delay-ms 2000 (redelivery lateness)
//   tidemq-bench rebalance --rate 5000 --consumers 3 --lease-ms 2000   (joins, leave, kill)
//
// Prints progress once a second and a summary; the last line(s) start with RESULT and hold the
// figures as key=value pairs for scripts (bench/run_all.sh). Every run is bounded: at most
// kMaxCount messages and kMaxDurationS seconds. Exit codes: 0 ok, 1 some sends, receives or
// acks failed (or nothing was measured), 2 usage error, 3 the broker cannot be reached.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "bench/admin_churn.h"
#include "bench/report.h"
#include "bench/retry_workload.h"
#include "bench/workload.h"
#include "tidemq/admin.h"

namespace tidemq::bench {
namespace {

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

enum class Mode {
  kProduce,
  kConsume,
  kProduceConsume,
  kSchedule,
  kTxn,
  kTxnCheck,
  kConsumeFail,
  kRetryLateness,
  kRebalance
};

bool RetryMode(Mode m) {
  return m == Mode::kConsumeFail || m == Mode::kRetryLateness || m == Mode::kRebalance;
}

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
    case Mode::kConsumeFail:
      return "consume-fail";
    case Mode::kRetryLateness:
      return "retry-lateness";
    case Mode::kRebalance:
      return "rebalance";
  }
  return "?";
}

void AddCommonOptions(CLI::App* cmd, BenchOptions* o) {
  if (const char* env = std::getenv("TIDEMQ_ADDR"); env && *env) o->addr = env;
  cmd->add_option("--addr", o->addr,
                  "Broker address HOST:PORT, or a broker group's HOST:PORT,HOST:PORT,... "
                  "(the clients follow the master; env TIDEMQ_ADDR)")
      ->capture_default_str();
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
  cmd->add_option("--acked-ids", o->acked_ids,
                  "Write the id of every acknowledged message to this file (unbatched sends)");
  cmd->add_option("--admin-every-ms", o->admin_every_ms,
                  "Also create a topic every MS ms while sending (deleted after; 0: none)")
      ->capture_default_str();
}

void AddBlockingOption(CLI::App* cmd, BenchOptions* o) {
  cmd->add_flag("--blocking", o->blocking,
                "--inflight threads per producer, each one blocking Send at a time (the "
                "baseline for txn) instead of SendAsync");
}

void AddScheduleOptions(CLI::App* cmd, BenchOptions* o) {
  cmd->add_option("--delay-ms", o->delay_ms,
                  "Scheduled messages: each due this long after its send")
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

void AddRetryOptions(CLI::App* cmd, BenchOptions* o, Mode mode) {
  if (mode == Mode::kConsumeFail) {
    cmd->add_option("--fail-rate", o->fail_rate,
                    "Share of messages nacked on their first delivery (the same ones every run: "
                    "by a hash of their sequence number), acked when they come back")
        ->capture_default_str();
  }
  if (mode != Mode::kRebalance) {
    cmd->add_option("--nack-delay-ms", o->nack_delay_ms,
                    "The nacks' own delay; 0: the group's retry back-off. Default: 0 with "
                    "--retry-backoff, else 100 (consume-fail) or 2000 (retry-lateness)");
    cmd->add_option("--retry-backoff", o->retry_backoff,
                    "Create (or update) the group with this retry back-off first: ladder, a "
                    "list like 100ms or 1s,5s, or exponential:INITIAL,MULTIPLIER,MAX");
  }
  cmd->add_option("--lease-ms", o->lease_ms,
                  mode == Mode::kRebalance
                      ? "Consumers' lease: how long the killed consumer's messages stay "
                        "invisible (default 2000)"
                      : "Consumers' lease (default: the client's, 30 s)");
  if (mode == Mode::kRebalance) {
    cmd->add_option("--phase-ms", o->phase_ms,
                    "Time between membership events: each join, the leave, the kill")
        ->capture_default_str();
  }
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
  if (o.admin_every_ms != 0 && (o.admin_every_ms < 10 || o.admin_every_ms > 60'000)) {
    return "--admin-every-ms must be 0 or 10..60000";
  }
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
  if (o.fail_rate < 0 || o.fail_rate > 1) return "--fail-rate must be 0..1";
  if (o.nack_delay_ms < -1 || o.nack_delay_ms > int64_t{24} * 3600 * 1000) {
    return "--nack-delay-ms must be 0..86400000";
  }
  if (o.lease_ms != 0 && (o.lease_ms < 1000 || o.lease_ms > int64_t{12} * 3600 * 1000)) {
    return "--lease-ms must be 1000..43200000";
  }
  if (o.phase_ms < 1000 || o.phase_ms > 60'000) return "--phase-ms must be 1000..60000";
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
                     " msgs=" + std::to_string(msgs) + " secs=" + Fixed(secs, 3) +
                     " msg_s=" + Fixed(msg_s, 0) + " mb_s=" + Fixed(mb_s, 1);
  if (has_latency) line += LatencyFields(latency_name, h);
  line += " errors=" + std::to_string(stats.errors()) + " size=" + std::to_string(o.size);
  if (std::string(side) == "produce") {
    line += " producers=" + std::to_string(o.producers) + " batch=" + std::to_string(o.batch) +
            " inflight=" + std::to_string(o.inflight) + " rate=" + Fixed(o.rate, 0);
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
    line += " deliver_secs=" + Fixed(fire_secs, 3) + " deliver_msg_s=" + Fixed(fire_s, 0);
  }
  if (o.Scheduled()) {
    line += " delay_ms=" + std::to_string(o.delay_ms) +
            " spread_ms=" + std::to_string(o.spread_ms) +
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
                     " side=check msgs=" + std::to_string(n) + " secs=" + Fixed(secs, 3) +
                     " msg_s=" + Fixed(per_s, 0);
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

// Creates o.group, or updates it, with the back-off of --retry-backoff.
Status SetGroupBackoff(const BenchOptions& o) {
  ASSIGN_OR_RETURN(Admin admin, Admin::NewBuilder().Endpoint(o.addr).Build());
  GroupOptions options;
  options.retry = o.group_retry;
  ASSIGN_OR_RETURN(GroupInfo group, admin.CreateGroup(o.group, options));
  std::printf("group %s: retry back-off %s, max attempts %u\n", group.name.c_str(),
              group.retry.ToString().c_str(), group.max_attempts);
  return Status::Ok();
}

// Empty when the options suit the retry mode; parses --retry-backoff into o->group_retry.
std::string CheckRetryOptions(Mode mode, BenchOptions* o) {
  if (mode != Mode::kRebalance && o->count == 0)
    return std::string(ModeName(mode)) + " needs --count";
  if (o->size < sizeof(uint64_t)) {
    return std::string(ModeName(mode)) + " needs --size >= 8 (the sequence number)";
  }
  if (!o->retry_backoff.empty()) {
    auto policy = RetryPolicy::Parse(o->retry_backoff);
    if (!policy.ok()) return "--retry-backoff: " + policy.status().message();
    o->group_retry = *policy;
  }
  if (mode == Mode::kRetryLateness && o->nack_delay_ms == 0 && !o->group_retry) {
    return "retry-lateness with --nack-delay-ms 0 needs --retry-backoff (to know when the "
           "messages are due back)";
  }
  if (mode == Mode::kRebalance && o->rate <= 0)
    return "rebalance needs --rate (the producer's pace)";
  if (mode == Mode::kRebalance && o->consumers < 3) {
    return "rebalance needs --consumers >= 3: the peak, then one leaves and one is killed";
  }
  return "";
}

// consume-fail, retry-lateness and rebalance (bench/retry_workload.h), on numbered bodies.
int RunRetry(Mode mode, BenchOptions o) {
  if (std::string err = CheckRetryOptions(mode, &o); !err.empty()) {
    std::fprintf(stderr, "error: %s (see --help)\n", err.c_str());
    return kExitUsage;
  }
  if (Status st = EnsureTopic(o); !st.ok()) return Fail(st);
  if (o.group_retry) {
    if (Status st = SetGroupBackoff(o); !st.ok()) return Fail(st);
  }
  RunControl control(0, 0, o.duration_s);
  g_control = &control;
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  Result<bool> sound = mode == Mode::kConsumeFail     ? RunConsumeFail(o, control)
                       : mode == Mode::kRetryLateness ? RunRetryLateness(o, control)
                                                      : RunRebalance(o, control);
  g_control = nullptr;
  if (!sound.ok()) return Fail(sound.status());
  return *sound ? kExitOk : kExitError;
}

int Run(Mode mode, BenchOptions o, bool duration_given) {
  // Runs of a given count, and the retry modes (bounded by their own phases), are limited by
  // the hard limit only.
  if ((o.count > 0 || RetryMode(mode)) && !duration_given) o.duration_s = kMaxDurationS;
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
  if (RetryMode(mode)) return RunRetry(mode, o);
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
    std::optional<AdminChurn> churn;
    if (o.admin_every_ms > 0) churn.emplace(o, o.admin_every_ms).Start();
    produce_status = RunProducers(o, control, produced, check ? &checks : nullptr);
    if (churn) churn->Stop();
    if (!produce_status.ok()) control.Stop();
    limits.count = produced.total();
    // Scheduled messages: nothing to drain before the last one falls due.
    int64_t now = NowNanos();
    int64_t last_due_ns = now + (o.delay_ms + o.spread_ms) * 1'000'000;
    if (o.same_due_ms > 0)
      last_due_ns = std::max(now, control.start_ns() + o.same_due_ms * 1'000'000);
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
      {Mode::kConsumeFail, "consume-fail",
       "Preload --count messages, consume them with acks while --fail-rate of them are nacked "
       "once; report first deliveries/s and the time until every message was acked"},
      {Mode::kRetryLateness, "retry-lateness",
       "Preload --count messages, nack each once with --nack-delay-ms, ack its redelivery; "
       "report redeliveries/s and lateness (receive - (nack sent + delay))"},
      {Mode::kRebalance, "rebalance",
       "Producer paced at --rate; consumers join one per --phase-ms up to --consumers, then "
       "one leaves and one is killed; report per event the time until every queue is served "
       "again, consumer shares, messages lost and redelivered"},
  };
  std::vector<std::pair<Mode, CLI::App*>> subs;
  for (const auto& c : commands) {
    CLI::App* cmd = app.add_subcommand(c.name, c.help);
    tidemq::bench::AddCommonOptions(cmd, &options);
    const bool txn = c.mode == Mode::kTxn || c.mode == Mode::kTxnCheck;
    const bool retry = tidemq::bench::RetryMode(c.mode);
    if (c.mode != Mode::kConsume && (!retry || c.mode == Mode::kRebalance)) {
      tidemq::bench::AddProduceOptions(cmd, &options);
    }
    if (retry) tidemq::bench::AddRetryOptions(cmd, &options, c.mode);
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
