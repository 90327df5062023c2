// Engine: the knowledge base as the CLI and the server use it, and the only
// door to it: the store, its database handle, the vector index, the caches
// and the embedding model stay behind this interface.
//
// The engine keeps them consistent: every write reaches the vector index in
// the store's transaction and invalidates the caches; writes by other
// processes are noticed through SQLite's data_version. An Engine may be
// called from several threads (the server's workers); calls on the database
// run one at a time, and a search waiting for a loading model waits without
// holding up the others.
//
// As LevelDB's DB, Engine is an abstract class with a static Open; the
// implementation (engine_impl.h) is no business of callers.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "config/config.h"
#include "config/resources.h"
#include "engine/embedding_provider.h"
#include "engine/search_mode.h"
#include "index/scan_report.h"
#include "store/entry.h"
#include "store/keyword_index.h"
#include "store/migrate.h"
#include "store/review.h"
#include "store/types.h"
#include "util/env.h"
#include "util/status.h"

namespace rekall {

Status ParseSearchMode(const std::string& s, SearchMode* out);

struct SearchRequest {
  std::string query;
  // Words that sharpen the query's meaning (Rekall's `context` argument):
  // embedded with the query for the vector side of a semantic or hybrid
  // search, never matched as keywords (each of its words would match).
  std::string context;
  SearchMode mode = kDefaultSearchMode;
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
  SearchMode mode_used = kDefaultSearchMode;  // keyword when the model was loading
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

// What to do with an imported entry whose id is already stored: fail the
// import, keep the stored entry, replace it by the file's, or (Rekall's
// merge) add the file's as a copy under a new id, the stored one untouched.
enum class OnConflict { kError, kSkip, kReplace, kMerge };
Status ParseOnConflict(const std::string& s, OnConflict* out);  // "error" | "skip" | "replace" | "merge"
const char* OnConflictName(OnConflict c);

// The file formats of import and export: our JSON Lines (every column,
// restorable exactly), and Rekall's own: its JSON array of entries, its
// `.rekall.zip` archive (that array with a checksummed manifest), and its
// Markdown export (export only).
enum class ExchangeFormat { kJsonLines, kRekallJson, kRekallZip, kMarkdown };
// "jsonl" | "json" | "zip" (or Rekall's name of it, "rekall") | "md"
Status ParseExchangeFormat(const std::string& s, ExchangeFormat* out);
const char* ExchangeFormatName(ExchangeFormat f);
// The format a file name says: *.zip (Rekall's *.rekall.zip), *.json, *.md,
// *.jsonl. False for any other name.
bool ExchangeFormatOfName(const std::string& path, ExchangeFormat* out);

// What an import does (or, dry, would do) with one entry of the file.
enum class ImportAction { kAdd, kReplace, kMerge, kSkip };
const char* ImportActionName(ImportAction a);  // "add" | "replace" | "merge" | "skip"

struct ImportItem {
  std::string id;  // as in the file; empty for a new entry without one
  std::string title;
  ImportAction action = ImportAction::kAdd;
  bool exists = false;               // an entry with this id is stored
  std::vector<std::string> changed;  // when it exists: the fields that differ (none: identical)
};

struct ImportRequest {
  ExchangeFormat format = ExchangeFormat::kJsonLines;
  OnConflict on_conflict = OnConflict::kError;
  bool embed = true;
  // Read, check and plan everything, report what would be done, write nothing.
  bool dry_run = false;
  // Follows the embedding, the long part (entries embedded, of all).
  std::function<void(size_t done, size_t total)> progress;
};

struct ImportReport {
  size_t added = 0, replaced = 0, merged = 0, skipped = 0;
  std::vector<ImportItem> items;  // every entry of the file, in its order
  // A .rekall.zip's manifest: its format version, when it was made, its count.
  std::string archive_version, archive_created_at;
  size_t archive_entries = 0;
  std::string notice;  // one line for the user, or empty
};

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

// What `rekall doctor` runs.
struct DoctorOptions {
  // Repair what is safe, after a backup, and mark it fixed.
  bool fix = false;
  // Only the integrity check, a pending migration and the drift of the
  // keyword and vector indexes: what damage or an interrupted write shows.
  // The checks of every stored vector and orphan row and the model and
  // sqlite-vec lookups are left out.
  bool quick = false;
};

// What `rekall vacuum` did.
struct VacuumReport {
  std::string database;  // the file's path
  // The database's size before and after (its pages, the WAL checkpointed).
  uint64_t bytes_before = 0, bytes_after = 0;
  size_t entries = 0;                 // the same before and after
  bool vector_index_rebuilt = false;  // the vec0 table rebuilt from `embeddings`
  std::string notice;                 // one line for the user, or empty
};

// Counters of one of the engine's embedding caches.
struct CacheStats {
  size_t size = 0;
  uint64_t hits = 0, misses = 0, evictions = 0, expirations = 0, invalidations = 0;
};

// The background build of missing summary embeddings
// (Engine::StartBackgroundEmbedding): off until started, running, done, or
// failed (and why).
enum class BackfillState { kOff, kRunning, kDone, kFailed };
const char* BackfillStateName(BackfillState s);  // "off" | "running" | "done" | "failed"

struct BackfillStatus {
  BackfillState state = BackfillState::kOff;
  size_t done = 0;       // entries it embedded
  size_t remaining = 0;  // entries still without an embedding of ours
  std::string error;     // kFailed: why
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
  // How the brute index scans, and what its recall self-check chose
  // (absent for sqlite-vec, or before the index is open).
  std::optional<ScanReport> vector_scan;
  CacheStats entry_cache;                 // entry id -> summary vector
  CacheStats query_cache;                 // query text -> vector
  long cache_max_size = 0;
  long cache_ttl_seconds = 0;
  ModelState model_state = ModelState::kUnloaded;
  // Where the model and sqlite-vec were found and by which rule, or what
  // is missing and how to get it (config/resources.h).
  config::ResourceLocation model;
  config::ResourceLocation sqlite_vec;
  int model_loads = 0;
  long model_idle_timeout_minutes = 0;
  Precision model_precision = Precision::kFp32;  // the embedder's arithmetic ([engine] precision)
  BackfillStatus backfill;  // the server's background embedding
  long rss_kb = 0;       // resident memory now
  long peak_rss_kb = 0;  // and at its highest
  // The server's in-memory keyword index (store/keyword_index.h); absent
  // in one-shot commands, where FTS5 ranks every search.
  std::optional<store::LiveKeywordIndex::Stats> keyword_index;
};

// The JSON object of `rekall stats --json` and rekall_info (keys as above;
// indexed_vectors, backend_notice, vector_scan and the *_missing lines only
// when present).
nlohmann::json EngineStatsToJson(const EngineStats& st);

// `rekall migrate`: what a database needs, and what was done.
struct MigrationReport {
  std::string database;
  store::MigrationPlan plan;  // no steps: up to date
  size_t entries = 0;
  size_t entries_without_embedding = 0;  // of our model
  bool applied = false;     // Migrate() ran the plan (plan.needed() was true)
  bool migrated = false;    // ...and the file was migrated
  std::string backup_path;  // applied: the backup written; otherwise where it would go
};

// An entry reached from another through links (Engine::Related).
struct RelatedEntry {
  store::Entry entry;
  std::string relation_type;  // of the link it was first reached by
  bool outgoing = false;      // that link's source was the nearer entry
  int depth = 1;              // links from the start
  std::optional<std::string> reason;
};

// Entries whose structured contexts share at least two trigger keywords:
// a chance to generalise them into one pattern (Engine::Suggest).
struct KeywordCluster {
  std::vector<std::string> keywords;  // shared by every entry
  std::vector<store::Entry> entries;
};

// What Engine::Suggest finds: Rekall's pending suggestions, then clusters.
struct Suggestions {
  std::vector<store::Suggestion> pending;
  std::vector<KeywordCluster> clusters;
};

// The latest Rekall schema (its PRAGMA user_version) this engine knows: a
// file at an older one is outdated (`rekall info`).
extern const int kLatestRekallSchemaVersion;

// The deepest Related reaches (Rekall's documented maximum).
inline constexpr int kMaxRelatedDepth = 3;

struct EngineOptions {
  // Files and folders, the clock of idle times and cache expiry, this
  // process's memory (tests give a fake).
  Env* env = Env::Default();
  config::Config cfg;
  std::string db_path;
  bool create_parent_dirs = false;  // for the default location only
  bool read_only = false;
  // A long-running process (the server): with vector_backend = auto, search
  // an in-memory SIMD matrix instead of sqlite-vec 0.1.9's table scan (about
  // 18x faster at 10K vectors, bench/index/RESULTS.md); the one-time load
  // pays off over many searches. The vec0 table is caught up by the next
  // process that opens it with sqlite-vec. It also gives memory back after
  // the model's idle timeout (ReleaseIdleMemory).
  bool long_running = false;
  // Null: the real model provider built from cfg.
  std::unique_ptr<EmbeddingProvider> provider;
};

class Engine {
 public:
  // Opens (or creates) the database at opts.db_path, migrating it when it
  // lacks what we need (after a backup; schema() says so). The model is not
  // loaded until something needs it.
  static Status Open(EngineOptions opts, std::unique_ptr<Engine>* out);

