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

// One check of `rekall doctor`.
struct DoctorFinding {
  std::string check;     // integrity, orphan_embeddings, ...
  std::string severity;  // ok | info | warning | error
  std::string message;
  size_t count = 0;
  bool fixed = false;
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

  store::Store* store() { return store_.get(); }
  EmbeddingProvider* provider() { return provider_.get(); }
  const config::Config& config() const { return cfg_; }

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
  // timestamps); `on_conflict` is "error", "skip" or "replace". `progress`
  // follows the embedding, the long part (entries embedded, of all).
  Status Import(std::istream& in, const std::string& on_conflict, bool embed, size_t* imported, size_t* skipped,
                std::string* notice, const std::function<void(size_t done, size_t total)>& progress = nullptr);
  Status Export(std::ostream& out, size_t* exported);

  // Integrity check, orphan rows, FTS drift, vector-index drift, model or
  // dimension mismatches, entries without embeddings. With `fix`, repairs
  // what is safe (after a backup, path in *backup) and marks it fixed.
  Status Doctor(bool fix, std::vector<DoctorFinding>* out, std::string* backup);

  // entries, embeddings, backend, cache counters, model state, RSS.
  Status Stats(nlohmann::json* out);

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
