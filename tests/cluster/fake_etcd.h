// An in-memory EtcdApi for unit tests of the group coordinator's state machine: one store
// revision counter, keys with etcd's revision fields, leases that expire by an injected clock,
// transactions with etcd's compare semantics. Hooks let a test make it unreachable, run
// something just before a transaction (a racing writer), or lose the answer of an applied one.
//
// Thread safety: every method may be called from any thread (one mutex).
#pragma once

#include <functional>
#include <map>
#include <mutex>

#include "cluster/etcd_api.h"
#include "common/clock.h"

namespace tidemq::cluster::testing {

class FakeEtcd final : public EtcdApi {
 public:
  explicit FakeEtcd(Clock* clock) : clock_(clock) {}

  // While true, every call fails with kUnavailable (etcd unreachable).
  void SetUnreachable(bool v) {
    std::lock_guard lock(mu_);
    unreachable_ = v;
  }
  // Runs (without the fake's lock) before the next Txn that has compares; once.
  void BeforeNextCasTxn(std::function<void()> f) {
    std::lock_guard lock(mu_);
    before_cas_ = std::move(f);
  }
  // The next Txn with compares is applied but its caller gets kTimeout.
  void LoseNextCasAnswer() {
    std::lock_guard lock(mu_);
    lose_cas_answer_ = true;
  }
  int64_t revision() {
    std::lock_guard lock(mu_);
    return revision_;
  }

