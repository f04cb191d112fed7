// tidemq-peer-bench: TideMQ and its peers (Redis, RabbitMQ, NATS JetStream, beanstalkd) under
// the same load shapes, each driven by its native client. bench/peers/run.sh starts the
// servers and calls this once per measurement (README.md beside this file):
//
//   tidemq-peer-bench run --system redis --config always --durability durable
//       --shape publish-256 --addr 127.0.0.1:6400 --server-pid 1234   (one command line)
//   tidemq-peer-bench fsync-loop --dir /tmp/x        (4 KiB writes + fdatasync: per second)
//   tidemq-peer-bench table results.txt              (medians and the Markdown table)
//
// Shapes (1 KiB bodies, one client process):
//   publish-256  publish unbatched, 256 outstanding: msg/s, latency send -> acknowledgement
//   publish-1    publish one at a time: msg/s and round trip
//   consume      fill count + warm-up messages (not measured), receive + ack the warm-up
//                share, then count messages in batches of --batch: msg/s
//   schedule     count messages due --delay-ms after their send, sent unpaced (256
//                outstanding) while one receiver takes them: lateness (receive - due)
// Every shape is bounded by --count and, for the publish shapes, --duration-s; the drains by
// an idle limit. A RESULT line carries the figures and the servers' CPU per message (user +
// system time of the --server-pid processes and their descendants, from /proc, over the
// measured part). Exit codes: 0 ok, 1 errors or nothing measured, 2 usage, 3 unreachable.
#include <fcntl.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "bench/peers/proc_cpu.h"
#include "bench/peers/results_table.h"
#include "bench/peers/system.h"
#include "bench/report.h"

namespace tidemq::bench::peers {
namespace {

constexpr int kPipelinedWindow = 256;
// schedule: the sends end at --count or after this long (a slow durable peer needs tens of
// seconds for 100k).
constexpr double kScheduleSendLimitS = 120;
constexpr uint32_t kFsyncBlock = 4096;

struct RunOptions {
  std::string system;
  std::string config;
  std::string durability;
  std::string shape;
  std::string addr;
  std::string name;  // queue / stream / tube / topic; default: derived from the others
  uint64_t count = 100'000;
  double warmup_s = 1;
  double duration_s = 5;
  uint64_t warmup_count = 0;  // consume: 0 = count / 10
  int64_t delay_ms = 2000;
  uint32_t batch = 64;
  int round = 1;
  std::vector<int> server_pids;
};

// The servers' CPU over the measured part of a shape: sampled when the measurement starts
// (by a thread sleeping until then, for the publish shapes' timed warm-up) and when it ends.
class CpuWindow {
 public:
  explicit CpuWindow(const ProcessCpu& cpu) : cpu_(cpu) {}
  ~CpuWindow() { Join(); }

  void StartNow() { start_us_ = cpu_.Micros(); }
  void StartAt(int64_t at_ns) {
    sampler_ = std::thread([this, at_ns] {
      while (!cancelled_.load() && NowNanos() < at_ns) {
        std::this_thread::sleep_for(
            std::chrono::nanoseconds(std::min<int64_t>(at_ns - NowNanos(), 10'000'000)));
      }
      start_us_ = cpu_.Micros();
    });
  }
  // CPU microseconds since the start sample.
  int64_t StopMicros() {
    Join();
    return cpu_.Micros() - start_us_;
  }

 private:
  void Join() {
    cancelled_ = true;
    if (sampler_.joinable()) sampler_.join();
  }

