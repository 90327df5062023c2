#include "embed/kernels.h"

#include <cmath>
#include <cstdint>
#include <cstring>

// Runtime dispatch: GCC emits one clone per target and an ifunc resolver.
// Sanitizer builds keep one version (ifunc resolvers run before ASan's init).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_ADDRESS__)
#define REKALL_CLONES __attribute__((target_clones("default", "arch=haswell", "arch=skylake-avx512")))
#else
#define REKALL_CLONES
#endif

namespace rekall::embed::kernels {
namespace {

// exp(x) with a Cephes-style range reduction and degree-6 polynomial
// (about 2 ulp), branch-free so loops using it vectorise; libm's expf does
// not vectorise without -ffast-math.
inline float ExpApprox(float x) {
  x = std::fmin(std::fmax(x, -87.0f), 88.0f);
  float fx = std::floor(x * 1.44269504088896341f + 0.5f);
  float r = x - fx * 0.693359375f;
  r = r + fx * 2.12194440e-4f;
  float r2 = r * r;
  float y = 1.9875691500e-4f;
  y = y * r + 1.3981999507e-3f;
  y = y * r + 8.3334519073e-3f;
  y = y * r + 4.1665795894e-2f;
  y = y * r + 1.6666665459e-1f;
  y = y * r + 5.0000001201e-1f;
  y = y * r2 + r + 1.0f;
  int32_t n = static_cast<int32_t>(fx);
  uint32_t bits = static_cast<uint32_t>(n + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof scale);
  return y * scale;
}

// erf(x) as a rational function of x (Eigen's float erf: numerator odd
// degree 13, denominator even degree 8, x clamped to [-4, 4] where erf is
// +-1 in float), max error a few ulp.
inline float ErfApprox(float x) {
  x = std::fmin(std::fmax(x, -4.0f), 4.0f);
  float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * x;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  return p / q;
}

}  // namespace

float Erf(float x) { return ErfApprox(x); }
float Exp(float x) { return ExpApprox(x); }

REKALL_CLONES
void AddBias(float* x, const float* bias, size_t rows, size_t cols, float scale) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    for (size_t c = 0; c < cols; ++c) row[c] = (row[c] + bias[c]) * scale;
  }
}

REKALL_CLONES
void AddBiasGelu(float* x, const float* bias, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    for (size_t c = 0; c < cols; ++c) {
      float v = row[c] + bias[c];
      row[c] = 0.5f * v * (1.0f + ErfApprox(v * 0.70710678118654752f));
    }
  }
}

REKALL_CLONES
void AddBiasResidualLayerNorm(float* x, const float* y, const float* bias, const float* gamma, const float* beta,
                              size_t rows, size_t cols, float eps) {
  const float inv_n = 1.0f / static_cast<float>(cols);
  for (size_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    const float* yr = y + r * cols;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t c = 0; c < cols; ++c) {
      float v = xr[c] + yr[c] + bias[c];
      xr[c] = v;
      sum += v;
    }
    const float mean = sum * inv_n;
    float var = 0.0f;
#pragma omp simd reduction(+ : var)
    for (size_t c = 0; c < cols; ++c) {
      float d = xr[c] - mean;
      var += d * d;
    }
    const float rstd = 1.0f / std::sqrt(var * inv_n + eps);
    for (size_t c = 0; c < cols; ++c) xr[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
  }
}

REKALL_CLONES
void LayerNorm(float* x, const float* gamma, const float* beta, size_t rows, size_t cols, float eps) {
  const float inv_n = 1.0f / static_cast<float>(cols);
  for (size_t r = 0; r < rows; ++r) {
    float* xr = x + r * cols;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t c = 0; c < cols; ++c) sum += xr[c];
    const float mean = sum * inv_n;
    float var = 0.0f;
#pragma omp simd reduction(+ : var)
    for (size_t c = 0; c < cols; ++c) {
      float d = xr[c] - mean;
      var += d * d;
    }
    const float rstd = 1.0f / std::sqrt(var * inv_n + eps);
    for (size_t c = 0; c < cols; ++c) xr[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
  }
}

REKALL_CLONES
void SoftmaxRows(float* s, size_t rows, size_t cols, size_t ld) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    float mx = row[0];
#pragma omp simd reduction(max : mx)
    for (size_t c = 1; c < cols; ++c) mx = std::fmax(mx, row[c]);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t c = 0; c < cols; ++c) {
      float e = ExpApprox(row[c] - mx);
      row[c] = e;
      sum += e;
    }
    const float inv = 1.0f / sum;
    for (size_t c = 0; c < cols; ++c) row[c] *= inv;
  }
}

}  // namespace rekall::embed::kernels
