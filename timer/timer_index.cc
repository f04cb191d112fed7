#include "timer/timer_index.h"

#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/write_batch.h>

#include <spdlog/spdlog.h>

#include <map>
#include <utility>

#include "common/coding.h"
#include "store/leveldb_status.h"
#include "store/reopenable_db.h"

namespace tidemq::timer {
namespace {

using store::FromLevelDb;

// Key prefixes (docs/timer.md): one byte each, so the kinds never interleave.
constexpr char kDuePrefix = 'd';        // d + be64 due + be64 offset -> value
constexpr char kOffsetPrefix = 'o';     // o + be64 offset -> be64 due
constexpr char kMessageIdPrefix = 'm';  // m + be16 len + message id + be64 offset -> ""
constexpr char kAppliedKey[] = "c/applied";
// The key grammar's version. An index written in another one is rebuilt from the log.
constexpr char kFormatKey[] = "c/format";
constexpr int64_t kFormat = 2;
constexpr char kPendingKey[] = "s/pending";
constexpr char kFiredKey[] = "s/fired";
constexpr char kCancelledKey[] = "s/cancelled";
constexpr uint8_t kValueVersion = 1;

std::string BigEndian(int64_t v) {
  std::string s;
  PutBigEndian64(&s, static_cast<uint64_t>(v));
  return s;
}

// A missing key reads as nullopt; a present one must hold a big-endian int64.
Result<std::optional<int64_t>> GetInt(leveldb::DB* db, const std::string& key) {
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::optional<int64_t>();
  RETURN_IF_ERROR(FromLevelDb(s, "timer index get"));
  if (value.size() != 8) return Corruption("timer index: value of a counter key is not 8 bytes");
  return std::optional<int64_t>(static_cast<int64_t>(DecodeBigEndian64(value.data())));
}

DueKey DecodeDueKey(const leveldb::Slice& k) {
  return {static_cast<int64_t>(DecodeBigEndian64(k.data() + 1)),
          static_cast<int64_t>(DecodeBigEndian64(k.data() + 9))};
}

}  // namespace

std::string DueIndexKey(DueKey key) {
  std::string k(1, kDuePrefix);
  PutBigEndian64(&k, static_cast<uint64_t>(key.due_ms));
  PutBigEndian64(&k, static_cast<uint64_t>(key.offset));
  return k;
}

std::string OffsetIndexKey(LogOffset offset) {
  std::string k(1, kOffsetPrefix);
  PutBigEndian64(&k, static_cast<uint64_t>(offset.value()));
  return k;
}

std::string MessageIdPrefix(const std::string& message_id) {
  std::string k(1, kMessageIdPrefix);
  PutBigEndian16(&k, static_cast<uint16_t>(message_id.size()));
  k.append(message_id);
  return k;
}

std::string MessageIdIndexKey(const std::string& message_id, LogOffset offset) {
  std::string k = MessageIdPrefix(message_id);
  PutBigEndian64(&k, static_cast<uint64_t>(offset.value()));
  return k;
}

std::string EncodeIndexValue(const IndexEntry& entry) {
  std::string v;
  v.push_back(static_cast<char>(kValueVersion));
  PutFixed32(&v, entry.queue_id);
  PutFixed16(&v, static_cast<uint16_t>(entry.topic.size()));
  v.append(entry.topic);
  PutFixed16(&v, static_cast<uint16_t>(entry.message_id.size()));
  v.append(entry.message_id);
  return v;
}

Status DecodeIndexValue(std::string_view value, IndexEntry* entry) {
  Reader in(value);
  uint8_t version;
  uint16_t len;
  std::string_view topic, message_id;
  if (!in.GetU8(&version) || version != kValueVersion || !in.GetFixed32(&entry->queue_id) ||
      !in.GetFixed16(&len) || !in.GetBytes(len, &topic) || !in.GetFixed16(&len) ||
      !in.GetBytes(len, &message_id) || in.remaining() != 0) {
    return Corruption("timer index: malformed entry value");
  }
  entry->topic = std::string(topic);
  entry->message_id = std::string(message_id);
  return Status::Ok();
}

TimerIndex::TimerIndex(std::unique_ptr<store::ReopenableDb> db) : db_(std::move(db)) {}
TimerIndex::~TimerIndex() = default;

namespace {

leveldb::Options TimerIndexOptions() {
  leveldb::Options options;
  options.create_if_missing = true;
  // Keys are big-endian numbers and message ids: snappy would only cost CPU.
  options.compression = leveldb::kNoCompression;
  options.write_buffer_size = 8u << 20;
  options.max_open_files = store::LevelDbMaxOpenFiles();
  return options;
}

}  // namespace

Result<std::unique_ptr<TimerIndex>> TimerIndex::Open(const std::string& path) {
  const leveldb::Options options = TimerIndexOptions();
  leveldb::DB* db = nullptr;
  RETURN_IF_ERROR(FromLevelDb(leveldb::DB::Open(options, path, &db), "open timer index " + path));
  auto wrap = [&](leveldb::DB* opened) {
    return std::unique_ptr<TimerIndex>(
        new TimerIndex(std::make_unique<store::ReopenableDb>(path, options, "timer index", opened)));
  };
  std::unique_ptr<TimerIndex> index = wrap(db);
  ASSIGN_OR_RETURN(std::optional<int64_t> format, GetInt(db, kFormatKey));
  ASSIGN_OR_RETURN(std::optional<int64_t> applied, GetInt(db, kAppliedKey));
  if (format != kFormat && applied.has_value()) {
    // Written by another version: derived state, so start over and replay the log.
    spdlog::info("timer index {} has key format {}, not {}: rebuilding it from the log", path,
                 format.value_or(1), kFormat);
    index.reset();
    RETURN_IF_ERROR(FromLevelDb(leveldb::DestroyDB(path, options), "reset timer index " + path));
    db = nullptr;
    RETURN_IF_ERROR(
        FromLevelDb(leveldb::DB::Open(options, path, &db), "open timer index " + path));
    index = wrap(db);
  }
  if (format != kFormat) {
    leveldb::WriteOptions sync;
    sync.sync = true;
    RETURN_IF_ERROR(
        FromLevelDb(db->Put(sync, kFormatKey, BigEndian(kFormat)), "timer index format"));
  }
  RETURN_IF_ERROR(index->LoadCounters());
  return index;
}

Status TimerIndex::Reopen() {
  RETURN_IF_ERROR(db_->Reopen());
  return LoadCounters();
}

Status TimerIndex::LoadCounters() {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  ASSIGN_OR_RETURN(std::optional<int64_t> applied, GetInt(db.get(), kAppliedKey));
  ASSIGN_OR_RETURN(std::optional<int64_t> pending, GetInt(db.get(), kPendingKey));
  ASSIGN_OR_RETURN(std::optional<int64_t> fired, GetInt(db.get(), kFiredKey));
  ASSIGN_OR_RETURN(std::optional<int64_t> cancelled, GetInt(db.get(), kCancelledKey));
  applied_ = applied.value_or(kNoLogOffset.value());
  pending_ = pending.value_or(0);
  fired_ = fired.value_or(0);
  cancelled_ = cancelled.value_or(0);
  return Status::Ok();
}

Status TimerIndex::Apply(const std::vector<TimerOp>& ops, LogOffset applied, bool sync,
                         bool schedules_are_new) {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  // What this batch already changed, so a later op in the same batch sees it.
  std::map<int64_t, std::optional<IndexEntry>> entries;
  auto lookup = [&](LogOffset offset) -> Result<std::optional<IndexEntry>> {
    auto it = entries.find(offset.value());
    if (it != entries.end()) return it->second;
    return GetIn(db.get(), offset);
  };

  leveldb::WriteBatch batch;
  int64_t pending = pending_.load(), fired = fired_.load(), cancelled = cancelled_.load();
  for (const TimerOp& op : ops) {
    if (op.kind == TimerOp::Kind::kSchedule) {
      if (!schedules_are_new) {
        ASSIGN_OR_RETURN(std::optional<IndexEntry> current, lookup(op.entry.offset));
        if (current.has_value()) continue;  // replayed
      }
      const IndexEntry& e = op.entry;
      batch.Put(DueIndexKey(e.key()), EncodeIndexValue(e));
      batch.Put(OffsetIndexKey(e.offset), BigEndian(e.due_ms));
      if (!e.message_id.empty()) batch.Put(MessageIdIndexKey(e.message_id, e.offset), "");
      entries[e.offset.value()] = e;
      ++pending;
      continue;
    }
    std::optional<IndexEntry> current;
    if (op.known_pending) {
      current = op.entry;  // the caller vouches for it: no read
    } else {
      ASSIGN_OR_RETURN(current, lookup(op.entry.offset));
    }
    if (!current.has_value()) continue;  // replayed, or cancelled and fired both
    batch.Delete(DueIndexKey(current->key()));
    batch.Delete(OffsetIndexKey(current->offset));
    if (!current->message_id.empty()) {
      batch.Delete(MessageIdIndexKey(current->message_id, current->offset));
    }
    entries[current->offset.value()] = std::nullopt;
    --pending;
    ++(op.kind == TimerOp::Kind::kFired ? fired : cancelled);
  }
  batch.Put(kPendingKey, BigEndian(pending));
  batch.Put(kFiredKey, BigEndian(fired));
  batch.Put(kCancelledKey, BigEndian(cancelled));
  batch.Put(kAppliedKey, BigEndian(applied.value()));
  leveldb::WriteOptions options;
  options.sync = sync;
  RETURN_IF_ERROR(FromLevelDb(db->Write(options, &batch), "timer index write"));
  pending_ = pending;
  fired_ = fired;
  cancelled_ = cancelled;
  applied_ = applied.value();
  return Status::Ok();
}

Status TimerIndex::SetApplied(LogOffset applied, bool sync) {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  leveldb::WriteOptions options;
  options.sync = sync;
  RETURN_IF_ERROR(FromLevelDb(db->Put(options, kAppliedKey, BigEndian(applied.value())),
                              "timer index checkpoint"));
  applied_ = applied.value();
  return Status::Ok();
}

Result<std::vector<IndexEntry>> TimerIndex::ScanDue(DueKey from, int64_t to_due_ms,
                                                    size_t limit) const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  return ScanDueIn(db.get(), from, to_due_ms, limit);
}

