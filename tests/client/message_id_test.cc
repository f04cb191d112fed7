#include "client/src/message_id.h"

#include <gtest/gtest.h>

#include <set>
#include <thread>
#include <vector>

namespace tidemq::client {
namespace {

TEST(MessageIdTest, ThirtyTwoHexCharacters) {
  std::string id = NewMessageId();
  ASSERT_EQ(id.size(), 32u);
  for (char c : id) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c))) << id;
}

TEST(MessageIdTest, UniqueAcrossThreads) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20000;
  std::vector<std::vector<std::string>> ids(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&ids, t] {
      ids[t].reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) ids[t].push_back(NewMessageId());
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> all;
  for (const auto& v : ids) all.insert(v.begin(), v.end());
  EXPECT_EQ(all.size(), size_t{kThreads} * kPerThread);
}

TEST(MessageIdTest, ClientIdsDiffer) { EXPECT_NE(NewClientId(), NewClientId()); }

}  // namespace
}  // namespace tidemq::client
