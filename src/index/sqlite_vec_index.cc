#include "index/sqlite_vec_index.h"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

#include "index/index_source.h"
#include "index/simd.h"

namespace rekall {
namespace {

using index_internal::Exec;
using index_internal::Normalize;
using index_internal::SqlError;
using index_internal::Stmt;

constexpr const char* kTable = "embeddings_vec";
// Where the source-table fingerprint the vec0 table was last synchronised
// with is kept, so a later process can tell whether someone (e.g. Python
// Rekall) changed the embeddings while no index was open.
constexpr const char* kStateTable = "rekall_index_state";
// While embeddings_vec is being built, the same row holds
//   "building" US <base fingerprint> US [">" <last entry_id committed>]
// (US = \x1f): rows are inserted in entry_id order, one committed batch at a
// time, and a resumed build starts after the last committed entry_id. The
// base fingerprint is the one of the source tables the rows below the cursor
// agree with; "" = unknown (the sources changed behind the build), so the
// build ends with a reconcile. A value not starting with "building" is the
// fingerprint of a complete table (an older rekall reading "building..."
// sees a mismatch and reconciles, which completes the table too).
constexpr const char* kBuildingPrefix = "building\x1f";
// vec0 refuses k above 4096; larger requests take the exact path.
constexpr int kVecMaxK = 4096;
// Float error margin of vec0's L2 distance turned into a cosine: candidates
// within it of the k-th score are fetched too, so ranks never depend on it.
constexpr float kScoreSlack = 1e-4f;

size_t RoundUp(size_t x, size_t m) { return (x + m - 1) / m * m; }

std::string Lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

uint64_t Fnv(uint64_t h, const void* p, size_t n) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  return h;
}

uint64_t RowHash(const void* vec, size_t bytes, const std::string& type, const std::string& project,
                 const std::string& status) {
  uint64_t h = 14695981039346656037ull;
  h = Fnv(h, vec, bytes);
  for (const std::string* s : {&type, &project, &status}) h = Fnv(h, s->c_str(), s->size() + 1);
  return h;
}

std::string ColText(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(s, i)) : std::string();
}

bool IsBuilding(const std::string& v) { return v.rfind(kBuildingPrefix, 0) == 0; }

struct BuildState {
  std::string base;  // "" = unknown
  bool has_cursor = false;
  std::string cursor;
};

BuildState ParseBuilding(const std::string& v) {
  BuildState b;
  const std::string rest = v.substr(std::strlen(kBuildingPrefix));
  const size_t p = rest.find('\x1f');
  if (p == std::string::npos) return b;  // malformed: from the start, reconcile at the end
  b.base = rest.substr(0, p);
  const std::string c = rest.substr(p + 1);
  if (!c.empty() && c[0] == '>') {
    b.has_cursor = true;
    b.cursor = c.substr(1);
  }
  return b;
}

std::string BuildingValue(const BuildState& b) {
  return std::string(kBuildingPrefix) + b.base + "\x1f" + (b.has_cursor ? ">" + b.cursor : std::string());
}

// BEGIN IMMEDIATE ... COMMIT, rolled back unless committed: one build batch.
// Only used when the connection is in autocommit mode.
class Txn {
 public:
  explicit Txn(sqlite3* db) : db_(db) {
    if (sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK) {
      status_ = SqlError(db_, "BEGIN IMMEDIATE");
    } else {
      open_ = true;
    }
  }
  ~Txn() {
    if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  const Status& status() const { return status_; }
  Status Commit() {
    if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
      Status s = SqlError(db_, "COMMIT");
      return s;  // still open: the destructor rolls back
    }
    open_ = false;
    return Status::OK();
  }

 private:
  sqlite3* db_;
  Status status_;
  bool open_ = false;
};

// SAVEPOINT that rolls back unless released: atomic inside or outside the
// caller's transaction.
class Savepoint {
 public:
  explicit Savepoint(sqlite3* db) : db_(db) { status_ = Exec(db_, "SAVEPOINT rekall_vec"); }
  ~Savepoint() {
    if (status_.ok() && !released_) {
      sqlite3_exec(db_, "ROLLBACK TO rekall_vec; RELEASE rekall_vec", nullptr, nullptr, nullptr);
    }
  }
  const Status& status() const { return status_; }
  Status Release() {
    released_ = true;
    return Exec(db_, "RELEASE rekall_vec");
  }

 private:
  sqlite3* db_;
  Status status_;
  bool released_ = false;
};

struct Scored {
  float s;
  std::string id;
};
bool Better(const Scored& a, const Scored& b) { return a.s > b.s || (a.s == b.s && a.id < b.id); }

enum class Phase { kReady, kBuilding, kAbsent };

class SqliteVecIndex final : public VectorIndex {
 public:
  SqliteVecIndex(sqlite3* db, const IndexOptions& o)
      : db_(db), opts_(o), dim_(o.dim), stride_(RoundUp(size_t(o.dim), simd::kFloatLanes)) {}