  const ProcessCpu& cpu_;
  std::thread sampler_;
  std::atomic<bool> cancelled_{false};
  int64_t start_us_ = 0;  // written by the sampler, read after joining it
};

std::string ResultHead(const RunOptions& o) {
  return "RESULT shape=" + o.shape + " system=" + o.system + " config=" + o.config +
         " durability=" + o.durability + " round=" + std::to_string(o.round);
}

// Prints the summary and the RESULT line of one measurement: `msgs` in `secs`, the latency
// and errors of `stats`, the servers' CPU per message over cpu_msgs. Returns the exit code.
int Report(const RunOptions& o, const ProcessCpu& cpu, uint64_t msgs, double secs,
           const SideStats& stats, int64_t cpu_us, uint64_t cpu_msgs, const std::string& extra) {
  const double msg_s = secs > 0 ? static_cast<double>(msgs) / secs : 0;
  const LatencyHistogram& h = stats.latency();
  std::string line = ResultHead(o) + " msgs=" + std::to_string(msgs) + " secs=" + Fixed(secs, 3) +
                     " msg_s=" + Fixed(msg_s, 0);
  std::string human = o.system + " " + o.config + " " + o.shape + " #" + std::to_string(o.round) +
                      ": " + std::to_string(msgs) + " msgs in " + Fixed(secs, 3) +
                      " s = " + Fixed(msg_s, 0) + " msg/s";
  if (h.count() > 0) {
    line += " p50_ms=" + Ms(h.PercentileNanos(0.5)) + " p99_ms=" + Ms(h.PercentileNanos(0.99)) +
            " max_ms=" + Ms(h.max_nanos());
    human +=
        ", p50 " + Ms(h.PercentileNanos(0.5)) + " ms, p99 " + Ms(h.PercentileNanos(0.99)) + " ms";
  }
  if (!cpu.empty() && cpu_msgs > 0) {
    const double per_msg = static_cast<double>(cpu_us) / static_cast<double>(cpu_msgs);
    line += " cpu_us_per_msg=" + Fixed(per_msg, 2);
    human += ", server cpu " + Fixed(per_msg, 2) + " us/msg";
  }
  line += " errors=" + std::to_string(stats.errors()) + extra;
  std::printf("%s\n%s\n", human.c_str(), line.c_str());
  if (stats.errors() > 0) std::printf("  first error: %s\n", stats.first_error().c_str());
  return stats.errors() > 0 || msgs == 0 ? kExitError : kExitOk;
}

int Fail(const RunOptions& o, const Status& st) {
  std::fprintf(stderr, "error: %s %s %s: %s\n", o.system.c_str(), o.config.c_str(), o.shape.c_str(),
               st.ToString().c_str());
  return st.code() == Code::kUnavailable ? kExitUnreachable : kExitError;
}

int RunPublish(System& system, const RunOptions& o, const ProcessCpu& cpu, int window) {
  RunControl control(o.count, o.warmup_s, o.duration_s);
  SideStats stats;
  CpuWindow cpu_window(cpu);
  cpu_window.StartAt(control.measure_start_ns());
  Status st = system.Publish(window, control, stats);
  const int64_t cpu_us = cpu_window.StopMicros();
  if (!st.ok()) return Fail(o, st);
  const double secs = stats.measured() == 0
                          ? 0
                          : static_cast<double>(stats.last_ns() - control.measure_start_ns()) / 1e9;
  return Report(o, cpu, stats.measured(), secs, stats, cpu_us, stats.measured(),
                " latency=send window=" + std::to_string(window));
}

int RunConsume(System& system, const RunOptions& o, const ProcessCpu& cpu) {
  const uint64_t warmup = o.warmup_count > 0 ? o.warmup_count : std::max<uint64_t>(o.count / 10, 1);
  if (Status st = system.Fill(o.count + warmup); !st.ok()) return Fail(o, st);
  SideStats warm;
  if (Status st = system.Consume(warmup, o.batch, warm); !st.ok()) return Fail(o, st);
  SideStats stats;
  CpuWindow cpu_window(cpu);
  cpu_window.StartNow();
  const int64_t start_ns = NowNanos();
  Status st = system.Consume(o.count, o.batch, stats);
  const int64_t cpu_us = cpu_window.StopMicros();
  if (!st.ok()) return Fail(o, st);
  const double secs =
      stats.measured() == 0 ? 0 : static_cast<double>(stats.last_ns() - start_ns) / 1e9;
  std::string extra =
      " batch=" + std::to_string(o.batch) + " warmup_msgs=" + std::to_string(warm.total());
  if (stats.total() < o.count) extra += " missing=" + std::to_string(o.count - stats.total());
  return Report(o, cpu, stats.measured(), secs, stats, cpu_us, stats.measured(), extra);
}

// msg_s: the send rate; p50/p99: the lateness of the deliveries; cpu per message sent.
int RunSchedule(System& system, const RunOptions& o, const ProcessCpu& cpu) {
  if (system.ScheduleMethod().empty()) {
    std::printf("%s %s schedule: no scheduled messages, skipped\n", o.system.c_str(),
                o.config.c_str());
    std::printf("%s skipped=no-scheduled-messages\n", ResultHead(o).c_str());
    return kExitOk;
  }
  RunControl control(o.count, 0, kScheduleSendLimitS);
  SideStats sent;
  SideStats delivered;
  CpuWindow cpu_window(cpu);
  cpu_window.StartNow();
  Status st = system.Schedule(kPipelinedWindow, o.batch, control, sent, delivered);
  const int64_t cpu_us = cpu_window.StopMicros();
  if (!st.ok()) return Fail(o, st);
  const double send_secs =
      sent.measured() == 0 ? 0 : static_cast<double>(sent.last_ns() - control.start_ns()) / 1e9;
  // From the first delivery to the last: how fast due messages went out.
  const double deliver_secs =
      delivered.total() < 2 ? 0
                            : static_cast<double>(delivered.last_ns() - delivered.first_ns()) / 1e9;
  const uint64_t missing = sent.total() - std::min(sent.total(), delivered.total());
  std::string extra = " latency=lateness method=" + system.ScheduleMethod() +
                      " delay_ms=" + std::to_string(o.delay_ms) +
                      " delivered=" + std::to_string(delivered.total()) +
                      " deliver_secs=" + Fixed(deliver_secs, 3);
  if (missing > 0) extra += " missing=" + std::to_string(missing);
  int rc = Report(o, cpu, sent.measured(), send_secs, delivered, cpu_us, sent.total(), extra);
  if (sent.errors() > 0) {
    std::printf("  send errors: %llu, the first: %s\n",
                static_cast<unsigned long long>(sent.errors()), sent.first_error().c_str());
    rc = kExitError;
  }
  return missing > 0 ? kExitError : rc;
}

int Run(RunOptions o) {
  if (o.name.empty()) {
    o.name = "pb-" + o.shape + "-" + o.config + "-" + std::to_string(o.round);
  }
  const size_t colon = o.addr.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "error: --addr must be HOST:PORT\n");
    return kExitUsage;
  }
  Result<std::unique_ptr<System>> system = Status(Code::kInvalidArgument, "unknown system");
  if (o.system == "tidemq") {
    system = NewTidemqSystem({.addr = o.addr, .topic = o.name, .delay_ms = o.delay_ms});
  } else {
    PeerOptions p;
    p.host = o.addr.substr(0, colon);
    p.port = static_cast<uint16_t>(std::stoi(o.addr.substr(colon + 1)));
    p.config = o.config;
    p.name = o.name;
    p.delay_ms = o.delay_ms;
    p.batch = o.batch;
    std::unique_ptr<PeerClient> client;
    if (o.system == "redis") client = NewRedisClient(p);
    if (o.system == "rabbitmq") client = NewRabbitMqClient(p);
    if (o.system == "nats") client = NewNatsClient(p);
    if (o.system == "beanstalkd") client = NewBeanstalkdClient(p);
    if (client != nullptr) system = NewPipelinedSystem(std::move(client), p);
  }
  if (!system.ok()) return Fail(o, system.status());
  const ProcessCpu cpu(o.server_pids);
  if (o.shape == "publish-256") return RunPublish(**system, o, cpu, kPipelinedWindow);
  if (o.shape == "publish-1") return RunPublish(**system, o, cpu, 1);
  if (o.shape == "consume") return RunConsume(**system, o, cpu);
  return RunSchedule(**system, o, cpu);
}

