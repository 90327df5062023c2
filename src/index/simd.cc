#include "index/simd.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define REKALL_X86 1
#endif

#include "util/cpu.h"

namespace rekall::simd {
namespace {

// ---- portable reference ------------------------------------------------

void DotRowsScalar(const float* q, const float* mat, size_t stride, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) {
    const float* r = mat + i * stride;
    float s = 0;
    for (size_t j = 0; j < stride; ++j) s += q[j] * r[j];
    out[i] = s;
  }
}

void DotRowsU8Scalar(const int8_t* q, const uint8_t* mat, size_t stride, size_t n, int32_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* r = mat + i * stride;
    int32_t s = 0;
    for (size_t j = 0; j < stride; ++j) s += int32_t(q[j]) * r[j];
    out[i] = s;
  }
}

uint64_t ReadRowsScalar(const float* mat, size_t stride, size_t n) {
  uint64_t acc = 0;
  const size_t words = stride * n * sizeof(float) / sizeof(uint64_t);
  for (size_t i = 0; i < words; ++i) {
    uint64_t w;
    std::memcpy(&w, reinterpret_cast<const char*>(mat) + i * 8, 8);
    acc ^= w;
  }
  return acc;
}

#ifdef REKALL_X86

// ---- SSE2 (every x86-64 CPU) ------------------------------------------

float HsumSse(__m128 v) {
  __m128 sh = _mm_shuffle_ps(v, v, _MM_SHUFFLE(2, 3, 0, 1));
  __m128 s = _mm_add_ps(v, sh);
  sh = _mm_movehl_ps(sh, s);
  return _mm_cvtss_f32(_mm_add_ss(s, sh));
}

void DotRowsSse2(const float* q, const float* mat, size_t stride, size_t n, float* out) {
  for (size_t i = 0; i < n; ++i) {
    const float* r = mat + i * stride;
    __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps(), a2 = _mm_setzero_ps(), a3 = _mm_setzero_ps();
    for (size_t j = 0; j < stride; j += 16) {
      a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_loadu_ps(r + j), _mm_loadu_ps(q + j)));
      a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_loadu_ps(r + j + 4), _mm_loadu_ps(q + j + 4)));
      a2 = _mm_add_ps(a2, _mm_mul_ps(_mm_loadu_ps(r + j + 8), _mm_loadu_ps(q + j + 8)));
      a3 = _mm_add_ps(a3, _mm_mul_ps(_mm_loadu_ps(r + j + 12), _mm_loadu_ps(q + j + 12)));
    }
    out[i] = HsumSse(_mm_add_ps(_mm_add_ps(a0, a1), _mm_add_ps(a2, a3)));
  }
}

// Widens 8 bytes to int16 without SSE4.1's pmovsx/zx: sign- or zero-extended.
inline __m128i SignWiden8Sse2(__m128i x) { return _mm_srai_epi16(_mm_unpacklo_epi8(x, x), 8); }
inline __m128i ZeroWiden8Sse2(__m128i x) { return _mm_unpacklo_epi8(x, _mm_setzero_si128()); }

void DotRowsU8Sse2(const int8_t* q, const uint8_t* mat, size_t stride, size_t n, int32_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* r = mat + i * stride;
    __m128i acc = _mm_setzero_si128();
    for (size_t j = 0; j < stride; j += 16) {
      __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(r + j));
      __m128i y = _mm_loadu_si128(reinterpret_cast<const __m128i*>(q + j));
      acc = _mm_add_epi32(acc, _mm_madd_epi16(ZeroWiden8Sse2(x), SignWiden8Sse2(y)));
      acc = _mm_add_epi32(acc, _mm_madd_epi16(ZeroWiden8Sse2(_mm_srli_si128(x, 8)), SignWiden8Sse2(_mm_srli_si128(y, 8))));
    }
    alignas(16) int32_t t[4];
    _mm_store_si128(reinterpret_cast<__m128i*>(t), acc);
    out[i] = t[0] + t[1] + t[2] + t[3];
  }
}

