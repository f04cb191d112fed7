// `tidemq cluster status`: the CLUSTER_STATUS document a broker answers (docs/replication.md,
// "Status"), decoded and printed for a human. Used by tools/cli/broker.cc; no client calls here,
// so the formatting is tested on JSON strings (tests/client/cluster_status_test.cc) and the
// decoder fuzzed (tests/fuzz/cluster_status_fuzz.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace tidemq::tools {

struct ClusterMember {
  std::string broker_id;
  std::string address;  // the member's client address, HOST:PORT
  std::string role;     // master or replica
  int64_t log_end = 0;
  int64_t lag_bytes = 0;
  int64_t lag_ms = 0;
  bool in_sync = false;
  bool connected = false;
};

struct ClusterStatus {
  std::string group;      // "" for a standalone broker
  std::string broker_id;  // the broker that answered
  std::string role;       // its role: standalone, master or replica
  int64_t epoch = 0;
  std::string master;  // the master's broker id ("" when there is none)
  std::string master_address;
  int64_t min_copies = 1;
  std::vector<std::string> in_sync;
  std::vector<ClusterMember> members;
  int64_t last_failover_ms = 0;  // ms since the epoch; 0: never
};

// Fields the document lacks keep their defaults; a field of the wrong type, or a document that
// is not a JSON object, is InvalidArgument naming it. Never throws.
Result<ClusterStatus> ParseClusterStatus(std::string_view json);

// One group, as `tidemq cluster status` prints it:
//   group NAME epoch E master ID (ADDR) min-copies N in-sync [ids]
//     ID  ADDR  master|replica  log-end N  lag B bytes / M ms  in-sync|out-of-sync
//     connected|disconnected
//   last failover YYYY-MM-DD HH:MM:SS.mmm UTC | never
// and, when the answer came from a replica, a line saying so. A standalone broker is one line
// "ADDRESS standalone (not in a broker group)". `answered_by` is the address asked.
std::string FormatClusterStatus(const ClusterStatus& status, std::string_view answered_by);

}  // namespace tidemq::tools
