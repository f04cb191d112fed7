// EtcdClient: EtcdApi over etcd 3.4's JSON gateway (/v3/... on the client port), with
// Boost.Beast HTTP/1.1 on one persistent keep-alive connection.
//
// Endpoints: "127.0.0.1:2379,127.0.0.1:22379". The client stays on the endpoint that answered
// last; a call that cannot connect, loses its connection or times out on one endpoint tries the
// next, within the call's deadline (each try at most attempt_timeout_ms). When none answered:
// kUnavailable naming the endpoints and the last error, or kTimeout when the deadline passed.
// An error etcd itself reports (lease not found, compacted revision, ...) is returned as is,
// without trying another endpoint (they share one cluster), except gRPC "unavailable".
//
// A retried write may have been applied by the endpoint that timed out: a Txn then reports the
// guard as failed although its success branch ran. Callers that CAS re-read and recognise
// their own write (GroupCoordinator does).
//
// Thread safety: every method may be called from any thread; calls are serialised (one
// connection). Blocking: meant for a dedicated cluster thread, never a network thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "cluster/etcd_api.h"
#include "cluster/http_connection.h"
#include "common/mutex.h"

namespace tidemq::cluster {

struct EtcdClientOptions {
  std::vector<std::string> endpoints;  // host:port
  int64_t call_timeout_ms = 5000;      // a whole call, every endpoint tried included
  int64_t attempt_timeout_ms = 2000;   // one endpoint
};

// "a:1, b:2" -> {"a:1", "b:2"} (blanks trimmed, empty items dropped).
std::vector<std::string> SplitEndpoints(const std::string& list);

class EtcdClient final : public EtcdApi {
 public:
  explicit EtcdClient(EtcdClientOptions options);
  ~EtcdClient() override;

  Result<int64_t> GrantLease(int64_t ttl_s, int64_t* granted_ttl_s = nullptr) override;
  Result<int64_t> KeepAliveOnce(int64_t lease, int64_t timeout_ms = 0) override;
  Status Revoke(int64_t lease) override;
  Result<LeaseInfo> TimeToLive(int64_t lease) override;
  Result<std::optional<KeyValue>> Get(const std::string& key) override;
  Result<RangeResult> GetPrefix(const std::string& prefix) override;
  Result<int64_t> Put(const std::string& key, const std::string& value, int64_t lease = 0,
                      int64_t timeout_ms = 0) override;
  Result<int64_t> Delete(const std::string& key) override;
  Result<TxnResult> Txn(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                        const std::vector<TxnOp>& failure, int64_t timeout_ms = 0) override;
  // Compacts etcd's history up to `revision` (tests use it to provoke a compacted watch).
  Result<int64_t> Compact(int64_t revision);

  const std::vector<std::string>& endpoints() const { return options_.endpoints; }

 private:
  // first_line: the answer is a stream of which only the first message matters.
  Result<HttpResponse> Call(const std::string& path, const std::string& body, Deadline deadline,
                            bool first_line = false) EXCLUDES(mu_);
  // Now + call_timeout_ms, or + timeout_ms when that is positive and shorter.
  Deadline DefaultDeadline(int64_t timeout_ms = 0) const;

  const EtcdClientOptions options_;
  Mutex mu_;
  HttpConnection conn_ GUARDED_BY(mu_);
  size_t current_ GUARDED_BY(mu_) = 0;  // the endpoint in use
};

}  // namespace tidemq::cluster
