#include "index/brute_force_index.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "index/backend_base.h"
#include "index/bits_recall_check.h"
#include "index/huge_alloc.h"
#include "index/index_source.h"
#include "index/simd.h"
#include "index/simd_bits.h"
#include "index/stored_codes.h"

namespace rekall {
namespace {

using index_internal::RoundUp;

constexpr uint32_t kNone = UINT32_MAX;

struct Cand {
  float s;
  uint32_t row;
};
struct ICand {
  int32_t s;
  uint32_t row;
};

// Offers c to `h`, a heap of the `keep` best candidates so far by `better`
// (the worst on top).
template <class C, class Better>
void PushTopK(std::vector<C>* h, size_t keep, const C& c, const Better& better) {
  if (h->size() < keep) {
    h->push_back(c);
    std::push_heap(h->begin(), h->end(), better);
  } else if (better(c, h->front())) {
    std::pop_heap(h->begin(), h->end(), better);
    h->back() = c;
    std::push_heap(h->begin(), h->end(), better);
  }
}

// Asks for every 64-byte line of the row of `row_bytes` at `row`: a
// scattered row is read a few rows ahead of its scoring, so its lines are
// on their way while the rows before it are scored.
inline void PrefetchRow(const void* row, size_t row_bytes) {
  const char* p = static_cast<const char*>(row);
  for (size_t off = 0; off < row_bytes; off += 64) __builtin_prefetch(p + off);
}

// Which rows a search scores. Pre-filter: the scan only visits matching
// rows, so a filtered query still returns k hits whenever k entries match.
// A selective filter gathers the matching rows (scored with prefetch); a
// broad one (more than 1/4 of the rows) streams the whole matrix and masks,
// as reading most rows scattered costs more than reading all in order.
struct ScanPlan {
  bool sparse = false;
  std::vector<uint32_t> rows;  // sparse: the rows to score, in order
  std::vector<uint8_t> keep;   // dense with a filter: 1 for the rows to score
  size_t matching = 0;         // rows the filter lets through
  size_t span = 0;             // positions the scan walks (rows, or entries of `rows`)
};

// Scores positions [b, e) of the plan with score(first_row, count, out) —
// runs of up to 256 rows when dense, one row at a time when sparse, the
// row `ahead` positions on being prefetched from `base` (rows of
// `row_bytes`) — and offers each candidate to the heap `h` of `keep`.
template <class C, class T, class Score, class Better>
void ScanPart(const ScanPlan& p, size_t b, size_t e, const void* base, size_t row_bytes, size_t ahead,
              const Score& score, size_t keep, const Better& better, std::vector<C>* h) {
  T buf[256];
  h->reserve(keep + 1);
  for (size_t i = b; i < e;) {
    if (!p.sparse) {
      const size_t count = std::min<size_t>(256, e - i);
      score(i, count, buf);
      for (size_t t = 0; t < count; ++t) {
        if (p.keep.empty() || p.keep[i + t]) PushTopK(h, keep, C{buf[t], uint32_t(i + t)}, better);
      }
      i += count;
      continue;
    }
    if (i + ahead < e) PrefetchRow(static_cast<const char*>(base) + size_t(p.rows[i + ahead]) * row_bytes, row_bytes);
    const uint32_t r = p.rows[i++];
    score(r, 1, buf);
    PushTopK(h, keep, C{buf[0], r}, better);
  }
}

// What a search scans before the exact float32 scores (Quantization).
enum class PreScan { kNone, kInt8, kBits };

// Filter with strings replaced by dictionary ids.
struct CompiledFilter {
  uint32_t type = kNone, project = kNone, status = kNone;
  std::vector<uint32_t> tags;  // sorted
  bool any = false;            // some condition set
};

class BruteForceIndex final : public index_internal::BackendBase {
 public:
  BruteForceIndex(sqlite3* db, const IndexOptions& o)
      : BackendBase(db, o),
        qstride_(RoundUp(size_t(o.dim), simd::kInt8Lanes)),
        bwords_(RoundUp(size_t(o.dim), 64) / 64) {
    threads_ = o.threads > 0 ? o.threads : int(std::max(1u, std::thread::hardware_concurrency()));
  }

  const char* name() const override { return "brute"; }

