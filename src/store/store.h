// Store: the knowledge base in one SQLite file, in Rekall's schema.
//
// Rekall owns the schema and `PRAGMA user_version`; our own bookkeeping lives
// in tables named rekall_engine_*, added beside Rekall's, never changing its
// tables, so Rekall itself can still open a database we have used.
//
// Every write runs in one transaction (BEGIN IMMEDIATE, so two writers queue
// on the busy timeout instead of failing on a lock upgrade): an entry, its
// tags, its FTS row, its embeddings and its vector-index row commit together
// or not at all.
#pragma once

#include <sqlite3.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sqlite/checkpointer.h"
#include "sqlite/sqlite.h"
#include "store/entry.h"
#include "store/keyword_index.h"
#include "store/migrate.h"
#include "store/review.h"
#include "store/types.h"
#include "util/env.h"
#include "util/our_embeddings.h"
#include "util/status.h"

namespace rekall::store {

inline constexpr int kRekallUserVersion = 12;  // the latest Rekall schema we know
inline constexpr int kEngineSchemaVersion = 1;  // ours, in rekall_engine_meta
// Older spellings of util/our_embeddings.h, kept for callers outside store/.
inline constexpr const char* kModelName = kOurModelName;
inline constexpr int kDim = kOurDim;
using rekall::IsOurModelName;

struct KeywordHit {
  std::string id;
  double bm25 = 0;  // FTS5's bm25(): lower is better (it is negative)
  int rank = 0;     // 1-based
};

struct StoredEmbedding {
  std::string entry_id;
  EmbeddingType type = EmbeddingType::kSummary;
  std::vector<float> vector;
  int dimensions = 0;
  std::string model_name;
};

// Told of every change to an entry's summary vector inside the write
// transaction, so a vector index in the same file commits with it. A failing
// observer rolls the write back.
class WriteObserver {
 public:
  virtual ~WriteObserver() = default;
  // The entry's summary vector or its filterable fields changed.
  virtual Status OnSummaryVector(const Entry& e, const float* vec, int dim) = 0;
  // The entry (and so its vectors) is gone.
  virtual Status OnEntryRemoved(const std::string& entry_id) = 0;
};

struct OpenOptions {
  // Which files exist, may be written or created; the clock of backups.
  Env* env = Env::Default();
  // A missing file is created (mode 0600) when its folder exists.
  bool create_if_missing = true;
  // Never write; a file we may not write is opened read-only anyway.
  bool read_only = false;
  // How long a write waits for another process's lock before kBusy.
  int busy_timeout_ms = 5000;
  // WAL checkpoints run on a thread of their own instead of inside the
  // commit that fills the log (sqlite/checkpointer.h): for a long-running
  // server, whose requests should not wait for an fdatasync.
  bool background_checkpoint = false;
  // Migrate an existing Rekall file that lacks what we need (after a
  // backup). Off: open it as it is and report schema().pending_migration.
  bool auto_migrate = true;
  MigrateOptions migrate;
};

class Store {
 public:
  // Opens (or creates, mode 0600) the database at `path`. A file that is not
  // a Rekall database is never modified, nor is one that fails PRAGMA
  // quick_check before our first write to it: that one opens read-only and
  // every write returns Corruption pointing at `rekall doctor`.
  static Status Open(const std::string& path, const OpenOptions& opts, std::unique_ptr<Store>* out);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  sqlite3* db() const { return db_; }
  const std::string& path() const { return path_; }
  const SchemaInfo& schema() const { return schema_; }
  void set_observer(WriteObserver* o) { observer_ = o; }

  // Runs fn inside one write transaction; commits if it returns ok, rolls
  // back otherwise. Nested calls join the outer transaction.
  Status WithTransaction(const std::function<Status()>& fn);

  // Adds an entry (id, timestamps filled in when empty) and, when given, its
  // summary embedding, atomically.
  Status Add(Entry* e, const std::vector<float>* summary = nullptr);
  // Replaces an entry's fields and tags; `summary` replaces its summary
  // embedding when given.
  Status Update(Entry* e, const std::vector<float>* summary = nullptr);
  Status Delete(const std::string& id);
  Status Get(const std::string& id, Entry* e);
  Status Exists(const std::string& id, bool* exists);
  // The first `limit` ids (in order) that start with `prefix`.
  Status IdsWithPrefix(const std::string& prefix, int limit, std::vector<std::string>* ids);
  Status List(const ListFilter& f, std::vector<Entry>* out);
  Status Count(size_t* entries);
  // Whether this file's `entries` table has the column (Rekall added some,
  // e.g. context_structured, in later schema versions).
  bool HasEntryColumn(const std::string& column) const;

