// EngineImpl: the Engine behind engine.h, for the engine's own files only
// (engine.cc: open, search and writes; import_export.cc; doctor.cc).
//
// Locking: mu_ serialises every use of the store's connection and of the
// vector index (one operation at a time); it is recursive because Doctor
// runs RebuildIndex. A search embeds its query before taking it, so a search
// waiting for a loading model does not hold up other calls.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "index/embedding_cache.h"
#include "index/vector_index.h"
#include "store/store.h"

namespace rekall {

class EngineImpl final : public Engine, private store::WriteObserver {
 public:
  // Opens the store; the index and the model wait for their first use.
  static Status Open(EngineOptions opts, std::unique_ptr<EngineImpl>* out);
  ~EngineImpl() override;

  const config::Config& config() const override { return cfg_; }
  const std::string& path() const override { return store_->path(); }
  const store::SchemaInfo& schema() const override { return store_->schema(); }

  ModelState model_state() const override { return provider_->state(); }
  void WarmModel() override { provider_->WarmUp(); }
  bool WaitForModel(std::chrono::milliseconds max_wait, const std::atomic<bool>* cancelled) override;
  void WarmIndex() override;

  Status Add(store::Entry* e, std::string* notice) override;
  Status Update(store::Entry* e, std::string* notice) override;
  Status Patch(const std::string& id, const EntryPatchFn& apply, store::Entry* out, std::string* notice) override;
  Status Delete(const std::string& id) override;
  Status Get(const std::string& id, store::Entry* e) override;
  Status List(const store::ListFilter& f, std::vector<store::Entry>* out) override;
  Status Exists(const std::string& id, bool* exists) override;
  bool HasEntryColumn(const std::string& column) const override { return store_->HasEntryColumn(column); }
  Status ResolveId(const std::string& id_or_prefix, std::string* id) override;
  Status MatchIds(const std::string& id_or_prefix, int limit, std::vector<std::string>* ids) override;

  Status Search(const SearchRequest& req, SearchResponse* resp) override;
  Status Similar(const std::string& id, int limit, const store::ListFilter& f, std::vector<SearchResult>* out,
                 std::string* notice) override;
  Status Embed(const std::vector<std::string>& texts, std::vector<float>* out) override;

  Status Read(const std::string& id, store::Entry* e) override;
  Status Link(store::Link* l) override;
  Status Unlink(const std::string& source, const std::string& target, const std::optional<std::string>& type,
                int* removed) override;
  Status LinksOf(const std::string& id, std::vector<store::Link>* out) override;
  Status CountLinks(size_t* n) override;
  Status Related(const std::string& id, int depth, const std::optional<std::string>& type,
                 std::vector<RelatedEntry>* out) override;
  Status Deprecate(const std::string& id, const std::optional<std::string>& replaced_by, store::Entry* out,
                   std::string* notice) override;
  Status Stale(int days, int limit, std::vector<store::Entry>* out) override;
  Status DueForReview(const std::optional<std::string>& project, int limit,
                      std::vector<store::DueReview>* out) override;
  Status RecordReview(const std::string& id, int quality, store::ReviewSchedule* out) override;
  Status GetContexts(const std::vector<std::string>& ids, std::vector<std::optional<std::string>>* out) override;
  Status DraftGeneralized(const std::vector<std::string>& ids, store::Entry* e) override;
  Status Generalize(const std::vector<std::string>& ids, store::Entry* e, std::string* notice) override;
  Status Suggest(const std::optional<std::string>& type, int limit, bool clusters, Suggestions* out) override;
  Status SourcesFor(const std::string& id, int limit, std::vector<store::Source>* out) override;
  Status SourcesToVerify(int limit, std::vector<store::Source>* out) override;

  Status RebuildIndex(bool all, const std::function<void(size_t done, size_t total)>& progress,
                      size_t* embedded) override;
  Status GetIndexStatus(IndexStatus* st) override;
  void StartBackgroundEmbedding() override;

  using Engine::Export;
  using Engine::Import;
  Status Import(std::istream& in, const ImportRequest& req, ImportReport* report) override;
  Status Export(std::ostream& out, ExchangeFormat format, const store::ListFilter& only, size_t* exported,
                std::string* notice) override;

