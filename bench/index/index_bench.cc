// KNN latency of the vector index backends on synthetic random unit vectors
// (384-d) or on vectors read from files, next to raw vec0 queries and the
// memory-bandwidth bound of a full scan. Prints one Markdown table row per
// (size, method).
//
//   index_bench [--sizes 1000,10000,100000,1000000] [--queries 100] [--k 10]
//               [--vec-max 100000] [--threads 2] [--ext path/to/vec0.so]
//               [--dir /tmp] [--vectors BASE.f32 --query-vectors Q.f32]
//               [--bits-candidates 1000,2000,4000] [--pre-scans-only 1]
// (--base and --query-file are the same as --vectors and --query-vectors.)
//
// vec0 rows are built only up to --vec-max vectors (building 1M takes
// minutes on two cores); 0 skips vec0 entirely. --vectors / --query-vectors
// are raw float32 rows of 384 values (bench/index/prepare_vectors.py): each
// size takes the first N rows of BASE, the queries the first --queries rows
// of Q. --bits-candidates lists the 1-bit rows measured (one row each).
// --pre-scans-only 1 keeps the exact scan (on --threads, the reference of
// the recall figures), the 1-bit rows and kAuto's, and skips the rest.
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "index/brute_force_index.h"
#include "index/huge_alloc.h"
#include "index/index_source.h"
#include "index/simd.h"
#include "index/simd_bits.h"
#include "index/sqlite_vec_index.h"
#include "index/vector_index.h"

namespace {

using Clock = std::chrono::steady_clock;
using rekall::Hit;
using rekall::IndexOptions;
using rekall::Status;

constexpr int kDim = 384;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct Lat {
  double p50, p95, mean;
};

Lat Percentiles(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  double sum = 0;
  for (double x : v) sum += x;
  auto at = [&](double p) { return v[std::min(v.size() - 1, size_t(p * (v.size() - 1) + 0.5))]; };
  return {at(0.50), at(0.95), sum / v.size()};
}

void Row(size_t n, const std::string& method, const Lat& l, const std::string& note) {
  std::printf("| %zu | %s | %.3f | %.3f | %.3f | %s |\n", n, method.c_str(), l.p50, l.p95, l.mean, note.c_str());
  std::fflush(stdout);
}

void Die(const Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

// Fills `out` with n random unit vectors, in parallel (deterministic per chunk).
// Same allocator as the index's matrix, so the read bound is like for like.
using Matrix = std::vector<float, rekall::index_internal::HugePageAllocator<float>>;

void RandomUnits(size_t n, uint64_t seed, Matrix* out) {
  out->resize(n * kDim);
  const int parts = 2;
  std::vector<std::thread> ts;
  for (int p = 0; p < parts; ++p) {
    ts.emplace_back([&, p] {
      std::mt19937_64 rng(seed * 1000 + p);
      std::normal_distribution<float> nd;
      for (size_t i = n * p / parts; i < n * (p + 1) / parts; ++i) {
        float* v = &(*out)[i * kDim];
        double ss = 0;
        for (int j = 0; j < kDim; ++j) {
          v[j] = nd(rng);
          ss += double(v[j]) * v[j];
        }
        const float inv = float(1 / std::sqrt(ss));
        for (int j = 0; j < kDim; ++j) v[j] *= inv;
      }
    });
  }
  for (auto& t : ts) t.join();
}

// Reads up to max_rows rows of kDim floats from a raw float32 file; false if
// it cannot be read.
bool LoadF32(const std::string& path, size_t max_rows, Matrix* out) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) return false;
  std::fseek(f, 0, SEEK_END);
  const size_t rows = std::min(max_rows, size_t(std::ftell(f)) / (kDim * sizeof(float)));
  std::fseek(f, 0, SEEK_SET);
  out->resize(rows * kDim);
  const bool ok = std::fread(out->data(), sizeof(float) * kDim, rows, f) == rows;
  std::fclose(f);
  return ok;
}