uint64_t ReadRowsSse2(const float* mat, size_t stride, size_t n) {
  const __m128i* p = reinterpret_cast<const __m128i*>(mat);
  const size_t vecs = stride * n / 4;
  __m128i a = _mm_setzero_si128(), b = _mm_setzero_si128();
  size_t i = 0;
  for (; i + 2 <= vecs; i += 2) {
    a = _mm_xor_si128(a, _mm_loadu_si128(p + i));
    b = _mm_xor_si128(b, _mm_loadu_si128(p + i + 1));
  }
  alignas(16) uint64_t t[2];
  _mm_store_si128(reinterpret_cast<__m128i*>(t), _mm_xor_si128(a, b));
  return t[0] ^ t[1];
}

// ---- AVX2 + FMA -----------------------------------------------------------

__attribute__((target("avx2,fma"))) float HsumAvx(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  __m128 sh = _mm_movehdup_ps(s);
  s = _mm_add_ps(s, sh);
  sh = _mm_movehl_ps(sh, s);
  return _mm_cvtss_f32(_mm_add_ss(s, sh));
}

// Four rows per pass so each query load feeds four FMAs.
__attribute__((target("avx2,fma")))
void DotRowsAvx2(const float* q, const float* mat, size_t stride, size_t n, float* out) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float* r0 = mat + i * stride;
    const float* r1 = r0 + stride;
    const float* r2 = r1 + stride;
    const float* r3 = r2 + stride;
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    __m256 b0 = _mm256_setzero_ps(), b1 = _mm256_setzero_ps(), b2 = _mm256_setzero_ps(), b3 = _mm256_setzero_ps();
    for (size_t j = 0; j < stride; j += 16) {
      __m256 qa = _mm256_loadu_ps(q + j), qb = _mm256_loadu_ps(q + j + 8);
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + j), qa, a0);
      b0 = _mm256_fmadd_ps(_mm256_loadu_ps(r0 + j + 8), qb, b0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + j), qa, a1);
      b1 = _mm256_fmadd_ps(_mm256_loadu_ps(r1 + j + 8), qb, b1);
      a2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + j), qa, a2);
      b2 = _mm256_fmadd_ps(_mm256_loadu_ps(r2 + j + 8), qb, b2);
      a3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + j), qa, a3);
      b3 = _mm256_fmadd_ps(_mm256_loadu_ps(r3 + j + 8), qb, b3);
    }
    out[i] = HsumAvx(_mm256_add_ps(a0, b0));
    out[i + 1] = HsumAvx(_mm256_add_ps(a1, b1));
    out[i + 2] = HsumAvx(_mm256_add_ps(a2, b2));
    out[i + 3] = HsumAvx(_mm256_add_ps(a3, b3));
  }
  for (; i < n; ++i) {
    const float* r = mat + i * stride;
    __m256 a = _mm256_setzero_ps(), b = _mm256_setzero_ps();
    for (size_t j = 0; j < stride; j += 16) {
      a = _mm256_fmadd_ps(_mm256_loadu_ps(r + j), _mm256_loadu_ps(q + j), a);
      b = _mm256_fmadd_ps(_mm256_loadu_ps(r + j + 8), _mm256_loadu_ps(q + j + 8), b);
    }
    out[i] = HsumAvx(_mm256_add_ps(a, b));
  }
}

__attribute__((target("avx2,fma")))
void DotRowsU8Avx2(const int8_t* q, const uint8_t* mat, size_t stride, size_t n, int32_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* r = mat + i * stride;
    __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
    for (size_t j = 0; j < stride; j += 32) {
      __m256i x0 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + j)));
      __m256i x1 = _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(r + j + 16)));
      __m256i y0 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + j)));
      __m256i y1 = _mm256_cvtepi8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(q + j + 16)));
      a = _mm256_add_epi32(a, _mm256_madd_epi16(x0, y0));
      b = _mm256_add_epi32(b, _mm256_madd_epi16(x1, y1));
    }
    __m256i s = _mm256_add_epi32(a, b);
    __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(1, 0, 3, 2)));
    t = _mm_add_epi32(t, _mm_shuffle_epi32(t, _MM_SHUFFLE(2, 3, 0, 1)));
    out[i] = _mm_cvtsi128_si32(t);
  }
}

