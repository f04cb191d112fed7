#include "txn/txn_index.h"

#include <leveldb/db.h>
#include <leveldb/iterator.h>
#include <leveldb/write_batch.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <utility>

#include "common/coding.h"
#include "store/leveldb_status.h"
#include "store/reopenable_db.h"

namespace tidemq::txn {
namespace {

using store::FromLevelDb;

// Key prefixes (docs/txn.md): one byte each, so the kinds never interleave.
constexpr char kEntryPrefix = 'e';      // e + be64 half -> entry value
constexpr char kDuePrefix = 'd';        // d + be16 len + group + be64 next_check + be64 half
constexpr char kMessageIdPrefix = 'm';  // m + message id -> be64 half
constexpr char kPendingPrefix = 'p';    // p + be64 half -> ""
constexpr char kResolvedPrefix = 'r';   // r + be64 end_ms + be64 half -> ""
constexpr char kAppliedKey[] = "c/applied";
constexpr char kPendingCountKey[] = "s/pending";
constexpr char kCommittedKey[] = "s/committed";
constexpr char kRolledBackKey[] = "s/rolled_back";
constexpr char kParkedKey[] = "s/parked";
constexpr char kChecksSentKey[] = "s/checks_sent";
constexpr uint8_t kValueVersion = 1;
constexpr size_t kOffsetKeySize = 1 + 8;

std::string BigEndian(int64_t v) {
  std::string s;
  PutBigEndian64(&s, static_cast<uint64_t>(v));
  return s;
}

int64_t DecodeInt(const char* p) { return static_cast<int64_t>(DecodeBigEndian64(p)); }

// Times in keys are clamped to >= 0 so that byte order is numeric order.
int64_t KeyTime(int64_t ms) { return std::max<int64_t>(0, ms); }

// The part of a due key naming the group: prefix-free, so one group's keys are contiguous.
std::string DueGroupPrefix(std::string_view group) {
  std::string k(1, kDuePrefix);
  const auto len = static_cast<uint16_t>(std::min<size_t>(group.size(), 0xffff));
  k.push_back(static_cast<char>(len >> 8));
  k.push_back(static_cast<char>(len & 0xff));
  k.append(group.substr(0, len));
  return k;
}

// A missing key reads as nullopt; a present one must hold a big-endian int64.
Result<std::optional<int64_t>> GetInt(leveldb::DB* db, const std::string& key) {
  std::string value;
  leveldb::Status s = db->Get(leveldb::ReadOptions(), key, &value);
  if (s.IsNotFound()) return std::optional<int64_t>();
  RETURN_IF_ERROR(FromLevelDb(s, "txn index get"));
  if (value.size() != 8) return Corruption("txn index: value of a counter key is not 8 bytes");
  return std::optional<int64_t>(DecodeInt(value.data()));
}

Result<std::optional<TxnEntry>> GetEntry(leveldb::DB* db, const leveldb::ReadOptions& options,
                                         LogOffset half) {
  std::string value;
  leveldb::Status s = db->Get(options, EntryKey(half), &value);
  if (s.IsNotFound()) return std::optional<TxnEntry>();
  RETURN_IF_ERROR(FromLevelDb(s, "txn index get"));
  TxnEntry e;
  e.half_offset = half;
  RETURN_IF_ERROR(DecodeEntryValue(value, &e));
  return std::optional<TxnEntry>(std::move(e));
}

bool HasPrefix(const leveldb::Slice& key, std::string_view prefix) {
  return key.size() >= prefix.size() && std::string_view(key.data(), prefix.size()) == prefix;
}

// A consistent view for a multi-key read: released on scope exit.
class SnapshotRead {
 public:
  explicit SnapshotRead(leveldb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {
    options_.snapshot = snapshot_;
  }
  ~SnapshotRead() { db_->ReleaseSnapshot(snapshot_); }
  SnapshotRead(const SnapshotRead&) = delete;
  SnapshotRead& operator=(const SnapshotRead&) = delete;
  const leveldb::ReadOptions& options() const { return options_; }

 private:
  leveldb::DB* db_;
  const leveldb::Snapshot* snapshot_;
  leveldb::ReadOptions options_;
};

}  // namespace

std::string EntryKey(LogOffset half) {
  std::string k(1, kEntryPrefix);
  PutBigEndian64(&k, static_cast<uint64_t>(half.value()));
  return k;
}

std::string DueKey(std::string_view group, int64_t next_check_ms, LogOffset half) {
  std::string k = DueGroupPrefix(group);
  PutBigEndian64(&k, static_cast<uint64_t>(KeyTime(next_check_ms)));
  PutBigEndian64(&k, static_cast<uint64_t>(half.value()));
  return k;
}

std::string MessageIdKey(std::string_view message_id) {
  std::string k(1, kMessageIdPrefix);
  k.append(message_id);
  return k;
}

std::string PendingKey(LogOffset half) {
  std::string k(1, kPendingPrefix);
  PutBigEndian64(&k, static_cast<uint64_t>(half.value()));
  return k;
}

std::string ResolvedKey(int64_t end_ms, LogOffset half) {
  std::string k(1, kResolvedPrefix);
  PutBigEndian64(&k, static_cast<uint64_t>(KeyTime(end_ms)));
  PutBigEndian64(&k, static_cast<uint64_t>(half.value()));
  return k;
}

std::string EncodeEntryValue(const TxnEntry& e) {
  std::string v;
  v.push_back(static_cast<char>(kValueVersion));
  v.push_back(static_cast<char>(e.state));
  v.push_back(static_cast<char>(e.end_reason));
  v.push_back(static_cast<char>(e.parked ? 1 : 0));
  PutFixed32(&v, e.queue_id);
  PutFixed32(&v, e.checks);
  for (int64_t n :
       {e.half_store_ms, e.timeout_ms, e.next_check_ms, e.end_ms, e.last_check_offset.value()}) {
    PutFixed64(&v, static_cast<uint64_t>(n));
  }
  for (const std::string* s : {&e.producer_group, &e.topic, &e.message_id}) {
    const size_t len = std::min<size_t>(s->size(), 0xffff);  // record fields never exceed it
    PutFixed16(&v, static_cast<uint16_t>(len));
    v.append(*s, 0, len);
  }
  return v;
}

Status DecodeEntryValue(std::string_view value, TxnEntry* e) {
  Reader in(value);
  uint8_t version = 0, state = 0, reason = 0, parked = 0;
  uint64_t n[5];
  bool ok = in.GetU8(&version) && version == kValueVersion && in.GetU8(&state) &&
            state >= static_cast<uint8_t>(TxnState::kPending) &&
            state <= static_cast<uint8_t>(TxnState::kRolledBack) && in.GetU8(&reason) &&
            in.GetU8(&parked) && parked <= 1 && in.GetFixed32(&e->queue_id) &&
            in.GetFixed32(&e->checks);
  for (uint64_t& x : n) ok = ok && in.GetFixed64(&x);
  std::string_view s[3];
  for (std::string_view& field : s) {
    uint16_t len = 0;
    ok = ok && in.GetFixed16(&len) && in.GetBytes(len, &field);
  }
  if (!ok || in.remaining() != 0) return Corruption("txn index: malformed entry value");
  e->state = static_cast<TxnState>(state);
  e->end_reason = static_cast<EndReason>(reason);
  e->parked = parked != 0;
  e->half_store_ms = static_cast<int64_t>(n[0]);
  e->timeout_ms = static_cast<int64_t>(n[1]);
  e->next_check_ms = static_cast<int64_t>(n[2]);
  e->end_ms = static_cast<int64_t>(n[3]);
  e->last_check_offset = LogOffset(static_cast<int64_t>(n[4]));
  e->producer_group = std::string(s[0]);
  e->topic = std::string(s[1]);
  e->message_id = std::string(s[2]);
  return Status::Ok();
}

TxnIndex::TxnIndex(std::unique_ptr<store::ReopenableDb> db, CheckBackoff backoff)
    : db_(std::move(db)), backoff_(backoff) {}
TxnIndex::~TxnIndex() = default;

Result<std::unique_ptr<TxnIndex>> TxnIndex::Open(const std::string& path, CheckBackoff backoff) {
  leveldb::Options options;
  options.create_if_missing = true;
  // Keys are big-endian numbers, names and ids: snappy would only cost CPU.
  options.compression = leveldb::kNoCompression;
  options.write_buffer_size = 4u << 20;
  options.max_open_files = store::LevelDbMaxOpenFiles();
  leveldb::DB* db = nullptr;
  RETURN_IF_ERROR(FromLevelDb(leveldb::DB::Open(options, path, &db), "open txn index " + path));
  std::unique_ptr<TxnIndex> index(new TxnIndex(
      std::make_unique<store::ReopenableDb>(path, options, "txn index", db), backoff));
  RETURN_IF_ERROR(index->LoadCounters());
  return index;
}

Status TxnIndex::Reopen() {
  RETURN_IF_ERROR(db_->Reopen());
  return LoadCounters();
}

Status TxnIndex::LoadCounters() {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  ASSIGN_OR_RETURN(std::optional<int64_t> applied, GetInt(db.get(), kAppliedKey));
  applied_ = applied.value_or(kNoLogOffset.value());
  std::pair<const char*, std::atomic<int64_t>*> counters[] = {{kPendingCountKey, &pending_},
                                                              {kCommittedKey, &committed_},
                                                              {kRolledBackKey, &rolled_back_},
                                                              {kParkedKey, &parked_},
                                                              {kChecksSentKey, &checks_sent_}};
  for (auto& [key, counter] : counters) {
    ASSIGN_OR_RETURN(std::optional<int64_t> v, GetInt(db.get(), key));
    *counter = v.value_or(0);
  }
  return Status::Ok();
}

TxnCounters TxnIndex::Counters() const {
  TxnCounters c;
  c.pending = pending_.load();
  c.committed = committed_.load();
  c.rolled_back = rolled_back_.load();
  c.parked = parked_.load();
  c.checks_sent = checks_sent_.load();
  return c;
}

Status TxnIndex::Apply(const std::vector<TxnOp>& ops, LogOffset applied, bool sync,
                       bool halves_are_new) {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  // What this batch already changed, so a later op in the same batch sees it.
  std::map<int64_t, TxnEntry> entries;
  auto lookup = [&](LogOffset half) -> Result<std::optional<TxnEntry>> {
    auto it = entries.find(half.value());
    if (it != entries.end()) return std::optional<TxnEntry>(it->second);
    return GetEntry(db.get(), leveldb::ReadOptions(), half);
  };

  leveldb::WriteBatch batch;
  TxnCounters c = Counters();
  for (const TxnOp& op : ops) {
    const LogOffset half = op.kind == TxnOp::Kind::kHalf ? op.entry.half_offset : op.half;
    if (op.kind == TxnOp::Kind::kHalf) {
      if (!halves_are_new) {
        ASSIGN_OR_RETURN(std::optional<TxnEntry> current, lookup(half));
        if (current.has_value()) continue;  // replayed
      }
      TxnEntry e = op.entry;
      e.state = TxnState::kPending;
      batch.Put(EntryKey(half), EncodeEntryValue(e));
      batch.Put(DueKey(e.producer_group, e.next_check_ms, half), "");
      batch.Put(PendingKey(half), "");
      if (!e.message_id.empty()) batch.Put(MessageIdKey(e.message_id), BigEndian(half.value()));
      entries[half.value()] = std::move(e);
      ++c.pending;
      continue;
    }
    ASSIGN_OR_RETURN(std::optional<TxnEntry> current, lookup(half));
    if (!current.has_value()) continue;  // never indexed (or purged): nothing to change
    TxnEntry e = std::move(*current);
    switch (op.kind) {
      case TxnOp::Kind::kCommit:
      case TxnOp::Kind::kRollback: {
        const TxnState to =
            op.kind == TxnOp::Kind::kCommit ? TxnState::kCommitted : TxnState::kRolledBack;
        if (e.state != TxnState::kPending) {
          if (e.state != to) {
            spdlog::warn("txn: {} of the half at {} ignored: it is already {}",
                         op.kind == TxnOp::Kind::kCommit ? "commit" : "rollback", half.value(),
                         ToString(e.state));
          }
          continue;  // a replayed end, or one refused by the state machine
        }
        batch.Delete(DueKey(e.producer_group, e.next_check_ms, half));
        batch.Delete(PendingKey(half));
        e.state = to;
        e.end_ms = op.at_ms;
        e.end_reason = op.reason;
        batch.Put(ResolvedKey(e.end_ms, half), "");
        --c.pending;
        ++(to == TxnState::kCommitted ? c.committed : c.rolled_back);
        break;
      }
      case TxnOp::Kind::kCheck: {
        if (e.state != TxnState::kPending) continue;  // the check raced an end
        if (e.last_check_offset != kNoLogOffset && op.record <= e.last_check_offset) continue;
        batch.Delete(DueKey(e.producer_group, e.next_check_ms, half));
        ++e.checks;
        e.next_check_ms = AddMs(op.at_ms, backoff_.DelayMs(e.checks));
        e.last_check_offset = op.record;
        batch.Put(DueKey(e.producer_group, e.next_check_ms, half), "");
        ++c.checks_sent;
        break;
      }
      case TxnOp::Kind::kPark: {
        if (e.parked) continue;  // replayed
        if (e.state != TxnState::kRolledBack) {
          spdlog::warn("txn: park of the half at {} ignored: it is {}, not rolled back",
                       half.value(), ToString(e.state));
          continue;
        }
        e.parked = true;
        ++c.parked;
        break;
      }
      case TxnOp::Kind::kHalf:
        break;  // handled above
    }
    batch.Put(EntryKey(half), EncodeEntryValue(e));
    entries[half.value()] = std::move(e);
  }
  batch.Put(kPendingCountKey, BigEndian(c.pending));
  batch.Put(kCommittedKey, BigEndian(c.committed));
  batch.Put(kRolledBackKey, BigEndian(c.rolled_back));
  batch.Put(kParkedKey, BigEndian(c.parked));
  batch.Put(kChecksSentKey, BigEndian(c.checks_sent));
  batch.Put(kAppliedKey, BigEndian(applied.value()));
  leveldb::WriteOptions options;
  options.sync = sync;
  RETURN_IF_ERROR(FromLevelDb(db->Write(options, &batch), "txn index write"));
  pending_ = c.pending;
  committed_ = c.committed;
  rolled_back_ = c.rolled_back;
  parked_ = c.parked;
  checks_sent_ = c.checks_sent;
  applied_ = applied.value();
  return Status::Ok();
}

Status TxnIndex::SetApplied(LogOffset applied, bool sync) {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  leveldb::WriteOptions options;
  options.sync = sync;
  RETURN_IF_ERROR(FromLevelDb(db->Put(options, kAppliedKey, BigEndian(applied.value())),
                              "txn index checkpoint"));
  applied_ = applied.value();
  return Status::Ok();
}

Result<size_t> TxnIndex::PurgeResolvedBefore(int64_t before_ms, size_t limit) {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  leveldb::WriteBatch batch;
  size_t purged = 0;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  for (it->Seek(std::string(1, kResolvedPrefix)); it->Valid() && purged < limit; it->Next()) {
    const leveldb::Slice k = it->key();
    if (k.empty() || k[0] != kResolvedPrefix) break;
    if (k.size() != 17) return Corruption("txn index: malformed resolved key");
    if (DecodeInt(k.data() + 1) >= before_ms) break;
    const LogOffset half(DecodeInt(k.data() + 9));
    ASSIGN_OR_RETURN(std::optional<TxnEntry> e, GetEntry(db.get(), leveldb::ReadOptions(), half));
    batch.Delete(k);
    if (e.has_value()) {
      batch.Delete(EntryKey(half));
      if (!e->message_id.empty()) {
        ASSIGN_OR_RETURN(std::optional<int64_t> by_id,
                         GetInt(db.get(), MessageIdKey(e->message_id)));
        // A later half may have reused the id: only this entry's own mapping goes.
        if (by_id == half.value()) batch.Delete(MessageIdKey(e->message_id));
      }
    }
    ++purged;
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "txn index scan"));
  if (purged == 0) return purged;
  RETURN_IF_ERROR(FromLevelDb(db->Write(leveldb::WriteOptions(), &batch), "txn index purge"));
  return purged;
}

Result<std::optional<TxnEntry>> TxnIndex::Get(LogOffset half) const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  return GetEntry(db.get(), leveldb::ReadOptions(), half);
}

