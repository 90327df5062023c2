#include "util/cpu.h"

#include <string>

#include "util/env.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#define REKALL_CPU_X86 1
#endif

namespace rekall {
namespace {

enum class Cap { kScalar, kSse2, kAvx2, kAvx512, kNone };

Cap ParseCap(const std::string& e) {
  if (e == "scalar") return Cap::kScalar;
  if (e == "sse2") return Cap::kSse2;
  if (e == "avx2") return Cap::kAvx2;
  if (e == "avx512") return Cap::kAvx512;
  return Cap::kNone;
}

CpuFeatures Detect() {
  CpuFeatures f;
#ifdef REKALL_CPU_X86
  __builtin_cpu_init();
  f.sse2 = true;
  f.popcnt = __builtin_cpu_supports("popcnt");
  f.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
  f.avx512_vnni = f.avx512 && __builtin_cpu_supports("avx512vnni");
  f.avx512_vpopcntdq = f.avx512 && __builtin_cpu_supports("avx512vpopcntdq");
  unsigned a = 0, b = 0, c = 0, d = 0;
  // CPUID.(EAX=7, ECX=1):EAX bit 5 is AVX512_BF16.
  f.avx512_bf16 = f.avx512 && __get_cpuid_count(7, 1, &a, &b, &c, &d) && (a & (1u << 5));
  // CPUID.(EAX=7, ECX=0):EDX bit 24 is AMX-TILE, bit 22 AMX-BF16.
  f.amx_bf16 = f.avx512 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && (d & (1u << 24)) && (d & (1u << 22));
#endif
  return f;
}

CpuFeatures Capped(CpuFeatures f, Cap cap) {
  if (cap == Cap::kNone) return f;
  if (cap < Cap::kAvx512) f.avx512 = false;
  if (cap <= Cap::kAvx512) f.avx512_vnni = f.avx512_vpopcntdq = f.avx512_bf16 = f.amx_bf16 = false;
  if (cap < Cap::kAvx2) f.avx2 = false;
  if (cap < Cap::kSse2) f.sse2 = f.popcnt = false;
  return f;
}

}  // namespace

const CpuFeatures& Cpu() {
  static const CpuFeatures features = CappedFeatures(Detect(), Env::Default()->GetEnv("REKALL_SIMD_LEVEL"));
  return features;
}

CpuFeatures CappedFeatures(CpuFeatures f, const std::string& level) { return Capped(f, ParseCap(level)); }

Status CheckSimdLevel(const std::string& level) {
  if (level.empty() || ParseCap(level) != Cap::kNone) return Status::OK();
  return Status::InvalidArgument("REKALL_SIMD_LEVEL=" + level + ": expected scalar, sse2, avx2 or avx512 (or unset)");
}

}  // namespace rekall