  ~SqliteVecIndex() override {
    // Our own committed writes moved the source tables; if nobody else
    // committed since, record that the vec0 table matches them.
    std::lock_guard<std::mutex> l(mu_);
    if (phase_ != Phase::kReady) return;  // the state row says how far the build got
    if (!persist_pending_ && !fp_dirty_) return;
    if (!sqlite3_get_autocommit(db_)) return;
    int64_t dv = 0;
    if (!index_internal::DataVersion(db_, &dv).ok() || dv != data_version_) return;
    PersistFingerprint(index_internal::SourceFingerprint(db_));
  }

  const char* name() const override { return "sqlite-vec"; }
  int dim() const override { return dim_; }

  Status Init() {
    std::lock_guard<std::mutex> l(mu_);
    std::string stored;
    Status s = ReadPhase(&phase_, &stored);
    if (!s.ok()) return s;
    int64_t dv = 0;
    s = index_internal::DataVersion(db_, &dv);
    if (!s.ok()) return s;
    if (phase_ != Phase::kReady) {
      // Absent, of another shape, or a build in progress (ours interrupted,
      // or another process's): build batch by batch. Left incomplete (work
      // bound, caller's transaction, read-only or busy file), searches use
      // the exact path and later calls continue.
      data_version_ = dv;
      s = ContinueBuildLocked(opts_.build_batches_per_call, nullptr, nullptr);
      if (!s.ok() && !CanAnswerBehind(s)) return s;
      return Status::OK();
    }
    std::string fp = index_internal::SourceFingerprint(db_);
    if (fp != stored) {
      s = ReconcileLocked();
      if (!s.ok()) return s;
      PersistFingerprint(fp);
    }
    data_version_ = dv;
    fingerprint_ = fp;
    return Status::OK();
  }

  Status Upsert(const std::string& entry_id, const float* vec, int dim, const EntryMeta& meta) override {
    Status s = CheckVector(vec, dim, "vector");
    if (!s.ok()) return s;
    if (entry_id.empty()) return Status::InvalidArgument("empty entry id");
    std::vector<float> v(vec, vec + dim);
    Normalize(v.data(), dim);
    std::lock_guard<std::mutex> l(mu_);
    fp_dirty_ = true;
    // No table of ours yet: the build will read this row from the sources.
    if (phase_ == Phase::kAbsent) return Status::OK();
    Savepoint sp(db_);
    if (!sp.status().ok()) return sp.status();
    // vec0 ignores OR REPLACE (UNIQUE constraint error), so delete + insert.
    s = DeleteRow(entry_id);
    if (s.ok()) s = InsertRow(entry_id, v.data(), meta);
    if (!s.ok()) return s;
    return sp.Release();
  }

  Status Remove(const std::string& entry_id) override {
    std::lock_guard<std::mutex> l(mu_);
    fp_dirty_ = true;
    if (phase_ == Phase::kAbsent) return Status::OK();
    return DeleteRow(entry_id);
  }

  Status Search(const float* query, int dim, int k, const Filter& f, std::vector<Hit>* out) override {
    out->clear();
    Status s = CheckVector(query, dim, "query vector");
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> l(mu_);
    bool behind = false;
    s = FreshLocked(opts_.auto_refresh, nullptr);
    if (!s.ok()) {
      if (!CanAnswerBehind(s)) return s;
      behind = true;
    }
    if (k <= 0) return Status::OK();
    std::vector<float> q(stride_, 0.0f);
    std::memcpy(q.data(), query, sizeof(float) * dim_);
    Normalize(q.data(), dim_);
    std::vector<Scored> top;
    // vec0 metadata cannot hold a list of tags: tag filters (and k beyond
    // vec0's cap) score the matching rows exactly instead; so does a search
    // while embeddings_vec could not be caught up or is not completely built.
    if (behind || phase_ != Phase::kReady || !f.tags.empty() || k > kVecMaxK / 2) {
      s = ExactLocked(q, k, f, &top);
    } else {
      s = KnnLocked(q, k, f, &top);
    }
    if (!s.ok()) return s;
    out->reserve(top.size());
    for (Scored& h : top) out->push_back(Hit{std::move(h.id), h.s});
    return Status::OK();
  }

  Status Count(size_t* n) override {
    std::lock_guard<std::mutex> l(mu_);
    Status s = FreshLocked(opts_.auto_refresh, nullptr);
    if (!s.ok() && !CanAnswerBehind(s)) return s;
    Stmt st;
    s = st.Prepare(db_, s.ok() && phase_ == Phase::kReady ? std::string("SELECT count(*) FROM ") + kTable
                               : std::string("SELECT count(*) FROM ") + index_internal::kSourceJoin + " WHERE " +
                                     index_internal::kSourceWhere + " AND length(em.vector) = " +
                                     std::to_string(sizeof(float) * dim_));
    if (!s.ok()) return s;
    if (sqlite3_step(st.get()) != SQLITE_ROW) return SqlError(db_, "counting index rows");
    *n = size_t(sqlite3_column_int64(st.get(), 0));
    return Status::OK();
  }

