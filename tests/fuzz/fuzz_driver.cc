// A small deterministic mutation driver for fuzz targets when libFuzzer is not in use.
#include "tests/fuzz/fuzz_driver.h"

#include <cstdio>
#include <cstdlib>
#include <random>

namespace {

std::string Mutate(const std::string& in, const std::vector<std::string>& seeds,
                   std::mt19937_64& rng) {
  std::string s = in;
  int rounds = 1 + static_cast<int>(rng() % 4);
  for (int r = 0; r < rounds; ++r) {
    switch (rng() % 7) {
      case 0:  // flip a bit
        if (!s.empty()) s[rng() % s.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      case 1:  // truncate
        if (!s.empty()) s.resize(rng() % s.size());
        break;
      case 2:  // insert random bytes
        s.insert(s.empty() ? 0 : rng() % s.size(), std::string(1 + rng() % 8, static_cast<char>(rng())));
        break;
      case 3:  // overwrite a 4-byte word with an interesting value (lengths!)
        if (s.size() >= 4) {
          static const uint32_t kValues[] = {0, 1, 0x7f, 0xff, 0xffff, 0x7fffffff, 0xffffffff, 12, 8};
          uint32_t v = kValues[rng() % (sizeof(kValues) / sizeof(kValues[0]))];
          size_t at = rng() % (s.size() - 3);
          for (int i = 0; i < 4; ++i) s[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
        }
        break;
      case 4:  // splice with another seed
        if (!seeds.empty()) {
          const std::string& o = seeds[rng() % seeds.size()];
          s = s.substr(0, s.empty() ? 0 : rng() % s.size()) + o.substr(o.empty() ? 0 : rng() % o.size());
        }
        break;
      case 5:  // duplicate a range
        if (!s.empty()) {
          size_t a = rng() % s.size();
          s.insert(a, s.substr(a, rng() % 16));
        }
        break;
      default:  // random byte
        if (!s.empty()) s[rng() % s.size()] = static_cast<char>(rng());
        break;
    }
  }
  return s;
}

}  // namespace

int main() {
  long iterations = 20000;
  if (const char* env = std::getenv("TIDEMQ_FUZZ_ITERATIONS")) iterations = std::atol(env);
  std::vector<std::string> seeds = TidemqFuzzSeeds();
  for (const auto& s : seeds) {
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  std::mt19937_64 rng(0x7151de);
  for (long i = 0; i < iterations; ++i) {
    std::string input;
    if (seeds.empty() || rng() % 16 == 0) {
      input.resize(rng() % 256);
      for (auto& c : input) c = static_cast<char>(rng());
    } else {
      input = Mutate(seeds[rng() % seeds.size()], seeds, rng);
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
  }
  std::printf("fuzz: %zu seeds + %ld mutated inputs decoded without a crash\n", seeds.size(),
              iterations);
  return 0;
}
