#include "embed/kernels.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace rekall::embed::kernels {
namespace {

TEST(Kernels, ErfMatchesLibm) {
  double worst = 0;
  for (float x = -6.0f; x <= 6.0f; x += 0.0007f) worst = std::max(worst, std::fabs(Erf(x) - std::erf(double(x))));
  EXPECT_LT(worst, 5e-7);
  EXPECT_EQ(Erf(0.0f), 0.0f);
  EXPECT_NEAR(Erf(100.0f), 1.0f, 1e-7);
  EXPECT_NEAR(Erf(-100.0f), -1.0f, 1e-7);
}

TEST(Kernels, ExpMatchesLibm) {
  double worst = 0;
  for (float x = -80.0f; x <= 80.0f; x += 0.013f) {
    double ref = std::exp(double(x));
    worst = std::max(worst, std::fabs(Exp(x) - ref) / ref);
  }
  EXPECT_LT(worst, 1e-6);
  EXPECT_GE(Exp(-1000.0f), 0.0f);
  EXPECT_LT(Exp(-1000.0f), 1e-37f);
}

std::vector<float> Random(size_t n, unsigned seed) {
  std::mt19937 g(seed);
  std::normal_distribution<float> d(0.0f, 2.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(g);
  return v;
}

TEST(Kernels, AddBiasGelu) {
  const size_t rows = 3, cols = 37;  // odd width: exercises vector tails
  auto x = Random(rows * cols, 1), b = Random(cols, 2);
  auto y = x;
  AddBiasGelu(y.data(), b.data(), rows, cols);
  for (size_t i = 0; i < x.size(); ++i) {
    double v = double(x[i]) + b[i % cols];
    EXPECT_NEAR(y[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 2e-6 * (1 + std::fabs(v)));
  }
}

TEST(Kernels, ResidualLayerNorm) {
  const size_t rows = 4, cols = 384;
  auto x = Random(rows * cols, 3), y = Random(rows * cols, 4), b = Random(cols, 5), g = Random(cols, 6),
       be = Random(cols, 7);
  auto out = x;
  AddBiasResidualLayerNorm(out.data(), y.data(), b.data(), g.data(), be.data(), rows, cols, 1e-12f);
  for (size_t r = 0; r < rows; ++r) {
    std::vector<double> v(cols);
    double mean = 0, var = 0;
    for (size_t c = 0; c < cols; ++c) mean += v[c] = double(x[r * cols + c]) + y[r * cols + c] + b[c];
    mean /= cols;
    for (double t : v) var += (t - mean) * (t - mean);
    var /= cols;
    for (size_t c = 0; c < cols; ++c) {
      double ref = (v[c] - mean) / std::sqrt(var + 1e-12) * g[c] + be[c];
      EXPECT_NEAR(out[r * cols + c], ref, 1e-4 * (1 + std::fabs(ref)));
    }
  }
}

TEST(Kernels, SoftmaxRowsWithStride) {
  const size_t rows = 3, cols = 19, ld = 24;
  auto s = Random(rows * ld, 8);
  auto orig = s;
  SoftmaxRows(s.data(), rows, cols, ld);
  for (size_t r = 0; r < rows; ++r) {
    double mx = -1e30, sum = 0;
    for (size_t c = 0; c < cols; ++c) mx = std::max(mx, double(orig[r * ld + c]));
    for (size_t c = 0; c < cols; ++c) sum += std::exp(orig[r * ld + c] - mx);
    for (size_t c = 0; c < cols; ++c) EXPECT_NEAR(s[r * ld + c], std::exp(orig[r * ld + c] - mx) / sum, 1e-6);
    for (size_t c = cols; c < ld; ++c) EXPECT_EQ(s[r * ld + c], orig[r * ld + c]);  // padding untouched
  }
}

}  // namespace
}  // namespace rekall::embed::kernels
