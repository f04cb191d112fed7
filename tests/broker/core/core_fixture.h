// Opens the broker core (broker/core/broker_core.h) over a temporary data directory with a
// ManualClock and one thread running its io_context: no socket, no wire format. Helpers call
// the core's services the way a front end does and wait for their completions.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "broker/core/broker_core.h"
#include "common/clock.h"

namespace tidemq::broker {

// Waits (bounded, real time) until pred() holds.
inline bool WaitUntil(const std::function<bool()>& pred, int seconds = 10) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tidemq-core-test-XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_.data_dir = dir_;
    config_.segment_bytes = 1 << 20;
    config_.housekeeping_interval_ms = 10;
    Open();
  }
  void TearDown() override {
    Close();
    std::filesystem::remove_all(dir_);
  }

  void Open() {
    io_ = std::make_unique<boost::asio::io_context>();
    work_.emplace(boost::asio::make_work_guard(*io_));
    auto core = BrokerCore::Open(config_, &clock_, io_.get(), fs_);
    ASSERT_TRUE(core.ok()) << core.status().ToString();
    core_ = std::move(core).value();
    core_->Start();
    io_thread_ = std::thread([this] { io_->run(); });
  }
  void Close() {
    if (!core_) return;
    work_.reset();
    io_->stop();
    io_thread_.join();
    core_->Close();
    core_.reset();
    io_.reset();
  }

  MessageService& messages() { return core_->messages(); }
  AdminService& admin() { return core_->admin(); }
  // Creates a topic and waits until its record is durable.
  Status CreateTopic(const std::string& name, uint32_t queues) {
    std::promise<Status> done;
    admin().CreateTopic(name, queues,
                        [&done](Result<TopicInfo> info) { done.set_value(info.status()); });
    return done.get_future().get();
  }

  static SendMessage Message(const std::string& topic, const std::string& id,
                             std::string body = "body") {
    SendMessage m;
    m.topic = topic;
    m.message_id = id;
    m.body = std::move(body);
    return m;
  }

  struct Sent {
    Status status;
    SendReceipts receipts;
  };
  // Sends and waits for the store's confirmation.
  Sent SendSync(SendCommand command) {
    std::promise<Sent> done;
    messages().Send(std::move(command), [&done](const Status& st, const SendReceipts& r) {
      done.set_value(Sent{st, r});
    });
    return done.get_future().get();
  }
  Sent SendOne(SendMessage m) {
    SendCommand c;
    c.messages.push_back(std::move(m));
    return SendSync(std::move(c));
  }

  int64_t Counter(const std::string& name) {
    for (const auto& [k, v] : admin().Stats().counters) {
      if (k == name) return v;
    }
    ADD_FAILURE() << "no counter " << name;
    return -1;
  }

  std::string dir_;
  BrokerConfig config_;
  ManualClock clock_;
  FileSystem* fs_ = nullptr;  // the store's; nullptr: the real one
  std::unique_ptr<boost::asio::io_context> io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread io_thread_;
  std::unique_ptr<BrokerCore> core_;
};

// A receive's completion, as a front end would see it.
// Made with std::make_shared: a parked receive keeps it (Park).
class FakeWaiter final : public ReceiveWaiter, public std::enable_shared_from_this<FakeWaiter> {
 public:
  explicit FakeWaiter(Result<size_t> room = size_t{1} << 20) : room_(std::move(room)) {}

  std::shared_ptr<ReceiveWaiter> Park() override {
    parks_.fetch_add(1);
    return shared_from_this();
  }
  int parks() const { return parks_.load(); }

  Result<size_t> ReplyRoom() override { return room_; }
  void Complete(Result<std::vector<Delivery>> got) override {
    std::lock_guard lock(mu_);
    ++completions_;
    result_ = std::move(got);
  }

  int completions() const {
    std::lock_guard lock(mu_);
    return completions_;
  }
  Result<std::vector<Delivery>> result() const {
    std::lock_guard lock(mu_);
    return result_;
  }

 private:
  Result<size_t> room_;
  std::atomic<int> parks_{0};
  mutable std::mutex mu_;
  int completions_ = 0;
  Result<std::vector<Delivery>> result_ = Status(Code::kInternal, "not completed");
};

}  // namespace tidemq::broker
