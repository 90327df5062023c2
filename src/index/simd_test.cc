#include "index/simd.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

namespace rekall::simd {
namespace {

// Every kernel level this CPU can run agrees with the scalar one.
TEST(Simd, EveryLevelMatchesScalar) {
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> u(-1, 1);
  std::uniform_int_distribution<int> i8(-127, 127);
  const size_t stride = 384, n = 37;  // 384: a multiple of both lane counts  // n not a multiple of the row unrolling
  std::vector<float> q(stride), mat(stride * n), want(n), got(n);
  for (float& x : q) x = u(rng);
  for (float& x : mat) x = u(rng);
  std::uniform_int_distribution<int> u8(0, 255);
  std::vector<int8_t> qi(stride);
  std::vector<uint8_t> mi(stride * n);
  for (auto& x : qi) x = int8_t(i8(rng));
  for (auto& x : mi) x = uint8_t(u8(rng));
  std::vector<int32_t> iwant(n), igot(n);
  const Kernels& ref = KernelsFor(Level::kScalar);
  ref.dot_rows(q.data(), mat.data(), stride, n, want.data());
  ref.dot_rows_u8(qi.data(), mi.data(), stride, n, iwant.data());
  const uint64_t xr = ref.read_rows(mat.data(), stride, n);
  for (Level l : {Level::kSse2, Level::kAvx2, Level::kAvx512, Level::kAvx512Vnni}) {
    if (int(l) > int(DetectedLevel())) continue;
    SCOPED_TRACE(LevelName(l));
    const Kernels& k = KernelsFor(l);
    k.dot_rows(q.data(), mat.data(), stride, n, got.data());
    for (size_t i = 0; i < n; ++i) EXPECT_NEAR(got[i], want[i], 1e-4);
    k.dot_rows_u8(qi.data(), mi.data(), stride, n, igot.data());
    EXPECT_EQ(igot, iwant);
    EXPECT_EQ(k.read_rows(mat.data(), stride, n), xr);
  }
  std::printf("detected level: %s\n", LevelName(DetectedLevel()));
}

// The kernel picked by measurement is one this CPU runs, and it computes
// the same scores.
TEST(Simd, FastestDotRowsIsARunnableLevelWithTheSameScores) {
  std::mt19937_64 rng(2);
  std::uniform_real_distribution<float> u(-1, 1);
  const size_t stride = 384, n = 2001;
  std::vector<float> mat(stride * n), want(n), got(n);
  for (float& x : mat) x = u(rng);
  const DotRowsChoice c = FastestDotRows(mat.data(), stride, n);
  EXPECT_LE(int(c.level), int(DetectedLevel()));
  KernelsFor(Level::kScalar).dot_rows(mat.data(), mat.data(), stride, n, want.data());
  c.fn(mat.data(), mat.data(), stride, n, got.data());
  for (size_t i = 0; i < n; ++i) EXPECT_NEAR(got[i], want[i], 1e-3);
  std::printf("fastest float kernel here: %s\n", LevelName(c.level));
}

}  // namespace
}  // namespace rekall::simd