  using Engine::Doctor;
  Status Doctor(const DoctorOptions& opts, std::vector<DoctorFinding>* out, std::string* backup) override;
  Status Vacuum(VacuumReport* out) override;
  Status Stats(EngineStats* out) override;
  void ReleaseIdleMemory() override;

 private:
  EngineImpl() = default;

  // --- engine.cc
  Status EnsureIndex();
  // Drops cached state when another process committed to the file.
  Status SyncWithOtherWriters();
  // What Add and Update do first: note the use, catch up with other
  // writers, normalise and check the entry.
  Status BeginWrite(store::Entry* e);
  // What any write of an entry by a user (add, update, patch) must satisfy:
  // the store's checks, and no entry superseded by itself.
  Status ValidateWrite(const store::Entry& e);
  // The entry's summary embedding when the table and the model are there;
  // otherwise *have is false and *why says what is missing.
  Status SummaryVector(const store::Entry& e, std::vector<float>* vec, bool* have, std::string* why);
  // Update without a new vector: the row, and the old vector dropped.
  Status UpdateDroppingVector(store::Entry* e);
  // An entry's summary embedding, or why there is none.
  struct SummaryVec {
    std::vector<float> vec;
    bool have = false;
    std::string why;
    std::string text;  // the summary text embedded
  };
  // Stored entry `id` with `apply` run on it, normalised and checked.
  Status PatchedEntry(const std::string& id, const EntryPatchFn& apply, store::Entry* e);
  Status EmbedSummary(const store::Entry& e, SummaryVec* v);
  // Patch's write, inside the transaction: re-reads and re-patches the entry;
  // when its summary text is no longer the one `v` embeds, sets *moved and
  // writes nothing, unless `embed_here` (then it embeds under the lock).
  Status WritePatch(const std::string& id, const EntryPatchFn& apply, bool embed_here, SummaryVec* v, bool* moved,
                    store::Entry* out);
  Status EmbedQuery(const std::string& q, std::chrono::milliseconds wait, std::vector<float>* v);
  // The stored entry of each result; results deleted meanwhile are dropped.
  Status FetchResults(std::vector<SearchResult>* rs);
  Status KeywordOnly(const SearchRequest& req, SearchResponse* resp);
  Status SemanticSearch(const SearchRequest& req, const std::vector<float>& q, SearchResponse* resp);
  // `kw`: the keyword ranking, read beside the embedding (ReadWithoutVector).
  Status HybridSearch(const SearchRequest& req, const std::vector<float>& q, const std::vector<store::KeywordHit>& kw,
                      SearchResponse* resp);
  // What a semantic or hybrid search reads before it needs the query's
  // vector: the catch-up with other writers, the vector index opened (in a
  // new process: sqlite-vec loaded, its state read) and, for hybrid, the
  // keyword ranking.
  struct VectorlessReads {
    Status status;
    std::vector<store::KeywordHit> keywords;
  };
  // Embeds the query on a thread of its own while this one does
  // ReadWithoutVector: a new process loads the model (~90 MB mapped, the
  // vocabulary parsed) meanwhile, and the machine has two cores or more.
  // Returns the embedding's status; the reads' is in pre->status.
  Status EmbedWhileReading(const SearchRequest& req, std::vector<float>* q, VectorlessReads* pre);
  void ReadWithoutVector(const SearchRequest& req, VectorlessReads* pre);
  // After a semantic or hybrid search that found no vector at all: when the
  // file has entries but no embedding of ours, says so and how to add them,
  // and answers a semantic search with keyword results. While the background
  // embedding runs, says that some entries are not embedded yet.
  Status IfNoVectorsSayHow(const SearchRequest& req, SearchResponse* resp);
  // What `index rebuild` embeds per second on a 2-core machine (summaries of
  // ~100 tokens; bench/embed: 65-88 texts/s quiet), for the estimate above.
  static constexpr size_t kRebuildEntriesPerSecond = 60;
  // The stored summary vector of entry `id`, through the entry cache.
  Status EntryVector(const std::string& id, std::vector<float>* vec);
  // Embeds `entries` (in order, row-major into *vecs) in batches.
  // `progress` (may be null) hears of each batch: (entries embedded, of all).
  Status EmbedEntries(const std::vector<store::Entry>& entries, std::vector<float>* vecs,
                      const std::function<void(size_t, size_t)>& progress = nullptr);
  // Row i of row-major vectors of the model's dimension.
  std::vector<float> Row(const std::vector<float>& vecs, size_t i) const;
  // What RebuildIndex embeds: entries without a summary of ours, or all.
  Status IdsToEmbed(bool all, std::vector<std::string>* ids);
  // Embeds entries `ids` and stores the summary of each whose summary text
  // is still the one embedded, in one transaction; *stored counts them
  // (entries deleted meanwhile are skipped). mu_ is taken only to read and
  // to write, so the background embedding (not holding it) lets other calls
  // run while it embeds; index rebuild holds it throughout (backfill.cc).
  Status EmbedAndStore(const std::vector<std::string>& ids, size_t* stored);
  // Turns a write's failure into stale in-memory index state.
  Status AfterWrite(const std::string& id, Status s);

