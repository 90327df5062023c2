// The brute-force backend of VectorIndex: every vector in one contiguous
// float32 matrix scored in a single SIMD pass (split across threads for large
// bases), with a 1-bit or int8 pre-scan + float32 rescoring for 100K+ bases
// (Quantization; kAuto checks the 1-bit path's recall on the rows it holds
// before relying on it: bits_recall_check.h).
#pragma once

#include <atomic>
#include <memory>

#include "index/vector_index.h"

namespace rekall::index_internal {
struct StoredCodes;
}

namespace rekall {

// `db` may be null: a purely in-memory index (benchmarks, tests) on which
// Rebuild and Refresh do nothing and ReleaseMemory keeps every vector.
// Otherwise call Rebuild() once to load it.
std::unique_ptr<VectorIndex> NewBruteForceIndex(sqlite3* db, const IndexOptions& opts);

// A brute index for `db` whose rows are read through `read_db`, another
// connection to the same file, inside one read transaction there, so that
// `db` stays free for other work while it loads (any thread may run this;
// `db` is not touched). The index knows where the source tables stood in
// that snapshot: its first use on `db` catches up with every commit since,
// this process's own included, as with another process's. `stop` (may be
// null) turning true abandons the load with Cancelled. `codes` (may be
// null) gets the 1-bit codes of the rows loaded, to be stored in the file,
// when there are opts.codes_min_rows of them (else it is left empty).
Status LoadBruteForceIndex(sqlite3* db, sqlite3* read_db, const IndexOptions& opts, const std::atomic<bool>* stop,
                           std::unique_ptr<VectorIndex>* out, index_internal::StoredCodes* codes = nullptr);

// The brute index of IndexOptions::load_in_background: returns at once,
// loading on a thread of its own through a read-only connection of its own
// (LoadBruteForceIndex), and answers meanwhile from the source tables on
// `db` by exact scans. Unavailable when `db` has no file to open again (an
// in-memory database): load it in place instead.
Status OpenBruteForceIndexInBackground(sqlite3* db, const IndexOptions& opts, std::unique_ptr<VectorIndex>* out);

}  // namespace rekall
