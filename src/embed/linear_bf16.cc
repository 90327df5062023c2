#include "embed/linear_bf16.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <thread>
#include <vector>
// GCC 12's AVX-512 headers warn about their own undefined pass-through
// vectors inside target() functions (see linear.cc).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include "util/cpu.h"

namespace rekall::embed {
namespace {

constexpr int kCols = 16;                    // output columns per block
constexpr int kDepth = 32;                   // inputs per block
constexpr int kBlock = kCols * kDepth;       // bf16 values per block (1 KB)

// From this many rows a product goes to AMX. A tile holds 16 rows, but on a
// Sapphire Rapids core AMX already beats every vector kernel at 2 rows
// (2x at 2 rows, 3-5x at 10: the unit is that much faster than the padding
// it computes); at 1 row the vector kernels win (never a real input: a text
// has [CLS] and [SEP]).
constexpr int kAmxMinRows = 2;
// Rows of x per pass over the weights in the AMX kernel (see AmxBlocks).
constexpr int kAmxChunkRows = 64;
// A product is split across threads only from this many rows: below, the
// thread start costs what it saves.
constexpr int kSplitMinRows = 64;

// Without branches, so that GCC vectorises the loops that call it.
inline uint16_t RoundBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const uint32_t rounded = u + 0x7FFFu + ((u >> 16) & 1u);  // to nearest, ties to even
  const uint32_t nan = u | 0x00400000u;                     // a NaN stays a (quiet) NaN
  return static_cast<uint16_t>((((u & 0x7FFFFFFFu) > 0x7F800000u) ? nan : rounded) >> 16);
}

void RoundRows(const float* x, size_t count, uint16_t* out) {
  for (size_t i = 0; i < count; ++i) out[i] = RoundBf16(x[i]);
}

// One product, shared by the kernels and the threads that split it.
struct Product {
  const uint16_t* xb = nullptr;  // x in bf16, rows padded with zeros to a multiple of 32 (AMX, AVX512-BF16)
  const float* xf = nullptr;     // x rounded to bf16, held as float32 (the widening kernels)
  const Bf16Matrix* w = nullptr;
  const float* bias = nullptr;
  float* y = nullptr;
  int m = 0, n = 0, k = 0;
  const uint16_t* Block(int nb, int kb) const {
    return w->data() + (static_cast<size_t>(nb) * (k / kDepth) + kb) * kBlock;
  }
  // Writes 16 sums of row i starting at column block nb, adding the bias.
  void Store(int i, int nb, const float* sums) const {
    float* out = y + static_cast<size_t>(i) * n + nb * kCols;
    const float* b = bias ? bias + nb * kCols : nullptr;
    for (int c = 0; c < kCols; ++c) out[c] = sums[c] + (b ? b[c] : 0.0f);
  }
};

// ---- AMX ----------------------------------------------------------------

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Adds the bias to a 16 x 16 tile of sums stored in buf and writes its rows
// below m into y.
__attribute__((target("avx512f"))) inline void CopyTile(const Product& p, int row0, int nb, const float* buf) {
  float* out = p.y + static_cast<size_t>(row0) * p.n + nb * kCols;
  const __m512 b = p.bias ? _mm512_loadu_ps(p.bias + nb * kCols) : _mm512_setzero_ps();
  for (int r = 0; r < 16 && row0 + r < p.m; ++r)
    _mm512_storeu_ps(out + static_cast<size_t>(r) * p.n, _mm512_add_ps(_mm512_load_ps(buf + r * 16), b));
}

// Tile T's sums into y: straight from the tile when there is no bias and all
// 16 rows are real, else through buf. (A macro: a tile register must be
// named by a literal.)
#define REKALL_STORE_TILE(T, row0, nb)                                                          \
  do {                                                                                          \
    if (!p.bias && (row0) + 16 <= p.m) {                                                        \
      _tile_stored(T, p.y + static_cast<size_t>(row0) * p.n + (nb) * kCols, p.n * sizeof(float)); \
    } else {                                                                                    \
      _tile_stored(T, buf, 64);                                                                 \
      CopyTile(p, row0, nb, buf);                                                               \
    }                                                                                           \
  } while (0)

// RB 16-row slices of x (tiles 4, 5) times two weight blocks (tiles 6, 7)
// into RB x 2 tiles of sums (0-3): a 32 x 32 output block per pass over k,
// or 16 x 32 for a product of few rows (a query), which would otherwise
// pay for 32 rows.
template <int RB>
__attribute__((target("amx-tile,amx-bf16,avx512f"))) void AmxBlocks(const Product& p, int nb_begin, int nb_end) {
  alignas(64) float buf[16 * 16];
  const size_t xstride = static_cast<size_t>(p.k) * sizeof(uint16_t);
  // Rows in chunks whose slice of x stays in L1/L2 while every weight block
  // passes: a whole 512-row batch of x (up to 1.5 MB) would be read again
  // from L3 for each pair of column blocks.
  for (int mc = 0; mc < p.m; mc += kAmxChunkRows)
  for (int nb = nb_begin; nb < nb_end; nb += 2) {
    for (int m0 = mc; m0 < std::min(p.m, mc + kAmxChunkRows); m0 += 16 * RB) {
      _tile_zero(0);
      _tile_zero(1);
      if (RB == 2) {
        _tile_zero(2);
        _tile_zero(3);
      }
      const uint16_t* x0 = p.xb + static_cast<size_t>(m0) * p.k;
      const uint16_t* x1 = x0 + static_cast<size_t>(16) * p.k;
      for (int kb = 0; kb < p.k / kDepth; ++kb) {
        _tile_loadd(4, x0 + kb * kDepth, xstride);
        _tile_loadd(6, p.Block(nb, kb), 64);
        _tile_loadd(7, p.Block(nb + 1, kb), 64);
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        if (RB == 2) {
          _tile_loadd(5, x1 + kb * kDepth, xstride);
          _tile_dpbf16ps(2, 5, 6);
          _tile_dpbf16ps(3, 5, 7);
        }
      }
      REKALL_STORE_TILE(0, m0, nb);
      REKALL_STORE_TILE(1, m0, nb + 1);
      if (RB == 2 && m0 + 16 < p.m) {
        REKALL_STORE_TILE(2, m0 + 16, nb);
        REKALL_STORE_TILE(3, m0 + 16, nb + 1);
      }
    }
  }
}

__attribute__((target("amx-tile,amx-bf16,avx512f"))) void AmxKernel(const Product& p, int nb_begin, int nb_end) {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.rows[t] = 16;
    cfg.colsb[t] = 64;
  }
  // ldtilecfg's asm names only the first 8 bytes of its operand: make the
  // compiler write all 64 first.
  __asm__ volatile("" : : "r"(&cfg) : "memory");
  _tile_loadconfig(&cfg);
  if (p.m <= 16) {
    AmxBlocks<1>(p, nb_begin, nb_end);
  } else {
    AmxBlocks<2>(p, nb_begin, nb_end);
  }
  _tile_release();
}

