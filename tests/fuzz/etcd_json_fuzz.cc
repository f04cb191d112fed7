// Fuzz target: everything TideMQ decodes from etcd — the gateway's answers (cluster/etcd_json.h:
// range, txn, lease, keepalive and watch messages, under any HTTP status) and the group records
// stored in etcd (cluster/group_state.h) and the cluster's route records (cluster/routes.h). Anything may be refused, with the codes the headers
// promise; nothing may crash or throw. A group record that decodes re-encodes to one that
// decodes to the same value.
#include <cstdlib>

#include "cluster/etcd_json.h"
#include "cluster/group_state.h"
#include "cluster/routes.h"
#include "tests/fuzz/fuzz_driver.h"

namespace {

using namespace tidemq::cluster;  // NOLINT

void CheckCode(const tidemq::Status& st) {
  // Our decoders say kInternal; etcd's own errors map to their gRPC meaning.
  if (st.ok()) return;
  if (st.code() == tidemq::Code::kCorruption) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (int status : {200, 404, 500}) {
    CheckCode(etcd_json::DecodeRange(status, in).status());
    CheckCode(etcd_json::DecodeTxn(status, in).status());
    CheckCode(etcd_json::DecodeLeaseGrant(status, in).status());
    CheckCode(etcd_json::DecodeKeepAlive(status, in).status());
    CheckCode(etcd_json::DecodeTimeToLive(status, in).status());
    CheckCode(etcd_json::DecodeDeleteRange(status, in).status());
    CheckCode(etcd_json::DecodeHeaderRevision(status, in).status());
  }
  CheckCode(etcd_json::DecodeWatchMessage(in).status());
  std::string raw;
  if (etcd_json::Base64Decode(in, &raw)) {
    std::string again;
    if (!etcd_json::Base64Decode(etcd_json::Base64Encode(raw), &again) || again != raw)
      std::abort();
  }
  GroupState s;
  tidemq::Status st = DecodeState(in, &s);
  if (st.ok()) {
    GroupState s2;
    if (!DecodeState(EncodeState(s), &s2).ok() || !(s2 == s)) std::abort();
  } else if (st.code() != tidemq::Code::kCorruption) {
    std::abort();
  }
  MemberRecord m;
  st = DecodeMember(in, &m);
  if (st.ok()) {
    MemberRecord m2;
    if (!DecodeMember(EncodeMember(m), &m2).ok() || !(m2 == m)) std::abort();
  } else if (st.code() != tidemq::Code::kCorruption) {
    std::abort();
  }
  GroupEntry e;
  st = DecodeGroupEntry(in, &e);
  if (st.ok()) {
    GroupEntry e2;
    if (!DecodeGroupEntry(EncodeGroupEntry(e), &e2).ok() || !(e2 == e)) std::abort();
  } else if (st.code() != tidemq::Code::kCorruption) {
    std::abort();
  }
  TopicEntry t;
  st = DecodeTopicEntry(in, &t);
  if (st.ok()) {
    TopicEntry t2;
    if (!DecodeTopicEntry(EncodeTopicEntry(t), &t2).ok() || !(t2 == t)) std::abort();
    if (t.queues.empty() || t.total() > kMaxQueuesPerTopic) std::abort();
  } else if (st.code() != tidemq::Code::kCorruption) {
    std::abort();
  }
  // Any key applies to a view without harm.
  RouteView view;
  KeyValue kv;
  kv.key = "/tidemq/" + std::string(in.substr(0, in.find('\n')));
  kv.value = std::string(in);
  (void)ApplyKey(ClusterKeys("/tidemq"), kv, false, &view);
  (void)ApplyKey(ClusterKeys("/tidemq"), kv, true, &view);
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  return {
      R"({"header":{"revision":"7"},"kvs":[{"key":"Zm9v","create_revision":"5","mod_revision":"7","version":"3","value":"YmFy","lease":"75"}],"count":"1"})",
      R"({"header":{"revision":"12"},"succeeded":true,"responses":[{"response_put":{"header":{}}},{"response_range":{"kvs":[{"key":"YQ=="}]}},{"response_delete_range":{"deleted":"1"}}]})",
      R"({"header":{"revision":"3"},"ID":"7587862372117250310","TTL":"5"})",
      "{\"result\":{\"header\":{\"revision\":\"3\"},\"ID\":\"5\",\"TTL\":\"4\"}}\n",
      R"({"result":{"header":{"revision":"43"},"events":[{"kv":{"key":"YQ==","mod_revision":"42","value":"MQ=="}},{"type":"DELETE","kv":{"key":"YQ=="}}]}})",
      R"({"result":{"header":{"revision":"50"},"canceled":true,"compact_revision":"45"}})",
      R"({"error":{"grpc_code":14,"http_code":503,"message":"no leader"}})",
      R"({"error":"etcdserver: requested lease not found","code":5})",
      R"({"master":"b-1","master_address":"127.0.0.1:9811","epoch":7,"in_sync":["b-1","b-2"],"min_in_sync":2,"changed_ms":11,"last_failover_ms":10,"previous_master":"b-3"})",
      R"({"broker_id":"b-1","address":"127.0.0.1:9811","log_end":4096,"epoch":3,"flushed":4000,"updated_ms":17})",
      "Zm9vYmFy",
      ""};
}
