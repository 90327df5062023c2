// What the brute index's search scans before its exact float32 scores, and
// why: a header of its own so that the engine's stats (`rekall stats`,
// rekall_info) can carry the report without the index's interfaces.
#pragma once

#include <cstddef>

namespace rekall {

// What the brute index scans before exact float32 scores. Measured on real
// MiniLM embeddings (bench/index/RESULTS.md, "Real vectors", 2026-11-30,
// memory reading at ~10 GB/s under load): at 100K the 1-bit pre-scan with
// 1000 candidates took 1.6 ms p50 at recall@10 0.9995 where int8 took 4.5 ms
// (recall 1.0); at 1M (real + fitted-Gaussian rows) 7.7 / 13.0 ms p50 / p95
// at recall@10 0.990, against 45 ms for int8 and 122 ms for float32. On
// random unit vectors the 1-bit pre-scan's recall falls to 0.5-0.8 at 100K:
// kAuto checks it on the rows held (IndexOptions::bits_check_queries).
enum class Quantization {
  kAuto,  // int8 pre-scan from quantize_threshold vectors, 1-bit from bits_threshold (self-checked)
  kNone,  // always exact float32
  kInt8,  // always int8 pre-scan + float32 rescoring
  kBits,  // always 1-bit (Hamming) pre-scan + float32 rescoring of bits_candidates rows
};
// "auto" | "float32" | "int8" | "1-bit"
const char* QuantizationName(Quantization q);

// VectorIndex::Describe: how an unfiltered top-10 search scans now.
struct ScanReport {
  Quantization scan = Quantization::kNone;  // kNone (exact), kInt8 or kBits; never kAuto
  size_t candidates = 0;                    // kInt8, kBits: rows rescored exactly
  // The matrix is loading (IndexOptions::load_in_background): searches
  // meanwhile scan the source tables exactly.
  bool loading = false;
  // The self-check of the 1-bit pre-scan (IndexOptions::bits_check_queries)
  // ran on the rows the codes were fitted to: recall@10 it estimated for
  // the 1-bit path at bits_candidates rows (the widest tried when it fell
  // short and the index scans int8), and the lower bound it held to
  // IndexOptions::bits_min_recall (two standard errors below), over
  // check_queries sample queries, in check_ms on the thread that built the
  // codes.
  bool checked = false;
  double bits_recall = 0;
  double bits_recall_low = 0;
  size_t bits_candidates = 0;
  int check_queries = 0;
  double check_ms = 0;
};

}  // namespace rekall
