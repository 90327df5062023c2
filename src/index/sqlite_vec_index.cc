#include "index/sqlite_vec_index.h"

#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <unordered_map>

#include "index/backend_base.h"
#include "index/bit_code.h"
#include "index/index_source.h"
#include "index/simd.h"

namespace rekall {
namespace {

using index_internal::ThermometerCode;
using index_internal::ToUnit;
using sqlite::Stmt;

constexpr const char* kTable = "embeddings_vec";
// Where the source tables stood when the vec0 table last matched them is
// kept in the row kTable of this table, so a later process can tell
// whether someone (e.g. Python Rekall) changed them while no index was
// open: the SerializeMarks text of their SourceMarks (index_source.h),
// "marks1 ...", the state of a complete table. Rekall before 2026-11-30
// kept a fingerprint there instead (counts and sums of rowids: a scan of
// every source table at each look, most of a one-row catch-up), which it
// compares with the sources' fingerprint: it never equals our text, so an
// older binary always catches up after us, and never trusts a table we
// changed. A fingerprint found there is no state of ours: the marks stored
// with it (kMarksRow) are used, else every row is compared.
constexpr const char* kStateTable = "rekall_index_state";
// While embeddings_vec is being built, the same row holds
//   "building" US <base state> US [">" <last entry_id committed>]
// (US = \x1f): rows are inserted in entry_id order, one committed batch at a
// time, and a resumed build starts after the last committed entry_id. The
// base state is the one of the source tables the rows below the cursor
// agree with; "" = unknown (the sources changed behind the build), so the
// build ends with a reconcile (an older rekall's base, a fingerprint, never
// equals our state: the same). An older rekall reading "building..."
// sees a mismatch and reconciles, which completes the table too.
constexpr const char* kBuildingPrefix = "building\x1f";
// The layout of embeddings_vec, in rekall_index_state under kLayoutRow:
//   1 (implicit, no row): float[dim], ranked by L2 (before 2026-11-30);
//   2: bit[3 * dim], the ThermometerCode of each unit vector (bit_code.h),
//      ranked by Hamming distance, its thresholds under kCodeRow.
// A table of another layout is re-created by the batch build.
constexpr int kLayoutVersion = 2;
constexpr const char* kLayoutRow = "embeddings_vec.layout";
constexpr const char* kCodeRow = "embeddings_vec.code";
// For the rekall of 2026-11-30 that kept a fingerprint in kTable's row:
// the same marks as SerializeMarks text whose tail is the kTable value
// written with them. It trusts them only while that value is the stored
// one (so a writer that stores a fingerprint without marks, an older
// rekall, leaves none), and then rewrites only the entries that changed
// instead of comparing every vec0 row with every source row (4.8 s at 100K
// entries after one added row: RESULTS.md). We write it beside our state,
// and read it only when the state row holds that rekall's fingerprint.
constexpr const char* kMarksRow = "embeddings_vec.marks";
// vec0 refuses k above 4096; larger requests take the exact path.
constexpr int kVecMaxK = 4096;
// vec0 hands back the best vec_candidates_per_k * kMinK codes (1024 at the
// default 64, for k = 10 and for hybrid search's 50 alike), rescored
// exactly. The default was 6 (96 for k = 10)
// until a hostile test found recall@10 0.89 on near-template notes (the
// soak store): the 3-bit code hardly tells such vectors apart. vec0 selects its top k' in O(rows * k') (at 10K
// rows, load 8: 2 ms of Hamming distances, then ~0.1 ms per candidate), so
// k' is the cost, and the fewest that keep recall >= 0.99 are used.
// Measured on real MiniLM vectors, recall against the exact top k
// (bench/index/RESULTS.md): SciFact (5,183 abstracts, 300 claims) k = 10
// from 100: 0.995, k = 1 from 20: 0.993 and from 100: 1.0; a 32K mixed
// corpus, k = 10 from 60: 0.987, from 100: 0.996; k = 50 (hybrid search's
// depth) from 300: 0.990.
constexpr int kMinK = 16;
// Rows per vec0 chunk. vec0 ranks each chunk with a selection that costs
// chunk rows x min(k', chunk rows), then merges the chunks' lists: with its
// default 1024-row chunks and k' = 1024 that is rows x 1024, 23-26% of the
// CPU of a one-shot `rekall search` at 10K (perf). 128-row chunks make it
// rows x 128: the raw KNN (k' = 1024 of 10,000 codes, a status filter) took
// 4.2 ms of CPU instead of 17.5 (bench/install/RESULTS.md). The same codes
// are ranked: the candidates differ only among those tied at the k'-th
// distance. Tables made before keep their chunks until re-created (`rekall
// vacuum`, a refit of the code): both are read alike.
constexpr int kChunkRows = 128;

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
  // A base holding the separator (an updated_at with \x1f in it) would be
  // read back with a wrong cursor: kept as unknown instead.
  const std::string base = b.base.find('\x1f') == std::string::npos ? b.base : std::string();
  return std::string(kBuildingPrefix) + base + "\x1f" + (b.has_cursor ? ">" + b.cursor : std::string());
}

// Where the source tables stand: their marks, and the text kTable's row
// keeps for them. Marks that cannot be read (a schema we do not know) give
// a text no other reading equals, which errs towards comparing every row.
struct SourceState {
  index_internal::SourceMarks marks;
  bool known = false;
  std::string text;
};

SourceState ReadSourceState(sqlite3* db) {
  SourceState st;
  st.known = index_internal::ReadSourceMarks(db, &st.marks).ok();
  if (st.known) {
    st.text = index_internal::SerializeMarks(st.marks, "");
  } else {
    static std::atomic<uint64_t> unique{0};
    st.text = "unknown:" + std::to_string(++unique);
  }
  return st;
}

// The marks of a state text of ours; false for any other text.
bool ParseState(const std::string& text, index_internal::SourceMarks* m) {
  std::string tail;
  return index_internal::ParseMarks(text, m, &tail) && tail.empty();
}

// A savepoint around every change to embeddings_vec: atomic inside or
// outside the caller's transaction.
constexpr const char* kSavepoint = "rekall_vec";

struct Scored {
  float s;
  std::string id;
};
bool Better(const Scored& a, const Scored& b) { return a.s > b.s || (a.s == b.s && a.id < b.id); }

enum class Phase { kReady, kBuilding, kAbsent };

class SqliteVecIndex final : public index_internal::BackendBase {
 public:
  SqliteVecIndex(sqlite3* db, const IndexOptions& o, CatchUpHook hook)
      : BackendBase(db, o), catch_up_hook_(std::move(hook)) {}

