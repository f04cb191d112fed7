// A bounded cache of open files shared by every consume queue of a store, so that the number of
// descriptors the store holds does not grow with the number of queues (thousands of queues
// under a common `ulimit -n` of 1024). Least recently used files are closed first.
//
// A File handed out stays usable after it is evicted: the cache holds a shared_ptr, and the
// descriptor closes when its last user drops it. When opening fails for want of descriptors
// (kResourceExhausted: EMFILE / ENFILE), idle files are closed and the open is tried once more.
//
// Files are identified by (owner, id): the owner is a number handed out by NewOwner() (one per
// consume queue), the id the owner's own (a file's base queue offset), so that a look-up does
// not build a path string.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "common/mutex.h"
#include "common/file_system.h"
#include "common/status.h"
#include "common/thread_annotations.h"

namespace tidemq::store {

class FileCache {
 public:
  // capacity: the most files kept open (at least 1).
  FileCache(FileSystem* fs, size_t capacity);

  uint64_t NewOwner();
  // The file (owner, id), opened (created when `create`) at path() on a miss.
  Result<std::shared_ptr<File>> Get(uint64_t owner, int64_t id,
                                    const std::function<std::string()>& path, bool create);
  // Forgets one file, or every file of an owner (they were removed, or the owner is gone).
  void Erase(uint64_t owner, int64_t id);
  void EraseOwner(uint64_t owner);

  size_t capacity() const { return capacity_; }
  size_t open_files() const;
  int64_t evictions() const;

  // A capacity that leaves most of the process's descriptors (RLIMIT_NOFILE, soft) to sockets,
  // log segments and LevelDB: a quarter of the limit, within [64, 4096].
  static size_t DefaultCapacity();

 private:
  using Key = std::pair<uint64_t, int64_t>;
  struct Entry {
    std::shared_ptr<File> file;
    std::list<Key>::iterator lru;
  };

  // Closes least recently used files until at most `keep` stay. REQUIRES(mu_)
  void EvictTo(size_t keep) REQUIRES(mu_);

  FileSystem* const fs_;
  const size_t capacity_;
  mutable Mutex mu_;
  uint64_t next_owner_ GUARDED_BY(mu_) = 1;
  std::list<Key> lru_ GUARDED_BY(mu_);  // most recently used first
  std::map<Key, Entry> files_ GUARDED_BY(mu_);
  int64_t evictions_ GUARDED_BY(mu_) = 0;
};

}  // namespace tidemq::store
