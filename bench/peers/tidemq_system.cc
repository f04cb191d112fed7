// TideMQ as a System: the producers and consumers of bench/workload.h (what tidemq-bench
// runs), one topic per measurement, its consumer group named after it.
#include <thread>

#include "bench/peers/system.h"
#include "tidemq/admin.h"

namespace tidemq::bench::peers {
namespace {

// Fill sends batches of this many (SendBatch), as bench/run_all.sh fills a topic.
constexpr int kFillBatch = 64;
// tidemq-bench's hard limit on a run; the counts end every call here long before.
constexpr double kUnboundedS = 600;

Status NoErrors(const SideStats& stats, const char* what) {
  if (stats.errors() == 0) return Status::Ok();
  return Status(Code::kInternal, std::string(what) + ": " + std::to_string(stats.errors()) +
                                     " errors, the first: " + stats.first_error());
}

class TidemqSystem : public System {
 public:
  explicit TidemqSystem(const TidemqOptions& options) : options_(options) {}

  Status Publish(int window, RunControl& control, SideStats& stats) override {
    BenchOptions o = Options();
    o.inflight = window;
    o.blocking = window == 1;  // one Send at a time, as a request thread of a service sends
    return RunProducers(o, control, stats);
  }

  Status Fill(uint64_t count) override {
    BenchOptions o = Options();
    o.batch = kFillBatch;
    RunControl control(count, 0, kUnboundedS);
    SideStats stats;
    RETURN_IF_ERROR(RunProducers(o, control, stats));
    return NoErrors(stats, "fill");
  }

  Status Consume(uint64_t count, uint32_t batch, SideStats& stats) override {
    BenchOptions o = Options();
    o.receive_batch = batch;
    RunControl control(0, 0, kUnboundedS);
    ConsumeLimits limits;
    limits.count = stats.total() + count;
    limits.producers_done = true;
    return RunConsumers(o, control, limits, stats);
  }

  // As tidemq-bench's schedule mode: the consumer runs beside the producer and drains what
  // was sent once the last message is due.
  Status Schedule(int window, uint32_t batch, RunControl& control, SideStats& sent,
                  SideStats& delivered) override {
    BenchOptions o = Options();
    o.inflight = window;
    o.receive_batch = batch;
    o.delay_ms = options_.delay_ms;
    ConsumeLimits limits;
    limits.obey_run_deadline = false;
    Status received;
    std::thread receiver([&] { received = RunConsumers(o, control, limits, delivered); });
    Status produced = RunProducers(o, control, sent);
    if (!produced.ok()) control.Stop();
    const int64_t last_due_ns = NowNanos() + o.delay_ms * 1'000'000;
    limits.count = sent.total();
    limits.idle_from_ns = last_due_ns;
    limits.drain_deadline_ns = last_due_ns + kDrainLimitMs * 1'000'000;
    limits.producers_done = true;
    receiver.join();
    RETURN_IF_ERROR(produced);
    return received;
  }

  std::string ScheduleMethod() const override { return "delivery-time"; }

 private:
  BenchOptions Options() const {
    BenchOptions o;
    o.addr = options_.addr;
    o.topic = options_.topic;
    o.group = options_.topic;
    o.queues = options_.queues;
    o.size = kBodyBytes;
    o.idle_stop_ms = kIdleStopMs;
    return o;
  }

  const TidemqOptions options_;
};

}  // namespace

Result<std::unique_ptr<System>> NewTidemqSystem(const TidemqOptions& options) {
  ASSIGN_OR_RETURN(Admin admin, Admin::NewBuilder().Endpoint(options.addr).Build());
  auto created = admin.CreateTopic(options.topic, options.queues);
  if (!created.ok() && created.status().code() != Code::kAlreadyExists) return created.status();
  return std::unique_ptr<System>(std::make_unique<TidemqSystem>(options));
}

}  // namespace tidemq::bench::peers
