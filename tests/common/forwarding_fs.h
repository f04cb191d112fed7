// A File and a FileSystem that hand every call to another one: test file systems derive from
// them and override only the calls they change (fault injection, gates that hold a read).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/file_system.h"

namespace tidemq::testing {

class ForwardingFile : public File {
 public:
  explicit ForwardingFile(std::unique_ptr<File> base) : base_(std::move(base)) {}

  Status Write(uint64_t offset, std::string_view data) override {
    return base_->Write(offset, data);
  }
  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    return base_->Read(offset, n, out);
  }
  Status ReadExact(uint64_t offset, size_t n, char* dst) const override {
    return base_->ReadExact(offset, n, dst);
  }
  Status Sync() override { return base_->Sync(); }
  Status Truncate(uint64_t size) override { return base_->Truncate(size); }
  Status Reserve(uint64_t offset, uint64_t size) override { return base_->Reserve(offset, size); }
  Result<uint64_t> Size() const override { return base_->Size(); }
  const std::string& path() const override { return base_->path(); }

 private:
  const std::unique_ptr<File> base_;
};

class ForwardingFileSystem : public FileSystem {
 public:
  explicit ForwardingFileSystem(FileSystem* base) : base_(base) {}

  Result<std::unique_ptr<File>> Open(const std::string& path, bool create) override {
    return base_->Open(path, create);
  }
  Status CreateDirs(const std::string& path) override { return base_->CreateDirs(path); }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  bool Exists(const std::string& path) override { return base_->Exists(path); }
  Status Remove(const std::string& path) override { return base_->Remove(path); }
  Status RemoveAll(const std::string& path) override { return base_->RemoveAll(path); }
  Status Rename(const std::string& from, const std::string& to) override {
    return base_->Rename(from, to);
  }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  Status DiskUsage(const std::string& path, uint64_t* free_bytes, uint64_t* total) override {
    return base_->DiskUsage(path, free_bytes, total);
  }

 protected:
  FileSystem* base() const { return base_; }

 private:
  FileSystem* const base_;
};

}  // namespace tidemq::testing
