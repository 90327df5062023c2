// Engine: the knowledge base as the CLI and the server use it. It owns the
// store, the vector index, the embedding caches and the model provider, and
// keeps them consistent: every write reaches the index in the store's
// transaction and invalidates the caches; writes by other processes are
// noticed through SQLite's data_version.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "engine/embedding_provider.h"
#include "index/embedding_cache.h"
#include "index/vector_index.h"
#include "store/migrate.h"
#include "store/store.h"
#include "util/status.h"

namespace rekall {

enum class SearchMode { kKeyword, kSemantic, kHybrid };
Status ParseSearchMode(const std::string& s, SearchMode* out);
const char* SearchModeName(SearchMode m);

struct SearchRequest {
  std::string query;
  SearchMode mode = SearchMode::kSemantic;
  store::ListFilter filter;
  int limit = 10;
  std::optional<double> min_score;
  // How long a semantic search waits for a model that is loading before it
  // answers with keyword results (the server); the CLI waits for the load.
  std::chrono::milliseconds model_wait = std::chrono::hours(1);
  const std::atomic<bool>* cancelled = nullptr;
};

struct SearchResult {
  store::Entry entry;
  double score = 0;  // cosine (semantic), -bm25 (keyword), RRF (hybrid)
  int keyword_rank = 0;  // 0: not among the keyword candidates
  int vector_rank = 0;   // 0: not among the vector candidates
  std::optional<double> cosine;
  std::optional<double> bm25;
};

struct SearchResponse {
  std::vector<SearchResult> results;
  SearchMode mode_used = SearchMode::kSemantic;  // keyword when the model was loading
  bool model_loading = false;
  std::string notice;  // one line for the user, or empty
};

struct IndexStatus {
  size_t entries = 0;
  size_t embedded = 0;    // entries with a summary embedding of our model
  size_t missing = 0;     // entries without one
  size_t mismatched = 0;  // summary embeddings of another model or dimension
  size_t indexed = 0;     // vectors in the vector index
  std::string backend;
  std::string notice;
};

// What to do with an imported line whose id is already stored.
enum class OnConflict { kError, kSkip, kReplace };
Status ParseOnConflict(const std::string& s, OnConflict* out);  // "error" | "skip" | "replace"
const char* OnConflictName(OnConflict c);

enum class Severity { kOk, kInfo, kWarning, kError };
const char* SeverityName(Severity s);  // "ok" | "info" | "warning" | "error"

// One check of `rekall doctor`.
struct DoctorFinding {
  std::string check;  // integrity, orphan_embeddings, ...
  Severity severity = Severity::kOk;
  std::string message;
  size_t count = 0;
  bool fixed = false;
};

// What `rekall stats` and the server's rekall_info report.
struct EngineStats {
  std::string database;  // the file's path
  int rekall_schema_version = 0;
  int engine_schema_version = 0;
  size_t entries = 0;
  size_t summary_embeddings = 0;  // of any model
  std::string backend;            // "not loaded" until a search or write opens the index
  std::optional<size_t> indexed_vectors;  // when the index is open
  std::string backend_notice;             // why the backend is not the one asked for; or empty
  EmbeddingCache::Stats entry_cache;
  EmbeddingCache::Stats query_cache;
  long cache_max_size = 0;
  long cache_ttl_seconds = 0;
  ModelState model_state = ModelState::kUnloaded;
  int model_loads = 0;
  long model_idle_timeout_minutes = 0;
  long rss_kb = 0;       // resident memory now
  long peak_rss_kb = 0;  // and at its highest
};

// The JSON object of `rekall stats --json` (keys as above; the index and
// notice keys only when present).
nlohmann::json EngineStatsToJson(const EngineStats& st);

// `rekall migrate`: what a database needs, and what was done.
struct MigrationReport {
  std::string database;
  store::MigrationPlan plan;  // empty steps: up to date
  size_t entries = 0;
  size_t entries_without_embedding = 0;  // of our model
  bool applied = false;      // Migrate() ran (plan.needed() was true)
  bool migrated = false;     // ...and the file was migrated
  std::string backup_path;   // applied: the backup written; otherwise where it would go
};

struct EngineOptions {
  config::Config cfg;
  std::string db_path;
  bool create_parent_dirs = false;  // for the default location only
  bool read_only = false;
  // A long-running process (the server): with vector_backend = auto, search
  // an in-memory SIMD matrix instead of sqlite-vec 0.1.9's table scan (about
  // 18x faster at 10K vectors, bench/index/RESULTS.md); the one-time load
  // pays off over many searches. The vec0 table is caught up by the next
  // process that opens it with sqlite-vec.
  bool long_running = false;
  // Null: the real model provider built from cfg.
  std::unique_ptr<EmbeddingProvider> provider;
};

class Engine : private store::WriteObserver {
 public:
  static Status Open(EngineOptions opts, std::unique_ptr<Engine>* out);
  ~Engine() override;

  // Inspects the database at opts.db_path without changing it (opened
  // read-only, never created, never migrated).
  static Status PlanMigration(const EngineOptions& opts, MigrationReport* out);
  // PlanMigration, then applies the plan when one is needed (after a backup).
  static Status Migrate(const EngineOptions& opts, MigrationReport* out);

  // The model behind the configuration, without a database (`rekall embed`):
  // row-major texts.size() x *dim unit vectors.
  static Status EmbedTexts(const config::Config& cfg, const std::vector<std::string>& texts,
                           std::vector<float>* out, int* dim);