// 4 KiB written at `offset` + i * 4 KiB and fdatasync'ed, `count` times or for `seconds`;
// returns the fdatasync calls per second, or -1 on an error.
double SyncedWrites(int fd, uint64_t count, double seconds, uint64_t* done) {
  const std::string block(kFsyncBlock, 'x');
  const int64_t start = NowNanos();
  const int64_t end = start + static_cast<int64_t>(seconds * 1e9);
  uint64_t n = 0;
  while (n < count && NowNanos() < end) {
    if (::pwrite(fd, block.data(), block.size(), static_cast<off_t>(n * kFsyncBlock)) !=
            static_cast<ssize_t>(block.size()) ||
        ::fdatasync(fd) != 0) {
      std::perror("pwrite/fdatasync");
      return -1;
    }
    ++n;
  }
  *done = n;
  const double secs = static_cast<double>(NowNanos() - start) / 1e9;
  return secs > 0 ? static_cast<double>(n) / secs : 0;
}

// The disk's fdatasync rate two ways, in a new file under dir: 4 KiB appends (each sync also
// commits the file system's journal: the file grew), then 4 KiB overwrites of blocks already
// in the file and synced (data only: what a log that extends its file ahead pays, as
// TideMQ's CommitLog does). Each `count` times or for `seconds`.
int FsyncLoop(const std::string& dir, uint64_t count, double seconds) {
  const std::string path = dir + "/peer-bench-fsync.dat";
  int fd = ::open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(path.c_str());
    return kExitError;
  }
  uint64_t appended = 0;
  uint64_t overwritten = 0;
  const double append_s = SyncedWrites(fd, count, seconds, &appended);
  double overwrite_s = -1;
  // Overwrites stay within what the appends wrote: at least as many blocks as they do.
  if (append_s >= 0 && appended > 0) {
    overwrite_s = SyncedWrites(fd, appended, seconds, &overwritten);
  }
  ::close(fd);
  ::unlink(path.c_str());
  if (append_s < 0 || overwrite_s < 0) return kExitError;
  std::printf(
      "fsync loop: %llu x (4 KiB append + fdatasync) = %.0f/s; %llu x (4 KiB overwrite + "
      "fdatasync) = %.0f/s\n",
      static_cast<unsigned long long>(appended), append_s,
      static_cast<unsigned long long>(overwritten), overwrite_s);
  std::printf("RESULT shape=machine fdatasync_s=%.0f fdatasync_overwrite_s=%.0f\n", append_s,
              overwrite_s);
  return kExitOk;
}

}  // namespace
}  // namespace tidemq::bench::peers

