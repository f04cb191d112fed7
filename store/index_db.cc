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
// Key and message-id entries, bucketed by segment: "b" + segment base (BE64) + ...
constexpr char kBucketPrefix[] = "b";
constexpr char kLayoutKey[] = "c/layout";
// Deletes per WriteBatch when dropping many keys.
constexpr size_t kDeleteChunk = 10'000;

std::string WithOffset(std::string prefix, LogOffset offset) {
  PutBigEndian64(&prefix, static_cast<uint64_t>(offset.value()));
  return prefix;
}

bool StartsWith(const leveldb::Slice& s, const std::string& prefix) {
  return s.size() >= prefix.size() && std::memcmp(s.data(), prefix.data(), prefix.size()) == 0;
}

}  // namespace

std::string SegmentBucketPrefix(LogOffset segment) { return WithOffset(kBucketPrefix, segment); }

namespace {

// A bucket's prefix in a string with room for `more` bytes after it: index keys are built
// once per stored message, on the writer thread, so they grow without reallocating.
std::string BucketKey(LogOffset segment, size_t more) {
  std::string k;
  k.reserve(sizeof(kBucketPrefix) - 1 + 8 + more);
  k.append(kBucketPrefix);
  PutBigEndian64(&k, static_cast<uint64_t>(segment.value()));
  return k;
}

}  // namespace

std::string KeyIndexPrefix(LogOffset segment, const std::string& topic, const std::string& key) {
  std::string k = BucketKey(segment, 1 + topic.size() + 1 + key.size() + 1 + 8);
  k.push_back('k');
  k.append(topic);
  k.push_back('\0');
  k.append(key);
  k.push_back('\0');
  return k;
}

std::string MessageIdIndexPrefix(LogOffset segment, const std::string& message_id) {
  std::string k = BucketKey(segment, 1 + message_id.size() + 1 + 8);
  k.push_back('i');
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

void IndexBatch::AddKey(LogOffset segment, const std::string& topic, const std::string& key,
                        LogOffset offset) {
  batch_->Put(WithOffset(KeyIndexPrefix(segment, topic, key), offset), leveldb::Slice());
  Note(offset);
}

void IndexBatch::AddMessageId(LogOffset segment, const std::string& message_id, LogOffset offset) {
  batch_->Put(WithOffset(MessageIdIndexPrefix(segment, message_id), offset), leveldb::Slice());
  Note(offset);
}

void IndexBatch::PutMeta(const std::string& key, const std::string& value, LogOffset offset) {
  batch_->Put(kMetaPrefix + key, value);
  Note(offset);
}

void IndexBatch::DeleteMeta(const std::string& key, LogOffset offset) {
  batch_->Delete(kMetaPrefix + key);
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

Status IndexDb::ScanNewestFirst(const std::string& prefix, size_t max,
                                std::vector<LogOffset>* out) const {
  if (out->size() >= max) return Status::Ok();
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
  for (; it->Valid() && out->size() < max; it->Prev()) {
    leveldb::Slice k = it->key();
    if (!StartsWith(k, prefix)) break;
    if (k.size() != prefix.size() + 8) continue;  // a longer key sharing the prefix
    out->emplace_back(static_cast<int64_t>(DecodeBigEndian64(k.data() + prefix.size())));
  }
  return FromLevelDb(it->status(), "index scan");
}

Result<std::vector<LogOffset>> IndexDb::LookupKey(const std::vector<LogOffset>& segments,
                                                  const std::string& topic, const std::string& key,
                                                  size_t max) const {
  std::vector<LogOffset> out;
  for (LogOffset segment : segments) {
    if (out.size() >= max) break;
    RETURN_IF_ERROR(ScanNewestFirst(KeyIndexPrefix(segment, topic, key), max, &out));
  }
  return out;
}

Result<std::vector<LogOffset>> IndexDb::LookupMessageId(const std::vector<LogOffset>& segments,
                                                        const std::string& message_id,
                                                        size_t max) const {
  std::vector<LogOffset> out;
  for (LogOffset segment : segments) {
    if (out.size() >= max) break;
    RETURN_IF_ERROR(ScanNewestFirst(MessageIdIndexPrefix(segment, message_id), max, &out));
  }
  return out;
}

Status IndexDb::DeleteIndexEntriesFrom(LogOffset offset) {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  leveldb::WriteBatch batch;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(kBucketPrefix); it->Valid(); it->Next()) {
    leveldb::Slice k = it->key();
    if (!StartsWith(k, kBucketPrefix)) break;
    if (k.size() < 1 + 8 + 1 + 8) continue;
    int64_t at = static_cast<int64_t>(DecodeBigEndian64(k.data() + k.size() - 8));
    if (at >= offset.value()) batch.Delete(k);
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "index scan"));
  leveldb::WriteOptions options;
  options.sync = true;
  return FromLevelDb(db->Write(options, &batch), "index cleanup");
}

Status IndexDb::DeleteRange(const std::string& from, const std::string& to, int64_t* deleted) {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  leveldb::WriteBatch batch;
  size_t pending = 0;
  for (it->Seek(from); it->Valid() && it->key().compare(to) < 0; it->Next()) {
    batch.Delete(it->key());
    ++*deleted;
    if (++pending == kDeleteChunk) {
      RETURN_IF_ERROR(
          NoteWrite(FromLevelDb(db->Write(leveldb::WriteOptions(), &batch), "index trim")));
      batch.Clear();
      pending = 0;
    }
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "index scan"));
  if (pending > 0) {
    RETURN_IF_ERROR(
        NoteWrite(FromLevelDb(db->Write(leveldb::WriteOptions(), &batch), "index trim")));
  }
  if (*deleted > 0) {
    // LevelDB has no range delete: the tombstones free nothing until compacted away.
    const leveldb::Slice begin(from), end(to);
    db->CompactRange(&begin, &end);
  }
  return Status::Ok();
}

Result<int64_t> IndexDb::DropSegmentsBelow(LogOffset log_min) {
  int64_t deleted = 0;
  RETURN_IF_ERROR(DeleteRange(kBucketPrefix, SegmentBucketPrefix(log_min), &deleted));
  return deleted;
}

Status IndexDb::ClearDerived(bool metadata_too) {
  int64_t deleted = 0;
  // Layout 1 kept "k<topic>\0<key>\0<offset>" and "i<id>\0<offset>"; layout 2 buckets them.
  RETURN_IF_ERROR(DeleteRange(kBucketPrefix, "c", &deleted));
  RETURN_IF_ERROR(DeleteRange("i", "j", &deleted));
  RETURN_IF_ERROR(DeleteRange("k", "l", &deleted));
  if (metadata_too) RETURN_IF_ERROR(DeleteRange(kMetaPrefix, "m0", &deleted));
  return Status::Ok();
}

Result<uint32_t> IndexDb::GetLayout() const {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), kLayoutKey, &value);
  if (s.IsNotFound()) return 0u;
  RETURN_IF_ERROR(FromLevelDb(s, "read the index layout"));
  uint32_t version = 0;
  for (char c : value) {
    if (c < '0' || c > '9' || version > 100'000) return 0u;  // unreadable: rebuild
    version = version * 10 + static_cast<uint32_t>(c - '0');
  }
  return version;
}

Status IndexDb::PutLayout(uint32_t version) {
  ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  leveldb::WriteOptions options;
  options.sync = true;
  return NoteWrite(
      FromLevelDb(db->Put(options, kLayoutKey, std::to_string(version)), "write index layout"));
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