  // Inserts a fully-formed entry (import): keeps its id and timestamps.
  Status InsertRaw(const Entry& e);
  // The stored entry e.id rewritten in place from `e` as given (timestamps
  // included): its links, the pointers of other entries to it, its
  // embeddings and the columns `e` does not carry stay (an import's replace).
  Status ReplaceRaw(const Entry& e);
  // Points entry `id` at `target` (import's second pass, once every entry of
  // the file exists, so chains and cycles of superseded_by load in any
  // order). Leaves updated_at as it is. InvalidArgument when `target` names
  // no entry.
  Status SetSupersededBy(const std::string& id, const std::string& target);

  // FTS5 keyword search over title, content and tags. `query` is the user's
  // words: every term is matched literally, never as FTS5 syntax. An entry
  // matches when it holds any of the words; hits are ranked by bm25 (which
  // rewards entries holding more of the words, and the rarer ones).
  Status KeywordSearch(const std::string& query, const ListFilter& f, int limit, std::vector<KeywordHit>* out);
  // A long-running process: keyword searches are ranked by an in-memory
  // copy of the keyword table (keyword_index.h), built now on a thread of
  // its own, whenever it holds what the search reads; FTS5 ranks
  // otherwise. Same results either way, to the bit.
  Status EnableKeywordIndex();
  // Zeroes when not enabled.
  LiveKeywordIndex::Stats KeywordIndexStats();

  // Writes an entry's summary embedding and tells the observer, in one
  // transaction (index rebuild, import).
  Status PutSummary(const Entry& e, const std::vector<float>& vec);

  // Writes an entry's context embedding (Rekall's second one, of its
  // structured context). Not in the vector index: the engine scans them.
  Status PutContextEmbedding(const std::string& entry_id, const std::vector<float>& vec);

  // NotFound when the entry has no embedding of `type`.
  Status GetEmbedding(const std::string& entry_id, EmbeddingType type, StoredEmbedding* out);
  // Every embedding of `type`, of any model; one whose bytes do not match
  // its dimension has an empty vector.
  Status ListEmbeddings(EmbeddingType type, std::vector<StoredEmbedding>* out);
  // Ids of entries that have no embedding of ours (util/our_embeddings.h)
  // for `type`.
  Status EntriesWithoutEmbedding(EmbeddingType type, std::vector<std::string>* ids);
  // The same three with the type spelled as in SQL ("summary", "context"),
  // kept while callers outside store/ move to EmbeddingType.
  Status GetEmbedding(const std::string& entry_id, const std::string& type, StoredEmbedding* out);
  Status ListEmbeddings(const std::string& type, std::vector<StoredEmbedding>* out);
  Status EntriesWithoutEmbedding(const std::string& type, std::vector<std::string>* ids);
  // Summary embeddings of any model.
  Status CountEmbeddings(size_t* n);
  // Summary embeddings that are not ours (another model or dimension, or
  // bytes that do not match the dimension): never ranked, re-embedded by
  // `index rebuild`.
  Status CountMismatchedSummaries(size_t* n);

  // Changes whenever another connection commits (PRAGMA data_version), so a
  // long-running process notices writes by other processes.
  Status DataVersion(int64_t* v);

  // ---- What Rekall's agents use beside entries (agent_data.cc): links,
  // the access bookkeeping of reads, stale entries, stored contexts.

  // Whether the file has Rekall's `links` table (older schemas may not).
  bool has_links_table() const { return has_links_table_; }
  // Inserts a link (id and created_at filled in). NotFound when either
  // entry does not exist; InvalidArgument for a link of an entry to itself,
  // an unknown relation type, or one that exists already.
  Status AddLink(Link* l);
  // Deletes the links from `source` to `target` (direction matters), of
  // relation `type` when given, else of any type; *removed: how many.
  Status RemoveLinks(const std::string& source, const std::string& target, const std::optional<std::string>& type,
                     int* removed);
  // The links whose source or target is `id`, oldest first.
  Status LinksOf(const std::string& id, std::vector<Link>* out);
  Status CountLinks(size_t* n);
  // Rekall's bookkeeping of a read of each entry: access_count + 1,
  // last_accessed now, consolidation_score from both (its formula). Nothing
  // when the file lacks those columns or is read-only; never updated_at.
  // Waits at most kBookkeepingBusyMs for another process's write lock, then
  // gives up (kBusy): a read is not held up by someone else's long write.
  Status RecordAccess(const std::vector<std::string>& ids);
  static constexpr int kBookkeepingBusyMs = 50;
  // Active entries not read for `days` days (or never), least recently read
  // first, at most `limit`.
  Status StaleEntries(int days, int limit, std::vector<Entry>* out);

