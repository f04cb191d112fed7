// A receive reads the consume queue and the log without holding its group's mutex: while one
// receive is stuck in a read (a slow disk), an ack of the same group goes through.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/mutex.h"
#include "tests/broker/core/core_fixture.h"
#include "tests/common/forwarding_fs.h"

namespace tidemq::broker {
namespace {

// Reads made by a thread that set t_gated block until the gate opens (a disk that stalls for
// that reader only). Everything else goes to the real file system.
thread_local bool t_gated = false;

class GateFileSystem final : public tidemq::testing::ForwardingFileSystem {
 public:
  GateFileSystem() : ForwardingFileSystem(FileSystem::Default()) {}

  void Open() {
    {
      MutexLock lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  bool blocked() const { return blocked_.load(); }

  Result<std::unique_ptr<File>> Open(const std::string& path, bool create) override {
    auto file = base()->Open(path, create);
    if (!file.ok()) return file.status();
    return std::unique_ptr<File>(new GateFile(this, std::move(file).value()));
  }

 private:
  class GateFile final : public tidemq::testing::ForwardingFile {
   public:
    GateFile(GateFileSystem* fs, std::unique_ptr<File> base)
        : ForwardingFile(std::move(base)), fs_(fs) {}
    Status Read(uint64_t offset, size_t n, std::string* out) const override {
      fs_->Wait();
      return ForwardingFile::Read(offset, n, out);
    }
    Status ReadExact(uint64_t offset, size_t n, char* dst) const override {
      fs_->Wait();
      return ForwardingFile::ReadExact(offset, n, dst);
    }

   private:
    GateFileSystem* fs_;
  };

  void Wait() {
    if (!t_gated) return;
    MutexLock lock(mu_);
    blocked_ = true;
    while (!open_) cv_.wait(lock);
  }

  Mutex mu_;
  CondVar cv_;
  bool open_ GUARDED_BY(mu_) = false;
  std::atomic<bool> blocked_{false};
};

class ReceiveLockTest : public CoreTest {
 protected:
  void SetUp() override {
    fs_ = &gate_;
    CoreTest::SetUp();
  }

  static ReceiveCommand One() {
    ReceiveCommand c;
    c.args.group = "billing";
    c.args.topic = "orders";
    c.args.max_messages = 1;
    return c;
  }

  GateFileSystem gate_;
};

TEST_F(ReceiveLockTest, AckOfTheGroupGoesThroughWhileAReceiveWaitsOnTheDisk) {
  ASSERT_TRUE(CreateTopic("orders", 1).ok());
  ASSERT_TRUE(SendOne(Message("orders", "m-1")).status.ok());
  ASSERT_TRUE(SendOne(Message("orders", "m-2")).status.ok());
  auto first = std::make_shared<FakeWaiter>();
  messages().Receive(One(), *first);
  ASSERT_TRUE(first->result().ok());
  ASSERT_EQ(first->result()->size(), 1u);

  auto stuck = std::make_shared<FakeWaiter>();
  std::thread receiver([&] {
    t_gated = true;
    messages().Receive(One(), *stuck);
  });
  ASSERT_TRUE(WaitUntil([&] { return gate_.blocked(); }));
  std::atomic<bool> acked{false};
  Status ack_status;
  std::thread acker([&] {
    ack_status = messages().Ack("billing", first->result()->front().receipt);
    acked = true;
  });
  const bool acked_while_stuck = WaitUntil([&] { return acked.load(); });
  gate_.Open();
  acker.join();
  receiver.join();
  EXPECT_TRUE(acked_while_stuck) << "the ack waited for the receive's disk read";
  EXPECT_TRUE(ack_status.ok()) << ack_status.ToString();
  ASSERT_TRUE(stuck->result().ok());
  ASSERT_EQ(stuck->result()->size(), 1u);
  EXPECT_EQ(stuck->result()->front().record.message_id, "m-2");
}

}  // namespace
}  // namespace tidemq::broker
