// Internal to src/index: what both backends read from the database — the
// summary embeddings with their entry metadata, the change detector
// (PRAGMA data_version, in src/sqlite, + a fingerprint of the source
// tables) — and the vector checks both apply.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "index/vector_index.h"
#include "sqlite/sqlite.h"
#include "util/status.h"

namespace rekall::index_internal {

// A vector handed to an index: not null, `expected` dimensions, finite.
Status CheckVector(const float* v, int dim, int expected, const char* what);

// Scales v to unit length (a zero vector is left as is).
void Normalize(float* v, int dim);

// Copies `dim` floats from `src` (any alignment: a blob; may be `out`)
// into `out`, scaled to unit length. False, and `out` unusable, when a
// value is NaN or infinite: such a stored vector is never indexed.
bool ToUnit(const void* src, int dim, float* out);

// The rows an index is built from, as SQL over `embeddings em JOIN entries e
// ON e.id = em.entry_id`: summary vectors of our model whose entry exists
// (another model's vectors, or an orphan of a deleted entry, never rank).
// Rows of our model but of another size are read too, and skipped (and
// counted) by the code that reads them.
extern const char* const kSourceJoin;
std::string SourceWhere();  // refers to `em` only

// One summary embedding as stored, with its entry's metadata.
struct SourceRow {
  std::string entry_id;
  const float* vec;  // dim floats, valid during the callback only
  EntryMeta meta;
};

// Calls fn for every summary embedding of `dim` floats; others are counted
// in *skipped. NULL project -> "", NULL status -> "active".
Status ForEachSourceRow(sqlite3* db, int dim, const std::function<Status(const SourceRow&)>& fn,
                        size_t* skipped);

// A cheap summary of the source tables (row counts, max rowids, latest
// updated_at) used to tell whether a commit by another connection touched
// what the index is built from. Unknown schemas give a unique value, which
// errs towards rebuilding.
std::string SourceFingerprint(sqlite3* db);

// The number of summary embeddings a fingerprint counted (its first field),
// -1 for an unknown schema's.
int64_t FingerprintSummaryRows(const std::string& fp);

}  // namespace rekall::index_internal