  // Inspects the database at opts.db_path without changing it (opened
  // read-only, never created, never migrated).
  static Status PlanMigration(const EngineOptions& opts, MigrationReport* out);
  // PlanMigration, then applies the plan when one is needed (after a backup).
  static Status Migrate(const EngineOptions& opts, MigrationReport* out);

  // ---- Whole-file copies (backup.cc), through SQLite's online backup API,
  // without opening (or migrating) the database as an Engine.

  // Copies the database at opts.db_path to `dest`, or, when empty, to a
  // new dated file in Rekall's folder (~/.rekall/backups/knowledge_<ts>.db,
  // where Rekall's own `restore` finds it). *out: the copy.
  static Status Backup(const EngineOptions& opts, const std::string& dest, store::BackupFile* out);
  // The backups of opts.db_path: the automatic ones beside it and those in
  // Rekall's folder, newest first.
  static Status ListBackups(const EngineOptions& opts, std::vector<store::BackupFile>* out);
  // Checks that `file` is a whole knowledge base (SQLite's integrity check,
  // a Rekall schema we know) and says what it holds; changes nothing.
  static Status InspectBackup(const EngineOptions& opts, const std::string& file, store::DatabaseFileInfo* out);
  // InspectBackup, then (with `safety`, when the database exists) a copy of
  // the current database in Rekall's folder (*safety_backup), then replaces
  // it by `file` in one transaction: on any failure it is as it was.
  static Status Restore(const EngineOptions& opts, const std::string& file, bool safety,
                        store::DatabaseFileInfo* restored, std::string* safety_backup);

