#include "bench/admin_churn.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "common/logging.h"
#include "tidemq/admin.h"

namespace tidemq::bench {

AdminChurn::AdminChurn(const BenchOptions& options, int64_t every_ms)
    : options_(options), every_ms_(every_ms) {}

AdminChurn::~AdminChurn() { Stop(); }

void AdminChurn::Start() {
  thread_ = std::thread([this] { Run(); });
}

void AdminChurn::Run() {
  SetThreadName("bench-admin");
  auto admin = Admin::NewBuilder().Endpoint(options_.addr).Build();
  if (!admin.ok()) {
    ++errors_;
    first_error_ = admin.status().ToString();
    return;
  }
  const std::string prefix =
      options_.topic + "-churn-" + std::to_string(static_cast<long>(::getpid())) + "-";
  auto next = std::chrono::steady_clock::now();
  for (int n = 0; n < kMaxChurnTopics && !stopping_.load(); ++n) {
    next += std::chrono::milliseconds(every_ms_);
    std::string name = prefix + std::to_string(n);
    const int64_t start = NowNanos();
    auto created = admin->CreateTopic(name, 1);
    create_latency_.Record(NowNanos() - start);
    if (created.ok()) {
      created_.push_back(std::move(name));
    } else if (errors_++ == 0) {
      first_error_ = created.status().ToString();
    }
    while (!stopping_.load() && std::chrono::steady_clock::now() < next) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

void AdminChurn::Stop() {
  if (stopped_ || !thread_.joinable()) return;
  stopped_ = true;
  stopping_.store(true);
  thread_.join();
  size_t deleted = 0;
  if (auto admin = Admin::NewBuilder().Endpoint(options_.addr).Build(); admin.ok()) {
    for (const std::string& name : created_) deleted += admin->DeleteTopic(name).ok() ? 1 : 0;
  }
  auto ms = [](int64_t nanos) { return static_cast<double>(nanos) / 1e6; };
  std::printf("admin: %zu topics created (one every %lld ms), %zu deleted after, %llu errors\n",
              created_.size(), static_cast<long long>(every_ms_), deleted,
              static_cast<unsigned long long>(errors_));
  std::printf("  create latency ms: p50 %.3f  p99 %.3f  max %.3f\n",
              ms(create_latency_.PercentileNanos(0.5)), ms(create_latency_.PercentileNanos(0.99)),
              ms(create_latency_.max_nanos()));
  if (errors_ > 0) std::printf("  first error: %s\n", first_error_.c_str());
  std::printf("RESULT mode=admin-churn created=%zu every_ms=%lld create_p50_ms=%.3f "
              "create_p99_ms=%.3f create_max_ms=%.3f errors=%llu\n",
              created_.size(), static_cast<long long>(every_ms_),
              ms(create_latency_.PercentileNanos(0.5)), ms(create_latency_.PercentileNanos(0.99)),
              ms(create_latency_.max_nanos()), static_cast<unsigned long long>(errors_));
}

}  // namespace tidemq::bench
