// Fuzz target: the CLUSTER_STATUS JSON document a broker answers, as `tidemq cluster status`
// decodes and prints it (tools/cluster_status.h). Any input is a Status, never a crash or an
// exception; what decodes also formats.
#include <string>

#include "tests/fuzz/fuzz_driver.h"
#include "tools/cluster_status.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string in(reinterpret_cast<const char*>(data), size);
  auto st = tidemq::tools::ParseClusterStatus(in);
  if (st.ok()) (void)tidemq::tools::FormatClusterStatus(*st, "127.0.0.1:9810");
  return 0;
}

std::vector<std::string> TidemqFuzzSeeds() {
  return {R"({"role":"standalone"})",
          R"({"group":"g","broker_id":"b1","role":"master","epoch":2,"master":"b1",)"
          R"("master_address":"127.0.0.1:9810","min_copies":2,"in_sync":["b1","b2"],)"
          R"("members":[{"broker_id":"b2","address":"127.0.0.1:9820","role":"replica",)"
          R"("log_end":10,"lag_bytes":5,"lag_ms":1,"in_sync":true,"connected":true}],)"
          R"("last_failover_ms":1764633600123})",
          R"({"group":"g","master":7,"in_sync":[7],"last_failover_ms":-1e300})",
          "[]",
          "{}",
          "null"};
}