  ~SqliteVecIndex() override {
    // Our own committed writes moved the source tables; if nobody else
    // committed since, record that the vec0 table matches them.
    std::lock_guard<std::mutex> l(mu_);
    if (phase_ != Phase::kReady) return;  // the state row says how far the build got
    if (!persist_pending_ && !state_dirty_) return;
    if (!sqlite3_get_autocommit(db_)) return;
    int64_t dv = 0;
    if (!sqlite::DataVersion(db_, &dv).ok() || dv != data_version_) return;
    sqlite::Savepoint sp;
    if (!sp.Begin(db_, kSavepoint).ok()) return;
    // Read again under the write lock: nobody else committed since dv.
    if (!sqlite::DataVersion(db_, &dv).ok() || dv != data_version_) return;
    PersistState(ReadSourceState(db_));
    sp.Release();
  }

  const char* name() const override { return "sqlite-vec"; }

  Status Init() {
    std::lock_guard<std::mutex> l(mu_);
    std::string stored;
    Status s = ReadPhase(&phase_, &stored);
    if (!s.ok()) return s;
    int64_t dv = 0;
    s = sqlite::DataVersion(db_, &dv);
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
    SourceState now = ReadSourceState(db_);
    if (CodeOutgrown(now) && sqlite3_get_autocommit(db_)) {
      s = RefitLocked(dv);
      if (!s.ok() && !CanAnswerBehind(s)) return s;
      // Done, or under way (searches score the sources until it completes);
      // a file we cannot write keeps its table and code.
      if (s.ok() || phase_ != Phase::kReady) return Status::OK();
    }
    if (now.text != stored) {
      s = ReconcileLocked(&now.text);
      if (!s.ok()) return s;
    }
    data_version_ = dv;
    synced_ = now.text;
    return Status::OK();
  }

  Status Upsert(const std::string& entry_id, const float* vec, int dim, const EntryMeta& meta) override {
    std::vector<float> v;
    Status s = CheckUpsert(entry_id, vec, dim, &v);
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> l(mu_);
    state_dirty_ = true;
    marks_behind_ = true;
    bool ours = false;
    s = TableIsOursLocked(&ours);
    if (!s.ok()) return s;
    // No table of ours yet: the build will read this row from the sources.
    if (!ours) return Status::OK();
    sqlite::Savepoint sp;
    s = sp.Begin(db_, kSavepoint);
    if (!s.ok()) return s;
    // vec0 ignores OR REPLACE (UNIQUE constraint error), so delete + insert.
    s = DeleteRow(entry_id);
    if (s.ok()) s = InsertRow(entry_id, v.data(), meta);
    if (!s.ok()) return s;
    return sp.Release();
  }

  Status Remove(const std::string& entry_id) override {
    std::lock_guard<std::mutex> l(mu_);
    state_dirty_ = true;
    marks_behind_ = true;
    if (phase_ == Phase::kAbsent) return Status::OK();
    return DeleteRow(entry_id);
  }

  Status Search(const float* query, int dim, int k, const Filter& f, std::vector<Hit>* out) override {
    out->clear();
    std::vector<float> q;
    Status s = CheckQuery(query, dim, &q);
    if (!s.ok()) return s;
    std::lock_guard<std::mutex> l(mu_);
    bool behind = false;
    s = FreshLocked(opts_.auto_refresh, nullptr);
    if (!s.ok()) {
      if (!CanAnswerBehind(s)) return s;
      behind = true;
    }
    if (k <= 0) return Status::OK();
    // vec0 metadata cannot hold a list of tags: tag filters (and k beyond
    // vec0's cap) score the matching rows exactly instead; so does a search
    // while embeddings_vec could not be caught up or is not completely built.
    if (behind || phase_ != Phase::kReady || !f.tags.empty() || k > kVecMaxK / 2)
      return index_internal::ExactSourceSearch(db_, dim_, q, k, f, out);
    std::vector<Scored> top;
    s = KnnLocked(q, k, f, &top);
    if (!s.ok()) return s;
    out->reserve(top.size());
    for (Scored& h : top) out->push_back(Hit{std::move(h.id), h.s});
    return Status::OK();
  }

