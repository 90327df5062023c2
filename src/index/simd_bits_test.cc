#include "index/simd_bits.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace rekall::simd {
namespace {

// Every level this CPU can run gives the Hamming distances a plain loop
// over row-major codes gives, for runs that start and end inside a block.
TEST(SimdBits, EveryLevelMatchesPlainPopcount) {
  std::mt19937_64 rng(3);
  for (size_t words : {1u, 6u, 7u}) {
    const size_t n = 45;
    std::vector<uint64_t> rows(n * words), codes((n + kBitBlockRows) * words), q(words);
    for (auto& x : rows) x = rng();
    for (auto& x : q) x = rng();
    for (size_t r = 0; r < n; ++r) {
      for (size_t j = 0; j < words; ++j) codes[BitWordIndex(r, j, words)] = rows[r * words + j];
    }
    for (BitLevel l : {BitLevel::kScalar, BitLevel::kPopcnt, BitLevel::kAvx512Popcnt}) {
      if (int(l) > int(DetectedBitLevel())) continue;
      SCOPED_TRACE(std::string(BitLevelName(l)) + " words " + std::to_string(words));
      for (size_t first : {0u, 3u, 8u, 13u}) {
        const size_t count = n - first - (first % 2);
        std::vector<int32_t> got(count, -1);
        BitKernelsFor(l).hamming_rows(q.data(), codes.data(), words, first, count, got.data());
        for (size_t i = 0; i < count; ++i) {
          int32_t want = 0;
          for (size_t j = 0; j < words; ++j) want += __builtin_popcountll(q[j] ^ rows[(first + i) * words + j]);
          ASSERT_EQ(got[i], want) << "row " << first + i;
        }
      }
    }
  }
  std::printf("detected bit level: %s\n", BitLevelName(DetectedBitLevel()));
}

}  // namespace
}  // namespace rekall::simd
