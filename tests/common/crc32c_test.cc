#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <string>

namespace tidemq {
namespace {

TEST(Crc32cTest, KnownVectors) {
  // From RFC 3720 (iSCSI) appendix B.4.
  std::string zeros(32, '\0');
  EXPECT_EQ(crc32c::Value(zeros), 0x8a9136aau);
  std::string ones(32, '\xff');
  EXPECT_EQ(crc32c::Value(ones), 0x62a8ab43u);
  EXPECT_EQ(crc32c::Value("123456789"), 0xe3069283u);
}

TEST(Crc32cTest, ExtendEqualsWhole) {
  std::string s = "hello, transactional world of messages";
  for (size_t split = 0; split <= s.size(); ++split) {
    uint32_t a = crc32c::Value(s.substr(0, split));
    EXPECT_EQ(crc32c::Extend(a, s.data() + split, s.size() - split), crc32c::Value(s));
  }
}

}  // namespace
}  // namespace tidemq