  Status Rebuild(size_t* loaded, size_t* skipped) override {
    std::lock_guard<std::mutex> l(mu_);
    // Inside the caller's transaction: one savepoint, atomic with it.
    if (!sqlite3_get_autocommit(db_)) return RebuildLocked(loaded, skipped);
    size_t sk = 0;
    force_new_build_ = true;
    Status s = ContinueBuildLocked(0, nullptr, &sk);
    force_new_build_ = false;
    if (!s.ok()) return s;
    if (phase_ != Phase::kReady) return Status::Internal("vector index build did not complete");
    if (skipped) *skipped = sk;
    if (loaded) {
      Stmt st;
      s = st.Prepare(db_, std::string("SELECT count(*) FROM ") + kTable);
      if (!s.ok()) return s;
      if (sqlite3_step(st.get()) != SQLITE_ROW) return SqlError(db_, "counting index rows");
      *loaded = size_t(sqlite3_column_int64(st.get(), 0));
    }
    return Status::OK();
  }

  Status Refresh(bool* changed) override {
    std::lock_guard<std::mutex> l(mu_);
    return FreshLocked(true, changed);
  }

  // SQLite rolled the vec0 rows back with the rest of the transaction.
  void MarkStale() override {
    std::lock_guard<std::mutex> l(mu_);
    fp_dirty_ = true;
  }

 private:
  Status CheckVector(const float* v, int dim, const char* what) const {
    return index_internal::CheckVector(v, dim, dim_, what);
  }

  // Catching embeddings_vec up with another connection's commit needs the
  // write lock: on a read-only connection (or while another process holds
  // the lock past the busy timeout) answers come from the source tables,
  // which are always current, and the catch-up is retried next time.
  static bool CanAnswerBehind(const Status& s) { return s.code() == Code::kIOError || s.code() == Code::kBusy; }

  std::string CreateSql() const {
    return std::string("CREATE VIRTUAL TABLE ") + kTable + " USING vec0(entry_id TEXT PRIMARY KEY, embedding float[" +
           std::to_string(dim_) + "], type text, project text, status text)";
  }

  // An older embeddings_vec (e.g. Rekall's, without metadata columns) or
  // one of another dimension is re-created: it is derived data.
  bool ShapeMatches(const std::string& sql) const {
    for (std::string part : {std::string("using vec0"), std::string("entry_id text primary key"),
                             "float[" + std::to_string(dim_) + "]", std::string("type text"),
                             std::string("project text"), std::string("status text")}) {
      if (sql.find(part) == std::string::npos) return false;
    }
    return true;
  }

  std::string StoredFingerprint() {
    Stmt st;
    if (!st.Prepare(db_, std::string("SELECT value FROM ") + kStateTable + " WHERE name = ?1").ok()) return "";
    sqlite3_bind_text(st.get(), 1, kTable, -1, SQLITE_STATIC);
    return sqlite3_step(st.get()) == SQLITE_ROW ? ColText(st.get(), 0) : "";
  }

  // Best effort: a read-only database simply reconciles at every open.
  // Never overwrites the state of a build in progress (e.g. a rebuild
  // another process started since we last looked).
  void PersistFingerprint(const std::string& fp) {
    persist_pending_ = false;
    if (Exec(db_, std::string("CREATE TABLE IF NOT EXISTS ") + kStateTable +
                      "(name TEXT PRIMARY KEY, value TEXT)").ok()) {
      Stmt st;
      if (st.Prepare(db_, std::string("INSERT INTO ") + kStateTable +
                              "(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value"
                              " WHERE substr(value, 1, 9) <> 'building' || char(31)")
              .ok()) {
        sqlite3_bind_text(st.get(), 1, kTable, -1, SQLITE_STATIC);
        sqlite3_bind_text(st.get(), 2, fp.c_str(), -1, SQLITE_TRANSIENT);
        sqlite3_step(st.get());
      }
    }
  }