Result<std::vector<IndexEntry>> TimerIndex::ScanDueIn(leveldb::DB* db, DueKey from,
                                                      int64_t to_due_ms, size_t limit) const {
  std::vector<IndexEntry> out;
  if (limit == 0 || from.due_ms >= to_due_ms) return out;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(DueIndexKey(from)); it->Valid() && out.size() < limit; it->Next()) {
    leveldb::Slice k = it->key();
    if (k.empty() || k[0] != kDuePrefix) break;
    if (k.size() != 17) return Corruption("timer index: malformed due key");
    const DueKey key = DecodeDueKey(k);
    if (key.due_ms >= to_due_ms) break;
    IndexEntry e;
    e.due_ms = key.due_ms;
    e.offset = LogOffset(key.offset);
    RETURN_IF_ERROR(DecodeIndexValue(std::string_view(it->value().data(), it->value().size()), &e));
    out.push_back(std::move(e));
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "timer index scan"));
  return out;
}

Result<std::optional<IndexEntry>> TimerIndex::Get(LogOffset offset) const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  return GetIn(db.get(), offset);
}

Result<std::optional<IndexEntry>> TimerIndex::GetIn(leveldb::DB* db, LogOffset offset) const {
  ASSIGN_OR_RETURN(std::optional<int64_t> due, GetInt(db, OffsetIndexKey(offset)));
  if (!due.has_value()) return std::optional<IndexEntry>();
  IndexEntry e;
  e.due_ms = *due;
  e.offset = offset;
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), DueIndexKey(e.key()), &value);
  if (s.IsNotFound()) return Corruption("timer index: offset key without its due key");
  RETURN_IF_ERROR(FromLevelDb(s, "timer index get"));
  RETURN_IF_ERROR(DecodeIndexValue(value, &e));
  return std::optional<IndexEntry>(std::move(e));
}