Result<std::optional<LogOffset>> TxnIndex::FindByMessageId(const std::string& message_id) const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  ASSIGN_OR_RETURN(std::optional<int64_t> half, GetInt(db.get(), MessageIdKey(message_id)));
  if (!half.has_value()) return std::optional<LogOffset>();
  return std::optional<LogOffset>(LogOffset(*half));
}

Result<std::vector<TxnEntry>> TxnIndex::ScanDue(const std::string& group, int64_t now_ms,
                                                size_t limit,
                                                const std::function<bool(LogOffset)>& skip) const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::vector<TxnEntry> out;
  if (limit == 0) return out;
  SnapshotRead read(db.get());
  const std::string prefix = DueGroupPrefix(group);
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(read.options()));
  for (it->Seek(prefix); it->Valid() && out.size() < limit; it->Next()) {
    const leveldb::Slice k = it->key();
    if (!HasPrefix(k, prefix)) break;
    if (k.size() != prefix.size() + 16) return Corruption("txn index: malformed due key");
    if (DecodeInt(k.data() + prefix.size()) > now_ms) break;
    const LogOffset half(DecodeInt(k.data() + prefix.size() + 8));
    if (skip && skip(half)) continue;
    ASSIGN_OR_RETURN(std::optional<TxnEntry> e, GetEntry(db.get(), read.options(), half));
    if (!e.has_value()) return Corruption("txn index: due key without its entry");
    out.push_back(std::move(*e));
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "txn index scan"));
  return out;
}