  // Idle release (long-running processes only).
  void Touch();
  void IdleLoop(std::chrono::milliseconds timeout);

  // store::WriteObserver: keeps the vector index in the write's transaction.
  Status OnSummaryVector(const store::Entry& e, const float* vec, int dim) override;
  Status OnEntryRemoved(const std::string& entry_id) override;

  // --- agent.cc
  // Rekall's bookkeeping of reads of `results`; best effort: a read never
  // fails because its bookkeeping could not be written.
  void RecordReads(const std::vector<SearchResult>& results);
  // The local date, YYYY-MM-DD, by env_'s clock.
  std::string Today() const;
  // The entries one link away from each of `from` not in *seen, for Related.
  Status RelatedStep(const std::vector<std::string>& from, int depth, const std::optional<std::string>& type,
                     std::set<std::string>* seen, std::vector<RelatedEntry>* out, std::vector<std::string>* next);
  // Generalize's entry for `asked` (duplicates dropped into *ids), checked
  // and filled, with mu_ held.
  Status DraftGeneralizedLocked(const std::vector<std::string>& asked, store::Entry* e, std::vector<std::string>* ids);
  // Generalize's entry and its links, written in one transaction.
  Status WriteGeneralized(store::Entry* e, const std::vector<std::string>& sources);
  // The index's k nearest summary vectors passing `f`. The index filters on
  // type, project, status and tags; a memory type is checked on the stored
  // entries, asking the index for more until k pass or it has no more.
  Status NearestFiltered(const std::vector<float>& q, int k, const store::ListFilter& f, std::vector<Hit>* hits);
  // Search without the bookkeeping of reads.
  Status SearchEntries(const SearchRequest& req, SearchResponse* resp);

  // --- backfill.cc
  void BackfillLoop(std::vector<std::string> ids);
  // After another process's write: starts the background embedding again
  // when the index holds fewer vectors than there are entries. Two counts,
  // so the common case (nothing missing) never lists the entries.
  void RestartBackfillIfBehind();
  // One pass over `ids`; false when a step failed (then *st says why).
  bool BackfillRound(const std::vector<std::string>& ids, BackfillStatus* st);
  void SetBackfill(const BackfillStatus& st);
  BackfillStatus GetBackfill();
  // Entries per step: small, so a write waits at most for one step's write.
  static constexpr size_t kBackfillStep = 8;

  // --- context_vectors.cc
  // With [smart_embeddings] enabled: stores (or drops) the entry's context
  // embedding after a write; a failure is said in *notice, the write stands.
  void KeepContextVector(const store::Entry& e, std::string* notice);
  Status LoadContextVectors();
  // The k context vectors nearest to q whose entries pass `f`.
  Status ContextHits(const std::vector<float>& q, int k, const store::ListFilter& f, std::vector<Hit>* hits);
  // NearestFiltered, with each entry scored by the better of its summary
  // and its context vector.
  Status VectorHits(const std::vector<float>& q, int k, const store::ListFilter& f, std::vector<Hit>* hits);

