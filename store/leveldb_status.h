// The one conversion of LevelDB errors into TideMQ Status, for every module that keeps a
// LevelDB (store's index, timer's index, later txn's): `what` names the operation.
#pragma once

#include <leveldb/status.h>

#include <string>

#include "common/status.h"

namespace tidemq::store {

Status FromLevelDb(const leveldb::Status& s, const std::string& what);

}  // namespace tidemq::store
