// The brute-force backend of VectorIndex: every vector in one contiguous
// float32 matrix scored in a single SIMD pass (split across threads for large
// bases), with an optional int8 pre-scan + float32 rescoring for 100K+ bases.
#pragma once

#include <memory>

#include "index/vector_index.h"

namespace rekall {

// `db` may be null: a purely in-memory index (benchmarks, tests) on which
// Rebuild and Refresh do nothing and ReleaseMemory keeps every vector.
// Otherwise call Rebuild() once to load it.
std::unique_ptr<VectorIndex> NewBruteForceIndex(sqlite3* db, const IndexOptions& opts);

}  // namespace rekall
