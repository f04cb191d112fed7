// A broker group's epoch history, kept in the log like every other fact (DESIGN.md decision 1):
// a master elected at epoch E appends the metadata change "repl/epoch/<E>" = <its log end>
// before it takes a write, so every copy of the log knows where each epoch began
// (docs/replication.md, "Epochs").
#pragma once

#include <vector>

#include "cluster/repl_protocol.h"
#include "store/store.h"

namespace tidemq::cluster {

inline constexpr char kEpochMetaPrefix[] = "repl/epoch/";

// The change that records "epoch `epoch` starts at `start`" (synced: an epoch is never reused).
store::MetaChange EpochChange(int64_t epoch, LogOffset start);
// The history in the store's metadata, ascending; entries that do not parse are skipped.
Result<std::vector<EpochStart>> LoadEpochs(const store::Store& store);

}  // namespace tidemq::cluster
