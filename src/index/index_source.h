// Internal to src/index: what both backends read from the database — the
// summary embeddings with their entry metadata, the change detector
// (PRAGMA data_version + a fingerprint of the source tables) — and a small
// RAII wrapper for sqlite3_stmt.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "index/vector_index.h"
#include "util/status.h"

namespace rekall::index_internal {

// Owns one prepared statement; reset (not re-prepared) between uses.
class Stmt {
 public:
  Stmt() = default;
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  ~Stmt() { sqlite3_finalize(s_); }
  Status Prepare(sqlite3* db, const std::string& sql);
  void Finalize() {
    sqlite3_finalize(s_);
    s_ = nullptr;
  }
  bool prepared() const { return s_ != nullptr; }
  sqlite3_stmt* get() const { return s_; }
  // Resets and clears bindings, ready for a new execution.
  void Reset() {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
  }

 private:
  sqlite3_stmt* s_ = nullptr;
};

Status SqlError(sqlite3* db, const std::string& what);
Status Exec(sqlite3* db, const std::string& sql);

// A vector handed to an index: not null, `expected` dimensions, finite.
Status CheckVector(const float* v, int dim, int expected, const char* what);

// Scales v to unit length (a zero vector is left as is).
void Normalize(float* v, int dim);

// The rows an index is built from, as SQL over `embeddings em JOIN entries e
// ON e.id = em.entry_id`: summary vectors of our model whose entry exists
// (another model's vectors, or an orphan of a deleted entry, never rank).
extern const char* const kSourceJoin;
extern const char* const kSourceWhere;  // refers to `em` only

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

// PRAGMA data_version: moves when another connection commits to the file.
Status DataVersion(sqlite3* db, int64_t* v);

// A cheap summary of the source tables (row counts, max rowids, latest
// updated_at) used to tell whether a commit by another connection touched
// what the index is built from. Unknown schemas give a unique value, which
// errs towards rebuilding.
std::string SourceFingerprint(sqlite3* db);

}  // namespace rekall::index_internal
