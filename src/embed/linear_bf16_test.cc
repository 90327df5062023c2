#include "embed/linear_bf16.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>
#include <limits>
#include <random>
#include <vector>

namespace rekall::embed {
namespace {

std::vector<float> Random(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

uint16_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return static_cast<uint16_t>(u >> 16);
}

float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

TEST(Bf16, RoundsToNearestEven) {
  EXPECT_EQ(ToBf16(1.0f), 0x3F80);
  EXPECT_EQ(ToBf16(-2.5f), Bits(-2.5f));                // exact in bf16
  EXPECT_EQ(ToBf16(FromBits(0x3F808000u)), 0x3F80);     // halfway, to the even one below
  EXPECT_EQ(ToBf16(FromBits(0x3F818000u)), 0x3F82);     // halfway, to the even one above
  EXPECT_EQ(ToBf16(FromBits(0x3F808001u)), 0x3F81);     // past halfway
  EXPECT_EQ(ToBf16(FromBits(0x3F807FFFu)), 0x3F80);     // below halfway
  EXPECT_EQ(ToBf16(FromBits(0x7F7FFFFFu)), 0x7F80);     // the largest float rounds to infinity
  EXPECT_EQ(ToBf16(std::numeric_limits<float>::infinity()), 0x7F80);
  EXPECT_TRUE(std::isnan(FromBf16(ToBf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isnan(FromBf16(ToBf16(FromBits(0x7F800001u)))));  // a NaN whose rounding would carry into inf
  EXPECT_EQ(FromBf16(0x3F80), 1.0f);
}

TEST(Bf16, PackHoldsEveryRoundedWeightAndNeedsMultiplesOf32) {
  const int n = 64, k = 96;
  auto w = Random(size_t(n) * k, 1);
  Bf16Matrix m;
  ASSERT_TRUE(Bf16Matrix::Pack(w.data(), n, k, &m));
  EXPECT_EQ(m.bytes(), size_t(n) * k * 2);
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < k; ++i) ASSERT_EQ(m.At(j, i), ToBf16(w[size_t(j) * k + i])) << j << "," << i;
  Bf16Matrix bad;
  EXPECT_FALSE(Bf16Matrix::Pack(w.data(), 48, 64, &bad));  // n % 32
  EXPECT_FALSE(Bf16Matrix::Pack(w.data(), 32, 48, &bad));  // k % 32
}

// y = round(x) . round(w)^T + bias in double: what every kernel must give up
// to float32 summation error.
std::vector<double> Reference(const std::vector<float>& x, const Bf16Matrix& w, const float* bias, int m) {
  const int n = w.n(), k = w.k();
  std::vector<double> y(size_t(m) * n);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = bias ? bias[j] : 0.0;
      for (int c = 0; c < k; ++c)
        s += double(FromBf16(ToBf16(x[size_t(i) * k + c]))) * double(FromBf16(w.At(j, c)));
      y[size_t(i) * n + j] = s;
    }
  return y;
}

const Bf16Kernel kAll[] = {Bf16Kernel::kAmx, Bf16Kernel::kAvx512Bf16, Bf16Kernel::kAvx512, Bf16Kernel::kAvx2,
                           Bf16Kernel::kScalar, Bf16Kernel::kAuto};

// Every kernel this CPU has, forced, on the model's three shapes and row
// counts around each kernel's blocking (6 rows, 16- and 32-row tiles).
TEST(Bf16, EveryKernelMatchesAFloatReferenceOfTheRoundedInputs) {
  std::vector<Bf16Kernel> kernels;
  for (Bf16Kernel kern : kAll) {
    if (Bf16KernelAvailable(kern)) kernels.push_back(kern);
    std::cout << Bf16KernelName(kern) << (Bf16KernelAvailable(kern) ? ": tested\n" : ": not on this CPU\n");
  }
  ASSERT_GE(kernels.size(), 2u);  // kScalar and kAuto at least
  for (auto [n, k] : {std::pair{384, 384}, std::pair{1536, 384}, std::pair{384, 1536}}) {
    auto w = Random(size_t(n) * k, 2), b = Random(n, 3);
    Bf16Matrix pw;
    ASSERT_TRUE(Bf16Matrix::Pack(w.data(), n, k, &pw));
    for (int m : {1, 2, 5, 7, 16, 33, 70}) {
      auto x = Random(size_t(m) * k, 4 + m);
      const float* bias = m % 2 ? b.data() : nullptr;
      auto ref = Reference(x, pw, bias, m);
      // The same product without rounding, to show the reference is not it:
      // bf16 rounding moves results by ~1e-2.
      std::vector<double> exact(size_t(m) * n);
      for (int r = 0; r < m; ++r)
        for (int c = 0; c < n; ++c) {
          double e = bias ? bias[c] : 0.0;
          for (int t = 0; t < k; ++t) e += double(x[size_t(r) * k + t]) * w[size_t(c) * k + t];
          exact[size_t(r) * n + c] = e;
        }
      for (Bf16Kernel kern : kernels) {
        if (kern == Bf16Kernel::kScalar && m > 7) continue;  // slow, and no blocking to cover
        std::vector<float> y(size_t(m) * n, -7.0f);
        ASSERT_TRUE(LinearBf16(x.data(), pw, bias, y.data(), m, kern));
        double worst = 0, unrounded = 0;
        for (size_t i = 0; i < y.size(); ++i) {
          worst = std::max(worst, std::abs(y[i] - ref[i]));
          unrounded = std::max(unrounded, std::abs(y[i] - exact[i]));
        }
        EXPECT_LT(worst, 2e-4) << Bf16KernelName(kern) << " m=" << m << " n=" << n << " k=" << k;
        EXPECT_GT(unrounded, 5e-3) << Bf16KernelName(kern) << " m=" << m;
      }
    }
  }
}

TEST(Bf16, SplittingAcrossThreadsGivesTheSameBits) {
  const int n = 1536, k = 384, m = 100;
  auto w = Random(size_t(n) * k, 7), x = Random(size_t(m) * k, 8), b = Random(n, 9);
  Bf16Matrix pw;
  ASSERT_TRUE(Bf16Matrix::Pack(w.data(), n, k, &pw));
  for (Bf16Kernel kern : kAll) {
    if (!Bf16KernelAvailable(kern) || kern == Bf16Kernel::kScalar) continue;
    std::vector<float> one(size_t(m) * n), three(size_t(m) * n, -7.0f);
    ASSERT_TRUE(LinearBf16(x.data(), pw, b.data(), one.data(), m, kern, 1));
    ASSERT_TRUE(LinearBf16(x.data(), pw, b.data(), three.data(), m, kern, 3));
    EXPECT_EQ(one, three) << Bf16KernelName(kern);
  }
}

TEST(Bf16, AutoPicksAKernelThisCpuHas) {
  for (int m : {1, 10, 32, 512}) EXPECT_TRUE(Bf16KernelAvailable(Bf16KernelFor(m))) << m;
  EXPECT_NE(Bf16KernelFor(1), Bf16Kernel::kAmx);  // a query row never pays for a 16-row tile
}

}  // namespace
}  // namespace rekall::embed
