#include "index/brute_force_index.h"

#include <sqlite3.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "index/huge_alloc.h"
#include "index/index_source.h"
#include "index/simd.h"

namespace rekall {
namespace {

using index_internal::Normalize;

constexpr uint32_t kNone = UINT32_MAX;

size_t RoundUp(size_t x, size_t m) { return (x + m - 1) / m * m; }

struct Cand {
  float s;
  uint32_t row;
};
struct ICand {
  int32_t s;
  uint32_t row;
};

// Filter with strings replaced by dictionary ids.
struct CompiledFilter {
  uint32_t type = kNone, project = kNone, status = kNone;
  std::vector<uint32_t> tags;  // sorted
  bool any = false;            // some condition set
};

class BruteForceIndex final : public VectorIndex {
 public:
  BruteForceIndex(sqlite3* db, const IndexOptions& o)
      : db_(db), opts_(o), dim_(o.dim),
        stride_(RoundUp(size_t(o.dim), simd::kFloatLanes)),
        qstride_(RoundUp(size_t(o.dim), simd::kInt8Lanes)) {
    threads_ = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  }

  const char* name() const override { return "brute"; }
  int dim() const override { return dim_; }

  Status Upsert(const std::string& entry_id, const float* vec, int dim, const EntryMeta& meta) override {
    Status s = CheckVector(vec, dim, "vector");
    if (!s.ok()) return s;
    if (entry_id.empty()) return Status::InvalidArgument("empty entry id");
    std::vector<float> v(vec, vec + dim);
    Normalize(v.data(), dim);
    std::lock_guard<std::mutex> l(mu_);
    UpsertLocked(entry_id, v.data(), meta);
    fp_dirty_ = true;
    return Status::OK();
  }

  Status Remove(const std::string& entry_id) override {
    std::lock_guard<std::mutex> l(mu_);
    RemoveLocked(entry_id);
    fp_dirty_ = true;
    return Status::OK();
  }

  Status Search(const float* query, int dim, int k, const Filter& f, std::vector<Hit>* out) override;

  Status Count(size_t* n) override {
    std::lock_guard<std::mutex> l(mu_);
    Status s = FreshLocked(opts_.auto_refresh, nullptr);
    if (!s.ok()) return s;
    *n = ids_.size();
    return Status::OK();
  }

  Status Rebuild(size_t* loaded, size_t* skipped) override {
    std::lock_guard<std::mutex> l(mu_);
    return RebuildLocked(loaded, skipped);
  }

  Status Refresh(bool* changed) override {
    std::lock_guard<std::mutex> l(mu_);
    return FreshLocked(true, changed);
  }

  void MarkStale() override {
    std::lock_guard<std::mutex> l(mu_);
    stale_ = true;
  }

  bool ReleaseMemory() override {
    std::lock_guard<std::mutex> l(mu_);
    if (db_ == nullptr) return false;  // the vectors exist nowhere else
    ClearLocked();
    // clear() keeps the capacity: swap with empty containers to free it.
    decltype(mat_)().swap(mat_);
    decltype(qmat_)().swap(qmat_);
    decltype(qscale_)().swap(qscale_);
    decltype(ids_)().swap(ids_);
    decltype(type_)().swap(type_);
    decltype(project_)().swap(project_);
    decltype(status_)().swap(status_);
    decltype(tags_)().swap(tags_);
    decltype(row_of_)().swap(row_of_);
    decltype(dict_)().swap(dict_);
    stale_ = true;  // reloaded at the next use
    return true;
  }

 private:
  Status CheckVector(const float* v, int dim, const char* what) const {
    return index_internal::CheckVector(v, dim, dim_, what);
  }

  uint32_t Intern(const std::string& s) {
    auto [it, inserted] = dict_.try_emplace(s, uint32_t(dict_.size()));
    return it->second;
  }
  uint32_t Lookup(const std::string& s) const {
    auto it = dict_.find(s);
    return it == dict_.end() ? kNone : it->second;
  }