Result<std::optional<int64_t>> TxnIndex::NextDue(const std::string& group,
                                                 const std::function<bool(LogOffset)>& skip) const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  const std::string prefix = DueGroupPrefix(group);
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  std::optional<int64_t> out;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    const leveldb::Slice k = it->key();
    if (!HasPrefix(k, prefix)) break;
    if (k.size() != prefix.size() + 16) return Corruption("txn index: malformed due key");
    if (skip && skip(LogOffset(DecodeInt(k.data() + prefix.size() + 8)))) continue;
    out = DecodeInt(k.data() + prefix.size());
    break;
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "txn index scan"));
  return out;
}

Result<std::vector<std::string>> TxnIndex::ListPendingGroups() const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::vector<std::string> out;
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  it->Seek(std::string(1, kDuePrefix));
  while (it->Valid()) {
    const leveldb::Slice k = it->key();
    if (k.empty() || k[0] != kDuePrefix) break;
    if (k.size() < 3) return Corruption("txn index: malformed due key");
    const size_t len = (static_cast<uint8_t>(k[1]) << 8) | static_cast<uint8_t>(k[2]);
    if (k.size() != 3 + len + 16) return Corruption("txn index: malformed due key");
    out.emplace_back(k.data() + 3, len);
    // Past every key of this group: their next byte (a be64 time >= 0) is below 0x80.
    it->Seek(DueGroupPrefix(out.back()) + '\xff');
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "txn index scan"));
  std::sort(out.begin(), out.end());  // the keys order groups by length first
  return out;
}

