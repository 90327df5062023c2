// The sqlite-vec backend of VectorIndex: a vec0 virtual table
//   embeddings_vec(entry_id TEXT PRIMARY KEY, embedding bit[3 * dim],
//                  type text, project text, status text)
// in the same database file, so writes share the caller's transaction.
// It holds a 3-bit-a-dimension code of each unit vector (bit_code.h: 144
// bytes at 384-d, not a second float32 copy of 1,536: a 10K-entry file
// shrinks from 1.48x to about 1.05x Rekall's own); vec0 ranks the codes by
// Hamming distance, filters applied inside it, and the best
// vec_candidates_per_k * max(k, 16) are rescored exactly from the
// embeddings table. Approximate past that many rows: recall@10 0.995
// against the exact top 10 on real MiniLM vectors (bench/index/RESULTS.md).
// It also keeps rows in a table rekall_index_state(name, value): under
// "embeddings_vec", where the source tables stood (their SourceMarks:
// counts and highest rowids, latest updated_at) when embeddings_vec last
// matched them, so that changes made while no index was open are caught at
// the next open and a catch-up rewrites only the entries changed since
// (one added row at 100K entries: 10.5 s comparing every row; with the
// marks, 1.8-3.1x faster once the fingerprint of the sources, a sum of
// every rowid, is no longer read beside them: bench/index/RESULTS.md); or,
// while the table is being built, "building" with the build's cursor; the
// layout version and the code's thresholds (fitted to the vectors when the
// table is created, again once the base has doubled). A table of another layout (layout 1: float[dim])
// is re-created by the batch build. Older rekalls kept a fingerprint there
// instead, which ours never equals: each catches up after the other, never
// trusting a table the other changed (sqlite_vec_index.cc, kStateTable).
// Without marks, or when they cannot prove what changed (a row deleted,
// VACUUM), every row is compared.
// The build (first open, new shape, Rebuild) commits batches of
// build_batch_rows rows in entry_id order, skipping ids already present, so
// an interrupted build resumes where it stopped and never duplicates a row;
// until it is complete, searches and counts score the source tables exactly
// (in this process and in any other opening the file).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "index/vector_index.h"

namespace rekall {

// Makes vec0 available on `db`: a no-op when it already is, else loads
// `path` (entry point sqlite3_vec_init). Unavailable when the file is absent,
// not a loadable library, or a sqlite-vec older than 0.1.6 (no metadata
// columns). *version gets e.g. "v0.1.9".
Status LoadSqliteVec(sqlite3* db, const std::string& path, std::string* version);

// Loads `path` into a scratch in-memory database only to read its version:
// what `rekall --version` reports without opening the user's file.
Status ProbeSqliteVec(const std::string& path, std::string* version);

// Creates embeddings_vec if needed (re-creating one of another shape) and
// builds it or catches it up with the embeddings table (see
// IndexOptions::build_batches_per_call). The extension must be loaded.
// catch_up_hook (tests) is called when a catch-up with the sources is about
// to commit, with whether it read only what changed (else every row) and
// how many entries it read again.
using CatchUpHook = std::function<void(bool incremental, size_t entries)>;
Status NewSqliteVecIndex(sqlite3* db, const IndexOptions& opts, std::unique_ptr<VectorIndex>* out,
                         CatchUpHook catch_up_hook = nullptr);

}  // namespace rekall
