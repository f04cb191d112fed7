// A FileSystem wrapper that injects failures: after N more successful calls, every Write() or
// Sync() of the files it opened (optionally only those whose path contains a filter) fails
// with kIOError (or the code given to FailWith: kResourceExhausted is what a full disk or an
// exhausted descriptor table gives). Opens can be made to fail the same way, and the free
// space it reports can be set, to play a full disk that is freed again.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "common/file_system.h"
#include "tests/common/forwarding_fs.h"

namespace tidemq::store::testing {

class FaultFileSystem final : public tidemq::testing::ForwardingFileSystem {
 public:
  explicit FaultFileSystem(FileSystem* base = FileSystem::Default(), std::string filter = "")
      : ForwardingFileSystem(base), filter_(std::move(filter)) {}

  // n successful calls from now, then every call fails. -1: never fail.
  void FailWritesAfter(int n) { writes_left_ = n; }
  void FailSyncsAfter(int n) { syncs_left_ = n; }
  void FailOpensAfter(int n) { opens_left_ = n; }
  // The code injected failures carry (kIOError unless set).
  void FailWith(Code code) { code_ = code; }
  // What DiskUsage reports; free < 0: the real file system's figures.
  void SetDiskUsage(int64_t free_bytes, int64_t total) {
    fake_free_ = free_bytes;
    fake_total_ = total;
  }

  Result<std::unique_ptr<File>> Open(const std::string& path, bool create) override {
    if ((filter_.empty() || path.find(filter_) != std::string::npos) && Take(&opens_left_)) {
      return Status(code_.load(), "injected open failure on " + path);
    }
    auto file = base()->Open(path, create);
    if (!file.ok()) return file.status();
    bool faulty = filter_.empty() || path.find(filter_) != std::string::npos;
    if (!faulty) return file;
    return std::unique_ptr<File>(new FaultFile(this, std::move(file).value()));
  }
  Status DiskUsage(const std::string& path, uint64_t* free_bytes, uint64_t* total) override {
    if (fake_free_.load() >= 0) {
      *free_bytes = static_cast<uint64_t>(fake_free_.load());
      *total = static_cast<uint64_t>(fake_total_.load());
      return Status::Ok();
    }
    return base()->DiskUsage(path, free_bytes, total);
  }

 private:
  class FaultFile final : public tidemq::testing::ForwardingFile {
   public:
    FaultFile(FaultFileSystem* fs, std::unique_ptr<File> base)
        : ForwardingFile(std::move(base)), fs_(fs) {}
    Status Write(uint64_t offset, std::string_view data) override {
      if (Take(&fs_->writes_left_)) {
        return Status(fs_->code_.load(), "injected write failure on " + path());
      }
      return ForwardingFile::Write(offset, data);
    }
    Status Sync() override {
      if (Take(&fs_->syncs_left_)) {
        return Status(fs_->code_.load(), "injected fdatasync failure on " + path());
      }
      return ForwardingFile::Sync();
    }

   private:
    FaultFileSystem* fs_;
  };

  // True when this call must fail: the budget is exhausted (it stays at 0).
  static bool Take(std::atomic<int>* left) {
    int v = left->load();
    while (v > 0 && !left->compare_exchange_weak(v, v - 1)) {
    }
    return v == 0;
  }

  std::string filter_;
  std::atomic<int> writes_left_{-1};
  std::atomic<int> syncs_left_{-1};
  std::atomic<int> opens_left_{-1};
  std::atomic<Code> code_{Code::kIOError};
  std::atomic<int64_t> fake_free_{-1};
  std::atomic<int64_t> fake_total_{0};
};

}  // namespace tidemq::store::testing