__attribute__((target("avx2")))
uint64_t ReadRowsAvx2(const float* mat, size_t stride, size_t n) {
  const __m256i* p = reinterpret_cast<const __m256i*>(mat);
  const size_t vecs = stride * n / 8;
  __m256i a = _mm256_setzero_si256(), b = _mm256_setzero_si256();
  size_t i = 0;
  for (; i + 2 <= vecs; i += 2) {
    a = _mm256_xor_si256(a, _mm256_loadu_si256(p + i));
    b = _mm256_xor_si256(b, _mm256_loadu_si256(p + i + 1));
  }
  a = _mm256_xor_si256(a, b);
  alignas(32) uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), a);
  return t[0] ^ t[1] ^ t[2] ^ t[3];
}

// ---- AVX-512 (F + BW) ---------------------------------------------------

// The int8 scan's horizontal sum goes through memory: GCC 12's unmasked
// 512-bit reduce/extract/shuffle intrinsics pass _mm*_undefined_* and trip
// -Wmaybe-uninitialized (the float path uses the masked forms instead).
__attribute__((target("avx512f,avx512bw"))) int32_t Reduce512i(__m512i v) {
  alignas(64) int32_t t[16];
  _mm512_store_si512(t, v);
  __m256i s = _mm256_add_epi32(_mm256_load_si256(reinterpret_cast<const __m256i*>(t)),
                               _mm256_load_si256(reinterpret_cast<const __m256i*>(t + 8)));
  __m128i r = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
  r = _mm_add_epi32(r, _mm_shuffle_epi32(r, _MM_SHUFFLE(1, 0, 3, 2)));
  r = _mm_add_epi32(r, _mm_shuffle_epi32(r, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm_cvtsi128_si32(r);
}

// The sums of four accumulators into out[0..3] without a trip through
// memory: a 512-bit store read back as narrower loads stalls store
// forwarding on CPUs that split 512-bit operations (AMD Zen 4), where the
// scan measured 2.5x a plain read of the matrix. The masked ("maskz")
// forms of the shuffles take no undefined operand (see above).
__attribute__((target("avx512f,avx512bw")))
inline void Sum4Rows512(__m512 a0, __m512 a1, __m512 a2, __m512 a3, float* out) {
  constexpr __mmask16 kAll = 0xFFFF;
  // Per 128-bit lane: [a0 0+2, a1 0+2, a0 1+3, a1 1+3], and the same for a2, a3.
  __m512 u01 = _mm512_add_ps(_mm512_maskz_unpacklo_ps(kAll, a0, a1), _mm512_maskz_unpackhi_ps(kAll, a0, a1));
  __m512 u23 = _mm512_add_ps(_mm512_maskz_unpacklo_ps(kAll, a2, a3), _mm512_maskz_unpackhi_ps(kAll, a2, a3));
  // Per lane: the lane's sum for each of a0..a3.
  __m512d lo = _mm512_maskz_unpacklo_pd(0xFF, _mm512_castps_pd(u01), _mm512_castps_pd(u23));
  __m512d hi = _mm512_maskz_unpackhi_pd(0xFF, _mm512_castps_pd(u01), _mm512_castps_pd(u23));
  __m512 w = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
  // Add the four lanes; lane 0 ends up with the four totals.
  w = _mm512_add_ps(w, _mm512_maskz_shuffle_f32x4(kAll, w, w, _MM_SHUFFLE(1, 0, 3, 2)));
  w = _mm512_add_ps(w, _mm512_maskz_shuffle_f32x4(kAll, w, w, _MM_SHUFFLE(2, 3, 0, 1)));
  _mm512_mask_storeu_ps(out, 0x000F, w);
}

__attribute__((target("avx512f,avx512bw")))
void DotRowsAvx512(const float* q, const float* mat, size_t stride, size_t n, float* out) {
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const float* r0 = mat + i * stride;
    const float* r1 = r0 + stride;
    const float* r2 = r1 + stride;
    const float* r3 = r2 + stride;
    __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps(), a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
    for (size_t j = 0; j < stride; j += 16) {
      __m512 qv = _mm512_loadu_ps(q + j);
      a0 = _mm512_fmadd_ps(_mm512_loadu_ps(r0 + j), qv, a0);
      a1 = _mm512_fmadd_ps(_mm512_loadu_ps(r1 + j), qv, a1);
      a2 = _mm512_fmadd_ps(_mm512_loadu_ps(r2 + j), qv, a2);
      a3 = _mm512_fmadd_ps(_mm512_loadu_ps(r3 + j), qv, a3);
    }
    Sum4Rows512(a0, a1, a2, a3, out + i);
  }
  for (; i < n; ++i) {
    const float* r = mat + i * stride;
    __m512 a = _mm512_setzero_ps();
    for (size_t j = 0; j < stride; j += 16) a = _mm512_fmadd_ps(_mm512_loadu_ps(r + j), _mm512_loadu_ps(q + j), a);
    // The same summation order as the four-row path, so a row scores the
    // same bits whichever path scans it (the backends agree exactly).
    alignas(16) float t[4];
    Sum4Rows512(a, a, a, a, t);
    out[i] = t[0];
  }
}

__attribute__((target("avx512f,avx512bw")))
void DotRowsU8Avx512(const int8_t* q, const uint8_t* mat, size_t stride, size_t n, int32_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* r = mat + i * stride;
    __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
    for (size_t j = 0; j < stride; j += 64) {
      __m512i x0 = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + j)));
      __m512i x1 = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + j + 32)));
      __m512i y0 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + j)));
      __m512i y1 = _mm512_cvtepi8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(q + j + 32)));
      a = _mm512_add_epi32(a, _mm512_madd_epi16(x0, y0));
      b = _mm512_add_epi32(b, _mm512_madd_epi16(x1, y1));
    }
    out[i] = Reduce512i(_mm512_add_epi32(a, b));
  }
}

