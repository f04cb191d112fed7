// A LevelDB database that can be closed and opened again while other threads use it: the
// store's index and the timer and transaction indexes keep theirs in one.
//
// Why: LevelDB refuses every write for good once a background write failed (a memtable flush
// or a compaction on a full disk). The only way back is to reopen the database; a broker that
// must recover from a full disk by itself (docs/operations.md) reopens once there is room.
//
// Every use holds a Ref (a shared lock): the database cannot be swapped under it. Reopen takes
// the lock exclusively. A Ref is empty when the last Reopen failed; callers then answer
// kResourceExhausted (Closed()). Never take a second Ref on the same thread while holding one
// (pass the leveldb::DB* down instead): a waiting Reopen would deadlock them.
//
// Thread safety: every method may be called from any thread.
#pragma once

#include <leveldb/db.h>
#include <leveldb/options.h>

#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>

#include "common/status.h"

namespace tidemq::store {

class ReopenableDb {
 public:
  class Ref {
   public:
    leveldb::DB* get() const { return db_; }
    leveldb::DB* operator->() const { return db_; }
    explicit operator bool() const { return db_ != nullptr; }

   private:
    friend class ReopenableDb;
    Ref(std::shared_lock<std::shared_mutex> lock, leveldb::DB* db)
        : lock_(std::move(lock)), db_(db) {}
    std::shared_lock<std::shared_mutex> lock_;
    leveldb::DB* db_;
  };

  // Takes ownership of an open database; `what` names it in errors ("timer index").
  ReopenableDb(std::string path, leveldb::Options options, std::string what, leveldb::DB* db);
  ~ReopenableDb();

  Ref Get() const;
  // Closes the database and opens it again with the same options.
  Status Reopen();
  // The error a call answers while the database is closed (a failed Reopen).
  Status Closed() const;

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  const leveldb::Options options_;
  const std::string what_;
  mutable std::shared_mutex mu_;
  // Guarded by mu_ (shared while a Ref lives, exclusive in Reopen); null after a failed Reopen.
  // Not a checked GUARDED_BY: the analysis cannot follow a lock handed out inside a Ref.
  std::unique_ptr<leveldb::DB> db_;
};

}  // namespace tidemq::store