  void UpsertLocked(const std::string& id, const float* unit, const EntryMeta& m) {
    uint32_t row;
    auto it = row_of_.find(id);
    if (it != row_of_.end()) {
      row = it->second;
    } else {
      row = uint32_t(ids_.size());
      row_of_.emplace(id, row);
      ids_.push_back(id);
      mat_.resize(mat_.size() + stride_, 0.0f);
      type_.push_back(0);
      project_.push_back(0);
      status_.push_back(0);
      tags_.emplace_back();
      if (q_ready_) qmat_.resize(qmat_.size() + qstride_, 128);
    }
    std::memcpy(&mat_[size_t(row) * stride_], unit, sizeof(float) * dim_);
    type_[row] = Intern(m.type);
    project_[row] = Intern(m.project);
    status_[row] = Intern(m.status);
    std::vector<uint32_t>& t = tags_[row];
    t.clear();
    for (const std::string& tag : m.tags) t.push_back(Intern(tag));
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
    if (q_ready_) {
      QuantizeRow(row);
      // Rows beyond the fitted range saturate; rescoring hides a few, but
      // refit once they stop being rare.
      if (q_clamped_ > ids_.size() / 100 + 16) q_ready_ = false;
    }
  }

  // Swap-remove: the last row moves into the hole so the matrix stays dense.
  void RemoveLocked(const std::string& id) {
    auto it = row_of_.find(id);
    if (it == row_of_.end()) return;
    const uint32_t row = it->second;
    const uint32_t last = uint32_t(ids_.size() - 1);
    row_of_.erase(it);
    if (row != last) {
      std::memcpy(&mat_[size_t(row) * stride_], &mat_[size_t(last) * stride_], sizeof(float) * stride_);
      if (q_ready_) std::memcpy(&qmat_[size_t(row) * qstride_], &qmat_[size_t(last) * qstride_], qstride_);
      ids_[row] = std::move(ids_[last]);
      type_[row] = type_[last];
      project_[row] = project_[last];
      status_[row] = status_[last];
      tags_[row] = std::move(tags_[last]);
      row_of_[ids_[row]] = row;
    }
    ids_.pop_back();
    mat_.resize(mat_.size() - stride_);
    if (q_ready_) qmat_.resize(qmat_.size() - qstride_);
    type_.pop_back();
    project_.pop_back();
    status_.pop_back();
    tags_.pop_back();
  }

  void ClearLocked() {
    ids_.clear();
    mat_.clear();
    type_.clear();
    project_.clear();
    status_.clear();
    tags_.clear();
    row_of_.clear();
    dict_.clear();
    qmat_.clear();
    q_ready_ = false;
    q_clamped_ = 0;
  }

  Status RebuildLocked(size_t* loaded, size_t* skipped) {
    ClearLocked();
    if (db_ == nullptr) {
      stale_ = false;
      return Status::OK();
    }
    // Read the change markers first: a commit racing with the load then
    // shows up as a change at the next check (a spare rebuild, never a miss).
    int64_t dv = 0;
    Status s = sqlite::DataVersion(db_, &dv);
    if (!s.ok()) return s;
    std::string fp = index_internal::SourceFingerprint(db_);
    std::vector<float> v(dim_);
    s = index_internal::ForEachSourceRow(
        db_, dim_,
        [&](const index_internal::SourceRow& r) {
          std::memcpy(v.data(), r.vec, sizeof(float) * dim_);
          for (float x : v) {
            if (!std::isfinite(x)) return Status::OK();
          }
          Normalize(v.data(), dim_);
          UpsertLocked(r.entry_id, v.data(), r.meta);
          return Status::OK();
        },
        skipped);
    if (!s.ok()) {
      ClearLocked();
      stale_ = true;
      return s;
    }
    if (loaded) *loaded = ids_.size();
    data_version_ = dv;
    fingerprint_ = std::move(fp);
    fp_dirty_ = false;
    stale_ = false;
    return Status::OK();
  }

  // Brings the matrix up to date with the database (see VectorIndex::Refresh).
  Status FreshLocked(bool check_others, bool* changed) {
    if (changed) *changed = false;
    if (db_ == nullptr) return Status::OK();
    if (stale_) {
      if (changed) *changed = true;
      return RebuildLocked(nullptr, nullptr);
    }
    if (!check_others) return Status::OK();
    int64_t dv = 0;
    Status s = sqlite::DataVersion(db_, &dv);
    if (!s.ok()) return s;
    if (dv != data_version_) {
      std::string fp = index_internal::SourceFingerprint(db_);
      if (fp_dirty_ || fp != fingerprint_) {
        if (changed) *changed = true;
        return RebuildLocked(nullptr, nullptr);
      }
      data_version_ = dv;
    } else if (fp_dirty_ && sqlite3_get_autocommit(db_)) {
      // Nobody else committed since our last look, so the tables now hold
      // exactly our own committed writes: re-baseline the fingerprint.
      fingerprint_ = index_internal::SourceFingerprint(db_);
      fp_dirty_ = false;
    }
    return Status::OK();
  }

