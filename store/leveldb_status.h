// The one conversion of LevelDB errors into TideMQ Status, for every module that keeps a
// LevelDB (store's index, timer's index, later txn's): `what` names the operation.
#pragma once

#include <leveldb/status.h>

#include <string>

#include "common/status.h"

namespace tidemq::store {

Status FromLevelDb(const leveldb::Status& s, const std::string& what);

// leveldb::Options.max_open_files for the broker's LevelDB databases (store index, timer and
// transaction indexes): LevelDB's default of 1000 table files could take every descriptor
// of a process under a common `ulimit -n` of 1024. An eighth of the soft limit, within
// [64, 1000].
int LevelDbMaxOpenFiles();

}  // namespace tidemq::store
