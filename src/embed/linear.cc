#include "embed/linear.h"

#include <cblas.h>
// GCC 12's AVX-512 headers pass an undefined pass-through vector to masked
// builtins inside target("avx512f") functions and then warn about it
// (-Wuninitialized in the header itself, not in this code).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "embed/kernels.h"
#include "util/cpu.h"

namespace rekall::embed {
namespace {

// Up to this many rows the small kernel beats OpenBLAS (measured on a
// Sapphire Rapids core, AVX-512: 3x faster at 11 rows, 1.2x at 32, even at
// 64; OpenBLAS wins beyond, its packing then pays off).
constexpr int kSmallMaxRows = 48;

// The four sums of a0..a3 in one 128-bit vector: two transposing unpack
// rounds then two lane folds, 8 shuffles for four results instead of 16.
__attribute__((target("avx512f"))) inline __m128 HSum512x4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  const __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  const __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  // Per 128-bit lane: t0 = [a0, a1, a0, a1] partials, t1 likewise for a2, a3.
  const __m512 u = _mm512_add_ps(
      _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))),
      _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1))));
  // Each lane is now [a0, a1, a2, a3] partials: add the four lanes.
  __m512 v = _mm512_add_ps(u, _mm512_shuffle_f32x4(u, u, 0x4E));
  v = _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  return _mm512_castps512_ps128(v);
}

// Dot-product form: each block of NB weight rows is read once from memory
// and, while it sits in L1, multiplied with MB rows of x at a time; MB*NB
// accumulators stay in registers. Needs k % 16 == 0.
template <int MB, int NB>
__attribute__((target("avx512f"))) inline void BlockAvx512(const float* x, const float* w0, const float* bias,
                                                          float* y, int ldy, int k, const float* prefetch) {
  __m512 acc[MB][NB];
  for (auto& r : acc)
    for (auto& a : r) a = _mm512_setzero_ps();
  for (int kk = 0; kk < k; kk += 16) {
    // The query case streams ~40 MB of weights from memory: ask for the
    // next weight block while this one is being multiplied.
    if (prefetch)
      for (int j = 0; j < NB; ++j) _mm_prefetch(reinterpret_cast<const char*>(prefetch + static_cast<size_t>(j) * k + kk), _MM_HINT_T0);
    __m512 wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = _mm512_loadu_ps(w0 + static_cast<size_t>(j) * k + kk);
    for (int i = 0; i < MB; ++i) {
      __m512 xv = _mm512_loadu_ps(x + static_cast<size_t>(i) * k + kk);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  static_assert(NB == 4, "the reduction stores 4 outputs at a time");
  const __m128 b = bias ? _mm_loadu_ps(bias) : _mm_setzero_ps();
  for (int i = 0; i < MB; ++i)
    _mm_storeu_ps(y + static_cast<size_t>(i) * ldy, _mm_add_ps(HSum512x4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]), b));
}

__attribute__((target("avx2,fma"))) inline float HSum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
  return _mm_cvtss_f32(s);
}

// The AVX2 form of BlockAvx512 with 8-wide vectors in 16 registers: MB*NB
// accumulators + NB weight vectors + 1 input. 4 x 3 (16 registers) keeps 12
// FMAs in flight per 7 loads, where 2 x 4 kept 8 per 6: with two FMA units of
// 4-cycle latency, 8 independent sums leave no slack.
template <int MB, int NB>
__attribute__((target("avx2,fma"))) inline void BlockAvx2(const float* x, const float* w0, const float* bias, float* y,
                                                         int ldy, int k, const float* prefetch) {
  __m256 acc[MB][NB];
  for (auto& r : acc)
    for (auto& a : r) a = _mm256_setzero_ps();
  for (int kk = 0; kk < k; kk += 8) {
    if (prefetch && kk % 16 == 0)  // one prefetch per 64-byte line
      for (int j = 0; j < NB; ++j) _mm_prefetch(reinterpret_cast<const char*>(prefetch + static_cast<size_t>(j) * k + kk), _MM_HINT_T0);
    __m256 wv[NB];
    for (int j = 0; j < NB; ++j) wv[j] = _mm256_loadu_ps(w0 + static_cast<size_t>(j) * k + kk);
    for (int i = 0; i < MB; ++i) {
      const __m256 xv = _mm256_loadu_ps(x + static_cast<size_t>(i) * k + kk);
      for (int j = 0; j < NB; ++j) acc[i][j] = _mm256_fmadd_ps(xv, wv[j], acc[i][j]);
    }
  }
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NB; ++j) y[static_cast<size_t>(i) * ldy + j] = HSum256(acc[i][j]) + (bias ? bias[j] : 0.0f);
}

