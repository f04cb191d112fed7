// The etcd v3 operations TideMQ uses, as an interface: EtcdClient (cluster/etcd_client.h) speaks
// them to a real etcd over its JSON gateway; tests of the group coordinator's state machine use
// an in-memory fake (tests/cluster/fake_etcd.h).
//
// Contract: every call blocks until etcd answered or the call's deadline passed and reports
// failure as a Status, never by throwing. kUnavailable: no endpoint answered; kTimeout: the
// deadline passed; kNotFound: etcd said the lease (or key) does not exist; kOutOfRange: the
// revision asked for was compacted; kInvalidArgument / kInternal: etcd's answer did not parse.
//
// Thread safety: implementations are safe to call from several threads (EtcdClient serialises
// calls over its one connection). Meant for a dedicated cluster thread, never a network thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace tidemq::cluster {

// One key as etcd stores it. Revisions are etcd's store revisions; version counts the puts
// since the key was (re)created; lease is 0 when the key is not bound to a lease.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;

  bool operator==(const KeyValue&) const = default;
};

// A range read: the keys found and the store revision it was read at.
struct RangeResult {
  std::vector<KeyValue> kvs;
  int64_t revision = 0;  // header revision
  int64_t count = 0;     // keys in the range (may exceed kvs.size() with a limit)
};

// One comparison of a transaction's guard: `key`'s target field compared with a value. An
// absent key has version, create_revision and mod_revision 0 and value "".
struct Compare {
  enum class Target { kValue, kVersion, kCreateRevision, kModRevision };
  enum class Op { kEqual, kNotEqual, kGreater, kLess };

  std::string key;
  Target target = Target::kModRevision;
  Op op = Op::kEqual;
  int64_t number = 0;  // version / create_revision / mod_revision
  std::string value;   // kValue

  static Compare ValueEquals(std::string key, std::string value) {
    return {std::move(key), Target::kValue, Op::kEqual, 0, std::move(value)};
  }
  static Compare ModRevisionEquals(std::string key, int64_t rev) {
    return {std::move(key), Target::kModRevision, Op::kEqual, rev, {}};
  }
  static Compare CreateRevisionEquals(std::string key, int64_t rev) {
    return {std::move(key), Target::kCreateRevision, Op::kEqual, rev, {}};
  }
  static Compare VersionEquals(std::string key, int64_t version) {
    return {std::move(key), Target::kVersion, Op::kEqual, version, {}};
  }
  // The key does not exist.
  static Compare Absent(std::string key) { return CreateRevisionEquals(std::move(key), 0); }
};

// One operation of a transaction branch. range_end is etcd's: empty = the single key; a
// prefix's end is PrefixEnd(prefix).
struct TxnOp {
  enum class Kind { kPut, kDelete, kRange };
  Kind kind = Kind::kRange;
  std::string key;
  std::string value;      // kPut
  int64_t lease = 0;      // kPut
  std::string range_end;  // kDelete, kRange

  static TxnOp Put(std::string key, std::string value, int64_t lease = 0) {
    return {Kind::kPut, std::move(key), std::move(value), lease, {}};
  }
  static TxnOp Delete(std::string key) { return {Kind::kDelete, std::move(key), {}, 0, {}}; }
  static TxnOp Get(std::string key) { return {Kind::kRange, std::move(key), {}, 0, {}}; }
  static TxnOp GetPrefix(std::string prefix);
};

// The answer to one TxnOp, in order: a range's keys, a delete's count, nothing for a put.
struct TxnOpResult {
  TxnOp::Kind kind = TxnOp::Kind::kPut;
  std::vector<KeyValue> kvs;  // kRange
  int64_t deleted = 0;        // kDelete
};

struct TxnResult {
  bool succeeded = false;  // the guard held: the success branch ran (else the failure branch)
  int64_t revision = 0;    // header revision after the transaction
  std::vector<TxnOpResult> results;
};

// A lease's state from LeaseTimeToLive: ttl_s -1 (and granted 0) when it does not exist.
struct LeaseInfo {
  int64_t id = 0;
  int64_t ttl_s = -1;
  int64_t granted_ttl_s = 0;
};

// One change seen by a watch. For a delete, kv holds the key and the delete's mod_revision.
struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;
  int64_t revision() const { return kv.mod_revision; }
};

// The end of the key range that holds every key starting with `prefix` (etcd's range_end):
// the prefix with its last byte below 0xff incremented; "\0" (everything) if there is none.
std::string PrefixEnd(const std::string& prefix);

class EtcdApi {
 public:
  virtual ~EtcdApi() = default;

  // A new lease of (at least) ttl_s seconds: etcd raises a TTL below its minimum. Returns the
  // id; *granted_ttl_s (if given) receives the TTL etcd chose.
  virtual Result<int64_t> GrantLease(int64_t ttl_s, int64_t* granted_ttl_s = nullptr) = 0;
  // Renews the lease once; returns its remaining TTL in seconds, 0 when it no longer exists.
  // timeout_ms > 0 bounds the call tighter than the implementation's default.
  virtual Result<int64_t> KeepAliveOnce(int64_t lease, int64_t timeout_ms = 0) = 0;
  // Revokes the lease and deletes every key bound to it (ok if it was already gone).
  virtual Status Revoke(int64_t lease) = 0;
  virtual Result<LeaseInfo> TimeToLive(int64_t lease) = 0;

  // The key, or nullopt when absent.
  virtual Result<std::optional<KeyValue>> Get(const std::string& key) = 0;
  virtual Result<RangeResult> GetPrefix(const std::string& prefix) = 0;
  // Returns the revision the put created. timeout_ms as for KeepAliveOnce.
  virtual Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0,
                              int64_t timeout_ms = 0) = 0;
  // Returns how many keys were deleted (0 or 1).
  virtual Result<int64_t> Delete(const std::string& key) = 0;
  virtual Result<TxnResult> Txn(const std::vector<Compare>& compares,
                                const std::vector<TxnOp>& success,
                                const std::vector<TxnOp>& failure, int64_t timeout_ms = 0) = 0;
};

}  // namespace tidemq::cluster