// Linux hands out the AMX tile state only on request (arch_prctl
// ARCH_REQ_XCOMP_PERM for XFEATURE_XTILEDATA), once per process.
bool AmxUsable() {
#if defined(__x86_64__) && defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}

// ---- AVX512-BF16 ---------------------------------------------------------

inline int32_t Pair(const uint16_t* p) {
  int32_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// MB rows of x times NB column blocks: MB*NB accumulators of 16 sums, one
// vdpbf16ps per input pair, weight row and x row.
template <int MB, int NB>
__attribute__((target("avx512f,avx512bf16"))) void DpBlock(const Product& p, int m0, int nb0) {
  __m512 acc[MB][NB];
  for (auto& r : acc)
    for (auto& a : r) a = _mm512_setzero_ps();
  for (int kb = 0; kb < p.k / kDepth; ++kb) {
    const uint16_t* wb[NB];
    for (int j = 0; j < NB; ++j) wb[j] = p.Block(nb0 + j, kb);
    for (int r = 0; r < kDepth / 2; ++r) {
      __m512i wv[NB];
      for (int j = 0; j < NB; ++j) wv[j] = _mm512_load_si512(wb[j] + r * 32);
      for (int i = 0; i < MB; ++i) {
        const __m512i xv = _mm512_set1_epi32(Pair(p.xb + static_cast<size_t>(m0 + i) * p.k + kb * kDepth + 2 * r));
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)xv, (__m512bh)wv[j]);
      }
    }
  }
  alignas(64) float sums[16];
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NB; ++j) {
      _mm512_store_ps(sums, acc[i][j]);
      p.Store(m0 + i, nb0 + j, sums);
    }
}