  Status Count(size_t* n) override {
    std::lock_guard<std::mutex> l(mu_);
    Status s = FreshLocked(opts_.auto_refresh, nullptr);
    if (!s.ok() && !CanAnswerBehind(s)) return s;
    if (!s.ok() || phase_ != Phase::kReady) return index_internal::CountSourceRows(db_, dim_, n);
    Stmt st;
    s = st.Prepare(db_, std::string("SELECT count(*) FROM ") + kTable);
    if (s.ok()) s = st.StepRow("counting index rows");
    if (s.ok()) *n = size_t(st.Int(0));
    return s;
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
      if (s.ok()) s = st.StepRow("counting index rows");
      if (!s.ok()) return s;
      *loaded = size_t(st.Int(0));
    }
    return Status::OK();
  }

  // SQLite rolled the vec0 rows back with the rest of the transaction.
  void MarkStale() override {
    std::lock_guard<std::mutex> l(mu_);
    state_dirty_ = true;
    marks_behind_ = true;
  }

  // The statements are prepared again when next needed.
  bool ReleaseMemory() override {
    std::lock_guard<std::mutex> l(mu_);
    FinalizeStatementsLocked();
    return false;
  }

 private:
  // Whether embeddings_vec is ours to write, reading again (with the code)
  // what another connection may have changed since we last looked: a
  // rebuild with a code fitted anew, or a rekall of layout 1 re-creating its
  // float table (a row of ours would not fit in it).
  Status TableIsOursLocked(bool* ours) {
    int64_t dv = 0;
    Status s = sqlite::DataVersion(db_, &dv);
    if (!s.ok()) return s;
    Phase ph = phase_;
    if (dv != data_version_) {
      std::string stored;
      s = ReadPhase(&ph, &stored);
      if (!s.ok()) return s;
    }
    *ours = ph != Phase::kAbsent && phase_ != Phase::kAbsent;
    return Status::OK();
  }

  // vec_candidates_per_k * kMinK codes whatever k (k itself when larger):
  // past ~1000, vec0's top-k' selection (~0.1 ms per candidate at 10K rows)
  // costs more than the float table this layout replaced.
  int64_t Candidates(int k) const {
    return std::max<int64_t>(k, int64_t(std::max(1, opts_.vec_candidates_per_k)) * kMinK);
  }

  // The code was fitted to fewer than half the summary vectors there are
  // now (a base that started small): worth fitting again. A base no larger
  // than the fewest candidates has every row rescored anyway. The count of
  // all embeddings in the marks rules most opens out without counting.
  bool CodeOutgrown(const SourceState& now) {
    const int64_t enough = std::max<int64_t>(Candidates(1) + 1, 2 * std::max<int64_t>(1, code_.fitted_rows()));
    if (now.known && now.marks.embeddings.count < enough) return false;
    int64_t rows = 0;
    return index_internal::CountSummaryRows(db_, &rows).ok() && rows >= enough;
  }

  // Re-creates embeddings_vec with a code fitted to today's vectors, by the
  // batch build (as for a new layout).
  Status RefitLocked(int64_t dv) {
    data_version_ = dv;
    force_new_build_ = true;
    Status s = ContinueBuildLocked(opts_.build_batches_per_call, nullptr, nullptr);
    force_new_build_ = false;
    return s;
  }

  // Catching embeddings_vec up with another connection's commit needs the
  // write lock: on a read-only connection (or while another process holds
  // the lock past the busy timeout) answers come from the source tables,
  // which are always current, and the catch-up is retried next time.
  static bool CanAnswerBehind(const Status& s) { return s.code() == Code::kIOError || s.code() == Code::kBusy; }

  int CodeBits() const { return ThermometerCode(dim_).bits(); }

  std::string CreateSql() const {
    return std::string("CREATE VIRTUAL TABLE ") + kTable + " USING vec0(entry_id TEXT PRIMARY KEY, embedding bit[" +
           std::to_string(CodeBits()) + "], type text, project text, status text, chunk_size=" +
           std::to_string(kChunkRows) + ")";
  }

  // An older embeddings_vec (e.g. Rekall's, without metadata columns, or
  // ours of layout 1) or one of another dimension is re-created: it is
  // derived data.
  bool ShapeMatches(const std::string& sql) const {
    for (std::string part : {std::string("using vec0"), std::string("entry_id text primary key"),
                             "bit[" + std::to_string(CodeBits()) + "]", std::string("type text"),
                             std::string("project text"), std::string("status text")}) {
      if (sql.find(part) == std::string::npos) return false;
    }
    return true;
  }

  // The value of a rekall_index_state row; false when absent (or no table).
  bool ReadStateRow(const char* name, std::string* value) {
    Stmt st;
    if (!st.Prepare(db_, std::string("SELECT value FROM ") + kStateTable + " WHERE name = ?1").ok()) return false;
    st.Bind(1, name);
    if (st.Step() != SQLITE_ROW) return false;
    const char* p = static_cast<const char*>(st.Blob(0));
    value->assign(p ? p : "", size_t(st.Bytes(0)));
    return true;
  }

  // kTable's row: our state text, a build's, or an older rekall's fingerprint.
  std::string StoredState() {
    std::string v;
    return ReadStateRow(kTable, &v) ? v : "";
  }

  // The code embeddings_vec was written with, if its layout is ours.
  bool ReadCode(ThermometerCode* code) {
    std::string layout, blob;
    return ReadStateRow(kLayoutRow, &layout) && layout == std::to_string(kLayoutVersion) &&
           ReadStateRow(kCodeRow, &blob) && ThermometerCode::Parse(blob.data(), int(blob.size()), dim_, code);
  }