  // Rekall's spaced repetition (review.cc). `today` is the local date,
  // YYYY-MM-DD, as Rekall's date.today().
  // Active entries whose next_review is on or before today (of `project`
  // when given): the `limit` earliest, then most urgent first (Rekall's
  // priority). None when the file lacks Rekall's review columns.
  Status DueForReview(const std::optional<std::string>& project, int limit, const std::string& today,
                      std::vector<DueReview>* out);
  // Applies grade `quality` (0 to 5) to entry `id` as Rekall does: its
  // interval, ease factor and next review; nothing else. *out: the new values.
  Status RecordReview(const std::string& id, int quality, const std::string& today, ReviewSchedule* out);

  // The free-text context of each of `ids` (context_compressed, inflated):
  // what rekall_get_context shows; nullopt for none (or no such entry).
  Status StoredContexts(const std::vector<std::string>& ids, std::vector<std::optional<std::string>>* out);
  // Entries with a structured context, most recently updated first (any
  // status, as Rekall's consolidation reads them).
  Status EntriesWithContext(int limit, std::vector<Entry>* out);
  // Rekall's pending suggestions, newest first; of one type when given.
  Status PendingSuggestions(const std::optional<std::string>& type, int limit, std::vector<Suggestion>* out);
  // Sources with any of `themes` (lower case) and a score >= 0, best first.
  Status SourcesWithThemes(const std::vector<std::string>& themes, int limit, std::vector<Source>* out);
  // Sources with a domain not verified in the last day, never verified first.
  Status SourcesToVerify(int limit, std::vector<Source>* out);

  // ---- Maintenance (maintenance.cc): the checks and repairs of `rekall
  // doctor`, backups, and the rest the engine needs beside reads and writes.

  // PRAGMA integrity_check: the lines that are not "ok" (none: healthy).
  Status IntegrityCheck(std::vector<std::string>* problems);
  // Embeddings (0 without an embeddings table) and tags of no entry.
  Status CountOrphanEmbeddings(size_t* n);
  Status CountOrphanTags(size_t* n);
  // Entries whose keyword-index row is missing or differs from the entry
  // (Rekall's triggers index tags before they are written).
  Status CountFtsDrift(size_t* n);
  // Summary embeddings of ours whose entry exists: what the vector index
  // should hold.
  Status CountOurSummaries(size_t* n);
  Status DeleteOrphanEmbeddings();
  Status DeleteOrphanTags();
  // Rebuilds the keyword index from the entries and their sorted tags.
  Status RebuildFts();
  // Deletes the entry's embedding of `type` if it has one. The vector index
  // is not told: the caller keeps it in step.
  Status DeleteEmbedding(const std::string& entry_id, EmbeddingType type);
  // Copies the database to `dest` (created 0600) with the online backup API.
  Status Backup(const std::string& dest);
  // What a migration of this file would do (store/migrate.h), changing nothing.
  Status GetMigrationPlan(MigrationPlan* plan);
  // Gives SQLite's page cache back (an idle long-running process).
  void ReleaseMemory();
  // The database's size in bytes: its pages, whether still in the WAL or in
  // the file (the file's size once checkpointed).
  Status DatabaseBytes(uint64_t* bytes);
  // Gives the space of deleted rows back to the file system: the keyword
  // index's segments merged (FTS5 keeps a deleted row's postings until a
  // merge), VACUUM (a new copy of every live page, atomic: an interruption
  // leaves the old file), then the WAL checkpointed into the file and
  // truncated. Refused on a read-only or damaged file, and inside a
  // transaction. Other connections' open transactions make it Busy.
  Status Vacuum();