std::vector<size_t> ParseList(const std::string& v) {
  std::vector<size_t> out;
  size_t p = 0;
  while (p < v.size()) {
    size_t e = v.find(',', p);
    if (e == std::string::npos) e = v.size();
    out.push_back(std::stoull(v.substr(p, e - p)));
    p = e + 1;
  }
  return out;
}

std::string Id(size_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "01JBENCH%010zu", i);
  return b;
}

// A plain parallel read of `bytes` of the matrix: the floor any full scan
// pays on this machine.
double ReadBound(const float* mat, size_t n, size_t stride, int threads, int reps = 7) {
  const auto& k = rekall::simd::Best();
  std::vector<double> t;
  volatile uint64_t sink = 0;
  for (int rep = 0; rep < reps; ++rep) {
    auto a = Clock::now();
    std::vector<std::thread> ts;
    std::vector<uint64_t> r(threads);
    for (int p = 1; p < threads; ++p) {
      ts.emplace_back([&, p] { r[p] = k.read_rows(mat + n * p / threads * stride, stride, n * (p + 1) / threads - n * p / threads); });
    }
    r[0] = k.read_rows(mat, stride, n / threads);
    for (auto& th : ts) th.join();
    t.push_back(Ms(Clock::now() - a));
    for (uint64_t x : r) sink = sink ^ x;
  }
  return Percentiles(t).p50;
}

// Times f(i) and, right after each call, a plain read of `rows` float rows
// of `mat` (the bytes the scan must touch): the median ratio is robust to
// the load of a shared machine drifting during the run.
template <class F>
std::pair<Lat, double> TimeVsBound(int queries, const float* mat, size_t rows, int threads, const F& f) {
  f(0);
  std::vector<double> t, ratio;
  for (int i = 0; i < queries; ++i) {
    auto a = Clock::now();
    f(i);
    t.push_back(Ms(Clock::now() - a));
    ratio.push_back(t.back() / ReadBound(mat, rows, kDim, threads, 1));
  }
  return {Percentiles(t), Percentiles(ratio).p50};
}

template <class F>
Lat Time(int queries, const F& f) {
  f(0);  // warm-up: first-touch, caches, lazy int8 build
  std::vector<double> t;
  for (int i = 0; i < queries; ++i) {
    auto a = Clock::now();
    f(i);
    t.push_back(Ms(Clock::now() - a));
  }
  return Percentiles(t);
}

double Recall(const std::vector<std::vector<Hit>>& got, const std::vector<std::vector<Hit>>& want) {
  size_t hit = 0, total = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    for (const Hit& h : want[i]) {
      ++total;
      for (const Hit& g : got[i]) hit += g.entry_id == h.entry_id;
    }
  }
  return total ? double(hit) / total : 1.0;
}

// The 1-bit pre-scan + float rescoring, one row per candidate count; its
// memory is the float matrix plus 48 bytes a row of codes.
void BitsRows(const Matrix& data, size_t n, const Matrix& qs, int queries, int k, int threads,
              const std::vector<size_t>& candidates, const std::vector<std::vector<Hit>>& exact) {
  for (size_t c : candidates) {
    IndexOptions o;
    o.quantization = rekall::Quantization::kBits;
    o.threads = threads;
    o.bits_candidates = c;
    auto idx = rekall::NewBruteForceIndex(nullptr, o);
    for (size_t i = 0; i < n; ++i) Die(idx->Upsert(Id(i), &data[i * kDim], kDim, rekall::EntryMeta{"bug", "", "active", {}}), "upsert");
    std::vector<std::vector<Hit>> got(queries);
    // The codes are 1/32 of the float matrix: n/32 float rows.
    auto [l, ratio] = TimeVsBound(queries, data.data(), std::max<size_t>(1, n / 32), threads, [&](int i) {
      Die(idx->Search(&qs[i * kDim], kDim, k, {}, &got[i]), "search");
    });
    char note[200];
    std::snprintf(note, sizeof note, "recall@%d = %.4f (rescoring %zu candidates); %.2fx a plain read of %.0f MB; %.0f MB held",
                  k, Recall(got, exact), c, ratio, n * 48 / 1e6, n * (kDim * 4 + 48) / 1e6);
    Row(n, "brute 1-bit + rescore (" + std::to_string(threads) + " threads)", l, note);
  }
}