Result<std::vector<TxnEntry>> TxnIndex::List(std::optional<TxnState> state, bool parked_only,
                                             LogOffset after, size_t limit) const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::vector<TxnEntry> out;
  if (limit == 0) return out;
  const LogOffset from(after.value() < 0 ? 0 : after.value() + 1);
  SnapshotRead read(db.get());
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(read.options()));
  // Pending ones have their own prefix; the others are filtered from all entries.
  const bool by_pending = state == TxnState::kPending;
  const char prefix = by_pending ? kPendingPrefix : kEntryPrefix;
  for (it->Seek(by_pending ? PendingKey(from) : EntryKey(from)); it->Valid() && out.size() < limit;
       it->Next()) {
    const leveldb::Slice k = it->key();
    if (k.empty() || k[0] != prefix) break;
    if (k.size() != kOffsetKeySize) return Corruption("txn index: malformed offset key");
    const LogOffset half(DecodeInt(k.data() + 1));
    TxnEntry e;
    if (by_pending) {
      ASSIGN_OR_RETURN(std::optional<TxnEntry> found, GetEntry(db.get(), read.options(), half));
      if (!found.has_value()) return Corruption("txn index: pending key without its entry");
      e = std::move(*found);
    } else {
      e.half_offset = half;
      RETURN_IF_ERROR(
          DecodeEntryValue(std::string_view(it->value().data(), it->value().size()), &e));
    }
    if (state.has_value() && e.state != *state) continue;
    if (parked_only && !e.parked) continue;
    out.push_back(std::move(e));
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "txn index scan"));
  return out;
}

Result<std::optional<LogOffset>> TxnIndex::OldestPendingOffset() const {
  store::ReopenableDb::Ref db = db_->Get();
  if (!db) return db_->Closed();
  std::unique_ptr<leveldb::Iterator> it(db->NewIterator(leveldb::ReadOptions()));
  it->Seek(std::string(1, kPendingPrefix));
  std::optional<LogOffset> out;
  if (it->Valid() && it->key().size() == kOffsetKeySize && it->key()[0] == kPendingPrefix) {
    out = LogOffset(DecodeInt(it->key().data() + 1));
  }
  RETURN_IF_ERROR(FromLevelDb(it->status(), "txn index scan"));
  return out;
}

}  // namespace tidemq::txn
