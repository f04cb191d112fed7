// tidemq-grpc-bench: load over the RocketMQ 5 gRPC endpoint (apache.rocketmq.v2), the way the
// official clients drive it, to compare with tidemq-bench over the native protocol on the same
// broker (bench/grpc/run.sh, docs/benchmarks.md "RocketMQ 5 endpoint").
//
//   produce  NORMAL messages of --size bytes through SendMessage (grpc++ callback API), at most
//            --inflight calls outstanding on one channel (one HTTP/2 connection), for
//            --duration seconds after --warmup; send latency per message.
//   consume  --consumers threads, each ReceiveMessage (--batch, 30 s invisible, 1 s long poll)
//            then one AckMessage for the whole batch, until --count messages are acked or none
//            came for --idle-stop-ms; latency per receive+ack round.
// Prints a summary and a RESULT line (the fields of tidemq-bench's). The topic must exist.
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bench/latency_histogram.h"
#include "rocketmq/v2/service.grpc.pb.h"

namespace v2 = ::apache::rocketmq::v2;
using tidemq::bench::LatencyHistogram;

namespace {

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Options {
  std::string addr = "127.0.0.1:8081";
  std::string topic = "bench";
  std::string group = "bench";
  uint32_t size = 1024;
  int inflight = 64;
  double duration = 10;
  double warmup = 0;
  int consumers = 1;
  int batch = 32;
  uint64_t count = 0;
  int64_t idle_stop_ms = 5000;
};

std::string Ms(int64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3f", static_cast<double>(ns) / 1e6);
  return buf;
}

void Report(const char* mode, const char* side, uint64_t msgs, double secs, uint64_t bytes,
            uint64_t errors, const std::string& first_error, const char* latency_name,
            const LatencyHistogram& h, const Options& o) {
  const double msg_s = secs > 0 ? static_cast<double>(msgs) / secs : 0;
  const double mb_s = secs > 0 ? static_cast<double>(bytes) / 1e6 / secs : 0;
  std::printf("%s: %llu msgs in %.3f s = %.0f msg/s, %.1f MB/s, %llu errors\n", side,
              static_cast<unsigned long long>(msgs), secs, msg_s, mb_s,
              static_cast<unsigned long long>(errors));
  if (errors > 0) std::printf("  first error: %s\n", first_error.c_str());
  std::printf("  %s latency ms: p50 %s  p99 %s  p99.9 %s  max %s\n", latency_name,
              Ms(h.PercentileNanos(0.5)).c_str(), Ms(h.PercentileNanos(0.99)).c_str(),
              Ms(h.PercentileNanos(0.999)).c_str(), Ms(h.max_nanos()).c_str());
  std::printf(
      "RESULT mode=%s side=%s msgs=%llu secs=%.3f msg_s=%.0f mb_s=%.1f latency=%s p50_ms=%s "
      "p99_ms=%s p999_ms=%s max_ms=%s errors=%llu size=%u inflight=%d consumers=%d batch=%d\n",
      mode, side, static_cast<unsigned long long>(msgs), secs, msg_s, mb_s, latency_name,
      Ms(h.PercentileNanos(0.5)).c_str(), Ms(h.PercentileNanos(0.99)).c_str(),
      Ms(h.PercentileNanos(0.999)).c_str(), Ms(h.max_nanos()).c_str(),
      static_cast<unsigned long long>(errors), o.size, o.inflight, o.consumers, o.batch);
}

// Keeps `inflight` SendMessage calls outstanding until the run ends.
class Producer {
 public:
  Producer(const Options& o, v2::MessagingService::Stub* stub) : o_(o), stub_(stub) {}

  int Run() {
    const int64_t start = NowNs();
    measure_start_ = start + static_cast<int64_t>(o_.warmup * 1e9);
    end_ = measure_start_ + static_cast<int64_t>(o_.duration * 1e9);
    body_.assign(o_.size, 'x');
    for (int i = 0; i < o_.inflight; ++i) Issue();
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return outstanding_ == 0; });
    const double secs = static_cast<double>(last_ack_ns_.load() - measure_start_) / 1e9;
    Report("grpc-produce", "produce", measured_.load(), secs, measured_.load() * o_.size,
           errors_.load(), first_error_, "send", latency_, o_);
    return errors_.load() == 0 && measured_.load() > 0 ? 0 : 1;
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    v2::SendMessageRequest req;
    v2::SendMessageResponse resp;
    int64_t sent_ns = 0;
  };

  void Issue() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ++outstanding_;
    }
    auto call = std::make_shared<Call>();
    v2::Message* m = call->req.add_messages();
    m->mutable_topic()->set_name(o_.topic);
    m->mutable_system_properties()->set_message_id("GB" + std::to_string(next_id_.fetch_add(1)));
    m->mutable_system_properties()->set_message_type(v2::NORMAL);
    m->mutable_system_properties()->set_tag("bench");
    m->set_body(body_);
    call->sent_ns = NowNs();
    stub_->async()->SendMessage(&call->ctx, &call->req, &call->resp,
                                [this, call](grpc::Status st) { Done(*call, st); });
  }

  void Done(const Call& call, const grpc::Status& st) {
    const int64_t now = NowNs();
    const bool ok = st.ok() && call.resp.status().code() == v2::OK;
    if (!ok) {
      if (errors_.fetch_add(1) == 0) {
        std::lock_guard<std::mutex> lock(mu_);
        first_error_ = st.ok() ? call.resp.status().message() : st.error_message();
      }
    } else if (call.sent_ns >= measure_start_ && now <= end_) {
      measured_.fetch_add(1);
      latency_.Record(now - call.sent_ns);
      last_ack_ns_.store(now);
    }
    const bool again = now < end_ && errors_.load() == 0;
    if (again) Issue();
    std::lock_guard<std::mutex> lock(mu_);
    if (--outstanding_ == 0) cv_.notify_all();
  }

  const Options& o_;
  v2::MessagingService::Stub* stub_;
  std::string body_;
  int64_t measure_start_ = 0;
  int64_t end_ = 0;
  std::atomic<uint64_t> next_id_{0};
  std::atomic<uint64_t> measured_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<int64_t> last_ack_ns_{0};
  LatencyHistogram latency_;
  std::mutex mu_;
  std::condition_variable cv_;
  int outstanding_ = 0;  // under mu_
  std::string first_error_;  // under mu_
};

