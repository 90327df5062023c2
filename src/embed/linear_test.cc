#include "embed/linear.h"

#include <cblas.h>
#include <gtest/gtest.h>

#include <algorithm>
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

// The small-batch kernel against OpenBLAS for every row count it serves,
// with and without bias, on the model's shapes and one whose n is not a
// multiple of 3 (the AVX2 kernel's other blocking).
TEST(Linear, SmallKernelMatchesBlas) {
  if (SmallLinearMaxRows() == 0) GTEST_SKIP() << "CPU without AVX2/AVX-512: OpenBLAS only";
  for (auto [n, k] : {std::pair{384, 384}, std::pair{1536, 384}, std::pair{384, 1536}, std::pair{512, 384}}) {
    for (int m = 1; m <= SmallLinearMaxRows(); m += (m < 6 ? 1 : 7)) {
      auto x = Random(size_t(m) * k, 1), w = Random(size_t(n) * k, 2), b = Random(n, 3);
      std::vector<float> ref(size_t(m) * n), y(size_t(m) * n, -7.0f);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x.data(), k, w.data(), k, 0.0f,
                  ref.data(), n);
      ASSERT_TRUE(SmallLinear(x.data(), w.data(), nullptr, y.data(), m, n, k));
      for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i], 1e-3) << "m=" << m << " n=" << n << " i=" << i;
      ASSERT_TRUE(SmallLinear(x.data(), w.data(), b.data(), y.data(), m, n, k));
      for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i] + b[i % n], 1e-3);
      std::fill(y.begin(), y.end(), -7.0f);
      ASSERT_TRUE(SmallLinear(x.data(), w.data(), b.data(), y.data(), m, n, k, /*force_avx2=*/true));
      for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i] + b[i % n], 1e-3) << "avx2 m=" << m;
    }
  }
  std::vector<float> x(20), w(20), y(4);
  EXPECT_FALSE(SmallLinear(x.data(), w.data(), nullptr, y.data(), 1, 4, 5));  // k % 16 != 0
}

TEST(Linear, DispatchGivesSameResultAsBlasForAnyRows) {
  const int n = 384, k = 384;
  for (int m : {1, 7, 33, 100}) {
    auto x = Random(size_t(m) * k, 4), w = Random(size_t(n) * k, 5), b = Random(n, 6);
    std::vector<float> ref(size_t(m) * n), y(size_t(m) * n);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x.data(), k, w.data(), k, 0.0f, ref.data(),
                n);
    Linear(x.data(), w.data(), b.data(), y.data(), m, n, k);
    for (size_t i = 0; i < y.size(); ++i) ASSERT_NEAR(y[i], ref[i] + b[i % n], 1e-3) << "m=" << m;
  }
}

}  // namespace
}  // namespace rekall::embed
