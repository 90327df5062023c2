#include "index/bits_recall_check.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <thread>

#include "index/simd.h"
#include "index/simd_bits.h"

namespace rekall::index_internal {
namespace {

// Rows scored together: 512 rows of 384 floats are 768 KB, which stay in
// the cache while every query of a thread reads them.
constexpr size_t kBlockRows = 512;

struct Neighbour {
  float s;
  uint32_t row;
};

// Higher score first; the lower row on a tie (the index breaks ties by
// entry id, which only matters between equal vectors).
bool Nearer(const Neighbour& a, const Neighbour& b) { return a.s > b.s || (a.s == b.s && a.row < b.row); }

// A query drawn from the rows: row `own` moved off itself, and left out of
// both rankings.
struct Sample {
  std::vector<float> q;  // stride floats, unit length
  std::vector<uint64_t> code;
  uint32_t own;
};

// A standard normal value (Box-Muller on the generator's raw output, whose
// sequence the standard fixes: the same seed gives the same queries on
// every platform).
double Normal(std::mt19937_64& rng) {
  const double u1 = (double(rng() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  const double u2 = double(rng() >> 11) * 0x1.0p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

// Row `own` plus a random direction of length kPerturb, at unit length:
// cosine ~0.8 to the row. A stored row as it is made too easy a query on
// real vectors (estimated recall 1.0 at every candidate count, where
// SciFact's claims had 0.98 at 250), while the perturbed rows followed the
// claims' curve within 0.01 on real vectors and the random queries' within
// 0.015 on random ones (bench/index/RESULTS.md).
constexpr double kPerturb = 0.75;

std::vector<Sample> DrawSamples(const BitsCheckInput& in, int queries, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Sample> out(size_t(std::max(0, queries)));
  std::vector<double> g(size_t(in.dim));
  for (Sample& s : out) {
    s.own = uint32_t(rng() % in.rows);
    const float* row = in.mat + size_t(s.own) * in.stride;
    double gg = 0;
    for (double& x : g) {
      x = Normal(rng);
      gg += x * x;
    }
    const double scale = kPerturb / std::sqrt(gg);
    s.q.assign(in.stride, 0.0f);
    double qq = 0;
    for (int j = 0; j < in.dim; ++j) {
      s.q[j] = float(row[j] + scale * g[j]);
      qq += double(s.q[j]) * s.q[j];
    }
    const float inv = float(1.0 / std::sqrt(qq));
    for (int j = 0; j < in.dim; ++j) s.q[j] *= inv;
    s.code.assign(in.words, 0);
    in.encode(s.q.data(), s.code.data());
  }
  return out;
}

// The exact top k of samples [b, e), one pass over the matrix for all.
void ExactTopK(const BitsCheckInput& in, const std::vector<Sample>& qs, size_t b, size_t e, size_t k,
               std::vector<std::vector<Neighbour>>* top) {
  const simd::Kernels& kern = simd::Best();
  float buf[kBlockRows];
  for (size_t first = 0; first < in.rows; first += kBlockRows) {
    const size_t count = std::min(kBlockRows, in.rows - first);
    for (size_t i = b; i < e; ++i) {
      kern.dot_rows(qs[i].q.data(), in.mat + first * in.stride, in.stride, count, buf);
      std::vector<Neighbour>& h = (*top)[i];
      for (size_t t = 0; t < count; ++t) {
        const Neighbour c{buf[t], uint32_t(first + t)};
        if (c.row == qs[i].own) continue;
        if (h.size() < k) {
          h.push_back(c);
          std::push_heap(h.begin(), h.end(), Nearer);
        } else if (Nearer(c, h.front())) {
          std::pop_heap(h.begin(), h.end(), Nearer);
          h.back() = c;
          std::push_heap(h.begin(), h.end(), Nearer);
        }
      }
    }
  }
}

// Adds to rank[j] the rows of [first, first + count), distances `d`, that
// the pre-scan puts before neighbour j (distance dn[j], row nb[j]).
void CountBefore(const int32_t* d, size_t first, size_t count, const std::vector<int32_t>& dn,
                 const std::vector<Neighbour>& nb, std::vector<uint32_t>* rank) {
  for (size_t j = 0; j < nb.size(); ++j) {
    const int32_t dj = dn[j];
    const size_t rj = nb[j].row;
    uint32_t c = 0;
    for (size_t t = 0; t < count; ++t) c += uint32_t(d[t] < dj) | uint32_t(d[t] == dj && first + t < rj);
    (*rank)[j] += c;
  }
}

// The Hamming ranks of samples [b, e)'s neighbours, one pass over the codes.
void HammingRanks(const BitsCheckInput& in, const std::vector<Sample>& qs, size_t b, size_t e,
                  const std::vector<std::vector<Neighbour>>& top, std::vector<std::vector<uint32_t>>* ranks) {
  const simd::BitKernels& kern = simd::BestBits();
  std::vector<std::vector<int32_t>> dn(qs.size());
  for (size_t i = b; i < e; ++i) {
    for (const Neighbour& n : top[i]) {
      int32_t d;
      kern.hamming_rows(qs[i].code.data(), in.codes, in.words, n.row, 1, &d);
      dn[i].push_back(d);
    }
    (*ranks)[i].assign(top[i].size(), 0);
  }
  int32_t buf[kBlockRows];
  for (size_t first = 0; first < in.rows; first += kBlockRows) {
    const size_t count = std::min(kBlockRows, in.rows - first);
    for (size_t i = b; i < e; ++i) {
      kern.hamming_rows(qs[i].code.data(), in.codes, in.words, first, count, buf);
      CountBefore(buf, first, count, dn[i], top[i], &(*ranks)[i]);
    }
  }
  // The query's own row was counted like any other: take it out again.
  for (size_t i = b; i < e; ++i) {
    int32_t d;
    kern.hamming_rows(qs[i].code.data(), in.codes, in.words, qs[i].own, 1, &d);
    for (size_t j = 0; j < top[i].size(); ++j) {
      if (d < dn[i][j] || (d == dn[i][j] && qs[i].own < top[i][j].row)) --(*ranks)[i][j];
    }
  }
}

}  // namespace

void BitsRanksOfExact(const BitsCheckInput& in, int queries, int k, uint64_t seed, std::vector<uint32_t>* out,
                      size_t* per_query) {
  out->clear();
  *per_query = 0;
  if (in.rows < 2 || queries <= 0 || k <= 0) return;
  const std::vector<Sample> qs = DrawSamples(in, queries, seed);
  const size_t kk = std::min(size_t(k), in.rows - 1);
  *per_query = kk;
  std::vector<std::vector<Neighbour>> top(qs.size());
  std::vector<std::vector<uint32_t>> ranks(qs.size());
  // Each thread takes a share of the queries and reads every row once.
  auto run = [&](size_t b, size_t e) {
    ExactTopK(in, qs, b, e, kk, &top);
    HammingRanks(in, qs, b, e, top, &ranks);
  };
  const size_t parts = std::max<size_t>(1, std::min<size_t>(size_t(std::max(1, in.threads)), qs.size()));
  std::vector<std::thread> ts;
  for (size_t p = 1; p < parts; ++p) ts.emplace_back(run, qs.size() * p / parts, qs.size() * (p + 1) / parts);
  run(0, qs.size() / parts);
  for (std::thread& t : ts) t.join();
  for (const auto& r : ranks) out->insert(out->end(), r.begin(), r.end());
}

RecallEstimate RecallWithin(const std::vector<uint32_t>& ranks, size_t per_query, size_t candidates) {
  RecallEstimate e;
  if (ranks.empty() || per_query == 0) return e;
  const size_t queries = ranks.size() / per_query;
  double sum = 0, sum2 = 0;
  for (size_t q = 0; q < queries; ++q) {
    size_t in = 0;
    for (size_t j = 0; j < per_query; ++j) in += ranks[q * per_query + j] < candidates;
    const double r = double(in) / double(per_query);
    sum += r;
    sum2 += r * r;
  }
  e.mean = sum / double(queries);
  const double var = queries > 1 ? std::max(0.0, (sum2 - sum * e.mean) / double(queries - 1)) : 0.0;
  e.low = e.mean - 2.0 * std::sqrt(var / double(queries));
  return e;
}

}  // namespace rekall::index_internal