  // Exec with SQLite's error class kept (read-only -> IOError, locked ->
  // Busy), so that a build which cannot write leaves searches on the exact path.
  Status Run(const std::string& sql) {
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) return SqlError(db_, sql);
    return Status::OK();
  }

  Status WriteState(const std::string& v) {
    Status s = Run(std::string("CREATE TABLE IF NOT EXISTS ") + kStateTable + "(name TEXT PRIMARY KEY, value TEXT)");
    if (!s.ok()) return s;
    Stmt st;
    s = st.Prepare(db_, std::string("INSERT OR REPLACE INTO ") + kStateTable + "(name, value) VALUES (?1, ?2)");
    if (!s.ok()) return s;
    sqlite3_bind_text(st.get(), 1, kTable, -1, SQLITE_STATIC);
    sqlite3_bind_text(st.get(), 2, v.c_str(), int(v.size()), SQLITE_STATIC);
    if (sqlite3_step(st.get()) != SQLITE_DONE) return SqlError(db_, "writing " + std::string(kStateTable));
    return Status::OK();
  }

  // kAbsent: no embeddings_vec, or one of another shape (not ours to use);
  // kBuilding: ours, being built; kReady: ours and complete (*stored = the
  // fingerprint it was last synchronised with, "" if unknown).
  Status ReadPhase(Phase* ph, std::string* stored) {
    Stmt st;
    Status s = st.Prepare(db_, "SELECT sql FROM sqlite_master WHERE name = ?1");
    if (!s.ok()) return s;
    sqlite3_bind_text(st.get(), 1, kTable, -1, SQLITE_STATIC);
    std::string sql;
    if (sqlite3_step(st.get()) == SQLITE_ROW) sql = Lower(ColText(st.get(), 0));
    st.Finalize();  // a running statement would block DROP TABLE
    *stored = StoredFingerprint();
    if (sql.empty() || !ShapeMatches(sql)) {
      *ph = Phase::kAbsent;
    } else {
      *ph = IsBuilding(*stored) ? Phase::kBuilding : Phase::kReady;
    }
    return Status::OK();
  }

  void MarkReady(const std::string& fp, int64_t dv) {
    phase_ = Phase::kReady;
    fingerprint_ = fp;
    data_version_ = dv;
    fp_dirty_ = false;
    persist_pending_ = false;
    build_dv_known_ = false;
  }

  // Runs build batches, each its own committed transaction, until the table
  // is complete or max_batches (0 = no bound) ran; stops quietly inside the
  // caller's transaction.
  Status ContinueBuildLocked(size_t max_batches, size_t* loaded, size_t* skipped) {
    for (size_t n = 0; (phase_ != Phase::kReady || force_new_build_) && (max_batches == 0 || n < max_batches); ++n) {
      if (!sqlite3_get_autocommit(db_)) return Status::OK();
      Status s = BuildBatchLocked(loaded, skipped);
      if (!s.ok()) return s;
    }
    return Status::OK();
  }

  bool Present(const std::string& id, Status* err) {
    if (!has_.prepared()) {
      *err = has_.Prepare(db_, std::string("SELECT 1 FROM ") + kTable + " WHERE entry_id = ?1");
      if (!err->ok()) return false;
    }
    has_.Reset();
    sqlite3_bind_text(has_.get(), 1, id.c_str(), int(id.size()), SQLITE_STATIC);
    const int rc = sqlite3_step(has_.get());
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) *err = SqlError(db_, "looking up " + std::string(kTable));
    has_.Reset();
    return rc == SQLITE_ROW;
  }

  // One committed batch of the build, under the write lock: (re)creates
  // embeddings_vec when absent, of another shape or force_new_build_; then
  // inserts the next build_batch_rows source rows after the cursor, skipping
  // ids already present (written by Upsert since the build began: current),
  // and moves the cursor; after the last batch, marks the table complete.
  Status BuildBatchLocked(size_t* loaded, size_t* skipped) {
    Txn t(db_);
    if (!t.status().ok()) return t.status();
    Phase ph;
    std::string stored;
    Status s = ReadPhase(&ph, &stored);  // the truth, now that we hold the lock
    if (!s.ok()) return s;
    int64_t dv = 0;
    s = index_internal::DataVersion(db_, &dv);
    if (!s.ok()) return s;
    std::string fp_now;
    BuildState b;
    bool clear_dirty = false;  // fp_dirty_ is accounted for, once committed
    if (ph == Phase::kAbsent || force_new_build_) {
      // Our statements on the old table go before it is dropped.
      del_.Finalize();
      ins_.Finalize();
      has_.Finalize();
      knn_.clear();
      s = Run(std::string("DROP TABLE IF EXISTS ") + kTable);
      if (s.ok()) s = Run(CreateSql());
      if (!s.ok()) return s;
      fp_now = index_internal::SourceFingerprint(db_);
      b.base = fp_now;
      clear_dirty = true;
    } else if (ph == Phase::kReady) {
      // Another connection completed it: catch up as an open does.
      fp_now = index_internal::SourceFingerprint(db_);
      if (fp_now != stored) {
        s = ReconcileLocked();
        if (s.ok()) s = WriteState(fp_now);
        if (!s.ok()) return s;
      }
      s = t.Commit();
      if (!s.ok()) return s;
      MarkReady(fp_now, dv);
      return Status::OK();
    } else {
      b = ParseBuilding(stored);
      if (!build_dv_known_ || dv != build_dv_ || fp_dirty_) {
        fp_now = index_internal::SourceFingerprint(db_);
        if (fp_dirty_ && build_dv_known_ && dv == build_dv_) {
          // Only our own writes since our last batch: they went into the
          // table (Upsert/Remove), or were rolled back with it.
          if (!b.base.empty()) b.base = fp_now;
        } else if (b.base != fp_now) {
          b.base.clear();  // changed behind the build: reconcile at the end
        }
        clear_dirty = true;
      }
    }

    // The next rows after the cursor, read before any insert.
    const size_t limit = std::max<size_t>(1, opts_.build_batch_rows);
    Stmt& q = b.has_cursor ? batch_next_ : batch_first_;
    if (!q.prepared()) {
      // "+em.embedding_type": not through Rekall's idx_embeddings_type,
      // which would sort every summary row at each batch; walk an entry_id
      // index from the cursor instead.
      std::string where = index_internal::kSourceWhere;
      if (where.rfind("em.embedding_type", 0) == 0) where.insert(0, "+");
      s = q.Prepare(db_, std::string("SELECT em.entry_id, em.vector, e.type, e.project, e.status FROM ") +
                             index_internal::kSourceJoin + " WHERE " + where +
                             (b.has_cursor ? " AND em.entry_id > ?2" : "") + " ORDER BY em.entry_id LIMIT ?1");
      if (!s.ok()) return s;
    }
    q.Reset();
    sqlite3_bind_int64(q.get(), 1, int64_t(limit));
    if (b.has_cursor) sqlite3_bind_text(q.get(), 2, b.cursor.c_str(), int(b.cursor.size()), SQLITE_STATIC);
    struct Row {
      std::string id;
      std::vector<float> v;  // empty: unusable
      EntryMeta meta;
    };
    std::vector<Row> rows;
    int rc;
    while ((rc = sqlite3_step(q.get())) == SQLITE_ROW) {
      Row r;
      r.id = ColText(q.get(), 0);
      const void* blob = sqlite3_column_blob(q.get(), 1);
      const int bytes = sqlite3_column_bytes(q.get(), 1);
      if (blob != nullptr && bytes == int(sizeof(float)) * dim_) {
        r.v.resize(dim_);
        std::memcpy(r.v.data(), blob, bytes);
      }
      r.meta.type = ColText(q.get(), 2);
      r.meta.project = ColText(q.get(), 3);
      r.meta.status = sqlite3_column_type(q.get(), 4) == SQLITE_NULL ? "active" : ColText(q.get(), 4);
      rows.push_back(std::move(r));
    }
    if (rc != SQLITE_DONE) return SqlError(db_, "reading embeddings");
    q.Reset();
    size_t inserted = 0, bad = 0;
    for (Row& r : rows) {
      b.has_cursor = true;
      b.cursor = r.id;
      if (r.v.empty()) {
        ++bad;
        continue;
      }
      bool finite = true;
      for (float x : r.v) finite = finite && std::isfinite(x);
      if (!finite) continue;
      if (Present(r.id, &s)) continue;
      if (!s.ok()) return s;
      Normalize(r.v.data(), dim_);
      s = InsertRow(r.id, r.v.data(), r.meta);
      if (!s.ok()) return s;
      ++inserted;
    }
    const bool last = rows.size() < limit;
    if (last) {
      if (b.base.empty()) {
        // The sources changed behind the build: bring every row in line.
        s = ReconcileLocked();
        if (!s.ok()) return s;
        fp_now = index_internal::SourceFingerprint(db_);
      } else {
        fp_now = b.base;  // verified above, or unchanged since (same data_version)
      }
      s = WriteState(fp_now);
    } else {
      s = WriteState(BuildingValue(b));
    }
    if (!s.ok()) return s;
    if (opts_.build_batch_hook) opts_.build_batch_hook(inserted);
    s = t.Commit();
    if (!s.ok()) return s;
    // Committed: only now does the in-memory state follow.
    force_new_build_ = false;
    if (clear_dirty) fp_dirty_ = false;
    if (loaded) *loaded += inserted;
    if (skipped) *skipped += bad;
    if (last) {
      MarkReady(fp_now, dv);
    } else {
      phase_ = Phase::kBuilding;
      build_dv_ = dv;
      build_dv_known_ = true;
    }
    return Status::OK();
  }

  Status DeleteRow(const std::string& id) {
    if (!del_.prepared()) {
      Status s = del_.Prepare(db_, std::string("DELETE FROM ") + kTable + " WHERE entry_id = ?1");
      if (!s.ok()) return s;
    }
    del_.Reset();
    sqlite3_bind_text(del_.get(), 1, id.c_str(), int(id.size()), SQLITE_STATIC);
    if (sqlite3_step(del_.get()) != SQLITE_DONE) return SqlError(db_, "deleting from " + std::string(kTable));
    return Status::OK();
  }

  Status InsertRow(const std::string& id, const float* unit, const EntryMeta& m) {
    if (!ins_.prepared()) {
      Status s = ins_.Prepare(db_, std::string("INSERT INTO ") + kTable +
                                       "(entry_id, embedding, type, project, status) VALUES (?1, ?2, ?3, ?4, ?5)");
      if (!s.ok()) return s;
    }
    ins_.Reset();
    sqlite3_bind_text(ins_.get(), 1, id.c_str(), int(id.size()), SQLITE_STATIC);
    sqlite3_bind_blob(ins_.get(), 2, unit, int(sizeof(float) * dim_), SQLITE_STATIC);
    // vec0 metadata text columns reject NULL: an absent value is "".
    sqlite3_bind_text(ins_.get(), 3, m.type.c_str(), int(m.type.size()), SQLITE_STATIC);
    sqlite3_bind_text(ins_.get(), 4, m.project.c_str(), int(m.project.size()), SQLITE_STATIC);
    sqlite3_bind_text(ins_.get(), 5, m.status.c_str(), int(m.status.size()), SQLITE_STATIC);
    if (sqlite3_step(ins_.get()) != SQLITE_DONE) return SqlError(db_, "inserting into " + std::string(kTable));
    return Status::OK();
  }

  Status RebuildLocked(size_t* loaded, size_t* skipped) {
    int64_t dv = 0;
    Status s = index_internal::DataVersion(db_, &dv);
    if (!s.ok()) return s;
    std::string fp = index_internal::SourceFingerprint(db_);
    // Our statements on the old table go before it is dropped.
    del_.Finalize();
    ins_.Finalize();
    has_.Finalize();
    knn_.clear();
    {
      Savepoint sp(db_);
      if (!sp.status().ok()) return sp.status();
      s = Exec(db_, std::string("DROP TABLE IF EXISTS ") + kTable);
      if (s.ok()) s = Exec(db_, CreateSql());
      size_t n = 0;
      std::vector<float> v(dim_);
      if (s.ok()) {
        s = index_internal::ForEachSourceRow(
            db_, dim_,
            [&](const index_internal::SourceRow& r) {
              std::memcpy(v.data(), r.vec, sizeof(float) * dim_);
              for (float x : v) {
                if (!std::isfinite(x)) return Status::OK();
              }
              Normalize(v.data(), dim_);
              ++n;
              return InsertRow(r.entry_id, v.data(), r.meta);
            },
            skipped);
      }
      if (!s.ok()) return s;
      s = sp.Release();
      if (!s.ok()) return s;
      if (loaded) *loaded = n;
    }
    WriteState(fp);  // best effort, as PersistFingerprint (read-only file)
    MarkReady(fp, dv);
    return Status::OK();
  }

  // Brings embeddings_vec in line with the source tables, touching only the
  // rows that differ: compares a hash of (unit vector, type, project, status).
  Status ReconcileLocked() {
    std::unordered_map<std::string, uint64_t> have;
    {
      Stmt st;
      Status s = st.Prepare(db_, std::string("SELECT entry_id, embedding, type, project, status FROM ") + kTable);
      if (!s.ok()) return s;
      int rc;
      while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
        have[ColText(st.get(), 0)] =
            RowHash(sqlite3_column_blob(st.get(), 1), size_t(sqlite3_column_bytes(st.get(), 1)),
                    ColText(st.get(), 2), ColText(st.get(), 3), ColText(st.get(), 4));
      }
      if (rc != SQLITE_DONE) return SqlError(db_, "scanning " + std::string(kTable));
    }
    Savepoint sp(db_);
    if (!sp.status().ok()) return sp.status();
    std::vector<float> v(dim_);
    Status s = index_internal::ForEachSourceRow(
        db_, dim_,
        [&](const index_internal::SourceRow& r) {
          std::memcpy(v.data(), r.vec, sizeof(float) * dim_);
          for (float x : v) {
            if (!std::isfinite(x)) return Status::OK();
          }
          Normalize(v.data(), dim_);
          const uint64_t h = RowHash(v.data(), sizeof(float) * dim_, r.meta.type, r.meta.project, r.meta.status);
          auto it = have.find(r.entry_id);
          if (it != have.end()) {
            const bool same = it->second == h;
            have.erase(it);
            if (same) return Status::OK();
            Status d = DeleteRow(r.entry_id);
            if (!d.ok()) return d;
          }
          return InsertRow(r.entry_id, v.data(), r.meta);
        },
        nullptr);
    if (!s.ok()) return s;
    for (const auto& [id, h] : have) {  // rows whose source is gone
      s = DeleteRow(id);
      if (!s.ok()) return s;
    }
    return sp.Release();
  }

  Status FreshLocked(bool check_others, bool* changed) {
    if (changed) *changed = false;
    if (!check_others) return Status::OK();
    int64_t dv = 0;
    Status s = index_internal::DataVersion(db_, &dv);
    if (!s.ok()) return s;
    bool recheck = false;
    if (dv != data_version_) {
      // Another connection committed: it may have started, advanced or
      // finished a build of embeddings_vec.
      const Phase was = phase_;
      std::string stored;
      s = ReadPhase(&phase_, &stored);
      if (!s.ok()) return s;
      if (phase_ == Phase::kReady && was != Phase::kReady) {
        fingerprint_ = stored;  // completed elsewhere: compared with the sources below
        recheck = true;
      }
    }
    if (phase_ != Phase::kReady) {
      data_version_ = dv;
      s = ContinueBuildLocked(opts_.build_batches_per_call, nullptr, nullptr);
      if (changed) *changed = phase_ == Phase::kReady;
      return s;
    }
    if (dv != data_version_ || recheck) {
      std::string fp = index_internal::SourceFingerprint(db_);
      if (fp_dirty_ || fp != fingerprint_) {
        if (changed) *changed = true;
        s = ReconcileLocked();
        if (!s.ok()) return s;
        if (sqlite3_get_autocommit(db_)) PersistFingerprint(fp);
        fp_dirty_ = false;
      }
      fingerprint_ = fp;
      data_version_ = dv;
    } else if (fp_dirty_ && sqlite3_get_autocommit(db_)) {
      // Only our own committed writes happened: re-baseline.
      fingerprint_ = index_internal::SourceFingerprint(db_);
      fp_dirty_ = false;
      persist_pending_ = true;
    }
    return Status::OK();
  }

  // Exact score of a source vector (embeddings.vector), normalised and
  // scored with the same kernel and padding as the brute backend, so both
  // backends return bit-identical scores. False if the blob is unusable.
  bool Score(const std::vector<float>& q, const void* blob, int bytes, float* s) {
    if (blob == nullptr || bytes != int(sizeof(float) * dim_)) return false;
    row_.assign(stride_, 0.0f);
    std::memcpy(row_.data(), blob, bytes);
    for (int j = 0; j < dim_; ++j) {
      if (!std::isfinite(row_[j])) return false;
    }
    Normalize(row_.data(), dim_);
    simd::Best().dot_rows(q.data(), row_.data(), stride_, 1, s);
    return true;
  }

  // vec0 hands back vectors slowly (~0.25 ms a row in KNN results on this
  // machine), so candidates are rescored from the embeddings table, looked
  // up through its UNIQUE(entry_id, embedding_type) index.
  float SourceScore(const std::vector<float>& q, const std::string& id, float distance) {
    if (!src_.prepared() &&
        !src_.Prepare(db_, std::string("SELECT em.vector FROM embeddings em WHERE em.entry_id = ?1 AND ") +
                               index_internal::kSourceWhere)
             .ok()) {
      return 1.0f - distance * distance / 2;
    }
    src_.Reset();
    sqlite3_bind_text(src_.get(), 1, id.c_str(), int(id.size()), SQLITE_STATIC);
    float sc;
    if (sqlite3_step(src_.get()) != SQLITE_ROW ||
        !Score(q, sqlite3_column_blob(src_.get(), 0), sqlite3_column_bytes(src_.get(), 0), &sc)) {
      sc = 1.0f - distance * distance / 2;  // unit vectors: |a-b|^2 = 2 - 2 cos
    }
    src_.Reset();
    return sc;
  }

  Status KnnLocked(const std::vector<float>& q, int k, const Filter& f, std::vector<Scored>* out) {
    const int shape = (f.type ? 1 : 0) | (f.project ? 2 : 0) | (f.status ? 4 : 0);
    std::unique_ptr<Stmt>& st = knn_[shape];
    if (!st) {
      std::string sql = std::string("SELECT entry_id, distance FROM ") + kTable +
                        " WHERE embedding MATCH ?1 AND k = ?2";
      if (f.type) sql += " AND type = ?3";
      if (f.project) sql += " AND project = ?4";
      if (f.status) sql += " AND status = ?5";
      st = std::make_unique<Stmt>();
      Status s = st->Prepare(db_, sql);
      if (!s.ok()) {
        st.reset();
        return s;
      }
    }
    // Fetch a few more than k: vec0 ranks by float L2 distance, and near the
    // k-th place that order may differ from the exact one. Widen while the
    // last fetched candidate is (within slack) as good as the k-th.
    int fetch = std::min(kVecMaxK, k + 16);
    for (;;) {
      st->Reset();
      sqlite3_bind_blob(st->get(), 1, q.data(), int(sizeof(float) * dim_), SQLITE_STATIC);
      sqlite3_bind_int(st->get(), 2, fetch);
      if (f.type) sqlite3_bind_text(st->get(), 3, f.type->c_str(), int(f.type->size()), SQLITE_STATIC);
      if (f.project) sqlite3_bind_text(st->get(), 4, f.project->c_str(), int(f.project->size()), SQLITE_STATIC);
      if (f.status) sqlite3_bind_text(st->get(), 5, f.status->c_str(), int(f.status->size()), SQLITE_STATIC);
      out->clear();
      float lowest = 2.0f;
      int rc;
      while ((rc = sqlite3_step(st->get())) == SQLITE_ROW) {
        std::string id = ColText(st->get(), 0);
        float s = SourceScore(q, id, float(sqlite3_column_double(st->get(), 1)));
        lowest = std::min(lowest, s);
        out->push_back(Scored{s, std::move(id)});
      }
      if (rc != SQLITE_DONE) return SqlError(db_, "vec0 KNN query");
      st->Reset();
      std::sort(out->begin(), out->end(), Better);
      if (int(out->size()) < fetch) break;  // every matching row was fetched
      // out->size() == fetch > k: rows not fetched score at most `lowest`.
      if ((*out)[k - 1].s > lowest + kScoreSlack) break;
      if (fetch >= kVecMaxK) return ExactLocked(q, k, f, out);
      fetch = std::min(kVecMaxK, fetch * 4);
    }
    if (int(out->size()) > k) out->resize(k);
    return Status::OK();
  }

  // Scores every source row (the rows a rebuild loads) matching the filter,
  // with a rebuild's rules (NULL project = "", NULL status = "active");
  // tags through the tags table. Reads the embeddings table: vec0 returns
  // vectors slowly.
  Status ExactLocked(const std::vector<float>& q, int k, const Filter& f, std::vector<Scored>* out) {
    std::vector<std::string> tags = f.tags;
    std::sort(tags.begin(), tags.end());
    tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
    std::string sql = std::string("SELECT em.entry_id, em.vector FROM ") + index_internal::kSourceJoin +
                      " WHERE " + index_internal::kSourceWhere;
    std::vector<const std::string*> binds;
    if (!tags.empty()) {
      // Driven through the (entry_id, embedding_type) index when selective.
      sql += " AND em.entry_id IN (SELECT entry_id FROM tags WHERE tag IN (";
      for (size_t i = 0; i < tags.size(); ++i) {
        sql += i ? ",?" : "?";
        binds.push_back(&tags[i]);
      }
      sql += ") GROUP BY entry_id HAVING count(DISTINCT tag) = " + std::to_string(tags.size()) + ")";
    }
    auto cond = [&](const std::optional<std::string>& val, const char* expr) {
      if (!val) return;
      sql += std::string(" AND ") + expr + " = ?";
      binds.push_back(&*val);
    };
    cond(f.type, "coalesce(e.type, '')");
    cond(f.project, "coalesce(e.project, '')");
    cond(f.status, "coalesce(e.status, 'active')");
    Stmt st;
    Status s = st.Prepare(db_, sql);
    if (!s.ok()) return s;
    for (size_t i = 0; i < binds.size(); ++i) {
      sqlite3_bind_text(st.get(), int(i + 1), binds[i]->c_str(), int(binds[i]->size()), SQLITE_STATIC);
    }
    out->clear();
    int rc;
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      float sc;
      if (!Score(q, sqlite3_column_blob(st.get(), 1), sqlite3_column_bytes(st.get(), 1), &sc)) continue;
      out->push_back(Scored{sc, ColText(st.get(), 0)});
    }
    if (rc != SQLITE_DONE) return SqlError(db_, "scanning embeddings");
    const size_t kk = std::min(out->size(), size_t(k));
    std::partial_sort(out->begin(), out->begin() + kk, out->end(), Better);
    out->resize(kk);
    return Status::OK();
  }

  sqlite3* db_;
  const IndexOptions opts_;
  const int dim_;
  const size_t stride_;
  std::mutex mu_;
  Stmt del_, ins_, src_, has_, batch_first_, batch_next_;
  std::map<int, std::unique_ptr<Stmt>> knn_;
  std::vector<float> row_;
  int64_t data_version_ = 0;
  std::string fingerprint_;
  bool fp_dirty_ = false;
  bool persist_pending_ = false;
  Phase phase_ = Phase::kReady;
  bool force_new_build_ = false;  // Rebuild: drop and re-create first
  // data_version at our last committed build batch: unchanged at the next
  // one = nobody else committed in between.
  int64_t build_dv_ = 0;
  bool build_dv_known_ = false;
};

}  // namespace