  // The model behind the configuration, without a database (`rekall embed`):
  // row-major texts.size() x *dim unit vectors.
  static Status EmbedTexts(const config::Config& cfg, const std::vector<std::string>& texts,
                           std::vector<float>* out, int* dim);

  // The version the sqlite-vec extension at `path` reports, loaded into a
  // throwaway in-memory database (`rekall --version`).
  static Status SqliteVecVersion(const std::string& path, std::string* version);
  // The SQLite library this binary runs with, e.g. "3.40.1".
  static std::string SqliteVersion();

  Engine() = default;
  virtual ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  virtual const config::Config& config() const = 0;
  virtual const std::string& path() const = 0;
  // What Open() found in the file, and whether it migrated it (and where the
  // backup went).
  virtual const store::SchemaInfo& schema() const = 0;

  virtual ModelState model_state() const = 0;
  // Starts loading the model in the background (server warm-up); no-op if
  // loaded or missing.
  virtual void WarmModel() = 0;
  // Waits while the model is loading, at most `max_wait`, and returns early
  // once *cancelled is true. True when no load is in progress any more
  // (loaded, failed or missing); false when the wait ran out or was cancelled.
  virtual bool WaitForModel(std::chrono::milliseconds max_wait, const std::atomic<bool>* cancelled = nullptr) = 0;
  // Starts opening the vector index in the background (a server, at start).
  // The brute index of a long-running engine loads its matrix (0.5-1.5 s at
  // 100K vectors) on a thread of its own without holding the engine's lock;
  // searches meanwhile score the stored vectors exactly from the file, so
  // the first search does not wait for the load. Opening the sqlite-vec
  // index (catching it up) is done on this thread; searches arriving
  // meanwhile wait for it. No-op when the index is open or the file has no
  // embeddings table.
  virtual void WarmIndex() = 0;

