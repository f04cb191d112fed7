#include "client/src/message_id.h"

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <random>

#include "common/clock.h"

namespace tidemq::client {
namespace {

void AppendHex(uint64_t v, int digits, std::string* out) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (int i = digits - 1; i >= 0; --i) out->push_back(kHex[(v >> (i * 4)) & 0xF]);
}

uint64_t RandomBits() {
  std::random_device rd;
  return (uint64_t{rd()} << 32) ^ rd();
}

const uint64_t kProcessPrefix = RandomBits() & 0xFFFFFFFFFFFFull;

}  // namespace

std::string NewMessageId() {
  static std::atomic<uint32_t> counter{0};
  std::string id;
  id.reserve(32);
  AppendHex(kProcessPrefix, 12, &id);
  AppendHex(static_cast<uint64_t>(SystemClock::Get()->NowMs()) & 0xFFFFFFFFFFFFull, 12, &id);
  AppendHex(counter.fetch_add(1, std::memory_order_relaxed), 8, &id);
  return id;
}

std::string NewClientId() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  std::string id = host[0] ? host : "localhost";
  id += "@" + std::to_string(getpid()) + "@";
  AppendHex(RandomBits(), 8, &id);
  return id;
}

}  // namespace tidemq::client