// The two instruction sets' block kernels, as types for SmallBlocks.
struct Avx512 {
  template <int MB, int NB>
  static void Block(const float* x, const float* w0, const float* bias, float* y, int ldy, int k, const float* pf) {
    BlockAvx512<MB, NB>(x, w0, bias, y, ldy, k, pf);
  }
};
struct Avx2 {
  template <int MB, int NB>
  static void Block(const float* x, const float* w0, const float* bias, float* y, int ldy, int k, const float* pf) {
    BlockAvx2<MB, NB>(x, w0, bias, y, ldy, k, pf);
  }
};

// The last rows - m0 < MB rows of x, by one block of that many.
template <class Kernel, int R, int NB>
void RemainderBlock(int rows, const float* x, const float* w0, const float* bias, float* y, int ldy, int k,
                    const float* pf) {
  if constexpr (R >= 1) {
    if (rows == R) return Kernel::template Block<R, NB>(x, w0, bias, y, ldy, k, pf);
    RemainderBlock<Kernel, R - 1, NB>(rows, x, w0, bias, y, ldy, k, pf);
  }
}

// Weight blocks of NB rows, each read from memory once and multiplied with
// MB rows of x at a time while it sits in L1.
template <class Kernel, int MB, int NB>
void SmallBlocks(const float* x, const float* w, const float* bias, float* y, int m, int n, int k, int ldy) {
  for (int n0 = 0; n0 < n; n0 += NB) {
    const float* w0 = w + static_cast<size_t>(n0) * k;
    const float* b0 = bias ? bias + n0 : nullptr;
    // Only the first pass over this weight block prefetches the next one.
    const float* pf = n0 + NB < n ? w0 + static_cast<size_t>(NB) * k : nullptr;
    int m0 = 0;
    for (; m0 + MB <= m; m0 += MB, pf = nullptr)
      Kernel::template Block<MB, NB>(x + static_cast<size_t>(m0) * k, w0, b0, y + static_cast<size_t>(m0) * ldy + n0, ldy, k,
                                     pf);
    RemainderBlock<Kernel, MB - 1, NB>(m - m0, x + static_cast<size_t>(m0) * k, w0, b0,
                                       y + static_cast<size_t>(m0) * ldy + n0, ldy, k, pf);
  }
}

// 6 x 4 accumulators + 4 weight vectors + 1 input fit AVX-512's 32 registers.
void SmallAvx512(const float* x, const float* w, const float* bias, float* y, int m, int n, int k, int ldy) {
  SmallBlocks<Avx512, 6, 4>(x, w, bias, y, m, n, k, ldy);
}

// Every layer of MiniLM has n a multiple of 3 (384, 1152, 1536).
void SmallAvx2(const float* x, const float* w, const float* bias, float* y, int m, int n, int k, int ldy) {
  if (n % 3 == 0) {
    SmallBlocks<Avx2, 4, 3>(x, w, bias, y, m, n, k, ldy);
  } else {
    SmallBlocks<Avx2, 3, 4>(x, w, bias, y, m, n, k, ldy);
  }
}

enum class Isa { kNone, kAvx2, kAvx512 };

Isa DetectIsa() {
  if (Cpu().avx512) return Isa::kAvx512;
  if (Cpu().avx2) return Isa::kAvx2;
  return Isa::kNone;
}

const Isa kIsa = DetectIsa();

}  // namespace

int SmallLinearMaxRows() { return kIsa == Isa::kNone ? 0 : kSmallMaxRows; }

bool SmallLinear(const float* x, const float* w, const float* bias, float* y, int m, int n, int k,
                 bool force_avx2) {
  return SmallLinearLd(x, w, bias, y, m, n, k, n, force_avx2);
}

bool SmallLinearLd(const float* x, const float* w, const float* bias, float* y, int m, int n, int k, int ldy,
                   bool force_avx2) {
  if (k % 16 != 0 || n % 4 != 0) return false;
  switch (force_avx2 && kIsa == Isa::kAvx512 ? Isa::kAvx2 : kIsa) {
    case Isa::kAvx512: SmallAvx512(x, w, bias, y, m, n, k, ldy); return true;
    case Isa::kAvx2: SmallAvx2(x, w, bias, y, m, n, k, ldy); return true;
    case Isa::kNone: return false;
  }
  return false;
}

void Linear(const float* x, const float* w, const float* bias, float* y, int m, int n, int k) {
  LinearLd(x, w, bias, y, m, n, k, n);
}

void LinearLd(const float* x, const float* w, const float* bias, float* y, int m, int n, int k, int ldy) {
  if (m <= SmallLinearMaxRows() && SmallLinearLd(x, w, bias, y, m, n, k, ldy)) return;
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x, k, w, k, 0.0f, y, ldy);
  if (bias)
    for (int r = 0; r < m; ++r) kernels::AddBias(y + static_cast<size_t>(r) * ldy, bias, 1, n, 1.0f);
}

}  // namespace rekall::embed
