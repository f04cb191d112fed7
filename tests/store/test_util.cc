#include "tests/store/test_util.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "store/file_names.h"

namespace tidemq::store::testing {

std::string LastSegmentPath(const std::string& data_dir) {
  std::string dir = JoinPath(data_dir, "commitlog");
  auto names = FileSystem::Default()->ListDir(dir);
  EXPECT_TRUE(names.ok());
  int64_t best = -1;
  for (const auto& n : *names) {
    int64_t base;
    if (ParseOffsetFileName(n, &base)) best = std::max(best, base);
  }
  return JoinPath(dir, OffsetFileName(best));
}

}  // namespace tidemq::store::testing