// Runs Block<MB, NB> over rows in groups of 6 (6 x 4 accumulators + 4
// weight rows + 1 input fit AVX-512's 32 registers), then the rest.
template <template <int, int> class B, int NB>
void RowGroups(const Product& p, int nb0) {
  int m0 = 0;
  for (; m0 + 6 <= p.m; m0 += 6) B<6, NB>::Run(p, m0, nb0);
  switch (p.m - m0) {
    case 5: B<5, NB>::Run(p, m0, nb0); break;
    case 4: B<4, NB>::Run(p, m0, nb0); break;
    case 3: B<3, NB>::Run(p, m0, nb0); break;
    case 2: B<2, NB>::Run(p, m0, nb0); break;
    case 1: B<1, NB>::Run(p, m0, nb0); break;
    default: break;
  }
}

// Column blocks in groups of 4, then a pair (the matrix has an even count).
template <template <int, int> class B>
void ColumnGroups(const Product& p, int nb_begin, int nb_end) {
  int nb = nb_begin;
  for (; nb + 4 <= nb_end; nb += 4) RowGroups<B, 4>(p, nb);
  for (; nb < nb_end; nb += 2) RowGroups<B, 2>(p, nb);
}

template <int MB, int NB>
struct Dp {
  static void Run(const Product& p, int m0, int nb0) { DpBlock<MB, NB>(p, m0, nb0); }
};

// ---- AVX-512F and AVX2: widen bf16 to float32 ----------------------------

// The even input of each pair is the low half of a 32-bit lane: shifting it
// up makes the float32; masking the low half off makes the odd one's.
template <int MB, int NB>
__attribute__((target("avx512f"))) void WideBlock512(const Product& p, int m0, int nb0) {
  __m512 acc[MB][NB];
  for (auto& r : acc)
    for (auto& a : r) a = _mm512_setzero_ps();
  const __m512i high = _mm512_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int kb = 0; kb < p.k / kDepth; ++kb) {
    for (int r = 0; r < kDepth / 2; ++r) {
      __m512 even[NB], odd[NB];
      for (int j = 0; j < NB; ++j) {
        const __m512i v = _mm512_load_si512(p.Block(nb0 + j, kb) + r * 32);
        even[j] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
        odd[j] = _mm512_castsi512_ps(_mm512_and_si512(v, high));
      }
      for (int i = 0; i < MB; ++i) {
        const float* x = p.xf + static_cast<size_t>(m0 + i) * p.k + kb * kDepth + 2 * r;
        const __m512 x0 = _mm512_set1_ps(x[0]), x1 = _mm512_set1_ps(x[1]);
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_fmadd_ps(x1, odd[j], _mm512_fmadd_ps(x0, even[j], acc[i][j]));
      }
    }
  }
  alignas(64) float sums[16];
  for (int i = 0; i < MB; ++i)
    for (int j = 0; j < NB; ++j) {
      _mm512_store_ps(sums, acc[i][j]);
      p.Store(m0 + i, nb0 + j, sums);
    }
}