  // --- import_export.cc
  // Reads and checks every entry of `in` before anything is written;
  // (*where)[i] names entry i in messages ("line 3", "entry 3").
  Status ParseImport(std::istream& in, ExchangeFormat format, std::vector<store::Entry>* entries,
                     std::vector<std::string>* where, ImportReport* report);
  Status ParseJsonLines(std::istream& in, std::vector<store::Entry>* entries, std::vector<std::string>* where);
  Status ParseRekall(std::istream& in, ExchangeFormat format, std::vector<store::Entry>* entries,
                     std::vector<std::string>* where, ImportReport* report);
  // What the import does with each entry, as the database is now.
  Status PlanImport(const std::vector<store::Entry>& entries, const std::vector<std::string>& where,
                    OnConflict on_conflict, std::vector<ImportItem>* items);
  // Writes one imported entry as its plan says (in the import's transaction).
  Status ImportOne(store::Entry* e, const std::string& where, ImportAction action);
  Status ReplaceOne(const store::Entry& e, const std::string& where);
  // Plans, then writes every parsed entry, and its row of `vecs` when
  // given, in one transaction.
  Status WriteImport(std::vector<store::Entry>* entries, const std::vector<std::string>& where,
                     OnConflict on_conflict, const std::vector<float>* vecs, ImportReport* report);
  // The export's bytes in one of Rekall's formats.
  Status ExportRekall(const std::vector<store::Entry>& newest_first, ExchangeFormat format, std::string* out);

  // --- doctor.cc
  struct DoctorCounts;
  // The checks before the vector index's, in the order they are reported;
  // `quick` keeps the integrity check, a pending migration and the FTS drift.
  Status DoctorCheck(bool quick, std::vector<DoctorFinding>* out, DoctorCounts* c);
  Status DoctorIntegrity(std::vector<DoctorFinding>* out);
  // Orphans, other models, non-finite and missing summaries (fts_drift,
  // already counted, is reported among them).
  Status DoctorRowChecks(std::vector<DoctorFinding>* out, DoctorCounts* c);
  Status FindNonFiniteSummaries(std::vector<std::string>* ids);
  Status DoctorIndexDrift(std::vector<DoctorFinding>* out, DoctorCounts* c);
  Status DoctorRepair(const DoctorCounts& c, std::vector<DoctorFinding>* out, std::string* backup);
  // The repairs of rows: orphans deleted, the keyword index rebuilt.
  Status DoctorRepairRows(const DoctorCounts& c, std::vector<DoctorFinding>* out);

  // --- vacuum.cc
  // The vec0 table rebuilt from `embeddings` (sqlite-vec frees nothing on
  // DELETE); *rebuilt false, with a notice, under another backend.
  Status VacuumVectorIndex(VacuumReport* r);

  config::Config cfg_;
  Env* env_ = Env::Default();
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

  // Context vectors, loaded on first use (context_vectors.cc); under mu_.
  bool context_vectors_loaded_ = false;
  std::vector<std::string> context_ids_;
  std::vector<float> context_matrix_;  // row-major, kOurDim per row

  // Background embedding (backfill.cc).
  std::mutex backfill_mu_;
  BackfillStatus backfill_;
  std::atomic<bool> stop_backfill_{false};
  bool backfill_wanted_ = false;  // started once (the server): restarted after others' writes (under mu_)
  std::thread backfill_thread_;

  // The index opened in the background (WarmIndex); searches wait for it
  // outside mu_, so that a cancellation is seen while they wait.
  std::thread warm_index_thread_;
  std::mutex warm_mu_;
  std::condition_variable warm_cv_;
  bool warming_ = false;  // under warm_mu_
  // False when *cancelled turned true while WarmIndex was loading.
  bool WaitForWarmIndex(const std::atomic<bool>* cancelled);
};

// Filter in the vector index's terms.
Filter ToIndexFilter(const store::ListFilter& f);

// Texts per forward pass when embedding many entries (rebuild, import).
inline constexpr size_t kEmbedBatch = 32;

}  // namespace rekall
