// Internal to src/index: what both backends read from the database — the
// summary embeddings with their entry metadata, the change detector
// (PRAGMA data_version, in src/sqlite, + the marks of the source tables)
// — and the vector checks both apply.
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

// Where a source row lives: the rowids of its embeddings and entries rows
// (0: not known, an index row written by its own process).
struct SourceRowids {
  int64_t embedding = 0, entry = 0;
};

// One summary embedding as stored, with its entry's metadata.
struct SourceRow {
  std::string entry_id;
  const void* vec;  // dim float32 values at any alignment (read it with ToUnit), valid during the callback only
  EntryMeta meta;
  SourceRowids rowids;
};

// Calls fn for every summary embedding of `dim` floats; others are counted
// in *skipped. NULL project -> "", NULL status -> "active".
Status ForEachSourceRow(sqlite3* db, int dim, const std::function<Status(const SourceRow&)>& fn,
                        size_t* skipped);

// Calls fn for the summary embedding of each of `ids` that has one (an id
// without one is skipped: the caller tells by its absence).
Status ForEachSourceRowOf(sqlite3* db, int dim, const std::vector<std::string>& ids,
                          const std::function<Status(const SourceRow&)>& fn);

// The exact score of stored vectors against one query, normalised and
// scored with the brute backend's kernel and padding: every path (the
// brute scan, sqlite-vec's rescoring, the exact scans below) gives
// bit-identical scores.
class SourceScorer {
 public:
  // q: unit length, zero-padded to a multiple of the SIMD lanes (what
  // BackendBase::CheckQuery makes); it must outlive the scorer.
  SourceScorer(const std::vector<float>& q, int dim) : q_(q), dim_(dim), row_(q.size(), 0.0f) {}
  // False when `blob` is not dim finite float32 values: never ranked.
  bool Score(const void* blob, int bytes, float* s);

 private:
  const std::vector<float>& q_;
  const int dim_;
  std::vector<float> row_;  // the stored vector at unit length, padded with zeros
};

// The order of results: score desc, then entry id asc.
inline bool HitBefore(const Hit& a, const Hit& b) {
  return a.score > b.score || (a.score == b.score && a.entry_id < b.entry_id);
}

// Whether an entry exists and passes a filter, with a load's rules (NULL
// type and project = "", NULL status = "active"): for rows whose entry was
// not read with them. Its statements are prepared once, at the first check.
class EntryCheck {
 public:
  EntryCheck(sqlite3* db, const Filter& f) : db_(db), f_(f) {}
  Status Passes(const std::string& id, bool* pass);

 private:
  // Ready to run: prepared once, reset before each use.
  Status Prepare(sqlite::Stmt* st, const char* sql);

  sqlite3* const db_;
  const Filter& f_;
  sqlite::Stmt entry_, tags_;
};

// The k best source rows (ForEachSourceRow's: an embedding without its
// entry never ranks) passing `f`, by exact score against `q` (as
// SourceScorer takes it), in HitBefore order, read from the source tables
// alone: what a backend answers while its own copy is not there
// (sqlite-vec building or behind, brute loading in the background). Only
// the embeddings are scanned; the entries of the best candidates are then
// checked against `f` (and exist), and the join of every row is scanned
// only when too few of them pass.
Status ExactSourceSearch(sqlite3* db, int dim, const std::vector<float>& q, int k, const Filter& f,
                         std::vector<Hit>* out);

// The source rows of `dim` floats: the rows a load indexes.
Status CountSourceRows(sqlite3* db, int dim, size_t* n);

// Where one source table stood: rowids only grow (SQLite gives a new row
// max(rowid) + 1) except through VACUUM, so rows above max_rowid are new,
// and the count tells whether any older row is gone.
struct TableMark {
  int64_t max_rowid = 0;
  int64_t count = 0;
  bool operator==(const TableMark&) const = default;
};

// Where the source tables stood when an index last read them: equal marks
// say nothing it reads changed, and different ones what to read again
// (FindSourceChanges). Both backends' catch-up.
struct SourceMarks {
  int64_t schema_version = 0;  // moves on schema changes and on VACUUM
  TableMark embeddings, entries, tags;
  // Highest rowid of entries_fts (-1: no such table), whose update trigger
  // gives an entry whose title or content is set a new keyword row.
  int64_t fts_max_rowid = -1;
  std::string max_updated;  // latest entries.updated_at
  bool operator==(const SourceMarks&) const = default;
};
Status ReadSourceMarks(sqlite3* db, SourceMarks* m);

// The marks as versioned text, for a backend that keeps them in the file
// (sqlite-vec's state row), followed by `tail`; ParseMarks is false on any
// other text (then there are no marks) and gives back the tail.
std::string SerializeMarks(const SourceMarks& m, const std::string& tail);
bool ParseMarks(const std::string& text, SourceMarks* m, std::string* tail);

// What changed between two readings of the marks, as far as rowids and
// updated_at prove it.
struct SourceChanges {
  // Entries to read again (vector and metadata): new or replaced
  // embeddings, entries and tag rows, and entries updated in place.
  // An id without a source row any more is to be removed.
  std::vector<std::string> touched;
  // Some embeddings or entries row that existed is gone: compare rowids.
  bool rows_gone = false;
  // False: the change cannot be proven caught (schema change, VACUUM, a
  // tag removed without its entry being updated): reload everything.
  bool provable = true;
};
Status FindSourceChanges(sqlite3* db, const SourceMarks& was, const SourceMarks& now, SourceChanges* out);

// The entries whose embeddings row has a rowid above `embedding` or whose
// entries row has one above `entry`: where rows written since can be, once
// rows were deleted. SQLite gives a new row max(rowid) + 1, so after the
// highest rows are deleted a new one can reuse a rowid at or below the
// last maximum seen; it is never below a row that still exists.
Status IdsAboveRowids(sqlite3* db, int64_t embedding, int64_t entry, std::vector<std::string>* ids);

// Every rowid of `table`, sorted (read from its smallest index).
Status ReadRowids(sqlite3* db, const char* table, std::vector<int64_t>* sorted);

// The number of summary embeddings, of any model or size (*n).
Status CountSummaryRows(sqlite3* db, int64_t* n);

}  // namespace rekall::index_internal