  bool UseQuantized() const {
    switch (opts_.quantization) {
      case Quantization::kNone: return false;
      case Quantization::kInt8: return true;
      case Quantization::kAuto: return ids_.size() >= opts_.quantize_threshold;
    }
    return false;
  }

  // Per-dimension symmetric scale fitted to the data: real embeddings have a
  // few dimensions with much larger range than the rest.
  void BuildQuantizedLocked() {
    const size_t n = ids_.size();
    qscale_.assign(qstride_, 1.0f);
    std::vector<float> mx(dim_, 0.0f);
    for (size_t i = 0; i < n; ++i) {
      const float* r = &mat_[i * stride_];
      for (int j = 0; j < dim_; ++j) mx[j] = std::max(mx[j], std::fabs(r[j]));
    }
    for (int j = 0; j < dim_; ++j) qscale_[j] = mx[j] > 0 ? mx[j] / 127.0f : 1.0f;
    qmat_.assign(n * qstride_, 128);
    q_clamped_ = 0;
    q_ready_ = true;
    for (size_t i = 0; i < n; ++i) QuantizeRow(uint32_t(i));
  }

  void QuantizeRow(uint32_t row) {
    const float* r = &mat_[size_t(row) * stride_];
    uint8_t* d = &qmat_[size_t(row) * qstride_];
    bool clamped = false;
    for (int j = 0; j < dim_; ++j) {
      float x = std::nearbyint(r[j] / qscale_[j]);
      if (x > 127.0f || x < -127.0f) {
        clamped = true;
        x = std::clamp(x, -127.0f, 127.0f);
      }
      d[j] = uint8_t(int(x) + 128);
    }
    if (clamped) ++q_clamped_;
  }

  bool CompileFilter(const Filter& f, CompiledFilter* cf) const {
    cf->any = !f.empty();
    if (f.type && (cf->type = Lookup(*f.type)) == kNone) return false;
    if (f.project && (cf->project = Lookup(*f.project)) == kNone) return false;
    if (f.status && (cf->status = Lookup(*f.status)) == kNone) return false;
    for (const std::string& t : f.tags) {
      uint32_t id = Lookup(t);
      if (id == kNone) return false;
      cf->tags.push_back(id);
    }
    std::sort(cf->tags.begin(), cf->tags.end());
    cf->tags.erase(std::unique(cf->tags.begin(), cf->tags.end()), cf->tags.end());
    return true;
  }

  bool Matches(uint32_t r, const CompiledFilter& cf) const {
    if (cf.type != kNone && type_[r] != cf.type) return false;
    if (cf.project != kNone && project_[r] != cf.project) return false;
    if (cf.status != kNone && status_[r] != cf.status) return false;
    if (!cf.tags.empty() && !std::includes(tags_[r].begin(), tags_[r].end(), cf.tags.begin(), cf.tags.end())) {
      return false;
    }
    return true;
  }

  // Runs scan(begin, end, &partial) over [0, m) split across threads when m
  // is large, then keeps the `keep` best of the partial results by `better`.
  template <class C, class Scan, class Better>
  void ParallelTopK(size_t m, size_t keep, const Scan& scan, const Better& better, std::vector<C>* out) {
    int parts = 1;
    if (m >= opts_.parallel_threshold && threads_ > 1) {
      parts = int(std::min<size_t>(size_t(threads_), m / (opts_.parallel_threshold / 2 + 1) + 1));
    }
    std::vector<std::vector<C>> partial(parts);
    if (parts == 1) {
      scan(0, m, &partial[0]);
    } else {
      std::vector<std::thread> ts;
      for (int p = 1; p < parts; ++p) {
        ts.emplace_back([&, p] { scan(m * p / parts, m * (p + 1) / parts, &partial[p]); });
      }
      scan(0, m / parts, &partial[0]);
      for (std::thread& t : ts) t.join();
    }
    out->clear();
    for (auto& p : partial) out->insert(out->end(), p.begin(), p.end());
    if (out->size() > keep) {
      std::nth_element(out->begin(), out->begin() + keep, out->end(), better);
      out->resize(keep);
    }
  }

