// The JSON of etcd 3.4's gRPC gateway (/v3/... on the client port): request bodies built from
// the EtcdApi types, and decoders of etcd's answers. Keys and values travel base64 (proto bytes),
// int64 fields as JSON strings, false / zero / empty fields are left out, field names are the
// proto's (snake_case, "TTL", "ID"). docs/replication.md says why the gateway.
//
// The decoders take whatever came off the socket: anything that is not what etcd sends gives a
// Status (kInternal, naming the field), never an exception or a crash
// (tests/fuzz/etcd_json_fuzz.cc). An error answer from etcd ({"error": ..., "code": N}) becomes
// the Status its gRPC code means (StatusFromGrpc).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/etcd_api.h"
#include "common/status.h"

namespace tidemq::cluster::etcd_json {

std::string Base64Encode(std::string_view in);
// Standard or URL-safe alphabet, padding optional. False on any other byte.
bool Base64Decode(std::string_view in, std::string* out);

// gRPC status code (as etcd's gateway reports it) -> Status.
Status StatusFromGrpc(int64_t grpc_code, const std::string& message);

// Request bodies, one per endpoint (paths in etcd_client.cc).
std::string RangeRequest(const std::string& key, const std::string& range_end);
std::string PutRequest(const std::string& key, const std::string& value, int64_t lease);
std::string DeleteRangeRequest(const std::string& key, const std::string& range_end);
std::string TxnRequest(const std::vector<Compare>& compares, const std::vector<TxnOp>& success,
                       const std::vector<TxnOp>& failure);
std::string LeaseGrantRequest(int64_t ttl_s);
std::string LeaseIdRequest(int64_t lease);  // revoke, keepalive, timetolive
std::string CompactionRequest(int64_t revision);
// start_revision 0: from now on.
std::string WatchCreateRequest(const std::string& key, const std::string& range_end,
                               int64_t start_revision);

// Answers of unary calls: http_status and body as received.
Result<RangeResult> DecodeRange(int http_status, std::string_view body);
// The header revision (put, revoke, compaction).
Result<int64_t> DecodeHeaderRevision(int http_status, std::string_view body);
// The number of keys deleted.
Result<int64_t> DecodeDeleteRange(int http_status, std::string_view body);
Result<TxnResult> DecodeTxn(int http_status, std::string_view body);
struct LeaseGrant {
  int64_t id = 0;
  int64_t ttl_s = 0;
};
Result<LeaseGrant> DecodeLeaseGrant(int http_status, std::string_view body);
Result<LeaseInfo> DecodeTimeToLive(int http_status, std::string_view body);
// The keepalive stream's (first) message, {"result": {...}} or {"error": {...}}: the remaining
// TTL, 0 when the lease is gone (etcd then leaves TTL out).
Result<int64_t> DecodeKeepAlive(int http_status, std::string_view body);

// One message of the watch stream (one JSON object per line).
struct WatchMessage {
  int64_t revision = 0;  // header revision
  int64_t watch_id = 0;
  bool created = false;
  bool canceled = false;
  int64_t compact_revision = 0;  // > 0: the start revision was compacted (canceled too)
  std::string cancel_reason;
  std::vector<WatchEvent> events;
};
Result<WatchMessage> DecodeWatchMessage(std::string_view line);

}  // namespace tidemq::cluster::etcd_json
