#include "embed/kernels.h"

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "util/cpu.h"

// Runtime dispatch: each kernel body (an always-inline *Impl function) is
// compiled three times, for baseline x86-64, AVX2+FMA and AVX-512, and the
// first call picks the widest the CPU supports. (GCC's target_clones would
// do this, but its ifunc resolver chose the baseline clone on this VM while
// __builtin_cpu_supports at run time sees AVX-512.)
#define REKALL_INLINE static inline __attribute__((always_inline))
#if defined(__x86_64__) && defined(__GNUC__)
#define REKALL_DISPATCH(name, params, args)                                                                     \
  __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma,prefer-vector-width=512"))) static void \
      name##Avx512 params {                                                                                    \
    name##Impl args;                                                                                            \
  }                                                                                                             \
  __attribute__((target("avx2,fma"))) static void name##Avx2 params { name##Impl args; }                       \
  static void name##Base params { name##Impl args; }                                                           \
  void name params {                                                                                            \
    static const auto fn = CpuLevel() == 2 ? name##Avx512 : CpuLevel() == 1 ? name##Avx2 : name##Base;          \
    fn args;                                                                                                    \
  }
#else
#define REKALL_DISPATCH(name, params, args) \
  void name params { name##Impl args; }
#endif

namespace rekall::embed::kernels {
namespace {

// 2: AVX-512 (F, VL, DQ, BW), 1: AVX2 + FMA, 0: baseline (util/cpu.h).
int CpuLevel() {
  static const int level = Cpu().avx512 ? 2 : Cpu().avx2 ? 1 : 0;
  return level;
}

// std::fmin/fmax handle NaN and compile to libm calls, which blocks
// vectorisation; these compile to minps/maxps.
REKALL_INLINE float Min(float a, float b) { return a < b ? a : b; }
REKALL_INLINE float Max(float a, float b) { return a > b ? a : b; }

// exp(x) with a Cephes-style range reduction and degree-6 polynomial
// (about 2 ulp), branch-free so loops using it vectorise; libm's expf does
// not vectorise without -ffast-math.
REKALL_INLINE float ExpApprox(float x) {
  x = Min(Max(x, -87.0f), 88.0f);
  // n = round(x / ln 2) with the 1.5 * 2^23 trick: adding it rounds to an
  // integer that also sits in the low mantissa bits, so neither floor() (a
  // libm call) nor a float->int conversion is needed and the loop vectorises.
  constexpr float kMagic = 12582912.0f;
  const float shifted = x * 1.44269504088896341f + kMagic;
  const float fx = shifted - kMagic;
  const int32_t n = static_cast<int32_t>(std::bit_cast<uint32_t>(shifted) - std::bit_cast<uint32_t>(kMagic));
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
  // 2^n built in the exponent field (bit_cast, unlike memcpy through a
  // stack temporary, keeps the loop vectorisable).
  return y * std::bit_cast<float>(static_cast<uint32_t>(n + 127) << 23);
}

// erf(x) as a rational function of x (Eigen's float erf: numerator odd
// degree 13, denominator even degree 8, x clamped to [-4, 4] where erf is
// +-1 in float), max error a few ulp.
REKALL_INLINE float ErfApprox(float x) {
  x = Min(Max(x, -4.0f), 4.0f);
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

REKALL_INLINE void AddBiasImpl(float* x, const float* bias, size_t rows, size_t cols, float scale) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
#pragma omp simd
    for (size_t c = 0; c < cols; ++c) row[c] = (row[c] + bias[c]) * scale;
  }
}

REKALL_INLINE void AddBiasGeluImpl(float* x, const float* bias, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
#pragma omp simd
    for (size_t c = 0; c < cols; ++c) {
      float v = row[c] + bias[c];
      row[c] = 0.5f * v * (1.0f + ErfApprox(v * 0.70710678118654752f));
    }
  }
}

REKALL_INLINE void AddBiasResidualLayerNormImpl(float* x, const float* y, const float* bias, const float* gamma, const float* beta,
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
#pragma omp simd
    for (size_t c = 0; c < cols; ++c) xr[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
  }
}

REKALL_INLINE void LayerNormImpl(float* x, const float* gamma, const float* beta, size_t rows, size_t cols, float eps) {
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
#pragma omp simd
    for (size_t c = 0; c < cols; ++c) xr[c] = (xr[c] - mean) * rstd * gamma[c] + beta[c];
  }
}

REKALL_INLINE void SoftmaxRowsImpl(float* s, size_t rows, size_t cols, size_t ld) {
  for (size_t r = 0; r < rows; ++r) {
    float* row = s + r * ld;
    float mx = row[0];
#pragma omp simd reduction(max : mx)
    for (size_t c = 1; c < cols; ++c) mx = Max(mx, row[c]);
    // Separate passes: GCC 12 does not vectorise the exp loop when it also
    // carries the sum reduction.
#pragma omp simd
    for (size_t c = 0; c < cols; ++c) row[c] = ExpApprox(row[c] - mx);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t c = 0; c < cols; ++c) sum += row[c];
    const float inv = 1.0f / sum;
#pragma omp simd
    for (size_t c = 0; c < cols; ++c) row[c] *= inv;
  }
}

REKALL_DISPATCH(AddBias, (float* x, const float* bias, size_t rows, size_t cols, float scale), (x, bias, rows, cols, scale))
REKALL_DISPATCH(AddBiasGelu, (float* x, const float* bias, size_t rows, size_t cols), (x, bias, rows, cols))
REKALL_DISPATCH(AddBiasResidualLayerNorm, (float* x, const float* y, const float* bias, const float* gamma, const float* beta, size_t rows, size_t cols, float eps), (x, y, bias, gamma, beta, rows, cols, eps))
REKALL_DISPATCH(LayerNorm, (float* x, const float* gamma, const float* beta, size_t rows, size_t cols, float eps), (x, gamma, beta, rows, cols, eps))
REKALL_DISPATCH(SoftmaxRows, (float* s, size_t rows, size_t cols, size_t ld), (s, rows, cols, ld))

}  // namespace rekall::embed::kernels