  sqlite3* db_;
  const IndexOptions opts_;
  const int dim_;
  const size_t stride_, qstride_;
  int threads_;

  std::mutex mu_;
  // ids_.size() rows of stride_ floats, zero-padded.
  std::vector<float, index_internal::HugePageAllocator<float>> mat_;
  std::vector<std::string> ids_;
  std::vector<uint32_t> type_, project_, status_;  // dictionary ids
  std::vector<std::vector<uint32_t>> tags_;        // sorted dictionary ids
  std::unordered_map<std::string, uint32_t> row_of_;
  std::unordered_map<std::string, uint32_t> dict_;

  bool q_ready_ = false;
  // Rows of qstride_ bytes: quantised value + 128 (see simd::dot_rows_u8).
  std::vector<uint8_t, index_internal::HugePageAllocator<uint8_t>> qmat_;
  std::vector<float> qscale_;  // per dimension
  size_t q_clamped_ = 0;

  bool stale_ = false;
  bool fp_dirty_ = false;
  int64_t data_version_ = 0;
  std::string fingerprint_;
};

Status BruteForceIndex::Search(const float* query, int dim, int k, const Filter& f, std::vector<Hit>* out) {
  out->clear();
  Status s = CheckVector(query, dim, "query vector");
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  s = FreshLocked(opts_.auto_refresh, nullptr);
  if (!s.ok()) return s;
  const size_t n = ids_.size();
  if (k <= 0 || n == 0) return Status::OK();

  CompiledFilter cf;
  if (!CompileFilter(f, &cf)) return Status::OK();  // a value no entry has
  // Pre-filter: the scan only visits matching rows, so a filtered query still
  // returns k hits whenever k entries match.
  // A selective filter gathers the matching rows (with prefetch); a broad
  // one (more than 1/4 of the rows) streams the whole matrix and masks, as
  // reading most rows scattered costs more than reading all of them in order.
  std::vector<uint32_t> rows;
  std::vector<uint8_t> keep;
  if (cf.any) {
    keep.resize(n);
    for (uint32_t r = 0; r < n; ++r) {
      keep[r] = Matches(r, cf);
      if (keep[r]) rows.push_back(r);
    }
  }
  const size_t m = cf.any ? rows.size() : n;
  if (m == 0) return Status::OK();
  const size_t kk = std::min(m, size_t(k));
  const bool sparse = cf.any && m * 4 <= n;
  if (!sparse) rows.clear();
  if (!cf.any || sparse) keep.clear();
  const size_t span = sparse ? m : n;  // positions the scan walks

  std::vector<float> q(stride_, 0.0f);
  std::memcpy(q.data(), query, sizeof(float) * dim_);
  Normalize(q.data(), dim_);

  const simd::Kernels& kern = simd::Best();
  auto better = [&](const Cand& a, const Cand& b) {
    return a.s > b.s || (a.s == b.s && ids_[a.row] < ids_[b.row]);
  };
  auto push = [&](std::vector<Cand>* h, size_t keep, Cand c) {
    if (h->size() < keep) {
      h->push_back(c);
      std::push_heap(h->begin(), h->end(), better);  // worst on top
    } else if (c.s >= h->front().s && better(c, h->front())) {
      std::pop_heap(h->begin(), h->end(), better);
      h->back() = c;
      std::push_heap(h->begin(), h->end(), better);
    }
  };

  std::vector<Cand> top;
  const size_t rescore = std::max<size_t>(kk * size_t(std::max(1, opts_.rescore_factor)), kk + 32);
  if (UseQuantized() && m > rescore) {
    if (!q_ready_) BuildQuantizedLocked();
    // The query folds in the per-dimension scales, w_j = q_j * scale_j, and
    // is quantised to int8 over its own range. Only the order of the int32
    // scores matters: the exact float32 rescoring gives the final scores.
    std::vector<int8_t> qi(qstride_, 0);
    float wmax = 0;
    for (int j = 0; j < dim_; ++j) wmax = std::max(wmax, std::fabs(q[j] * qscale_[j]));
    if (wmax > 0) {
      for (int j = 0; j < dim_; ++j) qi[j] = int8_t(std::nearbyint(q[j] * qscale_[j] / wmax * 127.0f));
    }
    auto ibetter = [](const ICand& a, const ICand& b) { return a.s > b.s || (a.s == b.s && a.row < b.row); };
    auto iscan = [&](size_t b, size_t e, std::vector<ICand>* h) {
      int32_t buf[256];
      h->reserve(rescore + 1);
      for (size_t i = b; i < e;) {
        size_t cnt = 0;
        if (!sparse) {
          cnt = std::min<size_t>(256, e - i);
          kern.dot_rows_u8(qi.data(), &qmat_[i * qstride_], qstride_, cnt, buf);
          for (size_t t = 0; t < cnt; ++t) {
            if (!keep.empty() && !keep[i + t]) continue;
            ICand c{buf[t], uint32_t(i + t)};
            if (h->size() < rescore) {
              h->push_back(c);
              std::push_heap(h->begin(), h->end(), ibetter);
            } else if (c.s > h->front().s) {
              std::pop_heap(h->begin(), h->end(), ibetter);
              h->back() = c;
              std::push_heap(h->begin(), h->end(), ibetter);
            }
          }
          i += cnt;
        } else {
          if (i + 4 < e) {
            const uint8_t* p = &qmat_[size_t(rows[i + 4]) * qstride_];
            for (size_t off = 0; off < qstride_; off += 64) __builtin_prefetch(p + off);
          }
          uint32_t r = rows[i++];
          kern.dot_rows_u8(qi.data(), &qmat_[size_t(r) * qstride_], qstride_, 1, buf);
          ICand c{buf[0], r};
          if (h->size() < rescore) {
            h->push_back(c);
            std::push_heap(h->begin(), h->end(), ibetter);
          } else if (c.s > h->front().s) {
            std::pop_heap(h->begin(), h->end(), ibetter);
            h->back() = c;
            std::push_heap(h->begin(), h->end(), ibetter);
          }
        }
      }
    };
    std::vector<ICand> cands;
    ParallelTopK<ICand>(span, rescore, iscan, ibetter, &cands);
    // Exact float32 rescoring of the candidates decides the final order.
    top.reserve(kk + 1);
    for (const ICand& c : cands) {
      float sc;
      kern.dot_rows(q.data(), &mat_[size_t(c.row) * stride_], stride_, 1, &sc);
      push(&top, kk, Cand{sc, c.row});
    }
  } else {
    auto scan = [&](size_t b, size_t e, std::vector<Cand>* h) {
      float buf[256];
      h->reserve(kk + 1);
      for (size_t i = b; i < e;) {
        if (!sparse) {
          const size_t cnt = std::min<size_t>(256, e - i);
          kern.dot_rows(q.data(), &mat_[i * stride_], stride_, cnt, buf);
          for (size_t t = 0; t < cnt; ++t) {
            if (keep.empty() || keep[i + t]) push(h, kk, Cand{buf[t], uint32_t(i + t)});
          }
          i += cnt;
        } else {
          // Scattered rows defeat the hardware prefetcher: ask for the row
          // two ahead while scoring this one.
          if (i + 2 < e) {
            const char* p = reinterpret_cast<const char*>(&mat_[size_t(rows[i + 2]) * stride_]);
            for (size_t off = 0; off < stride_ * sizeof(float); off += 64) __builtin_prefetch(p + off);
          }
          const uint32_t r = rows[i++];
          kern.dot_rows(q.data(), &mat_[size_t(r) * stride_], stride_, 1, buf);
          push(h, kk, Cand{buf[0], r});
        }
      }
    };
    ParallelTopK<Cand>(span, kk, scan, better, &top);
  }
  std::sort(top.begin(), top.end(), better);
  out->reserve(top.size());
  for (const Cand& c : top) out->push_back(Hit{ids_[c.row], c.s});
  return Status::OK();
}

}  // namespace

std::unique_ptr<VectorIndex> NewBruteForceIndex(sqlite3* db, const IndexOptions& opts) {
  return std::make_unique<BruteForceIndex>(db, opts);
}

}  // namespace rekall
