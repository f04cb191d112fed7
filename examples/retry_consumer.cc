// Retries and dead letters with a PushConsumer. The group retries after 1 s, 2 s, 4 s (a
// custom back-off) and dead-letters a message after 4 deliveries. Of the 10 messages sent,
// two fail twice and then succeed, one asks for its own 500 ms delay once, and one ("poison")
// always fails: it ends in the group's dead-letter queue, where the CLI can inspect and
// redrive it. Every delivery is printed with its attempt number, how long ago its first
// failure was and how long it waited since the previous failure.
//   tidemq-example-retry-consumer [--addr HOST:PORT] [TOPIC] [GROUP]
//
// Exits 0 once the poison message is in the DLQ and every other message succeeded, 1 when
// the broker refuses a call or that has not happened within 60 s.
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "examples/example_args.h"
#include "tidemq/admin.h"
#include "tidemq/producer.h"
#include "tidemq/push_consumer.h"

namespace {

using namespace std::chrono_literals;

constexpr int kMessages = 10;
constexpr uint32_t kMaxAttempts = 4;
constexpr char kBackoff[] = "1s,2s,4s";
constexpr auto kGiveUp = 60s;
constexpr char kRunProperty[] = "run";

// What the listener does with message i (1-based) on a given attempt.
bool IsPoison(int i) { return i == 7; }
bool FailsTwice(int i) { return i == 3 || i == 5; }
bool AsksForItsOwnDelay(int i) { return i == 9; }

int64_t EpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int Fail(const char* what, const tidemq::Status& st) {
  std::cerr << "error: " << what << ": " << st.message() << "\n";
  return 1;
}

// The listener's memory of each message, shared with the main thread.
class Deliveries {
 public:
  // Prints one delivery: attempt, first failure, and the wait since its previous failure.
  void Print(const std::string& label, const tidemq::ReceivedMessage& m,
             const std::string& verdict) {
    std::lock_guard lock(mu_);
    const int64_t now = EpochMs();
    std::string waited = "first delivery";
    if (auto it = last_failure_ms_.find(m.message_id()); it != last_failure_ms_.end()) {
      waited = "waited " + std::to_string(now - it->second) + " ms";
    }
    char since_first[48] = "";
    if (m.first_failure_ms() > 0) {
      std::snprintf(since_first, sizeof(since_first), "first failure %.1f s ago",
                    (now - m.first_failure_ms()) / 1e3);
    }
    std::printf("%-9s attempt %u  %-17s  %-24s -> %s\n", label.c_str(), m.delivery_attempt(),
                waited.c_str(), since_first, verdict.c_str());
    std::fflush(stdout);
  }
  void Failed(const std::string& id) {
    std::lock_guard lock(mu_);
    last_failure_ms_[id] = EpochMs();
  }
  void Succeeded(const std::string& id) {
    std::lock_guard lock(mu_);
    succeeded_.insert(id);
  }
  size_t succeeded() {
    std::lock_guard lock(mu_);
    return succeeded_.size();
  }

 private:
  std::mutex mu_;
  std::map<std::string, int64_t> last_failure_ms_;  // GUARDED_BY(mu_)
  std::set<std::string> succeeded_;                 // GUARDED_BY(mu_)
};

}  // namespace

