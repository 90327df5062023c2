// Hamming-distance kernels for the brute index's 1-bit pre-scan, picked at
// run time: AVX-512 VPOPCNTDQ (8 rows a step) where present, the scalar
// popcnt instruction elsewhere (AVX2 and older x86-64, AMD Zen), plain C++
// without it. Kept apart from simd.cc: a different kind of kernel (bits,
// not dot products) with its own CPU feature.
//
// Why 1 bit: a top-10 over 1M 384-d vectors reads the whole pre-scan
// matrix per query. The int8 matrix is 384 MB, the codes 48 MB: at 1M, with
// memory reading ~10 GB/s under load, int8 took 45 ms p50 and the 1-bit scan
// plus rescoring of 1000 rows 7.7 ms, 3.0x a plain read of the 48 MB
// (bench/index/RESULTS.md, "Real vectors"). At 100K the popcnt fallback
// (REKALL_SIMD_LEVEL=avx2) was within the load's noise of VPOPCNTDQ (2.1 vs
// 1.8 ms p50, alternating runs): there the rescoring dominates.
#pragma once

#include <cstddef>
#include <cstdint>

namespace rekall::simd {

// Codes are stored in blocks of kBitBlockRows rows: word j of the rows of a
// block is contiguous, so one 512-bit load holds word j of 8 rows and the
// AVX-512 kernel needs no horizontal sums. A row of `words` 64-bit words
// (dim / 64 rounded up) takes words * 8 bytes, 48 for 384-d.
inline constexpr size_t kBitBlockRows = 8;

// Index of word j of `row` in a block-laid code array.
inline size_t BitWordIndex(size_t row, size_t j, size_t words) {
  return (row / kBitBlockRows) * words * kBitBlockRows + j * kBitBlockRows + row % kBitBlockRows;
}

enum class BitLevel { kScalar, kPopcnt, kAvx512Popcnt };

struct BitKernels {
  // out[i] = popcount(q XOR code(first + i)) for i in [0, n): q is `words`
  // plain words, codes are block-laid (BitWordIndex); first need not start
  // a block.
  void (*hamming_rows)(const uint64_t* q, const uint64_t* codes, size_t words, size_t first, size_t n, int32_t* out);
};

// The best level this CPU supports, capped like the dot-product kernels by
// REKALL_SIMD_LEVEL (util/cpu.h: scalar -> kScalar, sse2 to avx512 -> at
// most kPopcnt, since VPOPCNTDQ is an extension).
BitLevel DetectedBitLevel();
const char* BitLevelName(BitLevel l);
// Kernels for `l`, which must not exceed DetectedBitLevel().
const BitKernels& BitKernelsFor(BitLevel l);
const BitKernels& BestBits();

}  // namespace rekall::simd