template <int MB, int NB>
struct Wide512 {
  // 6 x 2 accumulators + 4 widened weights + 2 inputs: within 32 registers.
  static void Run(const Product& p, int m0, int nb0) {
    if constexpr (NB == 4) {
      WideBlock512<MB, 2>(p, m0, nb0);
      WideBlock512<MB, 2>(p, m0, nb0 + 2);
    } else {
      WideBlock512<MB, NB>(p, m0, nb0);
    }
  }
};

// AVX2: one column block (two 8-wide halves) and up to 3 rows at a time:
// 6 accumulators + 4 widened weights + 2 inputs fit the 16 registers.
template <int MB>
__attribute__((target("avx2,fma"))) void WideBlock256(const Product& p, int m0, int nb) {
  __m256 acc[MB][2];
  for (auto& r : acc)
    for (auto& a : r) a = _mm256_setzero_ps();
  const __m256i high = _mm256_set1_epi32(static_cast<int>(0xFFFF0000u));
  for (int kb = 0; kb < p.k / kDepth; ++kb) {
    const uint16_t* b = p.Block(nb, kb);
    for (int r = 0; r < kDepth / 2; ++r) {
      __m256 even[2], odd[2];
      for (int h = 0; h < 2; ++h) {
        const __m256i v = _mm256_load_si256(reinterpret_cast<const __m256i*>(b + r * 32 + h * 16));
        even[h] = _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
        odd[h] = _mm256_castsi256_ps(_mm256_and_si256(v, high));
      }
      for (int i = 0; i < MB; ++i) {
        const float* x = p.xf + static_cast<size_t>(m0 + i) * p.k + kb * kDepth + 2 * r;
        const __m256 x0 = _mm256_set1_ps(x[0]), x1 = _mm256_set1_ps(x[1]);
        for (int h = 0; h < 2; ++h) acc[i][h] = _mm256_fmadd_ps(x1, odd[h], _mm256_fmadd_ps(x0, even[h], acc[i][h]));
      }
    }
  }
  alignas(32) float sums[16];
  for (int i = 0; i < MB; ++i) {
    _mm256_store_ps(sums, acc[i][0]);
    _mm256_store_ps(sums + 8, acc[i][1]);
    p.Store(m0 + i, nb, sums);
  }
}

void Avx2Kernel(const Product& p, int nb_begin, int nb_end) {
  for (int nb = nb_begin; nb < nb_end; ++nb) {
    int m0 = 0;
    for (; m0 + 3 <= p.m; m0 += 3) WideBlock256<3>(p, m0, nb);
    if (p.m - m0 == 2) WideBlock256<2>(p, m0, nb);
    if (p.m - m0 == 1) WideBlock256<1>(p, m0, nb);
  }
}

void ScalarKernel(const Product& p, int nb_begin, int nb_end) {
  float sums[kCols];
  for (int nb = nb_begin; nb < nb_end; ++nb)
    for (int i = 0; i < p.m; ++i) {
      std::fill(sums, sums + kCols, 0.0f);
      const float* x = p.xf + static_cast<size_t>(i) * p.k;
      for (int kb = 0; kb < p.k / kDepth; ++kb) {
        const uint16_t* b = p.Block(nb, kb);
        for (int r = 0; r < kDepth / 2; ++r)
          for (int c = 0; c < kCols; ++c)
            sums[c] += x[kb * kDepth + 2 * r] * FromBf16(b[r * 32 + 2 * c]) +
                       x[kb * kDepth + 2 * r + 1] * FromBf16(b[r * 32 + 2 * c + 1]);
      }
      p.Store(i, nb, sums);
    }
}

// ---- dispatch -------------------------------------------------------------

// util/cpu.h's features, with AMX only where the OS granted its state.
struct Units {
  bool avx2 = false, avx512 = false, avx512bf16 = false, amx = false;
};