  // Kept until the CLI and the server use the calls below only.
  store::Store* store() { return store_.get(); }
  EmbeddingProvider* provider() { return provider_.get(); }

  const config::Config& config() const { return cfg_; }
  const std::string& path() const;
  // What Open() found in the file, and whether it migrated it (and where the
  // backup went).
  const store::SchemaInfo& schema() const;

  ModelState model_state() const;
  // Starts loading the model in the background (server warm-up); no-op if
  // loaded or missing.
  void WarmModel();
  // Waits while the model is loading, at most `max_wait`, and returns early
  // when *cancelled becomes true. True when no load is in progress any more
  // (loaded, failed or missing); false when the wait ran out or was cancelled.
  bool WaitForModel(std::chrono::milliseconds max_wait, const std::atomic<bool>* cancelled = nullptr);

  Status List(const store::ListFilter& f, std::vector<store::Entry>* out);
  Status Exists(const std::string& id, bool* exists);
  // Whether the file can hold that column of Rekall's `entries` (as a key of
  // Entry::extra); older Rekall schemas lack some.
  bool HasEntryColumn(const std::string& column) const;
  // An exact id (as given, then upper case), or a unique prefix of one
  // (case-insensitive: ULIDs are upper case) to the full id. NotFound when
  // nothing matches; InvalidArgument when the prefix is ambiguous.
  Status ResolveId(const std::string& id_or_prefix, std::string* id);

  // Adds an entry with its summary embedding. Without the model the entry is
  // stored without one and *notice says how to add it later.
  Status Add(store::Entry* e, std::string* notice);
  Status Update(store::Entry* e, std::string* notice);
  Status Delete(const std::string& id);
  Status Get(const std::string& id, store::Entry* e);

  Status Search(const SearchRequest& req, SearchResponse* resp);
  // Entries nearest to entry `id` (itself excluded).
  Status Similar(const std::string& id, int limit, const store::ListFilter& f, std::vector<SearchResult>* out,
                 std::string* notice);

  Status Embed(const std::vector<std::string>& texts, std::vector<float>* out);

  // Embeds the entries that have no summary embedding of our model (all of
  // them with `all`), in batches, each batch one transaction.
  Status RebuildIndex(bool all, const std::function<void(size_t done, size_t total)>& progress, size_t* embedded);
  Status GetIndexStatus(IndexStatus* st);

  // Imports JSON Lines: all or nothing. Lines with an id keep it (and their
  // timestamps); `on_conflict` says what to do when that id exists.
  Status Import(std::istream& in, OnConflict on_conflict, bool embed, size_t* imported, size_t* skipped,
                std::string* notice);
  Status Export(std::ostream& out, size_t* exported);

  // Integrity check, orphan rows, FTS drift, vector-index drift, model or
  // dimension mismatches, entries without embeddings. With `fix`, repairs
  // what is safe (after a backup, path in *backup) and marks it fixed.
  Status Doctor(bool fix, std::vector<DoctorFinding>* out, std::string* backup);

  // entries, embeddings, backend, cache counters, model state, RSS.
  Status Stats(EngineStats* out);

  // Gives back what a long-running process holds between bursts of use: the
  // in-memory vector matrix, the caches, SQLite's page cache, and freed heap
  // pages. Called after the idle timeout (the model manager unloads the
  // model on the same timeout); the next search reloads what it needs.
  void ReleaseIdleMemory();

 private:
  Engine() = default;
  Status EnsureIndex();
  // Drops cached state when another process committed to the file.
  Status SyncWithOtherWriters();
  // The entry's summary embedding when the table and the model are there;
  // otherwise *have is false and *why says what is missing.
  Status SummaryVector(const store::Entry& e, std::vector<float>* vec, bool* have, std::string* why);
  Status EmbedQuery(const std::string& q, std::chrono::milliseconds wait, std::vector<float>* v);
  Status FetchResults(std::vector<SearchResult>* rs);
  Status KeywordOnly(const SearchRequest& req, SearchResponse* resp);
  // Turns a write's failure into stale in-memory index state.
  Status AfterWrite(const std::string& id, Status s);

  void Touch();
  void IdleLoop(std::chrono::milliseconds timeout);

  Status OnSummaryVector(const store::Entry& e, const float* vec, int dim) override;
  Status OnEntryRemoved(const std::string& entry_id) override;

  config::Config cfg_;
  bool long_running_ = false;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<EmbeddingProvider> provider_;
  std::unique_ptr<VectorIndex> index_;
  std::string index_notice_;
  std::unique_ptr<EmbeddingCache> entry_cache_;  // entry id -> summary vector
  std::unique_ptr<EmbeddingCache> query_cache_;  // query text -> vector
  int64_t data_version_ = -1;
  std::recursive_mutex mu_;  // one operation at a time on the connection

  // Idle release (long-running processes only).
  std::atomic<int64_t> last_use_ns_{0};
  std::mutex idle_mu_;
  std::condition_variable idle_cv_;
  bool stop_idle_ = false;
  std::atomic<bool> released_{true};  // nothing loaded yet
  std::thread idle_thread_;
};

// Filter in the vector index's terms.
Filter ToIndexFilter(const store::ListFilter& f);

// Resident memory of this process, from /proc/self/status (kB); 0 if unknown.
long CurrentRssKb();
long PeakRssKb();

}  // namespace rekall