  // Adds an entry with its summary embedding. Without the model the entry is
  // stored without one and *notice says how to add it later.
  virtual Status Add(store::Entry* e, std::string* notice) = 0;
  // Replaces a stored entry's fields and tags and re-embeds it. Without the
  // model its old embedding is dropped (never scored by stale text) and
  // *notice says so.
  virtual Status Update(store::Entry* e, std::string* notice) = 0;
  // Changes stored entry `id` by `apply` (the fields a user gave) and
  // re-embeds it: what `edit` and rekall_update do. The entry is re-read and
  // `apply` re-run inside the write transaction, so whatever another process
  // committed meanwhile (another edit's tag or field, Rekall's bookkeeping)
  // is kept, never overwritten (issue 10 #2). The embedding is computed
  // before the write lock is taken; `apply` may therefore run more than
  // once. An error from `apply` is returned as it is. *out: the entry as
  // stored.
  using EntryPatchFn = std::function<Status(store::Entry*)>;
  virtual Status Patch(const std::string& id, const EntryPatchFn& apply, store::Entry* out,
                       std::string* notice) = 0;
  virtual Status Delete(const std::string& id) = 0;
  virtual Status Get(const std::string& id, store::Entry* e) = 0;
  // Newest first. Obsolete entries only when the filter asks for them
  // (store::VisibleFilter), here as in Search and Similar.
  virtual Status List(const store::ListFilter& f, std::vector<store::Entry>* out) = 0;
  virtual Status Exists(const std::string& id, bool* exists) = 0;
  // Whether the file can hold that column of Rekall's `entries` (as a key of
  // Entry::extra); older Rekall schemas lack some.
  virtual bool HasEntryColumn(const std::string& column) const = 0;
  // An exact id (as given, then upper case), or a unique prefix of one
  // (case-insensitive: ULIDs are upper case), to the full id. NotFound when
  // nothing matches; InvalidArgument when the prefix is ambiguous.
  virtual Status ResolveId(const std::string& id_or_prefix, std::string* id) = 0;
  // Every id `id_or_prefix` names, as ResolveId reads it: the exact id
  // alone, or up to `limit` ids with that prefix, in id order (none: an
  // empty list). `show` lists them when a prefix names several.
  virtual Status MatchIds(const std::string& id_or_prefix, int limit, std::vector<std::string>* ids) = 0;

  virtual Status Search(const SearchRequest& req, SearchResponse* resp) = 0;
  // Entries nearest to entry `id` (itself excluded); obsolete ones only when
  // the filter asks for them.
  virtual Status Similar(const std::string& id, int limit, const store::ListFilter& f,
                         std::vector<SearchResult>* out, std::string* notice) = 0;

  // ---- What Rekall's agents use (agent.cc), in Rekall's tables.