Units DetectUnits() {
  const CpuFeatures& f = Cpu();
  Units c;
  c.avx2 = f.avx2;
  c.avx512 = f.avx512;
  c.avx512bf16 = f.avx512_bf16;
  c.amx = f.amx_bf16 && AmxUsable();
  return c;
}

const Units& TheUnits() {
  static const Units units = DetectUnits();
  return units;
}

double ThreadCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Where AMX is absent, few-row products need a vector kernel: vdpbf16ps
// halves the instructions, but it is not faster everywhere (on a Sapphire
// Rapids core the widening AVX-512F kernel ran 110-128 GFLOP/s against
// 80-100 for vdpbf16ps at 10-100 rows). So the two are timed once, on a
// query-sized product (10 x 384 x 384, ~1 ms), and the faster is kept.
Bf16Kernel FasterVectorKernel() {
  static const Bf16Kernel best = [] {
    const int m = 10, n = 384, k = 384;
    std::vector<float> x(static_cast<size_t>(m) * k), w(static_cast<size_t>(n) * k), y(static_cast<size_t>(m) * n);
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 97) * 0.01f - 0.5f;
    for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 89) * 0.01f - 0.4f;
    Bf16Matrix pw;
    Bf16Matrix::Pack(w.data(), n, k, &pw);
    auto fastest = [&](Bf16Kernel kern) {
      double t = 1e9;
      for (int r = 0; r < 7; ++r) {
        const double a = ThreadCpuSeconds();
        LinearBf16(x.data(), pw, nullptr, y.data(), m, kern);
        t = std::min(t, ThreadCpuSeconds() - a);
      }
      return t;
    };
    return fastest(Bf16Kernel::kAvx512Bf16) <= fastest(Bf16Kernel::kAvx512) ? Bf16Kernel::kAvx512Bf16
                                                                             : Bf16Kernel::kAvx512;
  }();
  return best;
}

bool UsesBf16Input(Bf16Kernel k) { return k == Bf16Kernel::kAmx || k == Bf16Kernel::kAvx512Bf16; }

void RunKernel(Bf16Kernel k, const Product& p, int nb_begin, int nb_end) {
  switch (k) {
    case Bf16Kernel::kAmx: AmxKernel(p, nb_begin, nb_end); return;
    case Bf16Kernel::kAvx512Bf16: ColumnGroups<Dp>(p, nb_begin, nb_end); return;
    case Bf16Kernel::kAvx512: ColumnGroups<Wide512>(p, nb_begin, nb_end); return;
    case Bf16Kernel::kAvx2: Avx2Kernel(p, nb_begin, nb_end); return;
    case Bf16Kernel::kScalar:
    case Bf16Kernel::kAuto: ScalarKernel(p, nb_begin, nb_end); return;
  }
}

// Splits the column blocks, in pairs, into `threads` contiguous shares.
void RunSplit(Bf16Kernel k, const Product& p, int threads) {
  const int pairs = p.n / (2 * kCols);
  threads = std::clamp(threads, 1, pairs);
  std::vector<std::thread> pool;
  auto share = [&](int t) { return 2 * (pairs * t / threads); };
  for (int t = 1; t < threads; ++t) pool.emplace_back([&, t] { RunKernel(k, p, share(t), share(t + 1)); });
  RunKernel(k, p, share(0), share(1));
  for (auto& t : pool) t.join();
}

}  // namespace

uint16_t ToBf16(float f) { return RoundBf16(f); }