int main(int argc, char** argv) {
  auto args =
      tidemq_examples::ParseArgs(argc, argv, {.topic = "retry-demo", .group = "retry-demo-group"});
  auto admin = tidemq::Admin::NewBuilder().Endpoint(args.addr).Build();
  if (!admin.ok()) return Fail("connect", admin.status());
  if (!admin->DescribeTopic(args.topic).ok()) {
    auto created = admin->CreateTopic(args.topic, 2);
    if (!created.ok() && created.status().code() != tidemq::Code::kAlreadyExists) {
      return Fail("create topic", created.status());
    }
  }
  tidemq::GroupOptions group;
  group.max_attempts = kMaxAttempts;
  group.retry = *tidemq::RetryPolicy::Parse(kBackoff);
  auto created = admin->CreateGroup(args.group, group);  // creates, or updates the policy
  if (!created.ok()) return Fail("create group", created.status());
  std::printf("group %s: retry back-off %s, dead-lettered after %u deliveries\n",
              created->name.c_str(), created->retry.ToString().c_str(), created->max_attempts);

  // Messages of earlier runs (redriven ones, say) are recognised by this property.
  const std::string run = std::to_string(EpochMs());
  Deliveries deliveries;
  auto consumer =
      tidemq::PushConsumer::NewBuilder()
          .Endpoint(args.addr)
          .Group(args.group)
          .Topic(args.topic)
          .ConsumerThreads(4)
          .AwaitDuration(1000)
          .Listener([&](const tidemq::ReceivedMessage& m) {
            auto p = m.properties().find(kRunProperty);
            if (p == m.properties().end() || p->second != run) {
              deliveries.Print(m.message_id(), m, "from an earlier run: ack");
              return tidemq::ConsumeResult::kSuccess;
            }
            const int i = std::stoi(m.body().substr(m.body().find('-') + 1));
            const uint32_t attempt = m.delivery_attempt();
            tidemq::ConsumeResult result = tidemq::ConsumeResult::kSuccess;
            std::string verdict = "ok";
            if (IsPoison(i)) {
              result = tidemq::ConsumeResult::kRetryLater;
              verdict = attempt < kMaxAttempts ? "fail (poison)" : "fail (poison): last attempt";
            } else if (FailsTwice(i) && attempt <= 2) {
              result = tidemq::ConsumeResult::kRetryLater;
              verdict = "fail, retry after the group's back-off";
            } else if (AsksForItsOwnDelay(i) && attempt == 1) {
              result = tidemq::ConsumeResult::RetryLater(500ms);
              verdict = "fail, retry after 500 ms";
            }
            deliveries.Print(m.body(), m, verdict);
            if (result.success()) {
              deliveries.Succeeded(m.message_id());
            } else {
              deliveries.Failed(m.message_id());
            }
            return result;
          })
          .Build();
  if (!consumer.ok()) return Fail("connect", consumer.status());

  auto producer = tidemq::Producer::NewBuilder().Endpoint(args.addr).Build();
  if (!producer.ok()) return Fail("connect", producer.status());
  std::string poison_id;
  for (int i = 1; i <= kMessages; ++i) {
    auto m = tidemq::Message::NewBuilder()
                 .Topic(args.topic)
                 .Tag(IsPoison(i) ? "poison" : "order")
                 .Key("order-" + std::to_string(i))
                 .Property(kRunProperty, run)
                 .Body("order-" + std::to_string(i))
                 .Build();
    if (!m.ok()) return Fail("build message", m.status());
    auto receipt = producer->Send(*m);
    if (!receipt.ok()) return Fail("send", receipt.status());
    if (IsPoison(i)) poison_id = receipt->message_id;
  }
  std::printf("sent %d messages; order-7 is poison (id %s)\n\n", kMessages, poison_id.c_str());
  if (auto st = consumer->Start(); !st.ok()) return Fail("start", st);

  // Done when every other message succeeded and the poison one is a dead letter.
  tidemq::DeadLetterFilter poison;
  poison.message_id = poison_id;
  const auto deadline = std::chrono::steady_clock::now() + kGiveUp;
  std::optional<tidemq::ReceivedMessage> dead;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!dead) {
      auto page = admin->ListDeadLetters(args.group, poison);
      if (!page.ok()) return Fail("list dead letters", page.status());
      if (!page->messages.empty()) dead = page->messages.front();
    }
    if (dead && deliveries.succeeded() >= static_cast<size_t>(kMessages - 1)) break;
    std::this_thread::sleep_for(200ms);
  }
  consumer->Shutdown();
  if (!dead) {
    std::cerr << "error: the poison message did not reach the DLQ within 60 s\n";
    return 1;
  }
  std::printf(
      "\norder-7 is dead-lettered: %u attempts, reason %s, first failure %.1f s before; "
      "dlq offset %" PRId64 "\n",
      dead->delivery_attempt(), dead->dead_letter_reason().c_str(),
      (dead->store_ms() - dead->first_failure_ms()) / 1000.0, dead->dlq_offset());
  const std::string g = args.group;
  std::printf(
      "\nInspect and redrive it with the CLI (build/tools/tidemq):\n"
      "  tidemq group status %s    # back-off, retried, dead_lettered, dlq size\n"
      "  tidemq dlq list %s\n"
      "  tidemq dlq show %s %s\n"
      "  tidemq dlq redrive %s %s --to retry\n"
      "  tidemq dlq purge %s %s\n",
      g.c_str(), g.c_str(), g.c_str(), poison_id.c_str(), g.c_str(), poison_id.c_str(), g.c_str(),
      poison_id.c_str());
  return 0;
}
