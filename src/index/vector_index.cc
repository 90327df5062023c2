#include "index/vector_index.h"

#include "index/brute_force_index.h"
#include "index/sqlite_vec_index.h"

namespace rekall {

VectorIndex::~VectorIndex() = default;

bool VectorIndex::Describe(ScanReport*) { return false; }

const char* QuantizationName(Quantization q) {
  switch (q) {
    case Quantization::kAuto: return "auto";
    case Quantization::kNone: return "float32";
    case Quantization::kInt8: return "int8";
    case Quantization::kBits: return "1-bit";
  }
  return "?";
}

Status ParseIndexBackend(const std::string& s, IndexBackend* out) {
  if (s == "auto") {
    *out = IndexBackend::kAuto;
  } else if (s == "sqlite-vec") {
    *out = IndexBackend::kSqliteVec;
  } else if (s == "brute") {
    *out = IndexBackend::kBrute;
  } else {
    return Status::InvalidArgument("unknown vector index backend '" + s + "' (auto, sqlite-vec, brute)");
  }
  return Status::OK();
}

Status OpenVectorIndex(sqlite3* db, const IndexOptions& opts, std::unique_ptr<VectorIndex>* out,
                       std::string* notice) {
  if (notice) notice->clear();
  if (db == nullptr) return Status::InvalidArgument("no database connection");
  if (opts.dim <= 0 || opts.dim > 65536) {
    return Status::InvalidArgument("invalid vector dimension " + std::to_string(opts.dim));
  }
  if (opts.backend != IndexBackend::kBrute) {
    std::string version;
    Status s = LoadSqliteVec(db, opts.extension_path, &version);
    if (s.ok()) s = NewSqliteVecIndex(db, opts, out);
    // Busy is another writer past the busy timeout, not a missing
    // sqlite-vec: falling back would hide it and read inside a failed
    // transaction (issue 10 #4).
    if (s.ok() || s.code() == Code::kBusy || opts.backend == IndexBackend::kSqliteVec) return s;
    // auto: sqlite-vec is an accelerator, never a requirement.
    if (notice) *notice = "sqlite-vec unavailable (" + s.message() + "); using brute-force vector search";
  }
  // A database without a file of its own to open again loads here.
  if (opts.load_in_background && OpenBruteForceIndexInBackground(db, opts, out).ok()) return Status::OK();
  std::unique_ptr<VectorIndex> idx = NewBruteForceIndex(db, opts);
  Status s = idx->Rebuild(nullptr, nullptr);
  if (!s.ok()) return s;
  *out = std::move(idx);
  return Status::OK();
}

}  // namespace rekall