float FromBf16(uint16_t b) {
  const uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

const char* Bf16KernelName(Bf16Kernel k) {
  switch (k) {
    case Bf16Kernel::kAuto: return "auto";
    case Bf16Kernel::kAmx: return "amx";
    case Bf16Kernel::kAvx512Bf16: return "avx512bf16";
    case Bf16Kernel::kAvx512: return "avx512";
    case Bf16Kernel::kAvx2: return "avx2";
    case Bf16Kernel::kScalar: return "scalar";
  }
  return "?";
}

bool Bf16Matrix::Pack(const float* w, int n, int k, Bf16Matrix* out) {
  if (n <= 0 || k <= 0 || n % (2 * kCols) != 0 || k % kDepth != 0) return false;
  const size_t count = static_cast<size_t>(n) * k;
  out->data_.reset(static_cast<uint16_t*>(std::aligned_alloc(64, count * sizeof(uint16_t))));
  out->n_ = n;
  out->k_ = k;
  // Rounded row by row first (a loop GCC vectorises: the load of a bf16
  // model is mostly this), then moved as pairs into the blocks: block
  // (nb, kb), row r, column c holds w[nb*16 + c][kb*32 + 2r, +1].
  std::vector<uint16_t> rounded(count);
  RoundRows(w, count, rounded.data());
  uint32_t* dst = reinterpret_cast<uint32_t*>(out->data_.get());
  for (int nb = 0; nb < n / kCols; ++nb)
    for (int kb = 0; kb < k / kDepth; ++kb)
      for (int r = 0; r < kDepth / 2; ++r)
        for (int c = 0; c < kCols; ++c)
          std::memcpy(dst++, &rounded[static_cast<size_t>(nb * kCols + c) * k + kb * kDepth + 2 * r], 4);
  return true;
}

uint16_t Bf16Matrix::At(int j, int i) const {
  const int nb = j / kCols, c = j % kCols, kb = i / kDepth, r = (i % kDepth) / 2, e = i % 2;
  return data_[(static_cast<size_t>(nb) * (k_ / kDepth) + kb) * kBlock + r * 32 + c * 2 + e];
}

bool Bf16KernelAvailable(Bf16Kernel kernel) {
  const Units& c = TheUnits();
  switch (kernel) {
    case Bf16Kernel::kAmx: return c.amx;
    case Bf16Kernel::kAvx512Bf16: return c.avx512bf16;
    case Bf16Kernel::kAvx512: return c.avx512;
    case Bf16Kernel::kAvx2: return c.avx2;
    case Bf16Kernel::kAuto:
    case Bf16Kernel::kScalar: return true;
  }
  return false;
}

Bf16Kernel Bf16KernelFor(int m) {
  const Units& c = TheUnits();
  if (c.amx && m >= kAmxMinRows) return Bf16Kernel::kAmx;
  if (c.avx512bf16) return FasterVectorKernel();
  if (c.avx512) return Bf16Kernel::kAvx512;
  if (c.avx2) return Bf16Kernel::kAvx2;
  return Bf16Kernel::kScalar;
}

bool LinearBf16(const float* x, const Bf16Matrix& w, const float* bias, float* y, int m, Bf16Kernel kernel,
                int threads) {
  if (kernel == Bf16Kernel::kAuto) kernel = Bf16KernelFor(m);
  if (!Bf16KernelAvailable(kernel)) return false;
  if (m <= 0) return true;
  const int k = w.k();
  const size_t count = static_cast<size_t>(m) * k;
  // Per-thread scratch: the rounded copy of x lives as long as the thread.
  thread_local std::vector<uint16_t> xb;
  thread_local std::vector<float> xf;
  Product p;
  if (UsesBf16Input(kernel)) {
    xb.resize(static_cast<size_t>((m + 31) / 32 * 32) * k);
    RoundRows(x, count, xb.data());
    std::fill(xb.begin() + static_cast<std::ptrdiff_t>(count), xb.end(), 0);  // the padding rows
    p.xb = xb.data();
  } else {
    xf.resize(count);
    for (size_t i = 0; i < count; ++i) xf[i] = FromBf16(RoundBf16(x[i]));
    p.xf = xf.data();
  }
  p.w = &w;
  p.bias = bias;
  p.y = y;
  p.m = m;
  p.n = w.n();
  p.k = k;
  if (threads > 1 && m >= kSplitMinRows) {
    RunSplit(kernel, p, threads);
  } else {
    RunKernel(kernel, p, 0, p.n / kCols);
  }
  return true;
}

}  // namespace rekall::embed
