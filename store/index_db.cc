#include "store/index_db.h"

#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/write_batch.h>

#include <cstring>

#include "common/coding.h"
#include "store/leveldb_status.h"

namespace tidemq::store {
namespace {

constexpr char kMetaPrefix[] = "m/";
constexpr char kCheckpointPrefix[] = "c/";

std::string WithOffset(std::string prefix, LogOffset offset) {
  PutBigEndian64(&prefix, static_cast<uint64_t>(offset.value()));
  return prefix;
}

bool StartsWith(const leveldb::Slice& s, const std::string& prefix) {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

}  // namespace

std::string KeyIndexPrefix(const std::string& topic, const std::string& key) {
  std::string k = "k";
  k.append(topic);
  k.push_back('\0');
  k.append(key);
  k.push_back('\0');
  return k;
}

std::string MessageIdIndexPrefix(const std::string& message_id) {
  std::string k = "i";
  k.append(message_id);
  k.push_back('\0');
  return k;
}

IndexBatch::IndexBatch() : batch_(std::make_unique<leveldb::WriteBatch>()) {}
IndexBatch::~IndexBatch() = default;

void IndexBatch::Note(LogOffset offset) {
  ++count_;
  if (first_ == kNoLogOffset || offset < first_) first_ = offset;
}

void IndexBatch::AddKey(const std::string& topic, const std::string& key, LogOffset offset) {
  batch_->Put(WithOffset(KeyIndexPrefix(topic, key), offset), leveldb::Slice());
  Note(offset);
}

void IndexBatch::AddMessageId(const std::string& message_id, LogOffset offset) {
  batch_->Put(WithOffset(MessageIdIndexPrefix(message_id), offset), leveldb::Slice());
  Note(offset);
}

void IndexBatch::Append(const IndexBatch& later) {
  batch_->Append(*later.batch_);
  count_ += later.count_;
  if (later.first_ != kNoLogOffset && (first_ == kNoLogOffset || later.first_ < first_)) {
    first_ = later.first_;
  }
}

size_t IndexBatch::ApproximateBytes() const { return batch_->ApproximateSize(); }

void IndexBatch::SetCheckpoint(const std::string& name, LogOffset offset) {
  std::string value;
  PutBigEndian64(&value, static_cast<uint64_t>(offset.value()));
  batch_->Put(kCheckpointPrefix + name, value);
  ++count_;
}

void IndexBatch::Clear() {
  batch_->Clear();
  count_ = 0;
  first_ = kNoLogOffset;
}

IndexDb::IndexDb(std::unique_ptr<ReopenableDb> db) : db_(std::move(db)) {}
IndexDb::~IndexDb() = default;

namespace {

leveldb::Options IndexOptions() {
  leveldb::Options options;
  options.create_if_missing = false;
  // Keys are message ids, keys and offsets: random bytes that snappy cannot shrink, so
  // compressing them only costs CPU on the write path and in compactions.
  options.compression = leveldb::kNoCompression;
  // A larger memtable means fewer, larger level-0 tables and less compaction per message.
  options.write_buffer_size = 16u << 20;
  options.max_open_files = LevelDbMaxOpenFiles();
  return options;
}

}  // namespace

Result<std::unique_ptr<IndexDb>> IndexDb::Open(const std::string& path, bool* existed) {
  leveldb::Options options = IndexOptions();
  leveldb::DB* db = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, path, &db);
  *existed = s.ok();
  if (s.IsInvalidArgument()) {  // "does not exist (create_if_missing is false)"
    options.create_if_missing = true;
    options.error_if_exists = true;
    s = leveldb::DB::Open(options, path, &db);
  }
  RETURN_IF_ERROR(FromLevelDb(s, "open index " + path));
  return std::unique_ptr<IndexDb>(
      new IndexDb(std::make_unique<ReopenableDb>(path, IndexOptions(), "index", db)));
}

Status IndexDb::Reopen() {
  RETURN_IF_ERROR(db_->Reopen());
  write_failing_.store(false, std::memory_order_relaxed);
  return Status::Ok();
}

Status IndexDb::Write(IndexBatch* batch, bool sync) {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  leveldb::WriteOptions options;
  options.sync = sync;
  return NoteWrite(FromLevelDb(db->Write(options, batch->batch_.get()), "index write"));
}

Status IndexDb::NoteWrite(Status st) {
  if (st.code() == Code::kResourceExhausted) {
    write_failing_.store(true, std::memory_order_relaxed);
  } else if (st.ok()) {
    write_failing_.store(false, std::memory_order_relaxed);
  }
  return st;
}

Result<std::vector<LogOffset>> IndexDb::ScanNewestFirst(const std::string& prefix,
                                                        size_t max) const {
  std::vector<LogOffset> out;
  if (max == 0) return out;
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  // Past every "prefix + 8-byte offset" key: step back from here.
  std::string upper = prefix + std::string(9, '\xff');
  it->Seek(upper);
  if (it->Valid()) {
    it->Prev();
  } else {
    it->SeekToLast();
  }
  for (; it->Valid() && out.size() < max; it->Prev()) {
    leveldb::Slice k = it->key();
    if (!StartsWith(k, prefix)) break;
    if (k.size() != prefix.size() + 8) continue;  // a longer key sharing the prefix
    out.emplace_back(static_cast<int64_t>(DecodeBigEndian64(k.data() + prefix.size())));
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "index scan"));
  return out;
}

