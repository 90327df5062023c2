#include "index/simd_bits.h"

#include <algorithm>

#include "index/simd.h"
#include "util/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define REKALL_X86 1
#endif

namespace rekall::simd {
namespace {

// Rows one at a time; `popcount` is the builtin compiled with or without the
// popcnt instruction.
template <int (*Popcount)(uint64_t)>
inline void HammingRowsOneByOne(const uint64_t* q, const uint64_t* codes, size_t words, size_t first, size_t n,
                                int32_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const size_t row = first + i;
    const uint64_t* b = codes + (row / kBitBlockRows) * words * kBitBlockRows + row % kBitBlockRows;
    int32_t d = 0;
    for (size_t j = 0; j < words; ++j) d += Popcount(q[j] ^ b[j * kBitBlockRows]);
    out[i] = d;
  }
}

int PopcountPortable(uint64_t x) { return __builtin_popcountll(x); }

void HammingRowsScalar(const uint64_t* q, const uint64_t* codes, size_t words, size_t first, size_t n, int32_t* out) {
  HammingRowsOneByOne<PopcountPortable>(q, codes, words, first, n, out);
}

#ifdef REKALL_X86

__attribute__((target("popcnt"))) int PopcountInsn(uint64_t x) { return __builtin_popcountll(x); }

__attribute__((target("popcnt"))) void HammingRowsPopcnt(const uint64_t* q, const uint64_t* codes, size_t words,
                                                           size_t first, size_t n, int32_t* out) {
  HammingRowsOneByOne<PopcountInsn>(q, codes, words, first, n, out);
}

// Whole blocks with VPOPCNTDQ; a partial block at either end one row at a time.
__attribute__((target("avx512f,avx512vpopcntdq,popcnt"))) void HammingRowsAvx512(const uint64_t* q,
                                                                                   const uint64_t* codes, size_t words,
                                                                                   size_t first, size_t n,
                                                                                   int32_t* out) {
  size_t i = 0;
  const size_t head = std::min(n, (kBitBlockRows - first % kBitBlockRows) % kBitBlockRows);
  HammingRowsPopcnt(q, codes, words, first, head, out);
  i = head;
  for (; i + kBitBlockRows <= n; i += kBitBlockRows) {
    const uint64_t* b = codes + (first + i) / kBitBlockRows * words * kBitBlockRows;
    __m512i acc = _mm512_setzero_si512();
    for (size_t j = 0; j < words; ++j) {
      const __m512i x = _mm512_xor_si512(_mm512_loadu_si512(b + j * kBitBlockRows), _mm512_set1_epi64(int64_t(q[j])));
      acc = _mm512_add_epi64(acc, _mm512_popcnt_epi64(x));
    }
    _mm512_mask_cvtepi64_storeu_epi32(out + i, 0xFF, acc);
  }
  HammingRowsPopcnt(q, codes, words, first + i, n - i, out + i);
}

#endif  // REKALL_X86

BitLevel Detect() {
#ifdef REKALL_X86
  const CpuFeatures& c = Cpu();  // REKALL_SIMD_LEVEL's cap included
  if (c.avx512_vpopcntdq) return BitLevel::kAvx512Popcnt;
  if (c.popcnt) return BitLevel::kPopcnt;
#endif
  return BitLevel::kScalar;
}

}  // namespace

BitLevel DetectedBitLevel() {
  static const BitLevel level = Detect();
  return level;
}

const char* BitLevelName(BitLevel l) {
  switch (l) {
    case BitLevel::kScalar: return "scalar";
    case BitLevel::kPopcnt: return "popcnt";
    case BitLevel::kAvx512Popcnt: return "avx512-vpopcntdq";
  }
  return "?";
}

const BitKernels& BitKernelsFor(BitLevel l) {
  static const BitKernels scalar{HammingRowsScalar};
#ifdef REKALL_X86
  static const BitKernels popcnt{HammingRowsPopcnt};
  static const BitKernels avx512{HammingRowsAvx512};
  switch (l) {
    case BitLevel::kScalar: return scalar;
    case BitLevel::kPopcnt: return popcnt;
    case BitLevel::kAvx512Popcnt: return avx512;
  }
#else
  (void)l;
#endif
  return scalar;
}

const BitKernels& BestBits() {
  static const BitKernels& k = BitKernelsFor(DetectedBitLevel());
  return k;
}

}  // namespace rekall::simd