  // Where the source tables stood when embeddings_vec last matched them:
  // our state, or the marks a rekall of 2026-11-30 stored beside its
  // fingerprint; false when none (an older rekall's fingerprint alone, a
  // build in progress, unreadable text).
  bool StoredMarks(index_internal::SourceMarks* m) {
    const std::string stored = StoredState();
    if (ParseState(stored, m)) return true;
    std::string text, tail;
    return !stored.empty() && ReadStateRow(kMarksRow, &text) && index_internal::ParseMarks(text, m, &tail) &&
           tail == stored;
  }

  // Records that embeddings_vec matches the sources as they stand at `now`:
  // kTable's row, and kMarksRow for the rekall of 2026-11-30. Inside the
  // current write transaction, so that both rows change or neither. Unless
  // over_build, never overwrites the state of a build in progress (e.g. a
  // rebuild another process started since we last looked). Where this is
  // best effort (a read-only database), the next process compares again.
  Status PersistState(const SourceState& now, bool over_build = false) {
    persist_pending_ = false;
    Status s = CreateStateTable();
    Stmt st;
    if (s.ok()) {
      s = st.Prepare(db_, std::string("INSERT INTO ") + kStateTable +
                              "(name, value) VALUES (?1, ?2) ON CONFLICT(name) DO UPDATE SET value = excluded.value" +
                              (over_build ? "" : " WHERE substr(value, 1, 9) <> 'building' || char(31)"));
    }
    if (!s.ok()) return s;
    st.Bind(1, kTable);
    st.Bind(2, now.text);
    s = st.Run("writing " + std::string(kStateTable));
    if (s.ok() && now.known) s = WriteStateRow(kMarksRow, index_internal::SerializeMarks(now.marks, now.text), false);
    return s;
  }

  // SQL as it is, keeping SQLite's error class (read-only -> IOError, locked
  // -> Busy), so that a build which cannot write leaves searches on the exact
  // path (CanAnswerBehind).
  Status Run(const std::string& sql) { return sqlite::Exec(db_, sql, sql); }

  Status CreateStateTable() {
    return Run(std::string("CREATE TABLE IF NOT EXISTS ") + kStateTable + "(name TEXT PRIMARY KEY, value TEXT)");
  }

  Status WriteState(const std::string& v) { return WriteStateRow(kTable, v, false); }

  // blob: stored as a BLOB (the code's thresholds), else as TEXT.
  Status WriteStateRow(const char* name, const std::string& v, bool blob) {
    Status s = CreateStateTable();
    if (!s.ok()) return s;
    Stmt st;
    s = st.Prepare(db_, std::string("INSERT OR REPLACE INTO ") + kStateTable + "(name, value) VALUES (?1, ?2)");
    if (!s.ok()) return s;
    st.Bind(1, name);
    if (blob) {
      st.BindBlob(2, v.data(), v.size());
    } else {
      st.Bind(2, v);
    }
    return st.Run("writing " + std::string(kStateTable));
  }

  // kAbsent: no embeddings_vec, or one of another shape or layout (not ours
  // to use); kBuilding: ours, being built; kReady: ours and complete
  // (*stored = the state text of the sources it was last synchronised
  // with, an older rekall's fingerprint, or "" if unknown). Unless kAbsent,
  // code_ is the code its rows were written with.
  Status ReadPhase(Phase* ph, std::string* stored) {
    Stmt st;
    Status s = st.Prepare(db_, "SELECT sql FROM sqlite_master WHERE name = ?1");
    if (!s.ok()) return s;
    st.Bind(1, kTable);
    std::string sql;
    if (st.Step() == SQLITE_ROW) sql = Lower(st.Text(0));
    st.Finalize();  // a running statement would block DROP TABLE
    *stored = StoredState();
    if (sql.empty() || !ShapeMatches(sql) || !ReadCode(&code_)) {
      *ph = Phase::kAbsent;
    } else {
      *ph = IsBuilding(*stored) ? Phase::kBuilding : Phase::kReady;
    }
    return Status::OK();
  }

  // Every statement kept for reuse; each is prepared again when next needed.
  void FinalizeStatementsLocked() {
    for (Stmt* st : {&del_, &ins_, &src_, &has_, &batch_first_, &batch_next_}) st->Finalize();
    knn_.clear();
  }

