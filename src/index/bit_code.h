// Internal to src/index: the compact form in which the sqlite-vec backend
// keeps each vector in embeddings_vec (a vec0 bit[] column, ranked by
// Hamming distance), so that the file holds one float32 copy of a vector
// (Rekall's `embeddings` table, which the backend rescores from), not two.
//
// A thermometer code of 3 bits per dimension: bit l of dimension d is set
// when x[d] > t_l[d], with thresholds mean - sd, mean, mean + sd of that
// dimension over the stored unit vectors (fitted when the table is built).
// The Hamming distance between two codes is then the L1 distance between
// their 4-level quantisations. MiniLM vectors are far from centred, so
// thresholds at 0 (sign bits) waste most of the bits.
//
// Why this code, measured on real all-MiniLM-L6-v2 embeddings (5,183 BEIR
// SciFact abstracts, the 300 test claims as queries; recall@10 against the
// exact top 10 after exact rescoring of the best k' codes,
// bench/index/RESULTS.md):
//   sign bits, 48 B           k'=200: 0.978   k'=320: 0.992
//   sign(x - mean), 48 B      k'=200: 0.978   k'=320: 0.992
//   3-level quantiles, 96 B   k'=200: 0.998
//   this code, 144 B          k'=200: 0.999   k'=160: 0.998
//   int8, 384 B               k'=20:  1.000   (but the file is 1.15x Rekall's)
// At 384 dimensions it takes 144 bytes a vector against 1,536 for float32.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace rekall::index_internal {

class ThermometerCode {
 public:
  static constexpr int kLevels = 3;

  ThermometerCode() = default;
  // All thresholds 0 (an empty base): sign bits, each counted kLevels times.
  explicit ThermometerCode(int dim);

  int dim() const { return dim_; }
  // Bits of a code: kLevels * dim rounded up to whole bytes (vec0's bit[N]
  // needs N divisible by 8; the padding bits are always 0).
  int bits() const { return bytes() * 8; }
  int bytes() const { return (kLevels * dim_ + 7) / 8; }
  // How many vectors the thresholds were fitted to.
  int64_t fitted_rows() const { return fitted_rows_; }

  // out: bytes() bytes.
  void Encode(const float* unit, uint8_t* out) const;

  // The stored form (rekall_index_state): kLevels * dim float32 thresholds,
  // then fitted_rows as int64, in the machine's byte order.
  std::string Serialize() const;
  // False when the blob is not a code of `dim` dimensions.
  static bool Parse(const void* blob, int bytes, int dim, ThermometerCode* out);

 private:
  friend class CodeFitter;
  int dim_ = 0;
  std::vector<float> thresholds_;  // level-major: [l * dim + d]
  int64_t fitted_rows_ = 0;
};

// Accumulates unit vectors, then gives the code fitted to them.
class CodeFitter {
 public:
  explicit CodeFitter(int dim) : dim_(dim), sum_(size_t(dim), 0.0), sum_sq_(size_t(dim), 0.0) {}
  void Add(const float* unit);
  ThermometerCode Finish() const;

 private:
  int dim_;
  int64_t n_ = 0;
  std::vector<double> sum_, sum_sq_;
};

}  // namespace rekall::index_internal
