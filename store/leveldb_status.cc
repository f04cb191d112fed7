#include "store/leveldb_status.h"

#include <errno.h>
#include <sys/resource.h>

#include <algorithm>
#include <cstring>

namespace tidemq::store {
namespace {

// LevelDB reports an errno only as its strerror text inside an IOError.
bool IsOutOfResources(const std::string& text) {
  for (int err : {ENOSPC, EDQUOT, EMFILE, ENFILE}) {
    if (text.find(std::strerror(err)) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

Status FromLevelDb(const leveldb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsNotFound()) return NotFound(what + ": " + s.ToString());
  if (s.IsCorruption()) return Corruption(what + ": " + s.ToString());
  if (s.IsInvalidArgument()) return InvalidArgument(what + ": " + s.ToString());
  // Out of disk space or descriptors: the same code the file system gives (it may pass).
  if (s.IsIOError() && IsOutOfResources(s.ToString())) {
    return Status(Code::kResourceExhausted, what + ": " + s.ToString());
  }
  return IOError(what + ": " + s.ToString());
}

int LevelDbMaxOpenFiles() {
  struct rlimit limit;
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 1000;
  return static_cast<int>(std::clamp<rlim_t>(limit.rlim_cur / 8, 64, 1000));
}

}  // namespace tidemq::store