  // Get, and Rekall's bookkeeping of a read (access_count, last_accessed,
  // consolidation_score): what `show` does. Search counts a read of each
  // result it returns, as Rekall's search does.
  virtual Status Read(const std::string& id, store::Entry* e) = 0;
  // Links two entries (exact ids) in Rekall's `links` table; *l gets its id.
  virtual Status Link(store::Link* l) = 0;
  // Removes the links from `source` to `target`, of relation `type` when
  // given, else of every type.
  virtual Status Unlink(const std::string& source, const std::string& target, const std::optional<std::string>& type,
                        int* removed) = 0;
  // The links of entry `id`, both directions.
  virtual Status LinksOf(const std::string& id, std::vector<store::Link>* out) = 0;
  virtual Status CountLinks(size_t* n) = 0;
  // Entries linked to `id` either way, up to `depth` links away (1 to
  // kMaxRelatedDepth; clamped), each once, nearest first; through links of
  // relation `type` only, when given.
  virtual Status Related(const std::string& id, int depth, const std::optional<std::string>& type,
                         std::vector<RelatedEntry>* out) = 0;
  // Marks entry `id` obsolete, superseded by `replaced_by` when given (which
  // must exist), as Rekall's `deprecate` does: kept, hidden from search.
  virtual Status Deprecate(const std::string& id, const std::optional<std::string>& replaced_by, store::Entry* out,
                           std::string* notice) = 0;
  // Active entries not read for `days` days (or never), least recent first.
  virtual Status Stale(int days, int limit, std::vector<store::Entry>* out) = 0;
  // Rekall's spaced repetition, on its columns (store/review.cc): entries
  // due on or before today (local date) of `project` when given, the
  // `limit` earliest, most urgent first.
  virtual Status DueForReview(const std::optional<std::string>& project, int limit,
                              std::vector<store::DueReview>* out) = 0;
  // Grade `quality` (0 to 5) for entry `id` (exact): interval, ease factor
  // and next review as Rekall computes them; *out the new values.
  virtual Status RecordReview(const std::string& id, int quality, store::ReviewSchedule* out) = 0;
  // The free-text context stored with each of `ids` (exact ids), or none.
  virtual Status GetContexts(const std::vector<std::string>& ids,
                             std::vector<std::optional<std::string>>* out) = 0;
  // One new entry generalising entries `ids` (exact, at least two): *e holds
  // the title and type (both optional: a title from the sources' words, type
  // pattern); content lists the sources, tags are those of two sources or
  // more, the project the first source's. It is linked derived_from to each
  // source, all in one transaction.
  virtual Status Generalize(const std::vector<std::string>& ids, store::Entry* e, std::string* notice) = 0;
  // The entry Generalize would write for `ids` (title, type, content, tags,
  // project, confidence), written nowhere: what `generalize --dry-run` shows.
  virtual Status DraftGeneralized(const std::vector<std::string>& ids, store::Entry* e) = 0;
  // Rekall's pending suggestions (of `type` when given, at most `limit`)
  // and, with `clusters`, entries sharing trigger keywords.
  virtual Status Suggest(const std::optional<std::string>& type, int limit, bool clusters, Suggestions* out) = 0;
  // Sources whose themes are among the first five tags of entry `id`.
  virtual Status SourcesFor(const std::string& id, int limit, std::vector<store::Source>* out) = 0;
  // Sources due for a link check (not verified in the last day).
  virtual Status SourcesToVerify(int limit, std::vector<store::Source>* out) = 0;

  // Row-major texts.size() x dim unit vectors, waiting for the model to load.
  virtual Status Embed(const std::vector<std::string>& texts, std::vector<float>* out) = 0;

  // Embeds the entries that have no summary embedding of our model (all of
  // them with `all`), in batches, each batch one transaction.
  virtual Status RebuildIndex(bool all, const std::function<void(size_t done, size_t total)>& progress,
                              size_t* embedded) = 0;
  virtual Status GetIndexStatus(IndexStatus* st) = 0;