  Result<int64_t> GrantLease(int64_t ttl_s, int64_t* granted = nullptr) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Reachable());
    int64_t id = next_lease_++;
    leases_[id] = Lease{ttl_s, clock_->MonotonicMs() + ttl_s * 1000};
    if (granted != nullptr) *granted = ttl_s;
    return id;
  }
  Result<int64_t> KeepAliveOnce(int64_t lease, int64_t = 0) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Reachable());
    auto it = leases_.find(lease);
    if (it == leases_.end()) return int64_t{0};
    it->second.expiry_ms = clock_->MonotonicMs() + it->second.ttl_s * 1000;
    return it->second.ttl_s;
  }
  Status Revoke(int64_t lease) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Reachable());
    RevokeLocked(lease);
    return Status::Ok();
  }
  Result<LeaseInfo> TimeToLive(int64_t lease) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Reachable());
    auto it = leases_.find(lease);
    if (it == leases_.end()) return LeaseInfo{lease, -1, 0};
    return LeaseInfo{lease, (it->second.expiry_ms - clock_->MonotonicMs()) / 1000,
                     it->second.ttl_s};
  }
  Result<std::optional<KeyValue>> Get(const std::string& key) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Reachable());
    auto it = kvs_.find(key);
    if (it == kvs_.end()) return std::optional<KeyValue>();
    return std::optional<KeyValue>(it->second);
  }
  Result<RangeResult> GetPrefix(const std::string& prefix) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Reachable());
    RangeResult r;
    r.kvs = RangeLocked(prefix, PrefixEnd(prefix));
    r.count = static_cast<int64_t>(r.kvs.size());
    r.revision = revision_;
    return r;
  }
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0,
                      int64_t = 0) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Reachable());
    if (lease != 0 && leases_.count(lease) == 0) return NotFound("etcd: requested lease not found");
    ++revision_;
    PutLocked(key, value, lease);
    return revision_;
  }
  Result<int64_t> Delete(const std::string& key) override {
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Reachable());
    if (kvs_.count(key) == 0) return int64_t{0};
    ++revision_;
    kvs_.erase(key);
    return int64_t{1};
  }
  Result<TxnResult> Txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                        const std::vector<TxnOp>& failure, int64_t = 0) override {
    std::function<void()> hook;
    {
      std::lock_guard lock(mu_);
      if (!compares.empty()) hook = std::exchange(before_cas_, nullptr);
    }
    if (hook) hook();
    std::lock_guard lock(mu_);
    RETURN_IF_ERROR(Reachable());
    bool ok = true;
    for (const Compare& c : compares) ok = ok && Holds(c);
    const auto& ops = ok ? success : failure;
    for (const TxnOp& op : ops) {
      if (op.kind == TxnOp::Kind::kPut && op.lease != 0 && leases_.count(op.lease) == 0) {
        return NotFound("etcd: requested lease not found");
      }
    }
    bool writes = false;
    for (const TxnOp& op : ops) writes = writes || op.kind != TxnOp::Kind::kRange;
    if (writes) ++revision_;
    TxnResult r;
    r.succeeded = ok;
    for (const TxnOp& op : ops) {
      TxnOpResult res;
      res.kind = op.kind;
      if (op.kind == TxnOp::Kind::kPut) {
        PutLocked(op.key, op.value, op.lease);
      } else if (op.kind == TxnOp::Kind::kDelete) {
        res.deleted = static_cast<int64_t>(kvs_.erase(op.key));
      } else {
        res.kvs = RangeLocked(op.key, op.range_end);
      }
      r.results.push_back(std::move(res));
    }
    r.revision = revision_;
    if (!compares.empty() && std::exchange(lose_cas_answer_, false)) {
      return Status(Code::kTimeout, "fake etcd: answer lost");
    }
    return r;
  }

 private:
  struct Lease {
    int64_t ttl_s;
    int64_t expiry_ms;
  };

  Status Reachable() {
    if (unreachable_) return Status(Code::kUnavailable, "fake etcd unreachable");
    // Expire leases as etcd would (by the injected clock).
    int64_t now = clock_->MonotonicMs();
    std::vector<int64_t> expired;
    for (const auto& [id, l] : leases_) {
      if (l.expiry_ms <= now) expired.push_back(id);
    }
    for (int64_t id : expired) RevokeLocked(id);
    return Status::Ok();
  }
  void RevokeLocked(int64_t lease) {
    if (leases_.erase(lease) == 0) return;
    bool any = false;
    for (auto it = kvs_.begin(); it != kvs_.end();) {
      if (it->second.lease == lease) {
        it = kvs_.erase(it);
        any = true;
      } else {
        ++it;
      }
    }
    if (any) ++revision_;
  }
  void PutLocked(const std::string& key, const std::string& value, int64_t lease) {
    KeyValue& kv = kvs_[key];
    if (kv.create_revision == 0) {
      kv.key = key;
      kv.create_revision = revision_;
      kv.version = 0;
    }
    kv.value = value;
    kv.mod_revision = revision_;
    ++kv.version;
    kv.lease = lease;
  }
  std::vector<KeyValue> RangeLocked(const std::string& key, const std::string& end) {
    std::vector<KeyValue> out;
    if (end.empty()) {
      auto it = kvs_.find(key);
      if (it != kvs_.end()) out.push_back(it->second);
      return out;
    }
    for (auto it = kvs_.lower_bound(key); it != kvs_.end() && it->first < end; ++it) {
      out.push_back(it->second);
    }
    return out;
  }
  bool Holds(const Compare& c) {
    KeyValue kv;
    if (auto it = kvs_.find(c.key); it != kvs_.end()) kv = it->second;
    if (c.target == Compare::Target::kValue) {
      int cmp = kv.value.compare(c.value);
      switch (c.op) {
        case Compare::Op::kEqual:
          return cmp == 0;
        case Compare::Op::kNotEqual:
          return cmp != 0;
        case Compare::Op::kGreater:
          return cmp > 0;
        case Compare::Op::kLess:
          return cmp < 0;
      }
    }
    int64_t v = c.target == Compare::Target::kVersion          ? kv.version
                : c.target == Compare::Target::kCreateRevision ? kv.create_revision
                                                               : kv.mod_revision;
    switch (c.op) {
      case Compare::Op::kEqual:
        return v == c.number;
      case Compare::Op::kNotEqual:
        return v != c.number;
      case Compare::Op::kGreater:
        return v > c.number;
      case Compare::Op::kLess:
        return v < c.number;
    }
    return false;
  }

  Clock* const clock_;
  std::mutex mu_;
  std::map<std::string, KeyValue> kvs_;
  std::map<int64_t, Lease> leases_;
  int64_t revision_ = 1;
  int64_t next_lease_ = 0x1000;
  bool unreachable_ = false;
  bool lose_cas_answer_ = false;
  std::function<void()> before_cas_;
};

}  // namespace tidemq::cluster::testing