  Status Upsert(const std::string& entry_id, const float* vec, int dim, const EntryMeta& meta) override {
    std::vector<float> v;
    Status s = CheckUpsert(entry_id, vec, dim, &v);
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> l(mu_);
    UpsertLocked(entry_id, v.data(), meta);
    NoteSourceLocked(entry_id, {});  // our own write: where it lives is not known
    fp_dirty_ = true;
    return Status::OK();
  }

  Status Remove(const std::string& entry_id) override {
    std::lock_guard<std::mutex> l(mu_);
    RemoveTrackedLocked(entry_id);
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

  void MarkStale() override {
    std::lock_guard<std::mutex> l(mu_);
    stale_ = true;
  }

  bool Describe(ScanReport* r) override {
    std::lock_guard<std::mutex> l(mu_);
    *r = ScanReport{};
    const PreScan pre = ChoosePreScan();
    r->scan = pre == PreScan::kBits   ? Quantization::kBits
              : pre == PreScan::kInt8 ? Quantization::kInt8
                                      : Quantization::kNone;
    if (pre == PreScan::kBits) r->candidates = std::max(BitsCandidates(), size_t(10 * 20));
    if (pre == PreScan::kInt8) r->candidates = Int8Candidates(10);
    if (!check_.checked) return true;
    r->checked = true;
    r->bits_recall = check_.recall;
    r->bits_recall_low = check_.recall_low;
    r->bits_candidates = check_.candidates;
    r->check_queries = check_.queries;
    r->check_ms = check_.ms;
    return true;
  }

  bool ReleaseMemory() override {
    std::lock_guard<std::mutex> l(mu_);
    if (db_ == nullptr) return false;  // the vectors exist nowhere else
    ClearLocked();
    // clear() keeps the capacity: swap with empty containers to free it.
    decltype(mat_)().swap(mat_);
    decltype(qmat_)().swap(qmat_);
    decltype(qscale_)().swap(qscale_);
    decltype(codes_)().swap(codes_);
    decltype(bmean_)().swap(bmean_);
    decltype(ids_)().swap(ids_);
    decltype(type_)().swap(type_);
    decltype(project_)().swap(project_);
    decltype(status_)().swap(status_);
    decltype(tags_)().swap(tags_);
    decltype(row_of_)().swap(row_of_);
    decltype(dict_)().swap(dict_);
    decltype(src_)().swap(src_);
    stale_ = true;  // reloaded at the next use
    return true;
  }

 private:
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
      if (bits_ready_) codes_.resize(CodeWords(ids_.size()), 0);
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
    if (bits_ready_) {
      EncodeRow(row);
      // The mean was fitted to far fewer rows: refit at the next search.
      if (ids_.size() > 2 * bits_fit_rows_ + 1000) bits_ready_ = false;
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
      if (bits_ready_) MoveCode(last, row);
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
    if (bits_ready_) codes_.resize(CodeWords(ids_.size()));
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
    codes_.clear();
    bits_ready_ = false;
    check_ = BitsCheck{};
  }

 public:
  // Loads every row through `read_db`, another connection to db_'s file,
  // inside one read transaction there (a snapshot), without touching db_:
  // LoadBruteForceIndex.
  Status LoadThrough(sqlite3* read_db, const std::atomic<bool>* stop, index_internal::StoredCodes* codes) {
    std::lock_guard<std::mutex> l(mu_);
    Status s = sqlite::Exec(read_db, "BEGIN", "starting the index load's read transaction");
    if (s.ok()) s = LoadLocked(read_db, stop, nullptr, nullptr);
    if (s.ok() && codes && opts_.codes_min_rows > 0 && ids_.size() >= opts_.codes_min_rows) ExportCodesLocked(codes);
    if (s.ok() && opts_.background_load_hook) opts_.background_load_hook(false);
    // Reads only: ending the snapshot cannot lose anything.
    sqlite::Exec(read_db, "ROLLBACK", "ending the index load's read transaction");
    return s;
  }

 private:
  Status RebuildLocked(size_t* loaded, size_t* skipped) { return LoadLocked(db_, nullptr, loaded, skipped); }

  // Reloads every row through `from` (db_, or LoadThrough's connection);
  // `stop` (may be null) turning true abandons the load (Cancelled).
  Status LoadLocked(sqlite3* from, const std::atomic<bool>* stop, size_t* loaded, size_t* skipped) {
    ClearLocked();
    if (db_ == nullptr) {
      stale_ = false;
      return Status::OK();
    }
    // Read the change markers first: a commit racing with the load then
    // shows up as a change at the next check (a spare rebuild, never a miss).
    // PRAGMA data_version is per connection: read through another one the
    // version stays unknown, so that the first check on db_ compares the
    // marks and catches up with every commit since the load's snapshot.
    int64_t dv = kUnknownVersion;
    index_internal::SourceMarks marks;
    Status s = from == db_ ? sqlite::DataVersion(db_, &dv) : Status::OK();
    if (s.ok()) s = index_internal::ReadSourceMarks(from, &marks);
    if (!s.ok()) return s;
    std::vector<float> v(dim_);
    src_.clear();
    ReserveLocked(size_t(marks.embeddings.count));
    s = index_internal::ForEachSourceRow(
        from, dim_,
        [&](const index_internal::SourceRow& r) {
          if (stop && stop->load(std::memory_order_relaxed)) return Status::Cancelled("index load abandoned");
          if (index_internal::ToUnit(r.vec, dim_, v.data())) {
            UpsertLocked(r.entry_id, v.data(), r.meta);
            NoteSourceLocked(r.entry_id, r.rowids);
          }
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
    marks_ = std::move(marks);
    fp_dirty_ = false;
    stale_ = false;
    // What the first search would build, built with the load: on the
    // loading thread for a server, and reported by `rekall stats --memory`.
    PrepareScanLocked();
    return Status::OK();
  }

  // Another connection committed: reads only what changed since marks_
  // (one added entry at 100K: 4 ms instead of a 1.1-1.3 s reload, load 9-10,
  // bench/index/RESULTS.md), or reloads everything when it cannot prove the
  // change caught.
  Status CatchUpLocked(int64_t dv, const index_internal::SourceMarks& now) {
    index_internal::SourceChanges ch;
    Status s = index_internal::FindSourceChanges(db_, marks_, now, &ch);
    if (!s.ok()) return s;
    // Past an eighth of the rows, one sequential reload reads less.
    if (!ch.provable || ch.touched.size() > ids_.size() / 8 + 64 || src_.size() != ids_.size())
      return RebuildLocked(nullptr, nullptr);
    // Our own writes since marks_ blur the counts, and rows we wrote have no
    // known rowids: compare rowids, and read those rows again.
    if (ch.rows_gone || fp_dirty_) {
      s = DropGoneLocked(&ch.touched);
      std::sort(ch.touched.begin(), ch.touched.end());
      ch.touched.erase(std::unique(ch.touched.begin(), ch.touched.end()), ch.touched.end());
    }
    if (s.ok()) s = ReadAgainLocked(ch.touched);
    if (!s.ok()) {
      stale_ = true;  // partly applied: reload at the next use
      return s;
    }
    data_version_ = dv;
    marks_ = now;
    fp_dirty_ = false;
    return Status::OK();
  }

  // Room for n rows before a load: growing row by row reallocated and
  // copied the matrix and rehashed the id map several times over (a tenth
  // of a 100K load, by perf: page zeroing, copies, rehashing). With room
  // for a server's own adds too: reserving exactly n made the first add
  // after a load reallocate and copy every array (a 50K server's first add
  // spent 285-320 ms in the index at load 1-2, the others 0.0). Room not
  // written to stays virtual memory.
  static size_t WithRoom(size_t n) { return n + n / 8 + 1024; }
  void ReserveLocked(size_t rows) {
    const size_t n = WithRoom(rows);
    mat_.reserve(n * stride_);
    ids_.reserve(n);
    type_.reserve(n);
    project_.reserve(n);
    status_.reserve(n);
    tags_.reserve(n);
    row_of_.reserve(n);
    src_.reserve(n);
  }

  // Records where row `id`'s source lives (src_ stays aligned with ids_).
  void NoteSourceLocked(const std::string& id, index_internal::SourceRowids at) {
    const uint32_t row = row_of_.at(id);
    if (src_.size() < ids_.size()) src_.resize(ids_.size());
    src_[row] = at;
  }

  // RemoveLocked, keeping src_ aligned with the rows it moves.
  void RemoveTrackedLocked(const std::string& id) {
    auto it = row_of_.find(id);
    if (it == row_of_.end()) return;
    if (src_.size() == ids_.size()) {
      src_[it->second] = src_.back();
      src_.pop_back();
    }
    RemoveLocked(id);
  }

  // Removes the rows whose embeddings or entries row is gone, comparing
  // rowids (no id or vector is read); rows written by this process, whose
  // rowids are not known, join *again to be read again, and so do the rows
  // above the highest known rowids still present: with the highest rows
  // deleted, a row written since may have reused a rowid at or below the
  // last maximum seen (a hostile test's delete + INSERT OR REPLACE).
  Status DropGoneLocked(std::vector<std::string>* again) {
    std::vector<int64_t> em, en;
    Status s = index_internal::ReadRowids(db_, "embeddings", &em);
    if (s.ok()) s = index_internal::ReadRowids(db_, "entries", &en);
    if (!s.ok()) return s;
    std::vector<std::string> gone;
    int64_t top_em = 0, top_en = 0;  // highest known rowids still present
    for (size_t r = 0; r < ids_.size(); ++r) {
      const index_internal::SourceRowids& at = src_[r];
      if (at.embedding == 0) {
        again->push_back(ids_[r]);
      } else if (!std::binary_search(em.begin(), em.end(), at.embedding) ||
                 !std::binary_search(en.begin(), en.end(), at.entry)) {
        gone.push_back(ids_[r]);
      } else {
        top_em = std::max(top_em, at.embedding);
        top_en = std::max(top_en, at.entry);
      }
    }
    for (const std::string& id : gone) RemoveTrackedLocked(id);
    return index_internal::IdsAboveRowids(db_, top_em, top_en, again);
  }

  // Reads these entries' source rows again; an id without one is removed.
  Status ReadAgainLocked(const std::vector<std::string>& ids) {
    std::unordered_set<std::string> seen;
    std::vector<float> v(dim_);
    Status s = index_internal::ForEachSourceRowOf(db_, dim_, ids, [&](const index_internal::SourceRow& r) {
      if (!index_internal::ToUnit(r.vec, dim_, v.data())) return Status::OK();  // never indexed
      UpsertLocked(r.entry_id, v.data(), r.meta);
      NoteSourceLocked(r.entry_id, r.rowids);
      seen.insert(r.entry_id);
      return Status::OK();
    });
    if (!s.ok()) return s;
    for (const std::string& id : ids) {
      if (!seen.count(id)) RemoveTrackedLocked(id);
    }
    return Status::OK();
  }

  // Brings the matrix up to date with the database.
  Status FreshLocked(bool check_others, bool* changed) override {
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
    if (dv != data_version_ || data_version_ == kUnknownVersion) {
      index_internal::SourceMarks now;
      if (!(s = index_internal::ReadSourceMarks(db_, &now)).ok()) return s;
      if (fp_dirty_ || now != marks_) {
        if (changed) *changed = true;
        return CatchUpLocked(dv, now);
      }
      data_version_ = dv;
    } else if (fp_dirty_ && sqlite3_get_autocommit(db_)) {
      // Nobody else committed since our last look, so the tables now hold
      // exactly our own committed writes: re-baseline the marks.
      if (!(s = index_internal::ReadSourceMarks(db_, &marks_)).ok()) return s;
      fp_dirty_ = false;
    }
    return Status::OK();
  }

  // Builds what the search about to run scans, if it is not built yet (the
  // 1-bit codes and their recall check, or the int8 matrix: ~0.1 s each at
  // 100K), and tells which it is. Every load calls it (a server's on its
  // loading thread), so that searches find it built.
  PreScan PrepareScanLocked() {
    // kAuto past bits_threshold keeps the codes even when its check chose
    // int8: a refit (the base doubled, or reloaded) checks again.
    const bool wants_bits = opts_.quantization == Quantization::kBits ||
                            (opts_.quantization == Quantization::kAuto && ids_.size() >= opts_.bits_threshold);
    if (wants_bits && !bits_ready_) {
      BuildBitsLocked();
      CheckBitsLocked();
    }
    const PreScan pre = ChoosePreScan();
    if (pre == PreScan::kInt8 && !q_ready_) BuildQuantizedLocked();
    return pre;
  }

  PreScan ChoosePreScan() const {
    switch (opts_.quantization) {
      case Quantization::kNone: return PreScan::kNone;
      case Quantization::kInt8: return PreScan::kInt8;
      case Quantization::kBits: return PreScan::kBits;
      case Quantization::kAuto:
        if (ids_.size() >= opts_.bits_threshold) return check_.bits_ok ? PreScan::kBits : PreScan::kInt8;
        return ids_.size() >= opts_.quantize_threshold ? PreScan::kInt8 : PreScan::kNone;
    }
    return PreScan::kNone;
  }

  // Rows the int8 pre-scan keeps for exact rescoring, for a top kk.
  size_t Int8Candidates(size_t kk) const {
    return std::max<size_t>(kk * size_t(std::max(1, opts_.rescore_factor)), kk + 32);
  }

  // Rows the 1-bit pre-scan keeps (before the floor of 20 per hit).
  size_t BitsCandidates() const { return check_.checked ? check_.candidates : opts_.bits_candidates; }

  // What the recall check of 1-bit codes found (CheckCodes).
  struct BitsCheck {
    bool checked = false;
    bool bits_ok = true;     // the 1-bit path reached bits_min_recall
    size_t candidates = 0;   // rows rescored (the widest tried when !bits_ok)
    double recall = 0;       // estimated recall@10 there
    double recall_low = 0;   // its lower bound (RecallEstimate)
    int queries = 0;
    double ms = 0;
  };

  // kAuto's recall self-check of the codes just fitted (bits_recall_check.h).
  void CheckBitsLocked() {
    check_ = BitsCheck{};
    if (opts_.quantization != Quantization::kAuto || opts_.bits_check_queries <= 0) return;
    check_ = CheckCodes(codes_.data(), bmean_);
  }

  // The recall check of the 1-bit codes `codes` (block-laid, one per row)
  // fitted with thresholds `mean`: widens the candidates, doubling them up
  // to bits_max_candidates, until the estimated recall@10, less its
  // sampling error, reaches bits_min_recall; bits_ok false when even the
  // widest falls short (the int8 scan then takes over).
  BitsCheck CheckCodes(const uint64_t* codes, const std::vector<float>& mean) const {
    const auto start = std::chrono::steady_clock::now();
    index_internal::BitsCheckInput in;
    in.mat = mat_.data();
    in.stride = stride_;
    in.rows = ids_.size();
    in.dim = dim_;
    in.codes = codes;
    in.words = bwords_;
    in.encode = [this, &mean](const float* q, uint64_t* code) {
      for (size_t w = 0; w < bwords_; ++w) code[w] = index_internal::BitCodeWord(q, mean.data(), dim_, w);
    };
    in.threads = threads_;
    std::vector<uint32_t> ranks;
    size_t per_query = 0;
    index_internal::BitsRanksOfExact(in, opts_.bits_check_queries, 10, opts_.bits_check_seed, &ranks, &per_query);
    size_t c = std::max<size_t>(opts_.bits_candidates, 1);
    index_internal::RecallEstimate e = index_internal::RecallWithin(ranks, per_query, c);
    while (e.low < opts_.bits_min_recall && c < opts_.bits_max_candidates) {
      c = std::min(2 * c, opts_.bits_max_candidates);
      e = index_internal::RecallWithin(ranks, per_query, c);
    }
    BitsCheck b;
    b.checked = true;
    b.bits_ok = e.low >= opts_.bits_min_recall;
    b.candidates = c;
    b.recall = e.mean;
    b.recall_low = e.low;
    b.queries = opts_.bits_check_queries;
    b.ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
    return b;
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
    qmat_.reserve(WithRoom(n) * qstride_);
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

  // The codes of every row as loaded and where each row comes from, for
  // the file (stored_codes.h); *c left empty when a row's source is not
  // known. With them, the candidates a search from them rescores: those
  // the recall check chose (run here on the exported codes when the index
  // itself scans another way, ~0.4 s at 100K on the loading thread), or 0
  // when the check found no count enough: the stored codes then answer
  // nothing, and a fresh server scans exactly until its matrix is loaded.
  void ExportCodesLocked(index_internal::StoredCodes* c) const {
    const size_t n = ids_.size();
    *c = index_internal::StoredCodes();
    if (src_.size() != n) return;
    c->rowids.resize(n);
    for (size_t r = 0; r < n; ++r) c->rowids[r] = src_[r].embedding;
    if (std::count(c->rowids.begin(), c->rowids.end(), 0) > 0) {
      c->rowids.clear();
      return;
    }
    c->marks = marks_;
    c->dim = dim_;
    if (bits_ready_) {
      c->mean = bmean_;
      c->codes.assign(codes_.begin(), codes_.end());
    } else {
      c->mean = index_internal::FitBitMeans(mat_.data(), n, stride_, dim_);
      c->codes.assign(CodeWords(n), 0);
      index_internal::EncodeBitRows(mat_.data(), n, stride_, dim_, c->mean, c->codes.data());
    }
    BitsCheck b = check_;
    if (!b.checked && opts_.bits_check_queries > 0 && opts_.quantization != Quantization::kBits)
      b = CheckCodes(c->codes.data(), c->mean);
    c->candidates = !b.checked ? opts_.bits_candidates : b.bits_ok ? b.candidates : 0;
  }

  // 64-bit words of codes_ for n rows: whole blocks (simd_bits.h).
  size_t CodeWords(size_t n) const {
    return RoundUp(n, simd::kBitBlockRows) * bwords_;
  }

  // Word w of the code of v (index_internal::BitCodeWord).
  uint64_t CodeWord(const float* v, size_t w) const { return index_internal::BitCodeWord(v, bmean_.data(), dim_, w); }

  void EncodeRow(uint32_t row) {
    const float* v = &mat_[size_t(row) * stride_];
    for (size_t w = 0; w < bwords_; ++w) codes_[simd::BitWordIndex(row, w, bwords_)] = CodeWord(v, w);
  }

  void MoveCode(uint32_t from, uint32_t to) {
    for (size_t j = 0; j < bwords_; ++j) {
      codes_[simd::BitWordIndex(to, j, bwords_)] = codes_[simd::BitWordIndex(from, j, bwords_)];
    }
  }

  // MiniLM vectors are far from centred (a common direction): thresholding
  // raw values at 0 would leave many bits nearly constant. The per-dimension
  // mean splits each dimension where the data is.
  void BuildBitsLocked() {
    const size_t n = ids_.size();
    bmean_ = index_internal::FitBitMeans(mat_.data(), n, stride_, dim_);
    codes_.reserve(CodeWords(WithRoom(n)));
    codes_.assign(CodeWords(n), 0);
    index_internal::EncodeBitRows(mat_.data(), n, stride_, dim_, bmean_, codes_.data());
    bits_fit_rows_ = n;
    bits_ready_ = true;
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

  // By score, then entry id: the order of results.
  bool Better(const Cand& a, const Cand& b) const {
    return a.s > b.s || (a.s == b.s && ids_[a.row] < ids_[b.row]);
  }
  // False when no row matches the filter.
  bool PlanScanLocked(const Filter& f, ScanPlan* p) const;
  // The kk best rows of the plan by exact float32 score.
  void FloatTopKLocked(const std::vector<float>& q, const ScanPlan& p, size_t kk, std::vector<Cand>* top);
  // The `rescore` best by the int8 pre-scan, then the kk best of those by
  // exact float32 score.
  void QuantizedTopKLocked(const std::vector<float>& q, const ScanPlan& p, size_t kk, size_t rescore,
                           std::vector<Cand>* top);
  // The `rescore` nearest by Hamming distance of the 1-bit codes, then the
  // kk best of those by exact float32 score.
  void BitsTopKLocked(const std::vector<float>& q, const ScanPlan& p, size_t kk, size_t rescore,
                      std::vector<Cand>* top);
  // The kk best of the candidate rows by exact float32 score.
  void RescoreLocked(const std::vector<float>& q, const std::vector<ICand>& cands, size_t kk, std::vector<Cand>* top);

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

  const size_t qstride_;  // dim_ rounded up to the int8 SIMD lanes
  const size_t bwords_;   // 64-bit words of a 1-bit code: dim_ / 64 rounded up
  int threads_;
  // The float scan kernel: the best level's until the matrix is large
  // enough for the choice to matter, then the one measured fastest on it
  // (simd::FastestDotRows).
  simd::DotRowsFn dot_rows_ = simd::Best().dot_rows;
  bool dot_tuned_ = false;

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

  bool bits_ready_ = false;
  // 1-bit codes, block-laid (simd::BitWordIndex): bwords_ * 8 bytes a row.
  std::vector<uint64_t, index_internal::HugePageAllocator<uint64_t>> codes_;
  std::vector<float> bmean_;  // per dimension: the threshold of each bit
  size_t bits_fit_rows_ = 0;  // rows when bmean_ was fitted
  // The verdict of CheckBitsLocked on the rows the codes were fitted to.
  BitsCheck check_;

  bool stale_ = false;
  bool fp_dirty_ = false;
  // data_version_ after a load through another connection: never equal to
  // what db_ reads (checked explicitly as well).
  static constexpr int64_t kUnknownVersion = -1;
  int64_t data_version_ = 0;
  index_internal::SourceMarks marks_;  // where the source tables stood at the last sync
  // Per row, where its source lives, for finding rows deleted by others.
  std::vector<index_internal::SourceRowids> src_;
};

Status BruteForceIndex::Search(const float* query, int dim, int k, const Filter& f, std::vector<Hit>* out) {
  out->clear();
  std::vector<float> q;
  Status s = CheckQuery(query, dim, &q);
  if (!s.ok()) return s;
  std::lock_guard<std::mutex> l(mu_);
  s = FreshLocked(opts_.auto_refresh, nullptr);
  if (!s.ok()) return s;
  if (k <= 0 || ids_.empty()) return Status::OK();
  ScanPlan plan;
  if (!PlanScanLocked(f, &plan)) return Status::OK();  // nothing matches
  const size_t kk = std::min(plan.matching, size_t(k));
  const PreScan pre = PrepareScanLocked();  // first: the check may widen the candidates
  const size_t rescore = Int8Candidates(kk);
  const size_t bits_rescore = std::max(BitsCandidates(), kk * 20);
  std::vector<Cand> top;
  if (pre == PreScan::kBits && plan.matching > bits_rescore) {
    BitsTopKLocked(q, plan, kk, bits_rescore, &top);
  } else if (pre == PreScan::kInt8 && plan.matching > rescore) {
    QuantizedTopKLocked(q, plan, kk, rescore, &top);
  } else {
    FloatTopKLocked(q, plan, kk, &top);
  }
  std::sort(top.begin(), top.end(), [this](const Cand& a, const Cand& b) { return Better(a, b); });
  out->reserve(top.size());
  for (const Cand& c : top) out->push_back(Hit{ids_[c.row], c.s});
  return Status::OK();
}

bool BruteForceIndex::PlanScanLocked(const Filter& f, ScanPlan* p) const {
  const size_t n = ids_.size();
  CompiledFilter cf;
  if (!CompileFilter(f, &cf)) return false;  // a value no entry has
  if (!cf.any) {
    p->matching = p->span = n;
    return n > 0;
  }
  p->keep.resize(n);
  for (uint32_t r = 0; r < n; ++r) {
    p->keep[r] = Matches(r, cf);
    if (p->keep[r]) p->rows.push_back(r);
  }
  p->matching = p->rows.size();
  p->sparse = p->matching * 4 <= n;
  if (p->sparse) {
    p->keep.clear();
  } else {
    p->rows.clear();
  }
  p->span = p->sparse ? p->matching : n;
  return p->matching > 0;
}

void BruteForceIndex::FloatTopKLocked(const std::vector<float>& q, const ScanPlan& p, size_t kk,
                                      std::vector<Cand>* top) {
  if (!dot_tuned_ && ids_.size() >= opts_.parallel_threshold) {
    dot_rows_ = simd::FastestDotRows(mat_.data(), stride_, ids_.size()).fn;
    dot_tuned_ = true;
  }
  const simd::DotRowsFn dot = dot_rows_;
  auto better = [this](const Cand& a, const Cand& b) { return Better(a, b); };
  auto score = [&](size_t row, size_t count, float* out) { dot(q.data(), &mat_[row * stride_], stride_, count, out); };
  auto scan = [&](size_t b, size_t e, std::vector<Cand>* h) {
    // Scattered rows defeat the hardware prefetcher: ask for the row two
    // ahead while scoring this one.
    ScanPart<Cand, float>(p, b, e, mat_.data(), stride_ * sizeof(float), 2, score, kk, better, h);
  };
  ParallelTopK<Cand>(p.span, kk, scan, better, top);
}

void BruteForceIndex::QuantizedTopKLocked(const std::vector<float>& q, const ScanPlan& p, size_t kk,
                                          size_t rescore, std::vector<Cand>* top) {
  if (!q_ready_) BuildQuantizedLocked();
  // The query folds in the per-dimension scales, w_j = q_j * scale_j, and is
  // quantised to int8 over its own range. Only the order of the int32 scores
  // matters: the exact float32 rescoring gives the final scores.
  std::vector<int8_t> qi(qstride_, 0);
  float wmax = 0;
  for (int j = 0; j < dim_; ++j) wmax = std::max(wmax, std::fabs(q[j] * qscale_[j]));
  if (wmax > 0) {
    for (int j = 0; j < dim_; ++j) qi[j] = int8_t(std::nearbyint(q[j] * qscale_[j] / wmax * 127.0f));
  }
  const simd::Kernels& kern = simd::Best();
  // Rows are scanned in increasing order: a later row never wins a tie.
  auto ibetter = [](const ICand& a, const ICand& b) { return a.s > b.s || (a.s == b.s && a.row < b.row); };
  auto iscore = [&](size_t row, size_t count, int32_t* out) {
    kern.dot_rows_u8(qi.data(), &qmat_[row * qstride_], qstride_, count, out);
  };
  auto iscan = [&](size_t b, size_t e, std::vector<ICand>* h) {
    ScanPart<ICand, int32_t>(p, b, e, qmat_.data(), qstride_, 4, iscore, rescore, ibetter, h);
  };
  std::vector<ICand> cands;
  ParallelTopK<ICand>(p.span, rescore, iscan, ibetter, &cands);
  RescoreLocked(q, cands, kk, top);
}

void BruteForceIndex::BitsTopKLocked(const std::vector<float>& q, const ScanPlan& p, size_t kk, size_t rescore,
                                     std::vector<Cand>* top) {
  if (!bits_ready_) BuildBitsLocked();
  if (q_ready_) {  // kAuto moved past bits_threshold: the int8 matrix is no longer read
    decltype(qmat_)().swap(qmat_);
    q_ready_ = false;
  }
  std::vector<uint64_t> qw(bwords_);
  for (size_t w = 0; w < bwords_; ++w) qw[w] = CodeWord(q.data(), w);
  const simd::BitKernels& kern = simd::BestBits();
  // Fewer differing bits is nearer; rows in increasing order break ties.
  auto hbetter = [](const ICand& a, const ICand& b) { return a.s < b.s || (a.s == b.s && a.row < b.row); };
  auto hscore = [&](size_t row, size_t count, int32_t* out) {
    kern.hamming_rows(qw.data(), codes_.data(), bwords_, row, count, out);
  };
  auto hscan = [&](size_t b, size_t e, std::vector<ICand>* h) {
    // A sparse plan prefetches the row's block (its words are 64 bytes apart).
    ScanPart<ICand, int32_t>(p, b, e, codes_.data(), bwords_ * sizeof(uint64_t), 4, hscore, rescore, hbetter, h);
  };
  std::vector<ICand> cands;
  ParallelTopK<ICand>(p.span, rescore, hscan, hbetter, &cands);
  RescoreLocked(q, cands, kk, top);
}

void BruteForceIndex::RescoreLocked(const std::vector<float>& q, const std::vector<ICand>& cands, size_t kk,
                                    std::vector<Cand>* top) {
  // Exact float32 rescoring of the candidates decides the final order. The
  // rows are scattered: fetch the row a few candidates ahead.
  const simd::Kernels& kern = simd::Best();
  auto better = [this](const Cand& a, const Cand& b) { return Better(a, b); };
  constexpr size_t kAhead = 4;
  const size_t row_bytes = stride_ * sizeof(float);
  top->reserve(kk + 1);
  for (size_t i = 0; i < cands.size(); ++i) {
    if (i + kAhead < cands.size()) PrefetchRow(&mat_[size_t(cands[i + kAhead].row) * stride_], row_bytes);
    float sc;
    kern.dot_rows(q.data(), &mat_[size_t(cands[i].row) * stride_], stride_, 1, &sc);
    PushTopK(top, kk, Cand{sc, cands[i].row}, better);
  }
}

}  // namespace

std::unique_ptr<VectorIndex> NewBruteForceIndex(sqlite3* db, const IndexOptions& opts) {
  return std::make_unique<BruteForceIndex>(db, opts);
}

Status LoadBruteForceIndex(sqlite3* db, sqlite3* read_db, const IndexOptions& opts, const std::atomic<bool>* stop,
                           std::unique_ptr<VectorIndex>* out, index_internal::StoredCodes* codes) {
  if (db == nullptr || read_db == nullptr) return Status::InvalidArgument("no database connection");
  auto idx = std::make_unique<BruteForceIndex>(db, opts);
  Status s = idx->LoadThrough(read_db, stop, codes);
  if (s.ok()) *out = std::move(idx);
  return s;
}

}  // namespace rekall
