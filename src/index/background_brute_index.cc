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
#include <sqlite3.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "index/backend_base.h"
#include "index/brute_force_index.h"
#include "index/index_source.h"

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
    if (!s.ok()) return s;
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
    // Reloaded (in place) at the next use if the caller keeps this index.
    inner_ = NewBruteForceIndex(db_, opts_);
    inner_->MarkStale();
    return true;
  }

 private:
  static constexpr int kBusyMs = 5000;

  // Refresh: the loaded index's; the source tables are always current.
  Status FreshLocked(bool, bool* changed) override {
    if (VectorIndex* in = InnerLocked()) return in->Refresh(changed);
    if (changed) *changed = false;
    return Status::OK();
  }

  // The loading thread.
  void Load(sqlite3* read_db) {
    std::unique_ptr<VectorIndex> idx;
    Status s = LoadBruteForceIndex(db_, read_db, opts_, &stop_, &idx);
    {
      std::lock_guard<std::mutex> l(done_mu_);
      sqlite3_close_v2(read_db);
      read_db_ = nullptr;
      loaded_ = std::move(idx);
      load_status_ = s;
      done_ = true;
    }
    if (opts_.background_load_hook) opts_.background_load_hook(true);
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
  void WaitLocked() {
    if (inner_) return;
    if (loader_.joinable()) loader_.join();
    std::lock_guard<std::mutex> l(done_mu_);
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
    }
    if (loader_.joinable()) loader_.join();
  }

  std::thread loader_;
  std::atomic<bool> stop_{false};
  std::mutex done_mu_;  // guards what the loading thread hands over
  sqlite3* read_db_ = nullptr;  // the load's connection while it is open
  bool done_ = false;
  Status load_status_;
  std::unique_ptr<VectorIndex> loaded_;
  std::unique_ptr<VectorIndex> inner_;  // under mu_
};

}  // namespace

Status OpenBruteForceIndexInBackground(sqlite3* db, const IndexOptions& opts, std::unique_ptr<VectorIndex>* out) {
  auto idx = std::make_unique<BackgroundBruteIndex>(db, opts);
  Status s = idx->Start();
  if (s.ok()) *out = std::move(idx);
  return s;
}

}  // namespace rekall
