// IndexOptions::load_in_background: a brute index that loads on a thread of
// its own. Loading 100K vectors takes 0.5-1.5 s (bench/index/RESULTS.md); a
// server that loaded them on its connection, under its lock, made its first
// search wait for all of it (1.1 s at 100K, bench/engine/RESULTS.md). The
// load now reads through a read-only connection of its own, in one read
// transaction (a WAL snapshot: writers are not held up), while calls on
// this index are answered from the source tables on the caller's
// connection. The loaded index is swapped in by the first call after the
// load (so under the caller's lock, as every call is), and its first check
// catches up with every commit since its snapshot, by the same marks that
// catch up with other processes' writes.
//
// Once loaded, the 1-bit codes of its rows are stored in the file
// (stored_codes.h), written on the loading thread through a connection of
// its own; while the next server's index loads, its searches pre-scan
// those codes and rescore the best rows exactly, when they can answer.
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "index/backend_base.h"
#include "index/brute_force_index.h"
#include "index/index_source.h"
#include "index/stored_codes.h"

namespace rekall {
namespace {

class BackgroundBruteIndex final : public index_internal::BackendBase {
 public:
  BackgroundBruteIndex(sqlite3* db, const IndexOptions& o) : BackendBase(db, o) {}

  ~BackgroundBruteIndex() override { StopLoad(); }

  // Starts the load on its own connection to db_'s file.
  Status Start() {
    const char* path = sqlite3_db_filename(db_, "main");
    if (path == nullptr || *path == '\0') return Status::Unavailable("no database file to read in the background");
    sqlite3* read_db = nullptr;
    const int rc = sqlite3_open_v2(path, &read_db, SQLITE_OPEN_READONLY, nullptr);
    if (rc != SQLITE_OK) {
      Status s = sqlite::ToStatus(read_db, rc, "opening the index load's connection");
      sqlite3_close_v2(read_db);
      return s;
    }
    sqlite3_busy_timeout(read_db, kBusyMs);
    read_db_ = read_db;  // no thread yet: no lock needed
    path_ = path;
    writable_ = sqlite3_db_readonly(db_, "main") == 0;
    loader_ = std::thread([this, read_db] { Load(read_db); });
    return Status::OK();
  }

  const char* name() const override { return "brute"; }

  Status Upsert(const std::string& entry_id, const float* vec, int dim, const EntryMeta& meta) override {
    std::lock_guard<std::mutex> l(mu_);
    if (VectorIndex* in = InnerLocked()) return in->Upsert(entry_id, vec, dim, meta);
    // Loading: the row is in the tables, where the catch-up finds it.
    std::vector<float> unit;
    return CheckUpsert(entry_id, vec, dim, &unit);
  }

  Status Remove(const std::string& entry_id) override {
    std::lock_guard<std::mutex> l(mu_);
    if (VectorIndex* in = InnerLocked()) return in->Remove(entry_id);
    return Status::OK();
  }

  Status Search(const float* query, int dim, int k, const Filter& f, std::vector<Hit>* out) override {
    out->clear();
    std::lock_guard<std::mutex> l(mu_);
    if (VectorIndex* in = InnerLocked()) return in->Search(query, dim, k, f, out);
    std::vector<float> q;
    Status s = CheckQuery(query, dim, &q);
    if (!s.ok() || k <= 0) return s;
    const index_internal::StoredCodes* c = StoredCodesLocked();
    if (c && c->candidates > 0) {
      // The in-memory 1-bit path's candidate count (BruteForceIndex::Search),
      // as the recall check chose it on these rows.
      const size_t candidates = std::max(c->candidates, size_t(k) * 20);
      index_internal::CodesAnswer answer;
      s = index_internal::StoredCodesSearch(db_, *c, q, k, f, candidates, out, &answer);
      if (!s.ok() || answer == index_internal::CodesAnswer::kAnswered) return s;
      if (answer == index_internal::CodesAnswer::kStale) stored_.reset();  // stays so until the next load
    }
    return index_internal::ExactSourceSearch(db_, dim_, q, k, f, out);
  }

  Status Count(size_t* n) override {
    std::lock_guard<std::mutex> l(mu_);
    if (VectorIndex* in = InnerLocked()) return in->Count(n);
    return index_internal::CountSourceRows(db_, dim_, n);
  }

  Status Rebuild(size_t* loaded, size_t* skipped) override {
    std::lock_guard<std::mutex> l(mu_);
    WaitLocked();
    return InnerLocked()->Rebuild(loaded, skipped);
  }

  void MarkStale() override {
    std::lock_guard<std::mutex> l(mu_);
    // Loading: the writes rolled back never reached anything but the tables.
    if (VectorIndex* in = InnerLocked()) in->MarkStale();
  }

  bool Describe(ScanReport* r) override {
    std::lock_guard<std::mutex> l(mu_);
    if (VectorIndex* in = InnerLocked()) return in->Describe(r);
    *r = ScanReport{};
    r->loading = true;  // exact scans of the source tables meanwhile
    return true;
  }

  bool ReleaseMemory() override {
    std::lock_guard<std::mutex> l(mu_);
    StopLoad();
    stored_.reset();
    // Reloaded (in place) at the next use if the caller keeps this index.
    inner_ = NewBruteForceIndex(db_, opts_);
    inner_->MarkStale();
    return true;
  }

 private:
  static constexpr int kBusyMs = 5000;
  // The codes wait this long for another writer, then are not written: a
  // server stopping waits for its loading thread.
  static constexpr int kWriterBusyMs = 1000;

