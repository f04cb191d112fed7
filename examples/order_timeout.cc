// An order flow with scheduled messages: every new order schedules a "close-order-if-unpaid"
// message with Delay(timeout); a consumer closes the orders still unpaid when it arrives.
// Every other order is paid before its timeout. For the first paid order the example also
// cancels the scheduled message (Admin::CancelScheduled) instead of letting it arrive, so both
// styles show: "cancel when paid" and "check the state when the message arrives".
//   tidemq-example-order-timeout [--addr HOST:PORT] [--orders N] [--timeout-ms MS]
//
// Orders live in memory in this one process. Exits 0 once every order is settled, 1 when it
// gives up (timeout + 10 s) or the broker refuses a call.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "tidemq/admin.h"
#include "tidemq/producer.h"
#include "tidemq/simple_consumer.h"

namespace {

constexpr char kTopic[] = "order-timeouts";
constexpr char kGroup[] = "order-timeout-closer";
constexpr char kCloseTag[] = "close-order-if-unpaid";
constexpr char kDueProperty[] = "DELIVER_AT_MS";
constexpr int64_t kGiveUpAfterTimeoutMs = 10'000;

struct Options {
  std::string addr = "127.0.0.1:9810";
  int orders = 5;
  int64_t timeout_ms = 3000;
};

// Empty when the arguments are usable; otherwise what is wrong.
std::string ParseOptions(int argc, char** argv, Options* o) {
  if (const char* env = std::getenv("TIDEMQ_ADDR"); env && *env) o->addr = env;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (i + 1 >= argc) return "missing value after " + arg;
    std::string value = argv[++i];
    if (arg == "--addr") {
      o->addr = value;
    } else if (arg == "--orders") {
      o->orders = std::atoi(value.c_str());
      if (o->orders < 1 || o->orders > 10'000) return "--orders must be 1..10000";
    } else if (arg == "--timeout-ms") {
      o->timeout_ms = std::atoll(value.c_str());
      if (o->timeout_ms < 1 || o->timeout_ms > 600'000) return "--timeout-ms must be 1..600000";
    } else {
      return "unknown argument " + arg;
    }
  }
  return "";
}

int64_t EpochMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

enum class OrderState { kCreated, kPaid, kClosed };

struct Order {
  OrderState state = OrderState::kCreated;
  std::string close_message_id;  // the scheduled "close-order-if-unpaid" message
  bool settled = false;          // nothing more will happen to it
};

// The application's order table, shared by the main thread (create, pay) and the closer.
class OrderBook {
 public:
  void Add(const std::string& id, std::string close_message_id) {
    std::lock_guard lock(mu_);
    orders_[id].close_message_id = std::move(close_message_id);
  }

  // Returns the scheduled message's id, so the caller may cancel it.
  std::string Pay(const std::string& id) {
    std::lock_guard lock(mu_);
    Order& o = orders_.at(id);
    o.state = OrderState::kPaid;
    return o.close_message_id;
  }

  // The close message was cancelled: it will never arrive.
  void SettleCancelled(const std::string& id) {
    std::lock_guard lock(mu_);
    orders_.at(id).settled = true;
    cv_.notify_all();
  }

  // The close message arrived. Returns the message to print; empty for a message that is not
  // ours (left over from an earlier run of this example).
  std::string OnCloseMessage(const tidemq::ReceivedMessage& m, int64_t timeout_ms) {
    if (m.keys().empty()) return "";
    const std::string& id = m.keys().front();
    std::lock_guard lock(mu_);
    auto it = orders_.find(id);
    if (it == orders_.end() || it->second.close_message_id != m.message_id()) return "";
    Order& o = it->second;
    if (o.settled) return "";  // a redelivery
    o.settled = true;
    cv_.notify_all();
    if (o.state == OrderState::kPaid) return id + " was paid -> nothing to do";
    o.state = OrderState::kClosed;
    std::string line =
        id + " still unpaid after " + std::to_string(timeout_ms) + " ms -> closed";
    if (auto due = m.properties().find(kDueProperty); due != m.properties().end()) {
      int64_t late = EpochMs() - std::atoll(due->second.c_str());
      line += " (arrived " + std::to_string(late) + " ms after its due time)";
    }
    return line;
  }

  // Waits until every order is settled or the deadline passes; true when all are settled.
  bool WaitAllSettled(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock lock(mu_);
    return cv_.wait_until(lock, deadline, [this] { return UnsettledLocked() == 0; });
  }

  int Unsettled() {
    std::lock_guard lock(mu_);
    return UnsettledLocked();
  }

 private:
  int UnsettledLocked() const {
    int n = 0;
    for (const auto& [id, o] : orders_) n += o.settled ? 0 : 1;
    return n;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Order> orders_;  // GUARDED_BY(mu_)
};

int Fail(const std::string& what, const tidemq::Status& st) {
  std::cerr << "error: " << what << ": " << st.message() << "\n";
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  if (std::string err = ParseOptions(argc, argv, &opt); !err.empty()) {
    std::cerr << "error: " << err
              << "\nusage: tidemq-example-order-timeout [--addr HOST:PORT] [--orders N] "
                 "[--timeout-ms MS]\n";
    return 2;
  }
  auto admin = tidemq::Admin::NewBuilder().Endpoint(opt.addr).Build();
  if (!admin.ok()) return Fail("connect", admin.status());
  if (!admin->DescribeTopic(kTopic).ok()) {
    auto created = admin->CreateTopic(kTopic, 4);
    if (!created.ok() && created.status().code() != tidemq::Code::kAlreadyExists) {
      return Fail("create topic", created.status());
    }
  }
  if (!admin->DescribeGroup(kGroup).ok()) {
    auto created = admin->CreateGroup(kGroup);
    if (!created.ok() && created.status().code() != tidemq::Code::kAlreadyExists) {
      return Fail("create group", created.status());
    }
  }
  auto producer = tidemq::Producer::NewBuilder().Endpoint(opt.addr).Build();
  if (!producer.ok()) return Fail("connect", producer.status());
  auto consumer = tidemq::SimpleConsumer::NewBuilder()
                      .Endpoint(opt.addr)
                      .Group(kGroup)
                      .Topic(kTopic)
                      .TagFilter(kCloseTag)
                      .AwaitDuration(500)
                      .Build();
  if (!consumer.ok()) return Fail("connect", consumer.status());

  OrderBook book;
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(opt.timeout_ms + kGiveUpAfterTimeoutMs);

  // The closer: handles each close message when it falls due.
  bool stop = false;
  std::mutex stop_mu;
  std::thread closer([&] {
    while (true) {
      {
        std::lock_guard lock(stop_mu);
        if (stop) return;
      }
      auto batch = consumer->Receive(32);
      if (!batch.ok()) {
        std::cerr << "receive failed: " << batch.status().message() << "\n";
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      for (const auto& m : *batch) {
        std::string line = book.OnCloseMessage(m, opt.timeout_ms);
        if (!line.empty()) std::cout << line << "\n" << std::flush;
        if (auto st = consumer->Ack(m); !st.ok()) std::cerr << "ack failed: " << st.message() << "\n";
      }
    }
  });
  auto stop_closer = [&] {
    {
      std::lock_guard lock(stop_mu);
      stop = true;
    }
    closer.join();
  };
  auto abort = [&](const std::string& what, const tidemq::Status& st) {
    stop_closer();
    return Fail(what, st);
  };

  // Create the orders: each schedules its own close message.
  for (int i = 1; i <= opt.orders; ++i) {
    std::string id = "order-" + std::to_string(i);
    auto message = tidemq::Message::NewBuilder()
                       .Topic(kTopic)
                       .Tag(kCloseTag)
                       .Key(id)
                       .Body("close " + id + " if unpaid")
                       .Delay(opt.timeout_ms)
                       .Build();
    if (!message.ok()) return abort("build message", message.status());
    auto receipt = producer->Send(*message);
    if (!receipt.ok()) return abort("send", receipt.status());
    book.Add(id, receipt->message_id);
    std::cout << "created " << id << "; close-if-unpaid scheduled in " << opt.timeout_ms
              << " ms (message " << receipt->message_id << ")\n";
  }

  // Customers pay every other order, a third of the way into the timeout.
  std::this_thread::sleep_for(std::chrono::milliseconds(opt.timeout_ms / 3));
  bool cancel_shown = false;
  for (int i = 2; i <= opt.orders; i += 2) {
    std::string id = "order-" + std::to_string(i);
    std::string close_id = book.Pay(id);
    std::cout << id << " paid\n";
    if (cancel_shown) continue;  // the rest rely on the closer checking the state
    cancel_shown = true;
    auto outcome = admin->CancelScheduled(close_id);
    if (!outcome.ok()) {
      std::cout << "  cancel of its close message failed: " << outcome.status().message()
                << " (the closer will see it was paid)\n";
    } else if (outcome->cancelled) {
      std::cout << "  cancelled its close message (it was due in "
                << outcome->due_ms - EpochMs() << " ms)\n";
      book.SettleCancelled(id);
    } else {
      std::cout << "  too late to cancel its close message: it already fired (the closer will "
                   "see it was paid)\n";
    }
  }
  std::cout << std::flush;

  bool all = book.WaitAllSettled(deadline);
  stop_closer();
  if (!all) {
    std::cerr << "gave up: " << book.Unsettled() << " order(s) not settled within "
              << opt.timeout_ms + kGiveUpAfterTimeoutMs << " ms\n";
    return 1;
  }
  std::cout << "all " << opt.orders << " orders settled\n";
  return 0;
}