int main(int argc, char** argv) {
  using namespace tidemq::bench::peers;
  using tidemq::bench::kMaxCount;
  using tidemq::bench::kMaxDurationS;
  CLI::App app{
      "tidemq-peer-bench: TideMQ and its peers under the same load shapes "
      "(bench/peers/README.md)"};
  app.require_subcommand(1);

  RunOptions o;
  CLI::App* run = app.add_subcommand("run", "One measurement of one shape on one system");
  run->add_option("--system", o.system, "System")
      ->required()
      ->check(CLI::IsMember({"tidemq", "redis", "rabbitmq", "nats", "beanstalkd"}));
  run->add_option("--config", o.config,
                  "Its configuration, as run.sh names it (RabbitMQ: quorum, classic or "
                  "classic-transient decides the queue)")
      ->required();
  run->add_option("--durability", o.durability, "Durability class, for the table")
      ->required()
      ->check(CLI::IsMember({"durable", "page-cache"}));
  run->add_option("--shape", o.shape, "Load shape")
      ->required()
      ->check(CLI::IsMember({"publish-256", "publish-1", "consume", "schedule"}));
  run->add_option("--addr", o.addr, "Server HOST:PORT")->required();
  run->add_option("--name", o.name, "Queue (stream, tube, topic) name; default from the rest");
  run->add_option("--count", o.count, "Messages measured")
      ->capture_default_str()
      ->check(CLI::Range(uint64_t{1}, kMaxCount));
  run->add_option("--warmup-s", o.warmup_s, "Publish shapes: unmeasured seconds first")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 60.0));
  run->add_option("--duration-s", o.duration_s, "Publish shapes: measured seconds at most")
      ->capture_default_str()
      ->check(CLI::Range(0.1, kMaxDurationS));
  run->add_option("--warmup-count", o.warmup_count,
                  "consume: messages received unmeasured first (0: count / 10)")
      ->check(CLI::Range(uint64_t{0}, kMaxCount));
  run->add_option("--delay-ms", o.delay_ms, "schedule: due this long after the send")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1000}, int64_t{600'000}));
  run->add_option("--batch", o.batch, "Receive batch")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  run->add_option("--round", o.round, "Round number, for the RESULT line")->capture_default_str();
  run->add_option("--server-pid", o.server_pids,
                  "Server process (repeatable): its CPU and its descendants' is measured");

  std::string dir;
  uint64_t fsync_count = 3000;
  double fsync_seconds = 3;
  CLI::App* fsync = app.add_subcommand("fsync-loop", "The disk's fdatasync rate");
  fsync->add_option("--dir", dir, "Directory on the disk to measure")->required();
  fsync->add_option("--count", fsync_count, "fdatasync calls at most, per way")
      ->capture_default_str();
  fsync->add_option("--seconds", fsync_seconds, "Seconds at most, per way")->capture_default_str();

  std::string results;
  CLI::App* table = app.add_subcommand("table", "Medians and the Markdown table of a run");
  table->add_option("RESULTS", results, "File with the RESULT lines")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  if (run->parsed()) return Run(o);
  if (fsync->parsed()) return FsyncLoop(dir, fsync_count, fsync_seconds);
  return PrintResultsTable(results);
}