// VNNI: vpdpbusd multiplies 64 uint8 by 64 int8 and accumulates in int32,
// one instruction per 64 bytes; two rows per pass share the query loads.
__attribute__((target("avx512f,avx512bw,avx512vnni")))
void DotRowsU8Vnni(const int8_t* q, const uint8_t* mat, size_t stride, size_t n, int32_t* out) {
  size_t i = 0;
  for (; i + 2 <= n; i += 2) {
    const uint8_t* r0 = mat + i * stride;
    const uint8_t* r1 = r0 + stride;
    __m512i a0 = _mm512_setzero_si512(), a1 = _mm512_setzero_si512();
    for (size_t j = 0; j < stride; j += 64) {
      __m512i y = _mm512_loadu_si512(q + j);
      a0 = _mm512_dpbusd_epi32(a0, _mm512_loadu_si512(r0 + j), y);
      a1 = _mm512_dpbusd_epi32(a1, _mm512_loadu_si512(r1 + j), y);
    }
    out[i] = Reduce512i(a0);
    out[i + 1] = Reduce512i(a1);
  }
  for (; i < n; ++i) {
    const uint8_t* r = mat + i * stride;
    __m512i a = _mm512_setzero_si512();
    for (size_t j = 0; j < stride; j += 64) a = _mm512_dpbusd_epi32(a, _mm512_loadu_si512(r + j), _mm512_loadu_si512(q + j));
    out[i] = Reduce512i(a);
  }
}