  // Refresh: the loaded index's; the source tables are always current.
  Status FreshLocked(bool, bool* changed) override {
    if (VectorIndex* in = InnerLocked()) return in->Refresh(changed);
    if (changed) *changed = false;
    return Status::OK();
  }

  // The codes stored in the file, read at the first search while loading;
  // null when there are none usable.
  const index_internal::StoredCodes* StoredCodesLocked() {
    if (!codes_read_) {
      codes_read_ = true;
      auto c = std::make_unique<index_internal::StoredCodes>();
      if (index_internal::ReadStoredCodes(db_, dim_, c.get())) stored_ = std::move(c);
    }
    return stored_.get();
  }

  // The loading thread.
  void Load(sqlite3* read_db) {
    if (sqlite3* w = OpenWriter()) {  // before the snapshot: see CreateStoredCodesTable
      index_internal::CreateStoredCodesTable(w);
      CloseWriter(w);
    }
    std::unique_ptr<VectorIndex> idx;
    index_internal::StoredCodes codes;
    Status s = LoadBruteForceIndex(db_, read_db, opts_, &stop_, &idx, &codes);
    {
      std::lock_guard<std::mutex> l(done_mu_);
      sqlite3_close_v2(read_db);
      read_db_ = nullptr;
      loaded_ = std::move(idx);
      load_status_ = s;
      done_ = true;
    }
    done_cv_.notify_all();
    if (s.ok() && !codes.rowids.empty()) StoreCodes(codes);
    if (opts_.background_load_hook) opts_.background_load_hook(true);
  }

  // Stores the loaded index's codes through a writable connection of its
  // own (off the request path; the server's writes wait at most for this
  // one transaction). A read-only file, a busy writer or any failure just
  // leaves the codes as they were: they are an accelerator.
  void StoreCodes(const index_internal::StoredCodes& codes) {
    sqlite3* w = OpenWriter();
    bool written = false;
    if (w && !stop_) index_internal::WriteStoredCodes(w, codes, &written);
    CloseWriter(w);
  }

  // A writable connection to db_'s file for the codes, seen by StopLoad
  // while open; null when the file cannot be written or the load is stopping.
  sqlite3* OpenWriter() {
    if (opts_.codes_min_rows == 0 || !writable_ || stop_) return nullptr;
    sqlite3* w = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &w, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK ||
        sqlite3_db_readonly(w, "main") != 0) {
      sqlite3_close_v2(w);
      return nullptr;
    }
    sqlite3_busy_timeout(w, kWriterBusyMs);
    std::lock_guard<std::mutex> l(done_mu_);
    bg_db_ = w;
    return w;
  }
  void CloseWriter(sqlite3* w) {
    if (w == nullptr) return;
    {
      std::lock_guard<std::mutex> l(done_mu_);
      bg_db_ = nullptr;
    }
    sqlite3_close_v2(w);
  }

  // The loaded index, swapped in once the load is over; null while it runs.
  VectorIndex* InnerLocked() {
    if (inner_) return inner_.get();
    {
      std::lock_guard<std::mutex> l(done_mu_);
      if (!done_) return nullptr;
    }
    WaitLocked();
    return inner_.get();
  }

  // Waits for the load to end and takes its index; after a failed load, an
  // index that loads in place at its first use (and reports the failure).
  // The loading thread is not joined: it may still be storing the codes.
  void WaitLocked() {
    if (inner_) return;
    stored_.reset();  // answers come from the loaded index from now on
    std::unique_lock<std::mutex> l(done_mu_);
    done_cv_.wait(l, [this] { return done_; });
    if (load_status_.ok() && loaded_) {
      inner_ = std::move(loaded_);
      return;
    }
    inner_ = NewBruteForceIndex(db_, opts_);
    inner_->MarkStale();
  }

  // Abandons a load under way and waits for its end: the statement it runs
  // is interrupted, and it reads no further row.
  void StopLoad() {
    stop_ = true;
    {
      std::lock_guard<std::mutex> l(done_mu_);
      if (read_db_) sqlite3_interrupt(read_db_);  // safe from any thread
      if (bg_db_) sqlite3_interrupt(bg_db_);
    }
    if (loader_.joinable()) loader_.join();
  }

  std::string path_;       // db_'s file, set before the thread starts
  bool writable_ = false;  // whether db_ may write it
  std::thread loader_;
  std::atomic<bool> stop_{false};
  std::mutex done_mu_;  // guards what the loading thread hands over
  std::condition_variable done_cv_;  // done_ turned true
  sqlite3* read_db_ = nullptr;  // the load's connection while it is open
  sqlite3* bg_db_ = nullptr;    // the codes' writer while it is open
  bool done_ = false;
  Status load_status_;
  std::unique_ptr<VectorIndex> loaded_;
  std::unique_ptr<VectorIndex> inner_;  // under mu_
  bool codes_read_ = false;            // under mu_
  std::unique_ptr<index_internal::StoredCodes> stored_;  // under mu_, until inner_ is there
};

}  // namespace

Status OpenBruteForceIndexInBackground(sqlite3* db, const IndexOptions& opts, std::unique_ptr<VectorIndex>* out) {
  auto idx = std::make_unique<BackgroundBruteIndex>(db, opts);
  Status s = idx->Start();
  if (s.ok()) *out = std::move(idx);
  return s;
}

}  // namespace rekall