Result<std::optional<LogOffset>> TimerIndex::FindByMessageId(const std::string& message_id) const {
  // Ids are unique per message, but a retried send may store one twice: the latest wins.
  const std::string prefix = MessageIdPrefix(message_id);
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  std::optional<LogOffset> out;
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 8) return Corruption("timer index: malformed id key");
    out = LogOffset(static_cast<int64_t>(DecodeBigEndian64(it->key().data() + prefix.size())));
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "timer index scan"));
  return out;
}

Result<std::optional<int64_t>> TimerIndex::NextDue() const {
  ASSIGN_OR_RETURN(std::vector<IndexEntry> first, ScanDue(DueKey{0, 0}, INT64_MAX, 1));
  if (first.empty()) return std::optional<int64_t>();
  return std::optional<int64_t>(first.front().due_ms);
}

Result<std::optional<LogOffset>> TimerIndex::OldestPendingOffset() const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  it->Seek(std::string(1, kOffsetPrefix));
  std::optional<LogOffset> out;
  if (it->Valid() && it->key().size() == 9 && it->key()[0] == kOffsetPrefix) {
    out = LogOffset(static_cast<int64_t>(DecodeBigEndian64(it->key().data() + 1)));
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "timer index scan"));
  return out;
}

}  // namespace tidemq::timer
