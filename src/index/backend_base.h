// Internal to src/index: the skeleton both backends share — the connection
// and options they were opened with, the lock every call takes, the checks
// of a write's or a query's arguments, and Refresh.
#pragma once

#include <sqlite3.h>

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "index/index_source.h"
#include "index/simd.h"
#include "index/vector_index.h"

namespace rekall::index_internal {

inline size_t RoundUp(size_t x, size_t m) { return (x + m - 1) / m * m; }

class BackendBase : public VectorIndex {
 public:
  int dim() const override { return dim_; }

  Status Refresh(bool* changed) override {
    std::lock_guard<std::mutex> l(mu_);
    return FreshLocked(true, changed);
  }

 protected:
  BackendBase(sqlite3* db, const IndexOptions& o)
      : db_(db), opts_(o), dim_(o.dim), stride_(RoundUp(size_t(o.dim), simd::kFloatLanes)) {}

  // Brings the index up to date with the database, looking for other
  // connections' commits only when check_others (see VectorIndex::Refresh).
  // Called under mu_.
  virtual Status FreshLocked(bool check_others, bool* changed) = 0;

  // An Upsert's arguments: an entry id and dim_ finite values. *unit gets
  // the vector scaled to unit length.
  Status CheckUpsert(const std::string& entry_id, const float* vec, int dim, std::vector<float>* unit) const {
    Status s = CheckVector(vec, dim, dim_, "vector");
    if (!s.ok()) return s;
    if (entry_id.empty()) return Status::InvalidArgument("empty entry id");
    unit->assign(vec, vec + dim);
    Normalize(unit->data(), dim);
    return Status::OK();
  }

  // A query: dim_ finite values. *padded gets it at unit length, with zeros
  // up to stride_ (the layout the SIMD kernels read).
  Status CheckQuery(const float* query, int dim, std::vector<float>* padded) const {
    Status s = CheckVector(query, dim, dim_, "query vector");
    if (!s.ok()) return s;
    padded->assign(stride_, 0.0f);
    std::memcpy(padded->data(), query, sizeof(float) * dim_);
    Normalize(padded->data(), dim_);
    return Status::OK();
  }

  sqlite3* const db_;  // null: an in-memory brute index
  const IndexOptions opts_;
  const int dim_;
  const size_t stride_;  // dim_ rounded up to the SIMD lanes
  std::mutex mu_;
};

}  // namespace rekall::index_internal
