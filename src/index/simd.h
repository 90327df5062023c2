// Dot-product kernels for the brute-force index, picked at run time from the
// CPU's features so that one binary uses AVX-512 where present and still runs
// on CPUs that only have SSE2 (the x86-64 baseline).
#pragma once

#include <cstddef>
#include <cstdint>

namespace rekall::simd {

enum class Level { kScalar, kSse2, kAvx2, kAvx512, kAvx512Vnni };

// The best level this CPU supports (computed once).
Level DetectedLevel();
const char* LevelName(Level l);

// Rows are `stride` elements apart; stride and the query are padded with
// zeros to kFloatLanes (floats) / kInt8Lanes (int8) so kernels have no tails.
inline constexpr size_t kFloatLanes = 16;
inline constexpr size_t kInt8Lanes = 64;

struct Kernels {
  // out[i] = dot(q, mat + i*stride) for i in [0, n).
  void (*dot_rows)(const float* q, const float* mat, size_t stride, size_t n, float* out);
  // out[i] = sum_j q[j] * mat[i*stride + j]: uint8 rows (quantised values
  // offset by 128, which shifts every score of a query by the same amount)
  // against an int8 query in [-127, 127]; AVX512-VNNI does 64 bytes a step.
  void (*dot_rows_u8)(const int8_t* q, const uint8_t* mat, size_t stride, size_t n, int32_t* out);
  // Sums the bytes of n rows (a plain read of the matrix): the memory-bandwidth
  // bound of a scan, for benchmarks.
  uint64_t (*read_rows)(const float* mat, size_t stride, size_t n);
};

using DotRowsFn = void (*)(const float* q, const float* mat, size_t stride, size_t n, float* out);

// The float kernel that scans `mat` (n rows of `stride` floats) fastest on
// this machine, timed on up to 16 MB of it: the widest level is not the
// fastest everywhere (512-bit vectors run as two 256-bit halves on AMD Zen 4,
// where the issue measured the AVX-512 scan at 2.5x a plain read while
// Intel runs it at 1.0x). Candidates are the levels up to DetectedLevel();
// each is timed three times, interleaved, and the best time wins. Costs
// about 100 MB of reads: meant for matrices of tens of MB and more.
struct DotRowsChoice {
  DotRowsFn fn;
  Level level;
};
DotRowsChoice FastestDotRows(const float* mat, size_t stride, size_t n);

// Kernels for `l`, which must not exceed DetectedLevel().
const Kernels& KernelsFor(Level l);
// Kernels for DetectedLevel().
const Kernels& Best();

}  // namespace rekall::simd
