#include "store/reopenable_db.h"

#include "store/leveldb_status.h"

namespace tidemq::store {

ReopenableDb::ReopenableDb(std::string path, leveldb::Options options, std::string what,
                           leveldb::DB* db)
    : path_(std::move(path)), options_(std::move(options)), what_(std::move(what)), db_(db) {}

ReopenableDb::~ReopenableDb() = default;

ReopenableDb::Ref ReopenableDb::Get() const {
  std::shared_lock lock(mu_);
  leveldb::DB* db = db_.get();
  return Ref(std::move(lock), db);
}

Status ReopenableDb::Reopen() {
  std::unique_lock lock(mu_);
  db_.reset();  // releases LevelDB's lock on the directory
  leveldb::DB* db = nullptr;
  RETURN_IF_ERROR(FromLevelDb(leveldb::DB::Open(options_, path_, &db), "reopen " + what_ + " " + path_));
  db_.reset(db);
  return Status::Ok();
}

Status ReopenableDb::Closed() const {
  return Status(Code::kResourceExhausted,
                what_ + " " + path_ + " is closed: reopening it after a failure did not succeed yet");
}

}  // namespace tidemq::store
