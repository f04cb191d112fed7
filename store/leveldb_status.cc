#include "store/leveldb_status.h"

namespace tidemq::store {

Status FromLevelDb(const leveldb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Corruption(what + ": " + s.ToString());
  if (s.IsInvalidArgument()) return InvalidArgument(what + ": " + s.ToString());
  return IOError(what + ": " + s.ToString());
}

}  // namespace tidemq::store
