// What the x86 CPU under us offers to our kernels, read once per process,
// and REKALL_SIMD_LEVEL's cap on it.
//
// Why one place: the embedder (embed/kernels, linear, linear_bf16) and the
// vector index (index/simd, simd_bits) each dispatch at run time, and each
// used to ask the CPU itself, with the cap honoured by the index alone. The
// issue asks for figures of the AVX2-only path of the whole query (embedding
// and scan) on a machine that has AVX-512; with one reading, one variable
// moves every kernel to that path:
//
//   REKALL_SIMD_LEVEL=scalar   plain C++ loops: no SIMD, no popcnt
//   REKALL_SIMD_LEVEL=sse2     the baseline and popcnt
//   REKALL_SIMD_LEVEL=avx2     AVX2 + FMA (what Haswell .. Zen 3 offer)
//   REKALL_SIMD_LEVEL=avx512   AVX-512 F/BW/VL/DQ without the extensions
//                              (VNNI, VPOPCNTDQ, BF16, AMX)
//
// Any other value, or none, leaves what the CPU has. OpenBLAS dispatches on
// its own: OPENBLAS_CORETYPE=Haswell moves it to AVX2.
#pragma once

#include <string>

#include "util/status.h"

namespace rekall {

struct CpuFeatures {
  bool sse2 = false;  // the x86-64 baseline, false only under the scalar cap
  bool popcnt = false;
  bool avx2 = false;    // AVX2 and FMA
  bool avx512 = false;  // AVX-512 F, BW, VL and DQ
  bool avx512_vnni = false;
  bool avx512_vpopcntdq = false;
  bool avx512_bf16 = false;
  // AMX-TILE and AMX-BF16 in CPUID; the OS's permission to use the tile
  // state is asked for by the kernel that uses them.
  bool amx_bf16 = false;
};

// The features after REKALL_SIMD_LEVEL's cap; all false off x86-64.
const CpuFeatures& Cpu();

// `f` as REKALL_SIMD_LEVEL=`level` leaves it (Cpu() applies it once; tests
// check the cap with it).
CpuFeatures CappedFeatures(CpuFeatures f, const std::string& level);

// InvalidArgument unless `level` is empty or one of the levels above: Cpu()
// itself cannot fail (a kernel asks for it anywhere), so the tool's entry
// point checks REKALL_SIMD_LEVEL first, and a typo is not taken as "no cap".
Status CheckSimdLevel(const std::string& level);

}  // namespace rekall