int Consume(const Options& o, v2::MessagingService::Stub* stub) {
  std::atomic<uint64_t> acked{0}, bytes{0}, errors{0};
  std::atomic<int64_t> last_ack_ns{0};
  std::mutex mu;
  std::string first_error;
  LatencyHistogram rounds;
  const int64_t start = NowNs();
  auto fail = [&](const std::string& why) {
    if (errors.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(mu);
      first_error = why;
    }
  };
  std::vector<std::thread> threads;
  for (int c = 0; c < o.consumers; ++c) {
    threads.emplace_back([&, c] {
      int64_t last_message_ns = NowNs();
      while ((o.count == 0 || acked.load() < o.count) && errors.load() == 0) {
        const int64_t round_start = NowNs();
        v2::ReceiveMessageRequest req;
        req.mutable_group()->set_name(o.group);
        req.mutable_message_queue()->mutable_topic()->set_name(o.topic);
        req.mutable_message_queue()->set_id(-1);
        req.mutable_filter_expression()->set_type(v2::TAG);
        req.mutable_filter_expression()->set_expression("*");
        req.set_batch_size(o.batch);
        req.mutable_invisible_duration()->set_seconds(30);
        req.mutable_long_polling_timeout()->set_seconds(1);
        grpc::ClientContext ctx;
        ctx.AddMetadata("x-mq-client-id", "grpc-bench-" + std::to_string(c));
        auto reader = stub->ReceiveMessage(&ctx, req);
        v2::ReceiveMessageResponse resp;
        v2::AckMessageRequest ack;
        ack.mutable_group()->set_name(o.group);
        ack.mutable_topic()->set_name(o.topic);
        uint64_t got_bytes = 0;
        while (reader->Read(&resp)) {
          if (!resp.has_message()) continue;
          auto* e = ack.add_entries();
          e->set_message_id(resp.message().system_properties().message_id());
          e->set_receipt_handle(resp.message().system_properties().receipt_handle());
          got_bytes += resp.message().body().size();
        }
        grpc::Status st = reader->Finish();
        if (!st.ok()) return fail(st.error_message());
        if (ack.entries_size() == 0) {
          if ((NowNs() - last_message_ns) / 1'000'000 >= o.idle_stop_ms) return;
          continue;
        }
        v2::AckMessageResponse ack_resp;
        grpc::ClientContext actx;
        st = stub->AckMessage(&actx, ack, &ack_resp);
        if (!st.ok()) return fail(st.error_message());
        if (ack_resp.status().code() != v2::OK) return fail(ack_resp.status().message());
        const int64_t now = NowNs();
        last_message_ns = now;
        rounds.Record(now - round_start);
        acked.fetch_add(static_cast<uint64_t>(ack.entries_size()));
        bytes.fetch_add(got_bytes);
        last_ack_ns.store(now);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double secs = static_cast<double>(last_ack_ns.load() - start) / 1e9;
  Report("grpc-consume", "consume", acked.load(), secs, bytes.load(), errors.load(), first_error,
         "round", rounds, o);
  return errors.load() == 0 && acked.load() > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"tidemq-grpc-bench: load through the RocketMQ 5 gRPC endpoint"};
  Options o;
  app.require_subcommand(1);
  auto common = [&o](CLI::App* sub) {
    sub->add_option("--addr", o.addr, "The broker's gRPC endpoint HOST:PORT");
    sub->add_option("--topic", o.topic, "Topic (must exist)");
    sub->add_option("--size", o.size, "Message body bytes");
  };
  CLI::App* produce = app.add_subcommand("produce", "SendMessage NORMAL messages");
  common(produce);
  produce->add_option("--inflight", o.inflight, "Calls outstanding")->check(CLI::Range(1, 100));
  produce->add_option("--duration", o.duration, "Measured seconds");
  produce->add_option("--warmup", o.warmup, "Unmeasured seconds first");
  CLI::App* consume = app.add_subcommand("consume", "ReceiveMessage + AckMessage");
  common(consume);
  consume->add_option("--group", o.group, "Consumer group");
  consume->add_option("--consumers", o.consumers, "Consumer threads")->check(CLI::Range(1, 64));
  consume->add_option("--batch", o.batch, "Messages per receive")->check(CLI::Range(1, 1024));
  consume->add_option("--count", o.count, "Stop after acking this many (0: until idle)");
  consume->add_option("--idle-stop-ms", o.idle_stop_ms, "Stop after this long without a message");
  CLI11_PARSE(app, argc, argv);

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(o.addr, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5))) {
    std::fprintf(stderr, "error: cannot reach %s\n", o.addr.c_str());
    return 3;
  }
  auto stub = v2::MessagingService::NewStub(channel);
  if (produce->parsed()) return Producer(o, stub.get()).Run();
  return Consume(o, stub.get());
}