Result<std::vector<LogOffset>> IndexDb::LookupKey(const std::string& topic, const std::string& key,
                                                  size_t max) const {
  return ScanNewestFirst(KeyIndexPrefix(topic, key), max);
}

Result<std::vector<LogOffset>> IndexDb::LookupMessageId(const std::string& message_id,
                                                        size_t max) const {
  return ScanNewestFirst(MessageIdIndexPrefix(message_id), max);
}

Status IndexDb::DeleteIndexEntriesFrom(LogOffset offset) {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  leveldb::WriteBatch batch;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (char kind : {'i', 'k'}) {
    for (it->Seek(std::string(1, kind)); it->Valid(); it->Next()) {
      leveldb::Slice k = it->key();
      if (k.empty() || k[0] != kind) break;
      if (k.size() < 9) continue;
      int64_t at = static_cast<int64_t>(DecodeBigEndian64(k.data() + k.size() - 8));
      if (at >= offset.value()) batch.Delete(k);
    }
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "index scan"));
  leveldb::WriteOptions options;
  options.sync = true;
  return FromLevelDb(db->Write(options, &batch), "index cleanup");
}

Result<LogOffset> IndexDb::GetCheckpoint(const std::string& name) const {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), kCheckpointPrefix + name, &value);
  if (s.IsNotFound()) return kNoLogOffset;
  RETURN_IF_ERROR(FromLevelDb(s, "read checkpoint " + name));
  if (value.size() != 8) return Corruption("checkpoint " + name + " is not 8 bytes");
  return LogOffset(static_cast<int64_t>(DecodeBigEndian64(value.data())));
}

Status IndexDb::PutCheckpoint(const std::string& name, LogOffset offset, bool sync) {
  IndexBatch batch;
  batch.SetCheckpoint(name, offset);
  return Write(&batch, sync);
}

Status IndexDb::PutMeta(const std::string& key, const std::string& value, bool sync) {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  leveldb::WriteOptions options;
  options.sync = sync;
  return NoteWrite(FromLevelDb(db->Put(options, kMetaPrefix + key, value), "put meta " + key));
}

Status IndexDb::DeleteMeta(const std::string& key, bool sync) {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  leveldb::WriteOptions options;
  options.sync = sync;
  return NoteWrite(FromLevelDb(db->Delete(options, kMetaPrefix + key), "delete meta " + key));
}

Result<std::optional<std::string>> IndexDb::GetMeta(const std::string& key) const {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), kMetaPrefix + key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  RETURN_IF_ERROR(FromLevelDb(s, "get meta " + key));
  return std::optional<std::string>(std::move(value));
}

Result<std::vector<std::pair<std::string, std::string>>> IndexDb::ScanMeta(
    const std::string& prefix) const {
  std::vector<std::pair<std::string, std::string>> out;
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  const std::string full = kMetaPrefix + prefix;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(full); it->Valid() && StartsWith(it->key(), full); it->Next()) {
    leveldb::Slice k = it->key();
    out.emplace_back(std::string(k.data() + 2, k.size() - 2), it->value().ToString());
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "scan meta " + prefix));
  return out;
}

}  // namespace tidemq::store