// Quantization::kAuto with its recall self-check (the default index): the
// choice it made, what the check cost, and its recall against the exact
// scan on the benchmark's queries.
void AutoRow(const Matrix& data, size_t n, const Matrix& qs, int queries, int k, int threads,
             const std::vector<std::vector<Hit>>& exact) {
  IndexOptions o;
  o.threads = threads;
  auto idx = rekall::NewBruteForceIndex(nullptr, o);
  for (size_t i = 0; i < n; ++i) Die(idx->Upsert(Id(i), &data[i * kDim], kDim, rekall::EntryMeta{"bug", "", "active", {}}), "upsert");
  std::vector<std::vector<Hit>> got(queries);
  Lat l = Time(queries, [&](int i) { Die(idx->Search(&qs[i * kDim], kDim, k, {}, &got[i]), "search"); });
  rekall::ScanReport r;
  idx->Describe(&r);
  char note[300];
  if (r.checked) {
    std::snprintf(note, sizeof note,
                  "recall@%d = %.4f; chose %s, %zu candidates; check: 1-bit recall@10 ~%.4f at %zu candidates, "
                  "%d queries, %.0f ms",
                  k, Recall(got, exact), rekall::QuantizationName(r.scan), r.candidates, r.bits_recall,
                  r.bits_candidates, r.check_queries, r.check_ms);
  } else {
    std::snprintf(note, sizeof note, "recall@%d = %.4f; %s (below the 1-bit threshold: no check)", k,
                  Recall(got, exact), rekall::QuantizationName(r.scan));
  }
  Row(n, "brute auto, self-checked (" + std::to_string(threads) + " threads)", l, note);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<size_t> sizes = {1000, 10000, 100000, 1000000};
  int queries = 100, k = 10, threads = 2;
  size_t vec_max = 100000;
  std::string ext = REKALL_DEFAULT_SQLITE_VEC, dir = "/tmp", vectors, query_vectors;
  std::vector<size_t> bits_candidates = {2000};
  bool pre_scans_only = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i], v = argv[i + 1];
    if (a == "--sizes") {
      sizes = ParseList(v);
    } else if (a == "--pre-scans-only") {
      pre_scans_only = v == "1";
      if (pre_scans_only) vec_max = 0;
    } else if (a == "--bits-candidates") {
      bits_candidates = ParseList(v);
    } else if (a == "--vectors" || a == "--base") {
      vectors = v;
    } else if (a == "--query-vectors" || a == "--query-file") {
      query_vectors = v;
    } else if (a == "--queries") {
      queries = std::stoi(v);
    } else if (a == "--k") {
      k = std::stoi(v);
    } else if (a == "--vec-max") {
      vec_max = std::stoull(v);
    } else if (a == "--threads") {
      threads = std::stoi(v);
    } else if (a == "--ext") {
      ext = v;
    } else if (a == "--dir") {
      dir = v;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      return 2;
    }
  }
  std::printf("simd level: %s, bit kernels: %s, threads: %d, k: %d, sqlite %s\n",
              rekall::simd::LevelName(rekall::simd::DetectedLevel()),
              rekall::simd::BitLevelName(rekall::simd::DetectedBitLevel()), threads, k, sqlite3_libversion());

  Matrix qs, file_data;
  if (query_vectors.empty()) {
    RandomUnits(size_t(queries), 7, &qs);
  } else if (!LoadF32(query_vectors, size_t(queries), &qs)) {
    std::fprintf(stderr, "cannot read %s\n", query_vectors.c_str());
    return 1;
  }
  queries = int(qs.size() / kDim);
  const size_t max_n = *std::max_element(sizes.begin(), sizes.end());
  if (!vectors.empty() && !LoadF32(vectors, max_n, &file_data)) {
    std::fprintf(stderr, "cannot read %s\n", vectors.c_str());
    return 1;
  }
  std::printf("base: %s (%zu rows read), queries: %s (%d)\n\n", vectors.empty() ? "random unit vectors" : vectors.c_str(),
              file_data.size() / kDim, query_vectors.empty() ? "random unit vectors" : query_vectors.c_str(), queries);
  std::printf("| N | method | p50 ms | p95 ms | mean ms | note |\n|---|---|---|---|---|---|\n");
  for (size_t n : sizes) {
    Matrix data;
    if (vectors.empty()) {
      RandomUnits(n, 1, &data);
    } else {
      n = std::min(n, file_data.size() / kDim);
      data.assign(file_data.begin(), file_data.begin() + n * kDim);
    }

    // ---- memory-bandwidth bound ---------------------------------------
    const size_t bytes = n * kDim * sizeof(float);
    if (!pre_scans_only) {
      // Same layout as the index: 384 floats is already a multiple of 16.
      double t1 = ReadBound(data.data(), n, kDim, 1);
      double tn = ReadBound(data.data(), n, kDim, threads);
      char note[160];
      std::snprintf(note, sizeof note, "%.0f MB read: %.1f GB/s on 1 thread, %.1f GB/s on %d", bytes / 1e6,
                    bytes / t1 / 1e6, bytes / tn / 1e6, threads);
      Row(n, "memory read bound (" + std::to_string(threads) + " threads)", {tn, tn, tn}, note);
      Row(n, "memory read bound (1 thread)", {t1, t1, t1}, "");
    }

    // ---- brute force: float, 1 thread and `threads` ------------------------
    std::vector<std::vector<Hit>> exact(queries);
    for (int th : {1, threads}) {
      if (pre_scans_only && th == 1 && threads != 1) continue;
      IndexOptions o;
      o.quantization = rekall::Quantization::kNone;
      o.threads = th;
      auto idx = rekall::NewBruteForceIndex(nullptr, o);
      for (size_t i = 0; i < n; ++i) Die(idx->Upsert(Id(i), &data[i * kDim], kDim, rekall::EntryMeta{"bug", "", "active", {}}), "upsert");
      auto [l, ratio] = TimeVsBound(queries, data.data(), n, th, [&](int i) {
        Die(idx->Search(&qs[i * kDim], kDim, k, {}, &exact[i]), "search");
      });
      char note[128];
      std::snprintf(note, sizeof note, "%.2fx a plain %d-thread read of the matrix%s", ratio, th,
                    n >= o.parallel_threshold || th == 1 ? "" : " (below the split threshold: scan on 1 thread)");
      Row(n, "brute float32 (" + std::to_string(th) + " thread" + (th > 1 ? "s" : "") + ")", l, note);
      if (th == threads && !pre_scans_only) {
        // Filtered: type covers 1/6 of the base.
        auto fidx = rekall::NewBruteForceIndex(nullptr, o);
        static const char* kTypes[] = {"bug", "pattern", "decision", "pitfall", "config", "reference"};
        for (size_t i = 0; i < n; ++i) {
          Die(fidx->Upsert(Id(i), &data[i * kDim], kDim, rekall::EntryMeta{kTypes[i % 6], "", "active", {}}), "upsert");
        }
        rekall::Filter f;
        f.type = "config";
        std::vector<Hit> h;
        l = Time(queries, [&](int i) { Die(fidx->Search(&qs[i * kDim], kDim, k, f, &h), "search"); });
        Row(n, "brute float32, type filter 1/6", l, "pre-filter then scan of the matching rows");
      }
      if (th == 1 && threads == 1) break;
    }

    // ---- brute force: int8 pre-scan + float rescoring -------------------
    if (!pre_scans_only) {
      IndexOptions o;
      o.quantization = rekall::Quantization::kInt8;
      o.threads = threads;
      auto idx = rekall::NewBruteForceIndex(nullptr, o);
      for (size_t i = 0; i < n; ++i) Die(idx->Upsert(Id(i), &data[i * kDim], kDim, rekall::EntryMeta{"bug", "", "active", {}}), "upsert");
      std::vector<std::vector<Hit>> got(queries);
      // The int8 matrix is a quarter of the float one: n/4 float rows.
      auto [l, ratio] = TimeVsBound(queries, data.data(), std::max<size_t>(1, n / 4), threads, [&](int i) {
        Die(idx->Search(&qs[i * kDim], kDim, k, {}, &got[i]), "search");
      });
      char note[200];
      std::snprintf(note, sizeof note, "recall@%d = %.4f (rescoring %d candidates); %.2fx a plain read of %zu MB; %.0f MB held",
                    k, Recall(got, exact), std::max(k * o.rescore_factor, k + 32), ratio, n * kDim / 1000000,
                    n * kDim * 5 / 1e6);
      Row(n, "brute int8 + rescore (" + std::to_string(threads) + " threads)", l, note);
    }
    BitsRows(data, n, qs, queries, k, threads, bits_candidates, exact);
    AutoRow(data, n, qs, queries, k, threads, exact);

    // ---- sqlite-vec: through the wrapper and raw ---------------------------
    if (n <= vec_max) {
      std::string path = dir + "/rekall_index_bench_" + std::to_string(getpid()) + ".db";
      std::filesystem::remove(path);
      sqlite3* db = nullptr;
      sqlite3_open(path.c_str(), &db);
      sqlite3_exec(db,
                   "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;"
                   "CREATE TABLE entries(id TEXT PRIMARY KEY, type TEXT, project TEXT, status TEXT, updated_at TEXT);"
                   "CREATE TABLE tags(entry_id TEXT, tag TEXT, PRIMARY KEY(entry_id, tag));"
                   "CREATE TABLE embeddings(id TEXT PRIMARY KEY, entry_id TEXT NOT NULL, embedding_type TEXT,"
                   " vector BLOB, dimensions INTEGER, model_name TEXT, created_at TEXT, UNIQUE(entry_id, embedding_type));",
                   nullptr, nullptr, nullptr);
      sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr);
      sqlite3_stmt *e = nullptr, *m = nullptr;
      sqlite3_prepare_v2(db, "INSERT INTO entries VALUES (?1, 'bug', NULL, 'active', '')", -1, &e, nullptr);
      // The index only loads our model's vectors.
      sqlite3_prepare_v2(db,
                         "INSERT INTO embeddings VALUES (?1 || ':s', ?1, 'summary', ?2, 384,"
                         " 'sentence-transformers/all-MiniLM-L6-v2', '')", -1, &m,
                         nullptr);
      for (size_t i = 0; i < n; ++i) {
        std::string id = Id(i);
        sqlite3_bind_text(e, 1, id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_step(e);
        sqlite3_reset(e);
        sqlite3_bind_text(m, 1, id.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_bind_blob(m, 2, &data[i * kDim], kDim * 4, SQLITE_STATIC);
        sqlite3_step(m);
        sqlite3_reset(m);
      }
      sqlite3_finalize(e);
      sqlite3_finalize(m);
      sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
      {
        // What opening a brute index costs, and what it pays again after
        // another process commits a change to the source tables.
        IndexOptions bo;
        bo.backend = rekall::IndexBackend::kBrute;
        std::unique_ptr<rekall::VectorIndex> bidx;
        std::string bnotice;
        auto b = Clock::now();
        Die(rekall::OpenVectorIndex(db, bo, &bidx, &bnotice), "open brute");
        const double ms = Ms(Clock::now() - b);
        Row(n, "brute: load from the embeddings table", {ms, ms, ms},
            "once at open, and again after another process changes the source tables");
      }
      {
        // What a server's search costs while its brute index loads in the
        // background (IndexOptions::load_in_background): an exact scan of
        // the embeddings table, then the entries of the best candidates.
        std::vector<std::vector<Hit>> got(queries);
        rekall::Filter active;
        active.status = "active";  // what every search asks for
        Lat l = Time(queries, [&](int i) {
          std::vector<float> q(&qs[i * kDim], &qs[i * kDim] + kDim);  // 384: no padding needed
          rekall::index_internal::Normalize(q.data(), kDim);
          Die(rekall::index_internal::ExactSourceSearch(db, kDim, q, k, active, &got[i]), "exact scan");
        });
        char note[96];
        std::snprintf(note, sizeof note, "recall@%d vs brute = %.4f; what a search costs while the matrix loads", k,
                      Recall(got, exact));
        Row(n, "exact scan of the embeddings table", l, note);
      }
      IndexOptions o;
      o.backend = rekall::IndexBackend::kSqliteVec;
      o.extension_path = ext;
      std::unique_ptr<rekall::VectorIndex> idx;
      std::string notice;
      auto a = Clock::now();
      Die(rekall::OpenVectorIndex(db, o, &idx, &notice), "open sqlite-vec");
      const double build_s = Ms(Clock::now() - a) / 1000;
      size_t count = 0;
      Die(idx->Count(&count), "count");
      if (count != n) {
        std::fprintf(stderr, "embeddings_vec holds %zu rows, expected %zu\n", count, n);
        return 1;
      }
      std::vector<std::vector<Hit>> got(queries);
      Lat l = Time(queries, [&](int i) { Die(idx->Search(&qs[i * kDim], kDim, k, {}, &got[i]), "search"); });
      char note[96];
      std::snprintf(note, sizeof note, "recall@%d vs brute = %.4f; building embeddings_vec took %.1f s", k,
                    Recall(got, exact), build_s);
      Row(n, "sqlite-vec via VectorIndex", l, note);
      // The same table queried by hand, candidates only (the wrapper's
      // Hamming scan without the rescoring); the code's bits do not change
      // the time, so the query's sign bits stand in for its code.
      sqlite3_stmt* raw = nullptr;
      sqlite3_prepare_v2(db, "SELECT entry_id, distance FROM embeddings_vec WHERE embedding MATCH vec_bit(?1) AND k = ?2",
                         -1, &raw, nullptr);
      const int cands = std::max(16, k) * o.vec_candidates_per_k;
      std::vector<unsigned char> code(3 * kDim / 8);
      l = Time(queries, [&](int i) {
        std::fill(code.begin(), code.end(), 0);
        for (int j = 0; j < 3 * kDim; ++j) {
          if (qs[i * kDim + j % kDim] > 0) code[j / 8] |= (unsigned char)(1u << (j % 8));
        }
        sqlite3_bind_blob(raw, 1, code.data(), int(code.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int(raw, 2, cands);
        while (sqlite3_step(raw) == SQLITE_ROW) {
        }
        sqlite3_reset(raw);
      });
      Row(n, "raw vec0 query (Hamming, k = " + std::to_string(cands) + ")", l,
          "SELECT entry_id, distance ... MATCH vec_bit(?) AND k = ?: the wrapper's candidates");
      sqlite3_finalize(raw);
      idx.reset();
      sqlite3_close(db);
      for (const char* suf : {"", "-wal", "-shm"}) std::filesystem::remove(path + suf);
    } else if (vec_max > 0) {
      Row(n, "sqlite-vec", {NAN, NAN, NAN}, "skipped (--vec-max)");
    }
  }
  return 0;
}
