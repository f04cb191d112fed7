#include "cluster/etcd_client.h"

#include <algorithm>

#include "cluster/etcd_json.h"

namespace tidemq::cluster {

namespace {

constexpr char kRange[] = "/v3/kv/range";
constexpr char kPut[] = "/v3/kv/put";
constexpr char kDeleteRange[] = "/v3/kv/deleterange";
constexpr char kTxn[] = "/v3/kv/txn";
constexpr char kCompaction[] = "/v3/kv/compaction";
constexpr char kLeaseGrant[] = "/v3/lease/grant";
constexpr char kLeaseRevoke[] = "/v3/lease/revoke";
constexpr char kLeaseKeepAlive[] = "/v3/lease/keepalive";
constexpr char kLeaseTimeToLive[] = "/v3/lease/timetolive";

std::string Join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) {
    if (!out.empty()) out += ", ";
    out += s;
  }
  return out;
}

}  // namespace

std::vector<std::string> SplitEndpoints(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    std::string item = list.substr(start, comma - start);
    size_t b = item.find_first_not_of(" \t");
    size_t e = item.find_last_not_of(" \t");
    if (b != std::string::npos) out.push_back(item.substr(b, e - b + 1));
    start = comma + 1;
  }
  return out;
}

EtcdClient::EtcdClient(EtcdClientOptions options) : options_(std::move(options)) {}
EtcdClient::~EtcdClient() = default;

Deadline EtcdClient::DefaultDeadline(int64_t timeout_ms) const {
  int64_t ms = options_.call_timeout_ms;
  if (timeout_ms > 0) ms = std::min(ms, timeout_ms);
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
}

Result<HttpResponse> EtcdClient::Call(const std::string& path, const std::string& body,
                                      Deadline deadline, bool first_line) {
  MutexLock lock(mu_);
  const auto& eps = options_.endpoints;
  if (eps.empty()) return InvalidArgument("no etcd endpoints configured");
  std::string last_error = "no attempt made";
  bool timed_out = false;
  for (size_t tried = 0; tried < eps.size(); ++tried) {
    const std::string& ep = eps[current_ % eps.size()];
    // A failure on a reused keep-alive connection may only mean etcd closed it while idle:
    // one fresh connection to the same endpoint before moving on.
    for (int fresh = 0; fresh < 2; ++fresh) {
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        timed_out = true;
        break;
      }
      Deadline attempt =
          std::min(deadline, now + std::chrono::milliseconds(options_.attempt_timeout_ms));
      Status st = conn_.Connect(ep, attempt);
      bool reused = false;
      if (st.ok()) {
        reused = conn_.reused();
        auto r =
            first_line ? conn_.PostFirstLine(path, body, attempt) : conn_.Post(path, body, attempt);
        if (r.ok() && r->status != 503) return r;
        st = r.ok() ? Status(Code::kUnavailable, "etcd " + ep + ": HTTP 503: " + r->body)
                    : r.status();
        if (r.ok()) conn_.Close();
      }
      if (st.code() == Code::kCancelled || st.code() == Code::kInvalidArgument) return st;
      last_error = st.ToString();
      if (st.code() == Code::kTimeout) timed_out = true;
      if (!(reused && st.code() == Code::kUnavailable)) break;
    }
    if (std::chrono::steady_clock::now() >= deadline) break;
    current_ = (current_ + 1) % eps.size();
  }
  if (timed_out && std::chrono::steady_clock::now() >= deadline) {
    return Status(Code::kTimeout, "etcd call " + path + " timed out (" + Join(eps) +
                                      "): last error: " + last_error);
  }
  return Status(Code::kUnavailable,
                "no etcd endpoint answered (" + Join(eps) + "): last error: " + last_error);
}

Result<int64_t> EtcdClient::GrantLease(int64_t ttl_s, int64_t* granted_ttl_s) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   Call(kLeaseGrant, etcd_json::LeaseGrantRequest(ttl_s), DefaultDeadline()));
  ASSIGN_OR_RETURN(etcd_json::LeaseGrant g, etcd_json::DecodeLeaseGrant(r.status, r.body));
  if (granted_ttl_s != nullptr) *granted_ttl_s = g.ttl_s;
  return g.id;
}

Result<int64_t> EtcdClient::KeepAliveOnce(int64_t lease, int64_t timeout_ms) {
  Deadline deadline = DefaultDeadline(timeout_ms);
  ASSIGN_OR_RETURN(HttpResponse r, Call(kLeaseKeepAlive, etcd_json::LeaseIdRequest(lease), deadline,
                                        /*first_line=*/true));
  auto ttl = etcd_json::DecodeKeepAlive(r.status, r.body);
  if (!ttl.ok() && ttl.status().code() == Code::kNotFound) return int64_t{0};
  return ttl;
}

Status EtcdClient::Revoke(int64_t lease) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   Call(kLeaseRevoke, etcd_json::LeaseIdRequest(lease), DefaultDeadline()));
  auto rev = etcd_json::DecodeHeaderRevision(r.status, r.body);
  if (!rev.ok() && rev.status().code() != Code::kNotFound) return rev.status();
  return Status::Ok();
}

Result<LeaseInfo> EtcdClient::TimeToLive(int64_t lease) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   Call(kLeaseTimeToLive, etcd_json::LeaseIdRequest(lease), DefaultDeadline()));
  return etcd_json::DecodeTimeToLive(r.status, r.body);
}

Result<std::optional<KeyValue>> EtcdClient::Get(const std::string& key) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   Call(kRange, etcd_json::RangeRequest(key, ""), DefaultDeadline()));
  ASSIGN_OR_RETURN(RangeResult range, etcd_json::DecodeRange(r.status, r.body));
  if (range.kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(range.kvs.front()));
}

Result<RangeResult> EtcdClient::GetPrefix(const std::string& prefix) {
  ASSIGN_OR_RETURN(HttpResponse r, Call(kRange, etcd_json::RangeRequest(prefix, PrefixEnd(prefix)),
                                        DefaultDeadline()));
  return etcd_json::DecodeRange(r.status, r.body);
}

Result<int64_t> EtcdClient::Put(const std::string& key, const std::string& value, int64_t lease,
                                int64_t timeout_ms) {
  ASSIGN_OR_RETURN(HttpResponse r, Call(kPut, etcd_json::PutRequest(key, value, lease),
                                        DefaultDeadline(timeout_ms)));
  return etcd_json::DecodeHeaderRevision(r.status, r.body);
}

Result<int64_t> EtcdClient::Delete(const std::string& key) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   Call(kDeleteRange, etcd_json::DeleteRangeRequest(key, ""), DefaultDeadline()));
  return etcd_json::DecodeDeleteRange(r.status, r.body);
}

Result<TxnResult> EtcdClient::Txn(const std::vector<Compare>& compares,
                                  const std::vector<TxnOp>& success,
                                  const std::vector<TxnOp>& failure, int64_t timeout_ms) {
  ASSIGN_OR_RETURN(HttpResponse r, Call(kTxn, etcd_json::TxnRequest(compares, success, failure),
                                        DefaultDeadline(timeout_ms)));
  return etcd_json::DecodeTxn(r.status, r.body);
}

Result<int64_t> EtcdClient::Compact(int64_t revision) {
  ASSIGN_OR_RETURN(HttpResponse r,
                   Call(kCompaction, etcd_json::CompactionRequest(revision), DefaultDeadline()));
  return etcd_json::DecodeHeaderRevision(r.status, r.body);
}

}  // namespace tidemq::cluster