Status LoadSqliteVec(sqlite3* db, const std::string& path, std::string* version) {
  auto probe = [&](std::string* v) {
    Stmt st;
    // Probing must not leave an error behind; prepare failing is the answer.
    if (!st.Prepare(db, "SELECT vec_version()").ok()) return false;
    if (sqlite3_step(st.get()) != SQLITE_ROW) return false;
    *v = ColText(st.get(), 0);
    return true;
  };
  std::string v;
  if (!probe(&v)) {
    if (path.empty()) return Status::Unavailable("no sqlite-vec extension path configured");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      return Status::Unavailable("sqlite-vec extension not found at " + path);
    }
    int was = 0;
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, -1, &was);
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, nullptr);
    char* err = nullptr;
    const int rc = sqlite3_load_extension(db, path.c_str(), "sqlite3_vec_init", &err);
    // Leave SQL-level load_extension() as the caller had it.
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, was, nullptr);
    if (rc != SQLITE_OK) {
      std::string m = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      return Status::Unavailable("cannot load sqlite-vec from " + path + ": " + m);
    }
    if (!probe(&v)) return Status::Unavailable(path + " loaded but vec_version() is missing");
  }
  // Metadata columns (KNN filtering inside vec0) arrived in 0.1.6.
  int maj = 0, min = 0, pat = 0;
  if (std::sscanf(v.c_str(), "v%d.%d.%d", &maj, &min, &pat) < 2 || (maj == 0 && (min < 1 || (min == 1 && pat < 6)))) {
    return Status::Unavailable("sqlite-vec " + v + " is too old (0.1.6 or later needed)");
  }
  if (version) *version = v;
  return Status::OK();
}

Status NewSqliteVecIndex(sqlite3* db, const IndexOptions& opts, std::unique_ptr<VectorIndex>* out) {
  auto idx = std::make_unique<SqliteVecIndex>(db, opts);
  Status s = idx->Init();
  if (!s.ok()) return s;
  *out = std::move(idx);
  return Status::OK();
}

}  // namespace rekall
