// Internal to src/index: the recall self-check of the brute index's 1-bit
// pre-scan (IndexOptions::bits_check_queries).
//
// Why: the pre-scan keeps the rows nearest by Hamming distance of sign
// codes and rescores them exactly. On real embeddings (clustered, a common
// direction) 1000 candidates hold 99-100% of the exact top 10; on random
// unit vectors every distance is alike and they held 50-80% at 100K (a
// hostile test). A user's vectors may be anything, so the index measures
// the pre-scan on the rows it holds before it relies on it.
//
// How: queries are drawn from the rows (each a stored row moved off itself
// by a random direction, cosine ~0.8, the row left out of both rankings so
// that it is not the query's nearest neighbour); their exact
// top k comes from one pass over the float matrix for all of them, and
// the Hamming rank of each of those rows from one pass over the codes. A
// row ranked below C is among C candidates, and a candidate of the exact
// top k stays in the top k after exact rescoring: recall@k with C
// candidates is the share of ranks below C, for every C at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

namespace rekall::index_internal {

// The rows of a brute index, as it holds them.
struct BitsCheckInput {
  const float* mat = nullptr;  // rows of `stride` floats, unit length, zero-padded
  size_t stride = 0;
  size_t rows = 0;
  int dim = 0;
  const uint64_t* codes = nullptr;  // 1-bit codes, block-laid (simd::BitWordIndex)
  size_t words = 0;                 // 64-bit words a code
  // Writes the `words` code words of a query of `stride` floats.
  std::function<void(const float* q, uint64_t* code)> encode;
  int threads = 1;
};

// The Hamming rank of each row of the exact top k of `queries` queries
// drawn from the rows by `seed`: out[q * k + j] is the number of rows (the
// query's own left out) before the j-th exact neighbour of query q in the
// pre-scan's order (Hamming distance, then row). *per_query is k, or
// fewer when the rows are too few (every row but the query's own); out is
// empty when there are none.
void BitsRanksOfExact(const BitsCheckInput& in, int queries, int k, uint64_t seed, std::vector<uint32_t>* out,
                      size_t* per_query);

// Recall@k with `candidates` rows rescored, estimated from `ranks` (groups
// of `per_query`, as BitsRanksOfExact writes them): the share of ranks
// below `candidates`, and a lower bound two standard errors of the mean of
// the queries' recalls below it (the sample's own uncertainty: with 64
// queries and a recall near 0.95 it is ~0.02 lower). 1 and 1 when `ranks`
// is empty.
struct RecallEstimate {
  double mean = 1.0;
  double low = 1.0;
};
RecallEstimate RecallWithin(const std::vector<uint32_t>& ranks, size_t per_query, size_t candidates);

}  // namespace rekall::index_internal
