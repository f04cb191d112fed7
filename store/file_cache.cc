#include "store/file_cache.h"

#include <sys/resource.h>

#include <algorithm>

namespace tidemq::store {

FileCache::FileCache(FileSystem* fs, size_t capacity)
    : fs_(fs), capacity_(std::max<size_t>(1, capacity)) {}

size_t FileCache::DefaultCapacity() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 4096;
  return std::clamp<size_t>(static_cast<size_t>(limit.rlim_cur / 4), 64, 4096);
}

uint64_t FileCache::NewOwner() {
  MutexLock lock(mu_);
  return next_owner_++;
}

Result<std::shared_ptr<File>> FileCache::Get(uint64_t owner, int64_t id,
                                             const std::function<std::string()>& path,
                                             bool create) {
  const Key key{owner, id};
  {
    MutexLock lock(mu_);
    auto it = files_.find(key);
    if (it != files_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      return it->second.file;
    }
  }
  // Open outside the lock: readers of other files need not wait for this syscall.
  const std::string p = path();
  Result<std::unique_ptr<File>> opened = fs_->Open(p, create);
  if (!opened.ok() && opened.status().code() == Code::kResourceExhausted) {
    // Out of descriptors: close the least recently used half of what this cache holds (a file
    // a reader still uses closes when the reader is done) and try once more.
    {
      MutexLock lock(mu_);
      EvictTo(files_.size() / 2);
    }
    opened = fs_->Open(p, create);
  }
  if (!opened.ok()) return opened.status();
  std::shared_ptr<File> file = std::move(opened).value();
  MutexLock lock(mu_);
  auto it = files_.find(key);
  if (it != files_.end()) {  // another thread opened it meanwhile: use one descriptor
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    return it->second.file;
  }
  EvictTo(capacity_ - 1);
  lru_.push_front(key);
  files_.emplace(key, Entry{file, lru_.begin()});
  return file;
}

void FileCache::EvictTo(size_t keep) {
  while (files_.size() > keep && !lru_.empty()) {
    files_.erase(lru_.back());
    lru_.pop_back();
    ++evictions_;
  }
}

void FileCache::Erase(uint64_t owner, int64_t id) {
  MutexLock lock(mu_);
  auto it = files_.find(Key{owner, id});
  if (it == files_.end()) return;
  lru_.erase(it->second.lru);
  files_.erase(it);
}

void FileCache::EraseOwner(uint64_t owner) {
  MutexLock lock(mu_);
  for (auto it = files_.lower_bound(Key{owner, INT64_MIN});
       it != files_.end() && it->first.first == owner;) {
    lru_.erase(it->second.lru);
    it = files_.erase(it);
  }
}

size_t FileCache::open_files() const {
  MutexLock lock(mu_);
  return files_.size();
}

int64_t FileCache::evictions() const {
  MutexLock lock(mu_);
  return evictions_;
}

}  // namespace tidemq::store
