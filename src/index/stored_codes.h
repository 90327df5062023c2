// Internal to src/index: the brute index's 1-bit codes (simd_bits.h) kept in
// the database file, so that a fresh server answers its first searches from
// them while its matrix loads in the background (issue 14 #3).
//
// Why: until the matrix is loaded, searches scored every stored vector
// exactly through SQLite, reading all 154 MB of float32 vectors at 100K
// entries (0.5-0.7 s on a loaded machine, bench/engine/RESULTS.md). The
// codes are 48 bytes a vector at 384-d (4.8 MB at 100K): read in a few ms,
// pre-scanned by Hamming distance with the in-memory index's kernel, and
// only the best candidates are read back from `embeddings` and scored
// exactly, with the candidate count and rescoring rule of the in-memory
// 1-bit path.
//
// Table rekall_index_codes(chunk INTEGER PRIMARY KEY, keys BLOB, data BLOB),
// written whole in one transaction by a server after its background load
// (BackgroundBruteIndex), never by a request:
//   chunk 0, the header: keys = SerializeMarks text of the SourceMarks of
//     the snapshot the codes were taken from, with the tail
//     " bits1 <dim> <rows> <chunk_rows> <block_rows> <candidates>"; data =
//     the dim float32 thresholds (the per-dimension means).
//   chunk i >= 1: rows [(i-1) * chunk_rows, ...) of the codes: keys = the
//     `embeddings` rowid of each row (int64), data = their codes, laid in
//     blocks as in memory (simd::BitWordIndex; the last block zero-padded).
// Machine byte order (little-endian: index_source.cc checks). Anything that
// does not parse as exactly this (another layout, dimension, a truncated
// blob) is no codes: the searches scan the source tables exactly instead.
//
// Rows written since the snapshot are found by FindSourceChanges (the
// brute index's catch-up) and scored exactly from the source tables; every
// candidate is read back through the current tables, so a row deleted since
// is never returned and a filter is checked on the entry as it is now.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "index/index_source.h"
#include "index/vector_index.h"
#include "util/status.h"

namespace rekall::index_internal {

// 64-bit words of a 1-bit code of `dim` dimensions.
inline size_t BitWords(int dim) { return (size_t(dim) + 63) / 64; }

// Word w of the 1-bit code of v: bit b is set when v[64w + b] > mean of that
// dimension; padding bits are 0. The one definition of the code, for the
// in-memory index, the stored codes and their queries.
uint64_t BitCodeWord(const float* v, const float* mean, int dim, size_t w);

// The per-dimension means of n rows of `stride` floats (the thresholds).
std::vector<float> FitBitMeans(const float* rows, size_t n, size_t stride, int dim);

// Codes of rows [0, n) into `codes`, block-laid (RoundUp(n, kBitBlockRows)
// * BitWords(dim) words, the padding rows left as they are).
void EncodeBitRows(const float* rows, size_t n, size_t stride, int dim, const std::vector<float>& mean,
                   uint64_t* codes);

// The codes of an index's rows and where they come from.
struct StoredCodes {
  SourceMarks marks;             // the snapshot they describe
  int dim = 0;
  std::vector<float> mean;       // dim thresholds
  std::vector<int64_t> rowids;   // the embeddings rowid of each row
  std::vector<uint64_t> codes;   // block-laid, RoundUp(rows, 8) * BitWords(dim) words
  // The rows a search from them rescores exactly, as the brute index's
  // recall check of its 1-bit pre-scan chose on these rows; 0 when no count
  // held the recall the index requires (it scans int8 then): the codes
  // answer nothing.
  size_t candidates = 0;
};

// Creates the table when absent. A schema change: every catch-up by marks
// (ours, and other processes' indexes) reloads everything after it, and
// codes taken before it could never be trusted. So it is created before a
// load reads its snapshot, never with the codes.
Status CreateStoredCodesTable(sqlite3* db);

// Replaces the stored codes with `c` in one write transaction on `db` (a
// writable connection). *written false, and nothing written, when the
// stored codes already describe c.marks, or there is no table.
Status WriteStoredCodes(sqlite3* db, const StoredCodes& c, bool* written);

// The stored codes of `dim` dimensions; false (no codes) when there are
// none, they are of another layout or dimension, or any blob is not what
// the header says.
bool ReadStoredCodes(sqlite3* db, int dim, StoredCodes* out);

// Whether the stored codes could answer a search.
enum class CodesAnswer {
  kAnswered,
  kStale,       // the changes since c.marks cannot be proven caught (schema change, VACUUM) or are too many
  kTooFine,     // too few of the rows nearest by code pass the filter
};

// The k best rows passing `f`, as IndexOptions::bits_candidates says for
// the in-memory 1-bit path: the `candidates` nearest rows by Hamming
// distance that pass `f` are scored exactly from `embeddings`, and the rows
// changed since c.marks are all scored exactly. *out is empty unless
// *answer is kAnswered. q: as SourceScorer takes it.
Status StoredCodesSearch(sqlite3* db, const StoredCodes& c, const std::vector<float>& q, int k, const Filter& f,
                         size_t candidates, std::vector<Hit>* out, CodesAnswer* answer);

}  // namespace rekall::index_internal