 private:
  Store(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  static Status OpenDamaged(const std::string& path, const OpenOptions& opts, const Status& damage,
                            std::unique_ptr<Store>* out);
  Status Init(const OpenOptions& opts);
  // Init's steps: connection settings (WAL when writable); Rekall's schema
  // and ours in an empty file; the migration an older file needs; what
  // the file holds (embeddings table, our schema version, entry columns).
  Status ConfigureConnection(const std::string& where);
  Status CreateSchema(const std::string& where);
  Status MigrateIfNeeded(const OpenOptions& opts);
  void ReadBookkeeping(const std::set<std::string>& tables, const std::string& where);
  // Add and Update: normalises and validates `e`, then writes its row, tags
  // and (when given) summary vector in one transaction, observer told.
  Status WriteEntry(Entry* e, bool insert, const std::vector<float>* summary);
  // What must happen before our first write to an existing file: the
  // integrity check of a Rekall file new to us, the mode of an empty one.
  Status BeforeFirstWrite(bool has_any, bool has_engine);
  // PRAGMA quick_check; Corruption (saying what to do) when it fails.
  Status QuickCheck(const std::string& where);
  Status WriteEntryRow(const Entry& e, bool insert);
  // The fields of e.extra that are columns of `entries` beyond ours;
  // InvalidArgument for a field the file has no column for.
  Status ExtraColumns(const Entry& e, std::vector<std::string>* extra) const;
  Status WriteTags(const Entry& e);
  // A structured context Rekall can read (store/rekall_context.h) rewritten
  // as Rekall writes it, with its blob and summary columns; the keywords of
  // its context_keywords rows. None when the entry has no such context.
  std::optional<std::vector<std::string>> DeriveContextColumns(Entry* e) const;
  Status WriteContextKeywords(const std::string& id, const std::vector<std::string>& keywords);
  Status NotifySummary(const Entry& e, const std::vector<float>* summary);
  // The keyword index kept in step (fts_upkeep.cc). Rekall's FTS update
  // trigger, fired only when title or content change.
  Status NarrowFtsUpdateTrigger();
  // Sets fts_upkeep_ when our UPDATEs may do the update trigger's work
  // themselves, through an index of ours on the FTS rows' entry ids,
  // fts_unindex_ when our DELETEs may do the delete trigger's, and the
  // schema version they were decided at.
  void PrepareFtsUpkeep();
  bool FtsUpkeepApplies(bool* deletes_too);
  enum class FtsWrite { kUpdate, kDelete };
  // fts_upkeep_ or fts_unindex_, decided again when the schema changed since.
  bool FtsUpkeepHolds(FtsWrite write);
  // The update trigger's work for entry `id`, its scan replaced by a lookup.
  Status ReindexFtsRow(const std::string& id);
  // The delete trigger's.
  Status UnindexFtsRows(const std::string& id);
  // The FTS row of entry `id` gets its tags (see WriteTags).
  Status IndexTags(const std::string& id);
  Status PutEmbedding(const std::string& entry_id, EmbeddingType type, const std::vector<float>& vec,
                      const std::string& model_name = kOurModelName);

  sqlite3* db_ = nullptr;
  std::unique_ptr<sqlite::Checkpointer> checkpointer_;  // stopped before db_ closes
  std::unique_ptr<LiveKeywordIndex> keyword_index_;     // EnableKeywordIndex; gone before db_ closes
  std::string path_;
  int busy_timeout_ms_ = 5000;  // OpenOptions::busy_timeout_ms
  Env* env_ = Env::Default();  // OpenOptions::env
  SchemaInfo schema_;
  WriteObserver* observer_ = nullptr;
  int txn_depth_ = 0;
  Status unwritable_;  // not ok: why every write fails (a damaged file)
  std::vector<std::string> entry_columns_;  // columns of `entries` in this file
  bool has_links_table_ = false;
  bool has_context_keywords_table_ = false;
  bool fts_upkeep_ = false;  // PrepareFtsUpkeep
  bool fts_unindex_ = false;  // PrepareFtsUpkeep
  int64_t fts_upkeep_schema_ = -1;  // PRAGMA schema_version when fts_upkeep_ was decided
  bool HasTable(const std::string& name) const;
  Status ReadSources(const std::string& sql, const std::vector<std::string>& binds, int limit,
                     std::vector<Source>* out);
};

// Bounds on a keyword (or hybrid) query, so one request cannot hold the
// database for seconds (issue 10 #6): a longer query is refused with
// InvalidArgument (the model reads at most 256 tokens of a query anyway),
// and at most kMaxFtsTerms distinct words of it are searched.
inline constexpr size_t kMaxKeywordQueryBytes = 4096;
inline constexpr size_t kMaxFtsTerms = 64;

// Builds the FTS5 MATCH expression for a user's query: each distinct word
// (ASCII case folded) once, the first kMaxFtsTerms of them, quoted so that
// it matches literally; joined with OR. Empty when the query has nothing
// searchable.
std::string BuildFtsQuery(const std::string& user_query);

// Older names of sqlite::Exec and sqlite::ToStatus, kept for callers
// outside store/ until they move to src/sqlite.
inline Status ExecSql(sqlite3* db, const std::string& sql, const std::string& what) {
  return sqlite::Exec(db, sql, what);
}
inline Status SqliteError(sqlite3* db, int rc, const std::string& what) { return sqlite::ToStatus(db, rc, what); }

}  // namespace rekall::store
