// Google Benchmark view of the brute-force index and its kernels, small
// enough for CI (--benchmark_filter / default sizes 1K and 10K). The full
// latency table with vec0 and numpy comes from index_bench (run.sh).
#include <benchmark/benchmark.h>

#include <cmath>
#include <random>
#include <vector>

#include "index/brute_force_index.h"
#include "index/simd.h"

namespace {

constexpr int kDim = 384;

std::vector<float> Units(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> nd;
  std::vector<float> m(n * kDim);
  for (size_t i = 0; i < n; ++i) {
    double ss = 0;
    for (int j = 0; j < kDim; ++j) {
      m[i * kDim + j] = nd(rng);
      ss += double(m[i * kDim + j]) * m[i * kDim + j];
    }
    for (int j = 0; j < kDim; ++j) m[i * kDim + j] = float(m[i * kDim + j] / std::sqrt(ss));
  }
  return m;
}

void BM_Search(benchmark::State& st, rekall::Quantization qz) {
  const size_t n = size_t(st.range(0));
  rekall::IndexOptions o;
  o.quantization = qz;
  auto idx = rekall::NewBruteForceIndex(nullptr, o);
  auto data = Units(n, 1);
  for (size_t i = 0; i < n; ++i) {
    std::string id = std::to_string(i);  // ("e" + to_string trips GCC 12's -Wrestrict at -O3)
    (void)idx->Upsert(id, &data[i * kDim], kDim, rekall::EntryMeta{"bug", "", "active", {}});
  }
  auto qs = Units(64, 2);
  std::vector<rekall::Hit> hits;
  size_t q = 0;
  for (auto _ : st) {
    (void)idx->Search(&qs[(q++ % 64) * kDim], kDim, 10, {}, &hits);
    benchmark::DoNotOptimize(hits.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(n) * kDim *
                       (qz == rekall::Quantization::kInt8 ? 1 : 4));
}
BENCHMARK_CAPTURE(BM_Search, float32, rekall::Quantization::kNone)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_Search, int8, rekall::Quantization::kInt8)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void BM_DotRows(benchmark::State& st) {
  const size_t n = size_t(st.range(0));
  auto m = Units(n, 3), q = Units(1, 4);
  std::vector<float> out(n);
  const auto& k = rekall::simd::Best();
  for (auto _ : st) {
    k.dot_rows(q.data(), m.data(), kDim, n, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(int64_t(st.iterations()) * int64_t(n) * kDim * 4);
  st.SetLabel(rekall::simd::LevelName(rekall::simd::DetectedLevel()));
}
BENCHMARK(BM_DotRows)->Arg(1000)->Arg(10000);

}  // namespace

BENCHMARK_MAIN();