  void MarkReady(const std::string& state, int64_t dv) {
    phase_ = Phase::kReady;
    synced_ = state;
    data_version_ = dv;
    state_dirty_ = false;
    persist_pending_ = false;
    build_dv_known_ = false;
    marks_behind_ = false;  // the build or rebuild stored marks read after our writes
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
    has_.Bind(1, id);
    const int rc = has_.Step();
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) *err = sqlite::ToStatus(db_, rc, "looking up " + std::string(kTable));
    has_.Reset();
    return rc == SQLITE_ROW;
  }

  // A source row read by a build batch.
  struct BatchRow {
    std::string id;
    std::vector<float> v;  // empty: not dim_ floats
    EntryMeta meta;
  };

  // What a build batch found and did; the in-memory state follows it once
  // the batch has committed.
  struct Batch {
    BuildState b;
    std::string state_now;     // the sources' state text, when read
    bool clear_dirty = false;  // state_dirty_ is accounted for
    size_t inserted = 0, bad = 0;
    bool last = false;  // the table is complete
  };

  // One committed batch of the build, under the write lock: (re)creates
  // embeddings_vec when absent, of another shape or force_new_build_; then
  // inserts the next build_batch_rows source rows after the cursor, skipping
  // ids already present (written by Upsert since the build began: current),
  // and moves the cursor; after the last batch, marks the table complete.
  Status BuildBatchLocked(size_t* loaded, size_t* skipped) {
    const ThermometerCode before = code_;
    Status s = BuildBatchTxLocked(loaded, skipped);
    if (!s.ok()) code_ = before;  // rolled back with the batch
    return s;
  }

  Status BuildBatchTxLocked(size_t* loaded, size_t* skipped) {
    sqlite::Transaction t;
    Status s = t.Begin(db_, "starting a build batch of " + std::string(kTable));
    if (!s.ok()) return s;
    Phase ph;
    std::string stored;
    s = ReadPhase(&ph, &stored);  // the truth, now that we hold the lock
    if (!s.ok()) return s;
    int64_t dv = 0;
    s = sqlite::DataVersion(db_, &dv);
    if (!s.ok()) return s;
    if (ph == Phase::kReady && !force_new_build_) return CatchUpCompletedLocked(&t, stored, dv);
    Batch batch;
    std::vector<BatchRow> rows;
    const size_t limit = std::max<size_t>(1, opts_.build_batch_rows);
    s = StartBatchLocked(ph, stored, dv, &batch);
    if (s.ok()) s = ReadBatchLocked(batch.b, limit, &rows);  // before any insert
    if (s.ok()) s = InsertBatchLocked(&rows, &batch);
    batch.last = rows.size() < limit;
    if (s.ok()) s = WriteBatchStateLocked(&batch);
    if (!s.ok()) return s;
    if (opts_.build_batch_hook) opts_.build_batch_hook(batch.inserted);
    s = t.Commit("committing a build batch of " + std::string(kTable));
    if (!s.ok()) return s;
    BatchCommittedLocked(batch, dv, loaded, skipped);
    return Status::OK();
  }

  // Another connection completed the table: catch up as an open does.
  Status CatchUpCompletedLocked(sqlite::Transaction* t, const std::string& stored, int64_t dv) {
    std::string now = ReadSourceState(db_).text;
    const bool same = now == stored;
    if (!same) {
      Status s = ReconcileLocked(&now);
      if (s.ok()) s = WriteSyncedLocked(&now);
      if (!s.ok()) return s;
    }
    Status s = t->Commit("committing a build batch of " + std::string(kTable));
    if (!s.ok()) return s;
    const bool behind = marks_behind_ && same;  // no marks written here
    MarkReady(now, dv);
    marks_behind_ = behind;
    return Status::OK();
  }

  // A new build drops and re-creates the table; a build in progress goes on
  // from its cursor, its base state kept only while the sources have
  // changed by nobody's writes but ours.
  Status StartBatchLocked(Phase ph, const std::string& stored, int64_t dv, Batch* batch) {
    if (ph == Phase::kAbsent || force_new_build_) {
      Status s = RecreateTableLocked(ph != Phase::kAbsent && !CodeOutgrown(ReadSourceState(db_)));
      if (!s.ok()) return s;
      // Read after the new table moved the schema version.
      batch->state_now = ReadSourceState(db_).text;
      batch->b.base = batch->state_now;
      batch->clear_dirty = true;
      return Status::OK();
    }
    BuildState& b = batch->b;
    b = ParseBuilding(stored);
    const bool nobody_else = build_dv_known_ && dv == build_dv_;
    if (nobody_else && !state_dirty_) return Status::OK();
    batch->state_now = ReadSourceState(db_).text;
    if (state_dirty_ && nobody_else) {
      // Only our own writes since our last batch: they went into the table
      // (Upsert/Remove), or were rolled back with it.
      if (!b.base.empty()) b.base = batch->state_now;
    } else if (b.base != batch->state_now) {
      b.base.clear();  // changed behind the build: reconcile at the end
    }
    batch->clear_dirty = true;
    return Status::OK();
  }

  // Drops embeddings_vec and creates it empty in the current layout, its
  // code recorded beside it. The code is fitted to the source vectors (one
  // pass over them) unless keep_code: rebuilding a table of this layout
  // (index rebuild, vacuum) keeps it, so the same rows rank the same.
  Status RecreateTableLocked(bool keep_code) {
    FinalizeStatementsLocked();  // ours on the old table go before it is dropped
    Status s = Run(std::string("DROP TABLE IF EXISTS ") + kTable);
    if (s.ok()) s = Run(CreateSql());
    if (s.ok() && !keep_code) s = FitCodeLocked();
    if (s.ok()) s = WriteStateRow(kLayoutRow, std::to_string(kLayoutVersion), false);
    if (s.ok()) s = WriteStateRow(kCodeRow, code_.Serialize(), true);
    return s;
  }

  Status FitCodeLocked() {
    index_internal::CodeFitter fit(dim_);
    std::vector<float> v(dim_);
    Status s = index_internal::ForEachSourceRow(
        db_, dim_,
        [&](const index_internal::SourceRow& r) {
          if (ToUnit(r.vec, dim_, v.data())) fit.Add(v.data());
          return Status::OK();
        },
        nullptr);
    if (s.ok()) code_ = fit.Finish();
    return s;
  }

  // The next `limit` source rows after the cursor, in entry_id order.
  Status ReadBatchLocked(const BuildState& b, size_t limit, std::vector<BatchRow>* rows) {
    Stmt& q = b.has_cursor ? batch_next_ : batch_first_;
    if (!q.prepared()) {
      // "+em.embedding_type": not through Rekall's idx_embeddings_type,
      // which would sort every summary row at each batch; walk an entry_id
      // index from the cursor instead.
      std::string where = index_internal::SourceWhere();
      if (where.rfind("em.embedding_type", 0) == 0) where.insert(0, "+");
      Status s = q.Prepare(db_, std::string("SELECT em.entry_id, em.vector, e.type, e.project, e.status FROM ") +
                                    index_internal::kSourceJoin + " WHERE " + where +
                                    (b.has_cursor ? " AND em.entry_id > ?2" : "") + " ORDER BY em.entry_id LIMIT ?1");
      if (!s.ok()) return s;
    }
    q.Reset();
    q.Bind(1, int64_t(limit));
    if (b.has_cursor) q.Bind(2, b.cursor);
    int rc;
    while ((rc = q.Step()) == SQLITE_ROW) {
      BatchRow r;
      r.id = q.Text(0);
      const void* blob = q.Blob(1);
      const int bytes = q.Bytes(1);
      if (blob != nullptr && bytes == int(sizeof(float)) * dim_) {
        r.v.resize(dim_);
        std::memcpy(r.v.data(), blob, bytes);
      }
      r.meta.type = q.Text(2);
      r.meta.project = q.Text(3);
      r.meta.status = q.IsNull(4) ? "active" : q.Text(4);
      rows->push_back(std::move(r));
    }
    Status s = q.Done(rc, "reading embeddings");
    q.Reset();
    return s;
  }

  // Inserts the rows not present yet, moving the cursor past each row.
  Status InsertBatchLocked(std::vector<BatchRow>* rows, Batch* batch) {
    for (BatchRow& r : *rows) {
      batch->b.has_cursor = true;
      batch->b.cursor = r.id;
      if (r.v.empty()) {
        ++batch->bad;
        continue;
      }
      if (!ToUnit(r.v.data(), dim_, r.v.data())) continue;
      Status s;
      if (Present(r.id, &s)) continue;
      if (!s.ok()) return s;
      s = InsertRow(r.id, r.v.data(), r.meta);
      if (!s.ok()) return s;
      ++batch->inserted;
    }
    return Status::OK();
  }

  // The state row: the cursor, or after the last batch the state of the
  // sources the complete table matches.
  Status WriteBatchStateLocked(Batch* batch) {
    if (!batch->last) return WriteState(BuildingValue(batch->b));
    if (batch->b.base.empty()) {
      // The sources changed behind the build: bring every row in line.
      Status s = ReconcileLocked(&batch->state_now);
      if (!s.ok()) return s;
    }
    // Else the base was verified above, or is unchanged since (same data_version).
    return WriteSyncedLocked(&batch->state_now);
  }

  // Inside the write transaction that brought the table in line with the
  // sources: records their state, read now (*state gets its text).
  Status WriteSyncedLocked(std::string* state) {
    const SourceState now = ReadSourceState(db_);
    *state = now.text;
    return PersistState(now, true);
  }

  // Committed: only now does the in-memory state follow.
  void BatchCommittedLocked(const Batch& batch, int64_t dv, size_t* loaded, size_t* skipped) {
    force_new_build_ = false;
    if (batch.clear_dirty) state_dirty_ = false;
    if (loaded) *loaded += batch.inserted;
    if (skipped) *skipped += batch.bad;
    if (batch.last) {
      MarkReady(batch.state_now, dv);
      return;
    }
    phase_ = Phase::kBuilding;
    build_dv_ = dv;
    build_dv_known_ = true;
  }

  Status DeleteRow(const std::string& id) {
    if (!del_.prepared()) {
      Status s = del_.Prepare(db_, std::string("DELETE FROM ") + kTable + " WHERE entry_id = ?1");
      if (!s.ok()) return s;
    }
    del_.Reset();
    del_.Bind(1, id);
    return del_.Run("deleting from " + std::string(kTable));
  }

  Status InsertRow(const std::string& id, const float* unit, const EntryMeta& m) {
    if (!ins_.prepared()) {
      Status s = ins_.Prepare(db_, std::string("INSERT INTO ") + kTable +
                                       "(entry_id, embedding, type, project, status) VALUES (?1, vec_bit(?2), ?3, ?4, ?5)");
      if (!s.ok()) return s;
    }
    ins_.Reset();
    ins_.Bind(1, id);
    ins_.BindBlob(2, Encode(unit), size_t(code_.bytes()));
    // vec0 metadata text columns reject NULL: an absent value is "".
    ins_.Bind(3, m.type);
    ins_.Bind(4, m.project);
    ins_.Bind(5, m.status);
    return ins_.Run("inserting into " + std::string(kTable));
  }

  Status RebuildLocked(size_t* loaded, size_t* skipped) {
    const ThermometerCode before = code_;
    Status s = RebuildSavepointLocked(loaded, skipped);
    if (!s.ok()) code_ = before;  // rolled back with the savepoint
    return s;
  }

  Status RebuildSavepointLocked(size_t* loaded, size_t* skipped) {
    int64_t dv = 0;
    Status s = sqlite::DataVersion(db_, &dv);
    if (!s.ok()) return s;
    SourceState now;
    {
      sqlite::Savepoint sp;
      s = sp.Begin(db_, kSavepoint);
      if (!s.ok()) return s;
      s = RecreateTableLocked(phase_ != Phase::kAbsent && !CodeOutgrown(ReadSourceState(db_)));
      size_t n = 0;
      std::vector<float> v(dim_);
      // After the re-created table moved the schema version, before the rows.
      if (s.ok()) now = ReadSourceState(db_);
      if (s.ok()) {
        s = index_internal::ForEachSourceRow(
            db_, dim_,
            [&](const index_internal::SourceRow& r) {
              if (!ToUnit(r.vec, dim_, v.data())) return Status::OK();
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
    PersistState(now, true);  // best effort (a read-only file)
    MarkReady(now.text, dv);
    return Status::OK();
  }

  // What embeddings_vec holds: entry id -> RowHash.
  Status ScanLocked(std::unordered_map<std::string, uint64_t>* have) {
    Stmt st;
    Status s = st.Prepare(db_, std::string("SELECT entry_id, embedding, type, project, status FROM ") + kTable);
    if (!s.ok()) return s;
    int rc;
    while ((rc = st.Step()) == SQLITE_ROW) {
      (*have)[st.Text(0)] = RowHash(st.Blob(1), size_t(st.Bytes(1)), st.Text(2), st.Text(3), st.Text(4));
    }
    return st.Done(rc, "scanning " + std::string(kTable));
  }

  // Brings embeddings_vec in line with the source tables: from the stored
  // marks, only the entries that changed since (CatchUpByMarksLocked), else
  // every row (ReconcileAllLocked). One write scope (BEGIN IMMEDIATE at top
  // level) around the reads and the writes, so no other process inserts the
  // same rows in between (vec0's UNIQUE error, issue 10 #4). At top level
  // the sources' state is stored in the same transaction, so the next
  // process does not reconcile again. *state: the text of the sources'
  // state it matched.
  Status ReconcileLocked(std::string* state) {
    sqlite::Savepoint sp;
    Status s = sp.Begin(db_, kSavepoint);
    if (!s.ok()) return s;
    const SourceState now = ReadSourceState(db_);
    *state = now.text;
    bool done = false;
    if (now.known) s = CatchUpByMarksLocked(now.marks, &done);
    if (s.ok() && !done) s = ReconcileAllLocked();
    if (!s.ok()) return s;
    if (!sp.top_level()) return sp.Release();
    PersistState(now);  // best effort (a read-only file)
    s = sp.Release();
    if (s.ok() && now.known) marks_behind_ = false;
    return s;
  }

  // When the stored marks prove what changed since (FindSourceChanges) and
  // no row is gone: deletes the vec0 row of each entry touched since and
  // inserts it again from its source row, if it still has one. *done false:
  // nothing written, the caller compares every row.
  Status CatchUpByMarksLocked(const index_internal::SourceMarks& now, bool* done) {
    *done = false;
    index_internal::SourceMarks was;
    if (marks_behind_ || !StoredMarks(&was)) return Status::OK();
    index_internal::SourceChanges ch;
    Status s = index_internal::FindSourceChanges(db_, was, now, &ch);
    if (!s.ok() || !ch.provable || ch.rows_gone) return s;
    for (const std::string& id : ch.touched) {
      s = DeleteRow(id);
      if (!s.ok()) return s;
    }
    std::vector<float> v(dim_);
    s = index_internal::ForEachSourceRowOf(db_, dim_, ch.touched, [&](const index_internal::SourceRow& r) {
      if (!ToUnit(r.vec, dim_, v.data())) return Status::OK();
      return InsertRow(r.entry_id, v.data(), r.meta);
    });
    if (!s.ok()) return s;
    if (catch_up_hook_) catch_up_hook_(true, ch.touched.size());
    *done = true;
    return Status::OK();
  }

  // Compares every vec0 row with every source row, touching only the rows
  // that differ: a hash of (code, type, project, status).
  Status ReconcileAllLocked() {
    std::unordered_map<std::string, uint64_t> have;
    Status s = ScanLocked(&have);
    if (!s.ok()) return s;
    std::vector<float> v(dim_);
    size_t read = 0;
    s = index_internal::ForEachSourceRow(
        db_, dim_,
        [&](const index_internal::SourceRow& r) {
          ++read;
          if (!ToUnit(r.vec, dim_, v.data())) return Status::OK();
          const uint64_t h = RowHash(Encode(v.data()), size_t(code_.bytes()), r.meta.type, r.meta.project, r.meta.status);
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
    if (catch_up_hook_) catch_up_hook_(false, read);
    return Status::OK();
  }

  Status FreshLocked(bool check_others, bool* changed) override {
    if (changed) *changed = false;
    if (!check_others) return Status::OK();
    int64_t dv = 0;
    Status s = sqlite::DataVersion(db_, &dv);
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
        synced_ = stored;  // completed elsewhere: compared with the sources below
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
      // The marks alone tell whether the sources moved (b-tree edges and
      // counts, where the fingerprint of before also summed every rowid).
      std::string now = ReadSourceState(db_).text;
      if (state_dirty_ || now != synced_) {
        if (changed) *changed = true;
        s = ReconcileLocked(&now);
        if (!s.ok()) return s;
        state_dirty_ = false;
      }
      synced_ = now;
      data_version_ = dv;
    } else if (state_dirty_ && sqlite3_get_autocommit(db_)) {
      // Only our own committed writes happened: re-baseline.
      synced_ = ReadSourceState(db_).text;
      state_dirty_ = false;
      persist_pending_ = true;
    }
    return Status::OK();
  }

  // The code of a unit vector, in a buffer reused by the next call.
  const uint8_t* Encode(const float* unit) {
    code_buf_.resize(size_t(code_.bytes()));
    code_.Encode(unit, code_buf_.data());
    return code_buf_.data();
  }

  // The exact score of a candidate, from the embeddings table (the one
  // float32 copy of a vector in the file), looked up through its
  // UNIQUE(entry_id, embedding_type) index. False when its vector is gone
  // or unusable: the exact path would not rank it either.
  Status SourceScore(index_internal::SourceScorer* scorer, const std::string& id, bool* found, float* score) {
    if (!src_.prepared()) {
      Status s = src_.Prepare(db_, std::string("SELECT em.vector FROM embeddings em WHERE em.entry_id = ?1 AND ") +
                                       index_internal::SourceWhere());
      if (!s.ok()) return s;
    }
    src_.Reset();
    src_.Bind(1, id);
    const int rc = src_.Step();
    *found = rc == SQLITE_ROW && scorer->Score(src_.Blob(0), src_.Bytes(0), score);
    Status s = rc == SQLITE_ROW ? Status::OK() : src_.Done(rc, "reading embeddings");
    src_.Reset();
    return s;
  }

  // The best candidates by Hamming distance between codes, with the
  // filters applied inside vec0, rescored exactly: the top k of those.
  // How many candidates: see kMinK. A base (or the rows a filter
  // keeps) no larger than that is ranked exactly.
  Status KnnLocked(const std::vector<float>& q, int k, const Filter& f, std::vector<Scored>* out) {
    Stmt* st = nullptr;
    Status s = KnnStatementLocked(f, &st);
    if (!s.ok()) return s;
    const int64_t fetch = std::min<int64_t>(kVecMaxK, Candidates(k));
    st->Reset();
    st->BindBlob(1, Encode(q.data()), size_t(code_.bytes()));
    st->Bind(2, fetch);
    if (f.type) st->Bind(3, *f.type);
    if (f.project) st->Bind(4, *f.project);
    if (f.status) st->Bind(5, *f.status);
    out->clear();
    index_internal::SourceScorer scorer(q, dim_);
    int rc;
    while ((rc = st->Step()) == SQLITE_ROW) {
      std::string id = st->Text(0);
      bool found = false;
      float score = 0;
      s = SourceScore(&scorer, id, &found, &score);
      if (!s.ok()) break;
      if (found) out->push_back(Scored{score, std::move(id)});
    }
    if (s.ok()) s = st->Done(rc, "vec0 KNN query");
    st->Reset();
    if (!s.ok()) return s;
    const size_t kk = std::min(out->size(), size_t(k));
    std::partial_sort(out->begin(), out->begin() + kk, out->end(), Better);
    out->resize(kk);
    return Status::OK();
  }

  // One statement per combination of filters, kept for reuse.
  Status KnnStatementLocked(const Filter& f, Stmt** out) {
    const int shape = (f.type ? 1 : 0) | (f.project ? 2 : 0) | (f.status ? 4 : 0);
    std::unique_ptr<Stmt>& st = knn_[shape];
    if (!st) {
      std::string sql = std::string("SELECT entry_id FROM ") + kTable + " WHERE embedding MATCH vec_bit(?1) AND k = ?2";
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
    *out = st.get();
    return Status::OK();
  }

  Stmt del_, ins_, src_, has_, batch_first_, batch_next_;
  std::map<int, std::unique_ptr<Stmt>> knn_;
  ThermometerCode code_;          // the code embeddings_vec's rows were written with
  std::vector<uint8_t> code_buf_;  // Encode's
  int64_t data_version_ = 0;
  // The state text of the sources embeddings_vec matched at data_version_,
  // and whether our own writes moved them since.
  std::string synced_;
  bool state_dirty_ = false;
  bool persist_pending_ = false;
  // Our own writes went into embeddings_vec since the stored marks were
  // read: a row we wrote that another process then deleted would not show
  // in a comparison with them, so the next catch-up compares every row.
  bool marks_behind_ = false;
  const CatchUpHook catch_up_hook_;
  Phase phase_ = Phase::kReady;
  bool force_new_build_ = false;  // Rebuild: drop and re-create first
  // data_version at our last committed build batch: unchanged at the next
  // one = nobody else committed in between.
  int64_t build_dv_ = 0;
  bool build_dv_known_ = false;
};

}  // namespace

Status ProbeSqliteVec(const std::string& path, std::string* version) {
  sqlite3* db = nullptr;
  Status s = sqlite3_open(":memory:", &db) == SQLITE_OK ? LoadSqliteVec(db, path, version)
                                                        : Status::IOError("cannot open an in-memory database");
  sqlite3_close(db);
  return s;
}

Status LoadSqliteVec(sqlite3* db, const std::string& path, std::string* version) {
  auto probe = [&](std::string* v) {
    Stmt st;
    // Probing must not leave an error behind; prepare failing is the answer.
    if (!st.Prepare(db, "SELECT vec_version()").ok()) return false;
    if (st.Step() != SQLITE_ROW) return false;
    *v = st.Text(0);
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

Status NewSqliteVecIndex(sqlite3* db, const IndexOptions& opts, std::unique_ptr<VectorIndex>* out,
                         CatchUpHook catch_up_hook) {
  auto idx = std::make_unique<SqliteVecIndex>(db, opts, std::move(catch_up_hook));
  Status s = idx->Init();
  if (!s.ok()) return s;
  *out = std::move(idx);
  return Status::OK();
}

}  // namespace rekall
