// tidemq-bench: load generator and benchmark for a TideMQ broker.
//
//   tidemq-bench produce --count 1000000 --batch 64
//   tidemq-bench consume --count 1000000
//   tidemq-bench produce --rate 20000 --duration 30        (paced: latency under steady load)
//   tidemq-bench produce-consume --producers 2 --consumers 2
//   tidemq-bench schedule --count 100000 --delay-ms 2000   (scheduled: lateness, fires/s)
//   tidemq-bench produce --count 100000 --delay-ms 3600000 (schedule throughput only)
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
#include <mutex>
#include <string>
#include <thread>

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

RunControl* g_control = nullptr;

void OnSignal(int) {
  if (g_control != nullptr) g_control->Stop();
  std::signal(SIGINT, SIG_DFL);  // a second Ctrl-C ends the process at once
  std::signal(SIGTERM, SIG_DFL);
}

enum class Mode { kProduce, kConsume, kProduceConsume, kSchedule };

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

// Prints msg/s once a second until Finish() is called.
class ProgressPrinter {
 public:
  ProgressPrinter(const RunControl& control, const SideStats* produced, const SideStats* consumed)
      : control_(control), produced_(produced), consumed_(consumed) {}

  void Run() {
    uint64_t last_p = 0, last_c = 0;
    int64_t last_ns = control_.start_ns();
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return finished_; })) {
      int64_t now = NowNanos();
      double dt = static_cast<double>(now - last_ns) / 1e9;
      std::string line = "[" + Fixed(static_cast<double>(now - control_.start_ns()) / 1e9, 0) +
                         "s" + (control_.Measuring(now) ? "" : " warm-up") + "]";
      if (produced_ != nullptr) {
        uint64_t p = produced_->total();
        line += " produce " + Fixed(static_cast<double>(p - last_p) / dt, 0) + " msg/s";
        if (produced_->errors() > 0)
          line += " (" + std::to_string(produced_->errors()) + " errors)";
        last_p = p;
      }
      if (consumed_ != nullptr) {
        uint64_t c = consumed_->total();
        line += " consume " + Fixed(static_cast<double>(c - last_c) / dt, 0) + " msg/s";
        if (consumed_->errors() > 0)
          line += " (" + std::to_string(consumed_->errors()) + " errors)";
        last_c = c;
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
  const SideStats* produced_;
  const SideStats* consumed_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool finished_ = false;  // GUARDED_BY(mu_)
};

std::string Ms(int64_t nanos) {
  return ProgressPrinter::Fixed(static_cast<double>(nanos) / 1e6, 3);
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
  if (has_latency) {
    std::printf("  %s latency ms: p50 %s  p99 %s  p99.9 %s  max %s  mean %s\n", latency_name,
                Ms(h.PercentileNanos(0.5)).c_str(), Ms(h.PercentileNanos(0.99)).c_str(),
                Ms(h.PercentileNanos(0.999)).c_str(), Ms(h.max_nanos()).c_str(),
                Ms(static_cast<int64_t>(h.MeanNanos())).c_str());
  }
  std::string line = std::string("RESULT mode=") + ModeName(mode) + " side=" + side +
                     " msgs=" + std::to_string(msgs) + " secs=" + ProgressPrinter::Fixed(secs, 3) +
                     " msg_s=" + ProgressPrinter::Fixed(msg_s, 0) +
                     " mb_s=" + ProgressPrinter::Fixed(mb_s, 1);
  if (has_latency) {
    line += std::string(" latency=") + latency_name + " p50_ms=" + Ms(h.PercentileNanos(0.5)) +
            " p99_ms=" + Ms(h.PercentileNanos(0.99)) + " p999_ms=" + Ms(h.PercentileNanos(0.999)) +
            " max_ms=" + Ms(h.max_nanos());
  }
  line += " errors=" + std::to_string(stats.errors()) + " size=" + std::to_string(o.size);
  if (std::string(side) == "produce") {
    line += " producers=" + std::to_string(o.producers) + " batch=" + std::to_string(o.batch) +
            " inflight=" + std::to_string(o.inflight) +
            " rate=" + ProgressPrinter::Fixed(o.rate, 0);
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

int Fail(const Status& st) {
  std::fprintf(stderr, "error: %s\n", st.ToString().c_str());
  return st.code() == Code::kUnavailable ? kExitUnreachable : kExitError;
}

int Run(Mode mode, BenchOptions o, bool duration_given) {
  if (o.count > 0 && !duration_given) o.duration_s = kMaxDurationS;
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
  bool consume = mode != Mode::kProduce;
  SideStats produced, consumed;
  ConsumeLimits limits;
  if (mode == Mode::kConsume) {
    if (o.count > 0) limits.count = o.count;
    limits.producers_done = true;
  } else {
    limits.obey_run_deadline = false;
  }
  ProgressPrinter progress(control, produce ? &produced : nullptr, consume ? &consumed : nullptr);
  std::thread progress_thread([&progress] { progress.Run(); });

  Status produce_status, consume_status;
  std::thread consumer_thread;
  if (consume) {
    consumer_thread =
        std::thread([&] { consume_status = RunConsumers(o, control, limits, consumed); });
  }
  if (produce) {
    produce_status = RunProducers(o, control, produced);
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
    Report(mode, "produce", o, control, produced, "send");
    failed |= produced.errors() > 0 || produced.measured() == 0;
  }
  if (consume) {
    const char* latency = o.Scheduled() ? "lateness" : o.stamp_bodies ? "end-to-end" : "";
    Report(mode, "consume", o, control, consumed, latency);
    failed |= consumed.errors() > 0 || consumed.measured() == 0;
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
  };
  std::vector<std::pair<Mode, CLI::App*>> subs;
  for (const auto& c : commands) {
    CLI::App* cmd = app.add_subcommand(c.name, c.help);
    tidemq::bench::AddCommonOptions(cmd, &options);
    if (c.mode != Mode::kConsume) tidemq::bench::AddProduceOptions(cmd, &options);
    if (c.mode == Mode::kProduce || c.mode == Mode::kSchedule) {
      tidemq::bench::AddScheduleOptions(cmd, &options);
    }
    if (c.mode != Mode::kProduce) tidemq::bench::AddConsumeOptions(cmd, &options);
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
