// The small file-system interface every TideMQ file access goes through, so tests can inject
// torn writes, fsync failures and full disks (see tests/store/fault_fs.h).
//
// Thread safety: File::Read may be called concurrently with anything; Write/Sync/Truncate on one
// File are called by one thread at a time (the owner's writer). FileSystem methods are
// thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemq {

// A file opened for positional reads and writes (pread/pwrite), never appended through a
// shared cursor.
class File {
 public:
  virtual ~File() = default;
  virtual Status Write(uint64_t offset, std::string_view data) = 0;
  // Reads up to n bytes at offset into *out (resized to what was read; short at end of file).
  virtual Status Read(uint64_t offset, size_t n, std::string* out) const = 0;
  // Reads exactly n bytes into dst, or fails.
  virtual Status ReadExact(uint64_t offset, size_t n, char* dst) const = 0;
  // fdatasync: the data written so far survives a crash once this returns OK.
  virtual Status Sync() = 0;
  virtual Status Truncate(uint64_t size) = 0;
  // Allocates the blocks of [offset, offset + size) without changing the file's size
  // (fallocate with FALLOC_FL_KEEP_SIZE), so that later writes there neither allocate nor
  // wait for the allocation done by a concurrent fdatasync's writeback. Best effort: a file
  // system without support returns OK; out of space is an error the caller may ignore (the
  // write itself then reports it).
  virtual Status Reserve(uint64_t offset, uint64_t size) = 0;
  virtual Result<uint64_t> Size() const = 0;
  virtual const std::string& path() const = 0;
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The POSIX implementation (a process-wide instance).
  static FileSystem* Default();

  // Opens path for reading and writing, creating it when `create` is true.
  virtual Result<std::unique_ptr<File>> Open(const std::string& path, bool create) = 0;
  virtual Status CreateDirs(const std::string& path) = 0;
  // Names (not paths) of the entries in dir, unsorted. Missing dir -> NotFound.
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  virtual bool Exists(const std::string& path) = 0;
  virtual Status Remove(const std::string& path) = 0;
  virtual Status RemoveAll(const std::string& path) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // fsync on a directory, so created/renamed/removed entries survive a crash.
  virtual Status SyncDir(const std::string& dir) = 0;
  // Free bytes and total bytes of the file system holding path.
  virtual Status DiskUsage(const std::string& path, uint64_t* free_bytes, uint64_t* total) = 0;

  // Helpers built on the primitives above.
  // Writes data to path via a temporary file + fsync + rename + directory fsync.
  Status WriteFileAtomic(const std::string& path, std::string_view data);
  Result<std::string> ReadFile(const std::string& path);
};

std::string JoinPath(std::string_view a, std::string_view b);
std::string DirName(std::string_view path);

}  // namespace tidemq
