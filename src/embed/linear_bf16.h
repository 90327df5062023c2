// The dense layers in bfloat16 ([engine] precision = "bf16"): y = x . w^T
// (+ bias) with w rounded to bf16 once, at load, and x rounded to bf16 for
// each product; every sum is float32. Half the bytes of the fp32 weights are
// read per product, and CPUs with bf16 arithmetic run it at several times the
// fp32 rate.
//
// Why our own kernels and not a library: OpenBLAS 0.3.21 as Debian builds it
// exports no sbgemm, and oneDNN (libdnnl 2.6) would add a ~20 MB shared
// library to a wheel whose binary is ~10 MB, for a few short loops over one
// weight layout. The kernels, picked at run time per product:
//   - AMX (amx_bf16 tiles: 16x16 float32 sums of 16x32 by 32x16 bf16) from
//     2 rows, a query included: on a Sapphire Rapids core it runs a 10-row
//     product at 3-5x the rate of any vector kernel, 32 rows at 500-900
//     GFLOP/s (fp32: ~100);
//   - without AMX (or when Linux refuses the tile state): AVX512-BF16
//     (vdpbf16ps) or the widening AVX-512F kernel below, whichever runs a
//     query-sized product faster on this CPU, timed once (vdpbf16ps was the
//     slower on Sapphire Rapids);
//   - AVX-512F or AVX2 without bf16 arithmetic: each bf16 widened to float32
//     by a 16-bit shift, then fmadd (still half the bytes read);
//   - plain C++ on anything else.
// Each can be forced (tests run every one this CPU has against a float32
// reference of the same rounded inputs).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace rekall::embed {

// float32 to bf16, rounded to nearest even (NaN stays a NaN); and back,
// exactly.
uint16_t ToBf16(float f);
float FromBf16(uint16_t b);

enum class Bf16Kernel { kAuto, kAmx, kAvx512Bf16, kAvx512, kAvx2, kScalar };
const char* Bf16KernelName(Bf16Kernel k);

// A weight matrix (n x k, PyTorch Linear layout) rounded to bf16 and packed
// in the one layout all kernels read: blocks of 16 output columns by 32
// inputs (1 KB), each block an AMX B tile in VNNI order (row r holds, for
// each of the 16 columns, the pair of inputs 2r and 2r+1), the k/32 blocks of
// a column group one after the other. A broadcast of an input pair times one
// 64-byte row gives 16 outputs at once, so the few-row kernels need no
// horizontal sums either.
class Bf16Matrix {
 public:
  // False (out untouched) unless n % 32 == 0 and k % 32 == 0.
  static bool Pack(const float* w, int n, int k, Bf16Matrix* out);

  int n() const { return n_; }
  int k() const { return k_; }
  const uint16_t* data() const { return data_.get(); }
  size_t bytes() const { return static_cast<size_t>(n_) * k_ * sizeof(uint16_t); }
  // The bf16 weight of output column j, input i (tests).
  uint16_t At(int j, int i) const;

 private:
  struct Free {
    void operator()(uint16_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint16_t[], Free> data_;  // 64-byte aligned
  int n_ = 0, k_ = 0;
};

// Whether `kernel` runs on this CPU (kAuto and kScalar always do). kAmx also
// needs the kernel's permission for the tile state, asked once per process.
bool Bf16KernelAvailable(Bf16Kernel kernel);
// The kernel kAuto uses for a product of m rows.
Bf16Kernel Bf16KernelFor(int m);

// y (m x n, row-major) = x (m x k) . w^T (+ bias, n floats, may be null).
// `threads` > 1 splits the output columns of a large product across that
// many threads (the caller's share of the configured threads). False when
// `kernel` cannot run on this CPU (y untouched).
bool LinearBf16(const float* x, const Bf16Matrix& w, const float* bias, float* y, int m,
                Bf16Kernel kernel = Bf16Kernel::kAuto, int threads = 1);

}  // namespace rekall::embed
