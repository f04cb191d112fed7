#include "cluster/epochs.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace tidemq::cluster {
namespace {

bool ParseInt64(std::string_view s, int64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

store::MetaChange EpochChange(int64_t epoch, LogOffset start) {
  char key[64];
  // Zero-padded: the metadata scan returns them in epoch order.
  std::snprintf(key, sizeof(key), "%s%020lld", kEpochMetaPrefix, static_cast<long long>(epoch));
  return store::MetaChange().Put(key, std::to_string(start.value())).Synced();
}

Result<std::vector<EpochStart>> LoadEpochs(const store::Store& store) {
  ASSIGN_OR_RETURN(auto entries, store.ScanMeta(kEpochMetaPrefix));
  std::vector<EpochStart> out;
  for (const auto& [key, value] : entries) {
    EpochStart e;
    int64_t start = -1;
    if (!ParseInt64(std::string_view(key).substr(sizeof(kEpochMetaPrefix) - 1), &e.epoch) ||
        !ParseInt64(value, &start) || e.epoch <= 0 || start < 0) {
      spdlog::warn("replication: skipping the malformed epoch record '{}' = '{}'", key, value);
      continue;
    }
    e.start = LogOffset(start);
    out.push_back(e);
  }
  std::sort(out.begin(), out.end(),
            [](const EpochStart& a, const EpochStart& b) { return a.epoch < b.epoch; });
  return out;
}

}  // namespace tidemq::cluster