__attribute__((target("avx512f")))
uint64_t ReadRowsAvx512(const float* mat, size_t stride, size_t n) {
  const float* p = mat;
  const size_t vecs = stride * n / 16;
  __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512();
  size_t i = 0;
  for (; i + 2 <= vecs; i += 2) {
    a = _mm512_xor_si512(a, _mm512_loadu_si512(p + i * 16));
    b = _mm512_xor_si512(b, _mm512_loadu_si512(p + i * 16 + 16));
  }
  a = _mm512_xor_si512(a, b);
  alignas(64) uint64_t t[8];
  _mm512_store_si512(t, a);
  uint64_t r = 0;
  for (uint64_t v : t) r ^= v;
  return r;
}

#endif  // REKALL_X86

// The level of util/cpu.h's features (REKALL_SIMD_LEVEL's cap included).
Level Detect() {
#ifdef REKALL_X86
  const CpuFeatures& c = Cpu();
  if (c.avx512) return c.avx512_vnni ? Level::kAvx512Vnni : Level::kAvx512;
  if (c.avx2) return Level::kAvx2;
  return c.sse2 ? Level::kSse2 : Level::kScalar;
#else
  return Level::kScalar;
#endif
}

}  // namespace

Level DetectedLevel() {
  static const Level level = Detect();
  return level;
}

const char* LevelName(Level l) {
  switch (l) {
    case Level::kScalar: return "scalar";
    case Level::kSse2: return "sse2";
    case Level::kAvx2: return "avx2+fma";
    case Level::kAvx512: return "avx512";
    case Level::kAvx512Vnni: return "avx512+vnni";
  }
  return "?";
}

const Kernels& KernelsFor(Level l) {
  static const Kernels scalar{DotRowsScalar, DotRowsU8Scalar, ReadRowsScalar};
#ifdef REKALL_X86
  static const Kernels sse2{DotRowsSse2, DotRowsU8Sse2, ReadRowsSse2};
  static const Kernels avx2{DotRowsAvx2, DotRowsU8Avx2, ReadRowsAvx2};
  static const Kernels avx512{DotRowsAvx512, DotRowsU8Avx512, ReadRowsAvx512};
  static const Kernels vnni{DotRowsAvx512, DotRowsU8Vnni, ReadRowsAvx512};
  switch (l) {
    case Level::kScalar: return scalar;
    case Level::kSse2: return sse2;
    case Level::kAvx2: return avx2;
    case Level::kAvx512: return avx512;
    case Level::kAvx512Vnni: return vnni;
  }
#else
  (void)l;
#endif
  return scalar;
}

const Kernels& Best() {
  static const Kernels& k = KernelsFor(DetectedLevel());
  return k;
}

DotRowsChoice FastestDotRows(const float* mat, size_t stride, size_t n) {
  std::vector<Level> cands;
  for (Level l : {Level::kAvx512, Level::kAvx2}) {
    if (int(l) <= int(DetectedLevel())) cands.push_back(l);
  }
  if (cands.size() < 2 || n == 0) return {Best().dot_rows, DetectedLevel()};
  const size_t rows = std::min(n, std::max<size_t>(1, (size_t(16) << 20) / (stride * sizeof(float))));
  std::vector<float> out(rows);
  std::vector<double> best(cands.size(), 1e300);
  for (int round = 0; round < 3; ++round) {
    for (size_t c = 0; c < cands.size(); ++c) {
      const auto t0 = std::chrono::steady_clock::now();
      KernelsFor(cands[c]).dot_rows(mat, mat, stride, rows, out.data());
      const std::chrono::duration<double> d = std::chrono::steady_clock::now() - t0;
      best[c] = std::min(best[c], d.count());
    }
  }
  const size_t w = size_t(std::min_element(best.begin(), best.end()) - best.begin());
  return {KernelsFor(cands[w]).dot_rows, cands[w]};
}

}  // namespace rekall::simd