  // Embeds every entry without a summary embedding of ours on a thread of
  // its own, at the lowest CPU priority and a few entries at a time: the
  // embedding runs without the engine's lock, so other calls wait at most
  // for one small write. For the server opening a Rekall file that never had
  // embeddings (Rekall's default); Stats() reports the progress. Does nothing
  // on a read-only file, without the model, when nothing is missing, or when
  // already started. Entries changed meanwhile keep their own new vector.
  virtual void StartBackgroundEmbedding() = 0;

  // Imports the entries of `in`, in req.format: all or nothing. Entries with
  // an id keep it (and their timestamps); req.on_conflict says what to do
  // when that id is stored. Identical entries (same title, content, type,
  // project, tags, confidence, status and superseded_by) are skipped by
  // skip and merge, rewritten by replace (which restores the file's exact
  // entry). With req.dry_run nothing is written and *report says what would
  // be.
  virtual Status Import(std::istream& in, const ImportRequest& req, ImportReport* report) = 0;
  // The JSON Lines import above, its counts as imported (added, replaced or
  // merged) and skipped.
  Status Import(std::istream& in, OnConflict on_conflict, bool embed, size_t* imported, size_t* skipped,
                std::string* notice, const std::function<void(size_t done, size_t total)>& progress = nullptr);
  // Every entry, in `format`: JSON Lines oldest first (every column: the
  // restorable export); Rekall's formats newest first, as Rekall writes them,
  // obsolete entries included (Rekall's own export leaves them out), with
  // the 16 fields of Rekall's archive (no links, embeddings, review state
  // beyond them). Bytes of stored texts that are not valid UTF-8 (written by
  // another tool) are exported as U+FFFD, and *notice says how many entries
  // had them.
  // `only` (Rekall's export -t/-p) keeps the entries its fields select:
  // type, project, status, memory type, tags; obsolete entries stay unless
  // it names a status.
  virtual Status Export(std::ostream& out, ExchangeFormat format, const store::ListFilter& only, size_t* exported,
                        std::string* notice) = 0;
  Status Export(std::ostream& out, ExchangeFormat format, size_t* exported, std::string* notice) {
    return Export(out, format, store::ListFilter(), exported, notice);
  }
  Status Export(std::ostream& out, size_t* exported, std::string* notice) {
    return Export(out, ExchangeFormat::kJsonLines, exported, notice);
  }

  // Integrity check, orphan rows, FTS drift, vector-index drift, model or
  // dimension mismatches, entries without embeddings. With `fix`, repairs
  // what is safe (after a backup, path in *backup) and marks it fixed.
  virtual Status Doctor(const DoctorOptions& opts, std::vector<DoctorFinding>* out, std::string* backup) = 0;
  Status Doctor(bool fix, std::vector<DoctorFinding>* out, std::string* backup) {
    DoctorOptions o;
    o.fix = fix;
    return Doctor(o, out, backup);
  }

  // Gives the space of deleted entries back to the file system: their rows,
  // FTS postings, embeddings and vec0 rows. sqlite-vec never frees a
  // deleted vec0 row's space, so its table is rebuilt from `embeddings`
  // (when the sqlite-vec backend is loaded), then the store vacuums.
  // Refuses a read-only or damaged file (integrity check), changing nothing.
  virtual Status Vacuum(VacuumReport* out) = 0;

  // Entries, embeddings, backend, cache counters, model state, RSS.
  virtual Status Stats(EngineStats* out) = 0;

  // Gives back what a long-running process holds between bursts of use: the
  // in-memory vector matrix, the entry cache, SQLite's page cache, and freed
  // heap pages. The query cache is kept (small; spares a model reload for a
  // repeated query). Called after the idle timeout (the model manager unloads the
  // model on the same timeout); the next search reloads what it needs.
  virtual void ReleaseIdleMemory() = 0;
};

}  // namespace rekall
