// The Engine's core: opening, the idle release, writes and search. Import
// and export are in import_export.cc, the doctor in doctor.cc.
#include "engine/engine.h"

#include <malloc.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "config/resources.h"
#include "engine/engine_impl.h"
#include "index/sqlite_vec_index.h"
#include "sqlite/sqlite.h"

namespace rekall {

const int kLatestRekallSchemaVersion = store::kRekallUserVersion;

namespace {

constexpr int kRrfK = 60;  // reciprocal rank fusion constant (Cormack et al.)
constexpr size_t kUlidLength = 26;

bool Cancelled(const std::atomic<bool>* c) { return c && c->load(std::memory_order_relaxed); }

long Kb(size_t bytes) { return static_cast<long>(bytes / 1024); }


CacheStats ToCacheStats(const EmbeddingCache::Stats& c) {
  CacheStats out;
  out.size = c.size;
  out.hits = c.hits;
  out.misses = c.misses;
  out.evictions = c.evictions;
  out.expirations = c.expirations;
  out.invalidations = c.invalidations;
  return out;
}

SearchResult VectorResult(const Hit& h, int rank) {
  SearchResult r;
  r.entry.id = h.entry_id;
  r.score = h.score;
  r.cosine = h.score;
  r.vector_rank = rank;
  return r;
}

}  // namespace

Status ParseSearchMode(const std::string& s, SearchMode* out) {
  if (s == "keyword") *out = SearchMode::kKeyword;
  else if (s == "semantic") *out = SearchMode::kSemantic;
  else if (s == "hybrid") *out = SearchMode::kHybrid;
  else return Status::InvalidArgument("invalid search mode '" + s + "' (expected keyword, semantic or hybrid)");
  return Status::OK();
}

Status ParseOnConflict(const std::string& s, OnConflict* out) {
  for (OnConflict c : {OnConflict::kError, OnConflict::kSkip, OnConflict::kReplace, OnConflict::kMerge})
    if (s == OnConflictName(c)) {
      *out = c;
      return Status::OK();
    }
  return Status::InvalidArgument("--strategy must be error, skip, replace or merge");
}

const char* OnConflictName(OnConflict c) {
  switch (c) {
    case OnConflict::kError: return "error";
    case OnConflict::kSkip: return "skip";
    case OnConflict::kReplace: return "replace";
    case OnConflict::kMerge: return "merge";
  }
  return "?";
}

Status ParseExchangeFormat(const std::string& s, ExchangeFormat* out) {
  if (s == "rekall") {  // Rekall's name of its archive
    *out = ExchangeFormat::kRekallZip;
    return Status::OK();
  }
  for (ExchangeFormat f : {ExchangeFormat::kJsonLines, ExchangeFormat::kRekallJson, ExchangeFormat::kRekallZip,
                           ExchangeFormat::kMarkdown})
    if (s == ExchangeFormatName(f)) {
      *out = f;
      return Status::OK();
    }
  return Status::InvalidArgument("--format must be jsonl, json, zip (or rekall) or md");
}

const char* ExchangeFormatName(ExchangeFormat f) {
  switch (f) {
    case ExchangeFormat::kJsonLines: return "jsonl";
    case ExchangeFormat::kRekallJson: return "json";
    case ExchangeFormat::kRekallZip: return "zip";
    case ExchangeFormat::kMarkdown: return "md";
  }
  return "?";
}

bool ExchangeFormatOfName(const std::string& path, ExchangeFormat* out) {
  auto ends = [&](const char* suffix) {
    std::string s(suffix);
    if (path.size() < s.size()) return false;
    for (size_t i = 0; i < s.size(); ++i)
      if (std::tolower(static_cast<unsigned char>(path[path.size() - s.size() + i])) != s[i]) return false;
    return true;
  };
  if (ends(".zip")) *out = ExchangeFormat::kRekallZip;
  else if (ends(".json")) *out = ExchangeFormat::kRekallJson;
  else if (ends(".md")) *out = ExchangeFormat::kMarkdown;
  else if (ends(".jsonl")) *out = ExchangeFormat::kJsonLines;
  else return false;
  return true;
}

const char* ImportActionName(ImportAction a) {
  switch (a) {
    case ImportAction::kAdd: return "add";
    case ImportAction::kReplace: return "replace";
    case ImportAction::kMerge: return "merge";
    case ImportAction::kSkip: return "skip";
  }
  return "?";
}

Status Engine::Import(std::istream& in, OnConflict on_conflict, bool embed, size_t* imported, size_t* skipped,
                      std::string* notice, const std::function<void(size_t, size_t)>& progress) {
  ImportRequest req;
  req.on_conflict = on_conflict;
  req.embed = embed;
  req.progress = progress;
  ImportReport r;
  Status s = Import(in, req, &r);
  *imported = r.added + r.replaced + r.merged;
  *skipped = r.skipped;
  if (notice) *notice = r.notice;
  return s;
}

const char* SeverityName(Severity s) {
  switch (s) {
    case Severity::kOk: return "ok";
    case Severity::kInfo: return "info";
    case Severity::kWarning: return "warning";
    case Severity::kError: return "error";
  }
  return "?";
}

Filter ToIndexFilter(const store::ListFilter& f) {
  Filter out;
  out.type = f.type;
  out.project = f.project;
  out.status = f.status;
  out.tags = f.tags;
  return out;
}

namespace {

// EngineStats::vector_scan: the self-check's fields only when it ran.
nlohmann::json ScanReportToJson(const ScanReport& r) {
  nlohmann::json j{{"mode", QuantizationName(r.scan)}};
  if (r.candidates) j["candidates"] = r.candidates;
  if (r.loading) j["loading"] = true;
  if (r.checked) {
    j["bits_check"] = {{"estimated_recall_at_10", std::round(r.bits_recall * 1e4) / 1e4},
                       {"lower_bound", std::round(r.bits_recall_low * 1e4) / 1e4},
                       {"candidates", r.bits_candidates},
                       {"queries", r.check_queries},
                       {"ms", std::round(r.check_ms * 10) / 10}};
  }
  return j;
}

}  // namespace

nlohmann::json EngineStatsToJson(const EngineStats& st) {
  auto cache_json = [](const CacheStats& c) {
    return nlohmann::json{{"size", c.size},       {"hits", c.hits},
                          {"misses", c.misses},   {"evictions", c.evictions},
                          {"expirations", c.expirations}, {"invalidations", c.invalidations}};
  };
  nlohmann::json j;
  j["database"] = st.database;
  j["rekall_schema_version"] = st.rekall_schema_version;
  j["engine_schema_version"] = st.engine_schema_version;
  j["entries"] = st.entries;
  j["summary_embeddings"] = st.summary_embeddings;
  j["backend"] = st.backend;
  if (st.indexed_vectors) j["indexed_vectors"] = *st.indexed_vectors;
  if (!st.backend_notice.empty()) j["backend_notice"] = st.backend_notice;
  if (st.vector_scan) j["vector_scan"] = ScanReportToJson(*st.vector_scan);
  j["entry_cache"] = cache_json(st.entry_cache);
  j["query_cache"] = cache_json(st.query_cache);
  j["cache_max_size"] = st.cache_max_size;
  j["cache_ttl_seconds"] = st.cache_ttl_seconds;
  j["model_state"] = ModelStateName(st.model_state);
  auto where = [&j](const std::string& name, const config::ResourceLocation& loc) {
    j[name + "_path"] = loc.path;
    j[name + "_source"] = config::ResourceSourceName(loc.source);
    if (!loc.found()) j[name + "_missing"] = loc.missing;
  };
  where("model", st.model);
  where("sqlite_vec", st.sqlite_vec);
  j["model_loads"] = st.model_loads;
  j["model_idle_timeout_minutes"] = st.model_idle_timeout_minutes;
  j["model_precision"] = PrecisionName(st.model_precision);
  if (st.backfill.state != BackfillState::kOff) {
    j["background_embedding"] = {{"state", BackfillStateName(st.backfill.state)},
                                 {"done", st.backfill.done},
                                 {"remaining", st.backfill.remaining}};
    if (!st.backfill.error.empty()) j["background_embedding"]["error"] = st.backfill.error;
  }
  j["rss_kb"] = st.rss_kb;
  j["peak_rss_kb"] = st.peak_rss_kb;
  if (st.keyword_index) {
    const auto& k = *st.keyword_index;
    j["keyword_index"] = {{"state", k.ready ? "ready" : k.building ? "building" : "fts5"},
                          {"builds", k.builds},
                          {"answered", k.answered},
                          {"fts5_answered", k.fell_back},
                          {"memory_bytes", k.memory_bytes},
                          {"last_build_ms", k.last_build_ms}};
    if (!k.last_error.empty()) j["keyword_index"]["last_error"] = k.last_error;
  }
  return j;
}

// ---------------------------------------------------------------- Engine

Engine::~Engine() = default;

Status Engine::Open(EngineOptions opts, std::unique_ptr<Engine>* out) {
  std::unique_ptr<EngineImpl> impl;
  Status s = EngineImpl::Open(std::move(opts), &impl);
  if (s.ok()) *out = std::move(impl);
  return s;
}

Status Engine::EmbedTexts(const config::Config& cfg, const std::vector<std::string>& texts, std::vector<float>* out,
                          int* dim) {
  std::unique_ptr<EmbeddingProvider> p = NewModelProvider(cfg);
  Status s = p->CheckAvailable();
  if (!s.ok()) return s;
  *dim = p->dim();
  return p->Embed(texts, out, std::chrono::hours(1));
}

Status Engine::SqliteVecVersion(const std::string& path, std::string* version) {
  return ProbeSqliteVec(path, version);
}

std::string Engine::SqliteVersion() { return sqlite::LibraryVersion(); }

Status Engine::PlanMigration(const EngineOptions& opts, MigrationReport* out) {
  *out = MigrationReport();
  out->database = opts.db_path;
  store::OpenOptions oo;
  oo.env = opts.env;
  oo.create_if_missing = false;
  oo.auto_migrate = false;
  oo.read_only = true;
  std::unique_ptr<store::Store> st;
  Status s = store::Store::Open(opts.db_path, oo, &st);
  if (!s.ok()) return s;
  if (!(s = st->GetMigrationPlan(&out->plan)).ok()) return s;
  out->backup_path = out->plan.backup_path;
  std::vector<std::string> missing;
  if (!(s = st->EntriesWithoutEmbedding(EmbeddingType::kSummary, &missing)).ok()) return s;
  out->entries_without_embedding = missing.size();
  return st->Count(&out->entries);
}

Status Engine::Migrate(const EngineOptions& opts, MigrationReport* out) {
  Status s = PlanMigration(opts, out);
  if (!s.ok() || !out->plan.needed()) return s;
  // Opening read-write migrates (after a backup), as every command does.
  store::OpenOptions rw;
  rw.env = opts.env;
  rw.create_if_missing = false;
  std::unique_ptr<store::Store> st;
  if (!(s = store::Store::Open(opts.db_path, rw, &st)).ok()) return s;
  out->applied = true;
  out->migrated = st->schema().migrated;
  out->backup_path = st->schema().backup_path;
  return Status::OK();
}

// ---------------------------------------------------------------- EngineImpl: life cycle

Status EngineImpl::Open(EngineOptions opts, std::unique_ptr<EngineImpl>* out) {
  std::unique_ptr<EngineImpl> e(new EngineImpl());
  e->cfg_ = opts.cfg;
  e->env_ = opts.env;
  e->long_running_ = opts.long_running;
  // A folder that cannot be made is reported by Store::Open, in its words.
  if (opts.create_parent_dirs) (void)e->env_->CreateDirs(opts.db_path.substr(0, opts.db_path.rfind('/')), 0700);
  store::OpenOptions so;
  so.env = e->env_;
  so.read_only = opts.read_only;
  so.background_checkpoint = opts.long_running;
  Status s = store::Store::Open(opts.db_path, so, &e->store_);
  if (!s.ok()) return s;
  e->store_->set_observer(e.get());
  e->provider_ = opts.provider ? std::move(opts.provider) : NewModelProvider(e->cfg_);
  EmbeddingCache::Options co;
  co.capacity = static_cast<size_t>(e->cfg_.cache_max_size);
  co.ttl = std::chrono::seconds(e->cfg_.cache_ttl_seconds);
  co.env = e->env_;
  e->entry_cache_ = std::make_unique<EmbeddingCache>(co);
  e->query_cache_ = std::make_unique<EmbeddingCache>(co);
  e->store_->DataVersion(&e->data_version_);
  e->Touch();
  // A server ranks keyword searches in memory once its copy of the keyword
  // table is built (off the request path); FTS5 answers until then, and
  // whenever the copy cannot be used (store/keyword_index.h).
  if (e->long_running_) (void)e->store_->EnableKeywordIndex();
  if (e->long_running_) {
    long secs = e->cfg_.model_idle_timeout_seconds >= 0 ? e->cfg_.model_idle_timeout_seconds
                                                        : e->cfg_.model_idle_timeout_minutes * 60;
    if (secs > 0) {
      EngineImpl* self = e.get();
      e->idle_thread_ = std::thread([self, secs] { self->IdleLoop(std::chrono::seconds(secs)); });
    }
  }
  *out = std::move(e);
  return Status::OK();
}

EngineImpl::~EngineImpl() {
  stop_backfill_ = true;
  if (backfill_thread_.joinable()) backfill_thread_.join();
  if (warm_index_thread_.joinable()) warm_index_thread_.join();
  {
    std::lock_guard<std::mutex> l(idle_mu_);
    stop_idle_ = true;
  }
  idle_cv_.notify_all();
  if (idle_thread_.joinable()) idle_thread_.join();
  index_.reset();
  if (store_) store_->set_observer(nullptr);
}

void EngineImpl::Touch() {
  last_use_ns_.store(env_->NowSteady().time_since_epoch().count(), std::memory_order_relaxed);
  released_.store(false, std::memory_order_relaxed);
}

void EngineImpl::IdleLoop(std::chrono::milliseconds timeout) {
  // Checks a few times per timeout: the release happens between 1x and
  // 1.25x the idle time after the last use.
  auto step = std::max<std::chrono::milliseconds>(timeout / 4, std::chrono::milliseconds(100));
  std::unique_lock<std::mutex> l(idle_mu_);
  while (!stop_idle_) {
    idle_cv_.wait_for(l, step);
    if (stop_idle_ || released_.load(std::memory_order_relaxed)) continue;
    auto last = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_use_ns_.load(std::memory_order_relaxed)));
    if (env_->NowSteady() - last < timeout) continue;
    released_.store(true, std::memory_order_relaxed);
    l.unlock();
    ReleaseIdleMemory();
    l.lock();
  }
}

void EngineImpl::ReleaseIdleMemory() {
  std::lock_guard<std::recursive_mutex> l(mu_);
  // Closed when it held only a copy of the embeddings table (brute); kept
  // open when that costs nothing (sqlite-vec).
  if (index_ && index_->ReleaseMemory()) index_.reset();
  entry_cache_->Clear();
  // The query cache stays: at most cache_max_size x 1.5 KB (1.5 MB by
  // default), and it is what lets a repeated query after a pause skip
  // reloading the ~90 MB model (its TTL still ages entries out). Clearing it
  // here raced with the model's own idle unload on the same timeout.
  store_->ReleaseMemory();
  malloc_trim(0);
}

bool EngineImpl::WaitForModel(std::chrono::milliseconds max_wait, const std::atomic<bool>* cancelled) {
  // Waits in short slices so a cancellation is seen within one of them.
  constexpr std::chrono::milliseconds kSlice(10);
  const auto deadline = std::chrono::steady_clock::now() + max_wait;
  for (;;) {
    if (Cancelled(cancelled)) return false;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (provider_->WaitForLoad(std::clamp(left, std::chrono::milliseconds(0), kSlice))) return true;
    if (left <= std::chrono::milliseconds(0)) return false;
  }
}

void EngineImpl::WarmIndex() {
  std::lock_guard<std::recursive_mutex> l(mu_);
  if (index_ || warm_index_thread_.joinable() || !store_->schema().has_embeddings_table) return;
  Touch();  // the idle release gives it back if no call comes
  {
    std::lock_guard<std::mutex> w(warm_mu_);
    warming_ = true;
  }
  warm_index_thread_ = std::thread([this] {
    {
      std::lock_guard<std::recursive_mutex> l(mu_);
      // A failure is left to the first call that needs the index: it tries
      // again and reports it.
      if (SyncWithOtherWriters().ok()) EnsureIndex();
    }
    std::lock_guard<std::mutex> w(warm_mu_);
    warming_ = false;
    warm_cv_.notify_all();
  });
}

bool EngineImpl::WaitForWarmIndex(const std::atomic<bool>* cancelled) {
  // Short slices, as WaitForModel: a cancellation is seen within one.
  std::unique_lock<std::mutex> w(warm_mu_);
  while (warming_) {
    if (Cancelled(cancelled)) return false;
    warm_cv_.wait_for(w, std::chrono::milliseconds(10));
  }
  return true;
}

Status EngineImpl::EnsureIndex() {
  if (index_) return Status::OK();
  if (!store_->schema().has_embeddings_table)
    return Status::Unavailable("database " + store_->path() + " has no embeddings table (Rekall schema " +
                               std::to_string(store_->schema().user_version) + "); run `rekall migrate`");
  IndexOptions io;
  Status s = ParseIndexBackend(cfg_.vector_backend, &io.backend);
  if (!s.ok()) return s;
  if (long_running_ && io.backend == IndexBackend::kAuto) io.backend = IndexBackend::kBrute;
  // A server's brute matrix loads off our lock: searches meanwhile scan the
  // tables exactly instead of waiting for it.
  io.load_in_background = long_running_;
  config::ResourceLocation vec = config::LocateSqliteVec(cfg_);
  io.extension_path = vec.path;
  io.threads = static_cast<int>(cfg_.threads);
  io.dim = provider_->dim();
  s = OpenVectorIndex(store_->db(), io, &index_, &index_notice_);
  // Say what is missing and how to get it rather than "no path configured".
  if (s.ok() && !vec.found() && !index_notice_.empty())
    index_notice_ = "sqlite-vec unavailable: " + vec.missing + "; using brute-force vector search";
  return s;
}

Status EngineImpl::SyncWithOtherWriters() {
  int64_t v = 0;
  Status s = store_->DataVersion(&v);
  if (!s.ok()) return s;
  if (v != data_version_) {
    // Another connection committed: any cached entry vector may be stale.
    data_version_ = v;
    entry_cache_->Clear();
    context_vectors_loaded_ = false;
    if (index_) {
      bool changed = false;
      s = index_->Refresh(&changed);
      if (!s.ok()) return s;
    }
    // Another process may have added entries without vectors (an import
    // with --no-embed, a restore): the server embeds them too.
    if (backfill_wanted_) RestartBackfillIfBehind();
  }
  return Status::OK();
}

// ---------------------------------------------------------------- writes

Status EngineImpl::OnSummaryVector(const store::Entry& e, const float* vec, int dim) {
  entry_cache_->Invalidate(e.id);
  if (!index_) return Status::OK();  // built from the embeddings table when opened
  EntryMeta m;
  m.type = e.type;
  m.project = e.project.value_or("");
  m.status = e.status;
  m.tags = e.tags;
  return index_->Upsert(e.id, vec, dim, m);
}

Status EngineImpl::OnEntryRemoved(const std::string& id) {
  entry_cache_->Invalidate(id);
  context_vectors_loaded_ = false;
  if (!index_) return Status::OK();
  return index_->Remove(id);
}

Status EngineImpl::AfterWrite(const std::string& id, Status s) {
  entry_cache_->Invalidate(id);
  context_vectors_loaded_ = false;
  if (!s.ok() && index_) index_->MarkStale();
  // Our own commit moved data_version; don't mistake it for another writer's.
  if (s.ok()) store_->DataVersion(&data_version_);
  return s;
}

Status EngineImpl::Embed(const std::vector<std::string>& texts, std::vector<float>* out) {
  Status s = provider_->CheckAvailable();
  if (!s.ok()) return s;
  return provider_->Embed(texts, out, std::chrono::hours(1));
}

Status EngineImpl::SummaryVector(const store::Entry& e, std::vector<float>* vec, bool* have, std::string* why) {
  *have = false;
  if (!store_->schema().has_embeddings_table) {
    *why = "no embeddings table; run `rekall migrate`";
    return Status::OK();
  }
  Status avail = provider_->CheckAvailable();
  if (!avail.ok()) {
    *why = avail.message();
    return Status::OK();
  }
  Status s = provider_->Embed({store::SummaryText(e)}, vec, std::chrono::hours(1));
  *have = s.ok();
  return s;
}

Status EngineImpl::BeginWrite(store::Entry* e) {
  Touch();
  Status s = SyncWithOtherWriters();
  if (!s.ok()) return s;
  // The store checks again as it writes; checking here first spares an
  // embedding (and a model load) for input it would refuse.
  store::NormalizeTags(&e->tags);
  return ValidateWrite(*e);
}

Status EngineImpl::ValidateWrite(const store::Entry& e) {
  if (e.superseded_by && !e.id.empty() && *e.superseded_by == e.id)
    return Status::InvalidArgument("an entry cannot be superseded by itself");
  return store::ValidateEntry(e);
}

Status EngineImpl::Add(store::Entry* e, std::string* notice) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  std::vector<float> vec;
  bool have_vec = false;
  std::string why;
  Status s = BeginWrite(e);
  if (s.ok()) s = SummaryVector(*e, &vec, &have_vec, &why);
  if (!s.ok()) return s;
  if (have_vec && !(s = EnsureIndex()).ok()) return s;
  if (!have_vec && notice)
    *notice = "stored without an embedding (" + why + "); run `rekall index rebuild` once the model is installed";
  s = AfterWrite(e->id, store_->Add(e, have_vec ? &vec : nullptr));
  if (s.ok()) KeepContextVector(*e, notice);
  return s;
}

Status EngineImpl::Update(store::Entry* e, std::string* notice) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  bool exists = false;
  Status s = BeginWrite(e);
  if (s.ok()) s = store_->Exists(e->id, &exists);
  if (s.ok() && !exists) s = Status::NotFound("no entry with id " + e->id);
  std::vector<float> vec;
  bool have_vec = false;
  std::string why;
  if (s.ok()) s = SummaryVector(*e, &vec, &have_vec, &why);
  if (!s.ok()) return s;
  if (!have_vec && notice) *notice = "the entry's embedding was not updated (" + why + ")";
  if (!store_->schema().has_embeddings_table) return AfterWrite(e->id, store_->Update(e, nullptr));
  if (!(s = EnsureIndex()).ok()) return s;
  s = AfterWrite(e->id, have_vec ? store_->Update(e, &vec) : UpdateDroppingVector(e));
  if (s.ok()) KeepContextVector(*e, notice);
  return s;
}

Status EngineImpl::PatchedEntry(const std::string& id, const EntryPatchFn& apply, store::Entry* e) {
  Status s = store_->Get(id, e);
  if (s.ok()) s = apply(e);
  if (!s.ok()) return s;
  if (e->id != id) return Status::InvalidArgument("an entry's id cannot be changed (" + id + ")");
  store::NormalizeTags(&e->tags);
  return ValidateWrite(*e);
}

Status EngineImpl::EmbedSummary(const store::Entry& e, SummaryVec* v) {
  v->text = store::SummaryText(e);
  return SummaryVector(e, &v->vec, &v->have, &v->why);
}

Status EngineImpl::WritePatch(const std::string& id, const EntryPatchFn& apply, bool embed_here, SummaryVec* v,
                              bool* moved, store::Entry* out) {
  store::Entry e;
  Status s = PatchedEntry(id, apply, &e);
  if (!s.ok()) return s;
  if (embed_here) {
    if (!(s = EmbedSummary(e, v)).ok()) return s;
  } else if (store::SummaryText(e) != v->text) {
    *moved = true;  // changed meanwhile: the vector would describe other text
    return Status::OK();
  }
  if (!store_->schema().has_embeddings_table) s = store_->Update(&e, nullptr);
  else s = v->have ? store_->Update(&e, &v->vec) : UpdateDroppingVector(&e);
  if (s.ok()) *out = e;
  return s;
}

Status EngineImpl::Patch(const std::string& id, const EntryPatchFn& apply, store::Entry* out,
                         std::string* notice) {
  // Embedding takes a while (a model load, a forward pass): done outside
  // the write lock, then checked against the entry re-read under it. After
  // kOutsideTries changes meanwhile, embed under the lock.
  constexpr int kOutsideTries = 3;
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  Status s = SyncWithOtherWriters();
  if (s.ok() && store_->schema().has_embeddings_table) s = EnsureIndex();
  SummaryVec v;
  for (int attempt = 0; s.ok() && attempt <= kOutsideTries; ++attempt) {
    const bool embed_here = attempt == kOutsideTries;
    store::Entry e;
    if (!embed_here && !(s = PatchedEntry(id, apply, &e)).ok()) break;
    if (!embed_here && !(s = EmbedSummary(e, &v)).ok()) break;
    bool moved = false;
    s = AfterWrite(id, store_->WithTransaction([&] { return WritePatch(id, apply, embed_here, &v, &moved, out); }));
    if (!moved) break;
  }
  if (s.ok() && !v.have && notice) *notice = "the entry's embedding was not updated (" + v.why + ")";
  if (s.ok()) KeepContextVector(*out, notice);
  return s;
}

Status EngineImpl::UpdateDroppingVector(store::Entry* e) {
  // Its old vector no longer describes it: drop it so search never scores
  // the entry by stale text; `index rebuild` embeds it again.
  return store_->WithTransaction([&]() -> Status {
    Status t = store_->Update(e, nullptr);
    if (!t.ok()) return t;
    if (!(t = store_->DeleteEmbedding(e->id, EmbeddingType::kSummary)).ok()) return t;
    return index_ ? index_->Remove(e->id) : Status::OK();
  });
}

Status EngineImpl::Delete(const std::string& id) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  Status s = SyncWithOtherWriters();
  if (!s.ok()) return s;
  if (store_->schema().has_embeddings_table && !(s = EnsureIndex()).ok()) return s;
  return AfterWrite(id, store_->Delete(id));
}

// ---------------------------------------------------------------- reads

Status EngineImpl::Get(const std::string& id, store::Entry* e) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->Get(id, e);
}

Status EngineImpl::List(const store::ListFilter& f, std::vector<store::Entry>* out) {
  Status s = store::ValidateFilter(f);
  if (!s.ok()) return s;
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->List(store::VisibleFilter(f), out);
}

Status EngineImpl::Exists(const std::string& id, bool* exists) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->Exists(id, exists);
}

Status EngineImpl::MatchIds(const std::string& id_or_prefix, int limit, std::vector<std::string>* ids) {
  ids->clear();
  std::string want = id_or_prefix;
  for (auto& c : want) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (want.empty()) return Status::InvalidArgument("the id is empty");
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  // Exact ids first, as given (imported entries may carry non-ULID ids).
  for (const std::string& candidate : {id_or_prefix, want}) {
    bool exists = false;
    Status s = store_->Exists(candidate, &exists);
    if (!s.ok()) return s;
    if (exists) {
      ids->push_back(candidate);
      return Status::OK();
    }
  }
  if (want.size() >= kUlidLength) return Status::OK();
  return store_->IdsWithPrefix(want, limit, ids);
}

Status EngineImpl::ResolveId(const std::string& id_or_prefix, std::string* id) {
  std::vector<std::string> found;
  Status s = MatchIds(id_or_prefix, 3, &found);
  if (!s.ok()) return s;
  if (found.empty()) return Status::NotFound("no entry with id " + id_or_prefix);
  if (found.size() > 1)
    return Status::InvalidArgument("id prefix " + id_or_prefix + " is ambiguous (" + found[0] + ", " + found[1] +
                                   (found.size() > 2 ? ", ..." : "") + "); give more characters");
  *id = found[0];
  return Status::OK();
}

// ---------------------------------------------------------------- search

Status EngineImpl::EmbedQuery(const std::string& q, std::chrono::milliseconds wait, std::vector<float>* v) {
  if (auto hit = query_cache_->Get(q)) {
    *v = *hit;
    return Status::OK();
  }
  Status s = provider_->Embed({q}, v, wait);
  if (s.ok()) query_cache_->Put(q, *v);
  return s;
}

Status EngineImpl::FetchResults(std::vector<SearchResult>* rs) {
  std::vector<SearchResult> kept;
  kept.reserve(rs->size());
  for (auto& r : *rs) {
    Status s = store_->Get(r.entry.id, &r.entry);
    if (s.IsNotFound()) {
      // Deleted by another program behind the index's back: never return
      // it, and resynchronise the index before the next search.
      if (index_) index_->MarkStale();
      continue;
    }
    if (!s.ok()) return s;
    kept.push_back(std::move(r));
  }
  *rs = std::move(kept);
  return Status::OK();
}

Status EngineImpl::KeywordOnly(const SearchRequest& req, SearchResponse* resp) {
  std::vector<store::KeywordHit> hits;
  Status s = store_->KeywordSearch(req.query, req.filter, req.limit, &hits);
  if (!s.ok()) return s;
  for (const auto& h : hits) {
    SearchResult r;
    r.entry.id = h.id;
    r.score = -h.bm25;
    r.bm25 = h.bm25;
    r.keyword_rank = h.rank;
    if (req.min_score && r.score < *req.min_score) continue;
    resp->results.push_back(std::move(r));
  }
  return FetchResults(&resp->results);
}

namespace {

// How deep each ranking a hybrid search fuses is: deeper than the page.
int HybridDepth(const SearchRequest& req) { return std::max(req.limit * 4, 50); }

// What the vector side embeds: the query, and its context when it has one.
std::string EmbeddedText(const SearchRequest& req) {
  return req.context.empty() ? req.query : req.query + "\n" + req.context;
}

// Every front's search arguments, checked in one place.
Status ValidateRequest(const SearchRequest& req) {
  Status s = store::ValidateQueryText(req.query);
  if (s.ok() && !req.context.empty()) s = store::ValidateQueryText(EmbeddedText(req));
  if (s.ok()) s = store::ValidateFilter(req.filter);
  if (s.ok() && req.limit < 0) s = Status::InvalidArgument("limit must be >= 0");
  if (s.ok() && req.min_score && !std::isfinite(*req.min_score))
    s = Status::InvalidArgument("min_score must be a finite number");
  return s;
}

}  // namespace

Status EngineImpl::SearchEntries(const SearchRequest& asked, SearchResponse* resp) {
  resp->results.clear();
  Touch();
  resp->mode_used = asked.mode;
  Status s = ValidateRequest(asked);
  if (!s.ok()) return s;
  SearchRequest req = asked;
  req.filter = store::VisibleFilter(asked.filter);
  if (req.mode == SearchMode::kKeyword) {
    std::lock_guard<std::recursive_mutex> l(mu_);
    sqlite::CancelScope cancel(store_->db(), req.cancelled);
    return KeywordOnly(req, resp);
  }
  s = provider_->CheckAvailable();
  if (!s.ok()) {
    // No model: keyword results, with what is missing and how to get it.
    std::lock_guard<std::recursive_mutex> l(mu_);
    resp->mode_used = SearchMode::kKeyword;
    resp->notice = "semantic search needs the model: " + s.message() + "; these are keyword results";
    return KeywordOnly(req, resp);
  }
  // The query is embedded outside the lock (a search waiting for the model
  // must not hold up other requests), on a thread of its own while this one
  // reads what needs no vector.
  std::vector<float> q;
  VectorlessReads pre;
  s = EmbedWhileReading(req, &q, &pre);
  if (s.IsUnavailable()) {
    // The model is still loading: answer now with keyword results, say so.
    std::lock_guard<std::recursive_mutex> l(mu_);
    sqlite::CancelScope cancel(store_->db(), req.cancelled);
    resp->mode_used = SearchMode::kKeyword;
    resp->model_loading = true;
    resp->notice = "model loading: these are keyword results; semantic search is ready in a moment";
    return KeywordOnly(req, resp);
  }
  if (!s.ok()) return s;
  if (Cancelled(req.cancelled)) return Status::Cancelled("search cancelled");
  if (!pre.status.ok()) return pre.status;

  std::lock_guard<std::recursive_mutex> l(mu_);
  // Again: another writer may have committed while the query was embedded.
  if (!(s = SyncWithOtherWriters()).ok()) return s;
  if (!(s = EnsureIndex()).ok()) return s;
  // Only the search itself: catching up above must not be cut short.
  sqlite::CancelScope cancel(store_->db(), req.cancelled);
  resp->notice = index_notice_;
  s = req.mode == SearchMode::kSemantic ? SemanticSearch(req, q, resp) : HybridSearch(req, q, pre.keywords, resp);
  if (!s.ok()) return s;
  return IfNoVectorsSayHow(req, resp);
}

Status EngineImpl::EmbedWhileReading(const SearchRequest& req, std::vector<float>* q, VectorlessReads* pre) {
  Status embedded;
  std::thread embedder([&] { embedded = EmbedQuery(EmbeddedText(req), req.model_wait, q); });
  ReadWithoutVector(req, pre);
  embedder.join();
  return embedded;
}

void EngineImpl::ReadWithoutVector(const SearchRequest& req, VectorlessReads* pre) {
  if (!WaitForWarmIndex(req.cancelled)) {
    pre->status = Status::Cancelled("search cancelled");
    return;
  }
  std::lock_guard<std::recursive_mutex> l(mu_);
  Status s = SyncWithOtherWriters();
  if (s.ok()) s = EnsureIndex();
  if (s.ok() && req.mode == SearchMode::kHybrid) {
    sqlite::CancelScope cancel(store_->db(), req.cancelled);
    s = store_->KeywordSearch(req.query, req.filter, HybridDepth(req), &pre->keywords);
  }
  pre->status = s;
}

Status EngineImpl::IfNoVectorsSayHow(const SearchRequest& req, SearchResponse* resp) {
  BackfillStatus b = GetBackfill();
  const bool backfilling = b.state == BackfillState::kRunning;
  // Only when no result came from the vectors, so the counts cost nothing
  // on the common path.
  for (const auto& r : resp->results) {
    if (!r.vector_rank) continue;
    if (backfilling && resp->notice.empty())
      resp->notice = std::to_string(b.remaining) +
                     " entries have no embedding yet: they are being embedded in the background, and until "
                     "then only keywords find them";
    return Status::OK();
  }
  size_t indexed = 0, entries = 0;
  Status s = index_->Count(&indexed);
  if (s.ok() && indexed == 0) s = store_->Count(&entries);
  if (!s.ok() || indexed > 0 || entries == 0) return s;
  // A Rekall file that never had embeddings (Rekall's default): never a
  // silent empty answer. Both semantic and hybrid are keyword search here,
  // and say so.
  resp->mode_used = SearchMode::kKeyword;
  sqlite::CancelScope cancel(store_->db(), req.cancelled);
  resp->results.clear();
  s = KeywordOnly(req, resp);
  resp->notice = "no entry has an embedding yet (" + std::to_string(entries) + " entries): " +
                 (resp->results.empty() ? "keyword search found nothing either; " : "these are keyword results; ") +
                 (backfilling ? std::string("they are being embedded in the background")
                              : "`rekall index rebuild` adds them (about " +
                                    std::to_string(entries / kRebuildEntriesPerSecond + 1) + " s)");
  return s;
}

Status EngineImpl::SemanticSearch(const SearchRequest& req, const std::vector<float>& q, SearchResponse* resp) {
  std::vector<Hit> hits;
  Status s = VectorHits(q, req.limit, req.filter, &hits);
  if (!s.ok()) return s;
  int rank = 0;
  for (const auto& h : hits) {
    ++rank;
    if (req.min_score && h.score < *req.min_score) continue;
    resp->results.push_back(VectorResult(h, rank));
  }
  if (Cancelled(req.cancelled)) return Status::Cancelled("search cancelled");
  return FetchResults(&resp->results);
}

Status EngineImpl::HybridSearch(const SearchRequest& req, const std::vector<float>& q,
                                const std::vector<store::KeywordHit>& kw, SearchResponse* resp) {
  // Reciprocal rank fusion of the bm25 ranking (`kw`, HybridDepth(req)
  // deep) and the vector ranking over a deeper candidate list than the page
  // asked for. Ranks, not raw scores, are fused: bm25 and cosine live on
  // different scales.
  std::vector<Hit> vh;
  Status s = VectorHits(q, HybridDepth(req), req.filter, &vh);
  if (!s.ok()) return s;
  if (Cancelled(req.cancelled)) return Status::Cancelled("search cancelled");
  std::unordered_map<std::string, SearchResult> fused;
  for (const auto& h : kw) {
    auto& r = fused[h.id];
    r.entry.id = h.id;
    r.keyword_rank = h.rank;
    r.bm25 = h.bm25;
    r.score += 1.0 / (kRrfK + h.rank);
  }
  int rank = 0;
  for (const auto& h : vh) {
    ++rank;
    auto& r = fused[h.entry_id];
    r.entry.id = h.entry_id;
    r.vector_rank = rank;
    r.cosine = h.score;
    r.score += 1.0 / (kRrfK + rank);
  }
  std::vector<SearchResult> all;
  for (auto& [id, r] : fused)
    if (!req.min_score || r.score >= *req.min_score) all.push_back(std::move(r));
  std::sort(all.begin(), all.end(), [](const SearchResult& a, const SearchResult& b) {
    return a.score != b.score ? a.score > b.score : a.entry.id < b.entry.id;
  });
  if (all.size() > static_cast<size_t>(req.limit)) all.resize(static_cast<size_t>(req.limit));
  resp->results = std::move(all);
  return FetchResults(&resp->results);
}

Status EngineImpl::EntryVector(const std::string& id, std::vector<float>* vec) {
  if (auto hit = entry_cache_->Get(id)) {
    *vec = *hit;
    return Status::OK();
  }
  uint64_t token = entry_cache_->LoadToken();
  store::StoredEmbedding emb;
  Status s = store_->GetEmbedding(id, EmbeddingType::kSummary, &emb);
  if (s.IsNotFound() || (s.ok() && !IsOurEmbedding(emb.model_name, emb.dimensions)))
    return Status::Unavailable("entry " + id + " has no embedding of " + kOurModelName +
                               "; run `rekall index rebuild`");
  if (!s.ok()) return s;
  *vec = emb.vector;
  entry_cache_->Put(id, *vec, token);
  return Status::OK();
}

Status EngineImpl::Similar(const std::string& id, int limit, const store::ListFilter& asked,
                           std::vector<SearchResult>* out, std::string* notice) {
  out->clear();
  Status s = store::ValidateFilter(asked);
  store::ListFilter filter = store::VisibleFilter(asked);
  if (!s.ok()) return s;
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  s = SyncWithOtherWriters();
  if (!s.ok()) return s;
  bool exists = false;
  if (!(s = store_->Exists(id, &exists)).ok()) return s;
  if (!exists) return Status::NotFound("no entry with id " + id);
  std::vector<float> vec;
  if (!(s = EntryVector(id, &vec)).ok()) return s;
  if (!(s = EnsureIndex()).ok()) return s;
  if (notice) *notice = index_notice_;
  std::vector<Hit> hits;
  if (!(s = NearestFiltered(vec, limit + 1, filter, &hits)).ok()) return s;
  int rank = 0;
  for (const auto& h : hits) {
    if (h.entry_id == id) continue;
    if (static_cast<int>(out->size()) == limit) break;
    out->push_back(VectorResult(h, ++rank));
  }
  return FetchResults(out);
}

// ---------------------------------------------------------------- the index

std::vector<float> EngineImpl::Row(const std::vector<float>& vecs, size_t i) const {
  const auto d = static_cast<long>(provider_->dim());
  auto first = vecs.begin() + static_cast<long>(i) * d;
  return std::vector<float>(first, first + d);
}

Status EngineImpl::EmbedEntries(const std::vector<store::Entry>& entries, std::vector<float>* vecs,
                                const std::function<void(size_t, size_t)>& progress) {
  vecs->clear();
  for (size_t i = 0; i < entries.size(); i += kEmbedBatch) {
    std::vector<std::string> texts;
    for (size_t j = i; j < std::min(entries.size(), i + kEmbedBatch); ++j)
      texts.push_back(store::SummaryText(entries[j]));
    std::vector<float> part;
    Status s = provider_->Embed(texts, &part, std::chrono::hours(1));
    if (!s.ok()) return s;
    vecs->insert(vecs->end(), part.begin(), part.end());
    if (progress) progress(i + texts.size(), entries.size());
  }
  return Status::OK();
}

Status EngineImpl::IdsToEmbed(bool all, std::vector<std::string>* ids) {
  if (!all) return store_->EntriesWithoutEmbedding(EmbeddingType::kSummary, ids);
  std::vector<store::Entry> es;
  Status s = store_->List({}, &es);
  for (const auto& e : es) ids->push_back(e.id);
  return s;
}

Status EngineImpl::RebuildIndex(bool all, const std::function<void(size_t, size_t)>& progress, size_t* embedded) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  *embedded = 0;
  Status s = provider_->CheckAvailable();
  if (!s.ok()) return Status::Unavailable("cannot embed entries: " + s.message());
  std::vector<std::string> ids;
  if (!(s = SyncWithOtherWriters()).ok() || !(s = EnsureIndex()).ok() || !(s = IdsToEmbed(all, &ids)).ok())
    return s;
  if (progress) progress(0, ids.size());
  for (size_t i = 0; i < ids.size(); i += kEmbedBatch) {
    auto first = ids.begin() + static_cast<long>(i);
    std::vector<std::string> batch(first, first + static_cast<long>(std::min(kEmbedBatch, ids.size() - i)));
    size_t stored = 0;
    if (!(s = EmbedAndStore(batch, &stored)).ok()) return s;
    *embedded += stored;
    if (progress) progress(*embedded, ids.size());
  }
  store_->DataVersion(&data_version_);
  return Status::OK();
}

Status EngineImpl::GetIndexStatus(IndexStatus* st) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Status s = store_->Count(&st->entries);
  if (!s.ok()) return s;
  std::vector<std::string> missing;
  if (!(s = store_->EntriesWithoutEmbedding(EmbeddingType::kSummary, &missing)).ok()) return s;
  st->missing = missing.size();
  st->embedded = st->entries - st->missing;
  // A count, not a read of every vector.
  if (!(s = store_->CountMismatchedSummaries(&st->mismatched)).ok()) return s;
  if (!store_->schema().has_embeddings_table) {
    st->backend = "none";
    st->notice = "no embeddings table; run `rekall migrate`";
    return Status::OK();
  }
  if (!(s = SyncWithOtherWriters()).ok()) return s;
  if (!(s = EnsureIndex()).ok()) return s;
  st->backend = index_->name();
  st->notice = index_notice_;
  return index_->Count(&st->indexed);
}

Status EngineImpl::Stats(EngineStats* out) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  EngineStats st;
  Status s = store_->Count(&st.entries);
  if (!s.ok()) return s;
  if (!(s = store_->CountEmbeddings(&st.summary_embeddings)).ok()) return s;
  st.database = store_->path();
  st.rekall_schema_version = store_->schema().user_version;
  st.engine_schema_version = store_->schema().engine_version;
  st.backend = index_ ? index_->name() : "not loaded";
  if (index_) {
    size_t n = 0;
    index_->Count(&n);
    st.indexed_vectors = n;
  }
  st.backend_notice = index_notice_;
  if (index_) {
    ScanReport r;
    if (index_->Describe(&r)) st.vector_scan = r;
  }
  st.entry_cache = ToCacheStats(entry_cache_->stats());
  st.query_cache = ToCacheStats(query_cache_->stats());
  st.cache_max_size = cfg_.cache_max_size;
  st.cache_ttl_seconds = cfg_.cache_ttl_seconds;
  st.model_state = provider_->state();
  st.model = config::LocateModel(cfg_);
  st.sqlite_vec = config::LocateSqliteVec(cfg_);
  st.model_loads = provider_->load_count();
  st.model_idle_timeout_minutes = cfg_.model_idle_timeout_minutes;
  st.model_precision = cfg_.precision;
  st.rss_kb = Kb(env_->CurrentRssBytes());
  st.peak_rss_kb = Kb(env_->PeakRssBytes());
  if (long_running_) st.keyword_index = store_->KeywordIndexStats();
  st.backfill = GetBackfill();
  *out = std::move(st);
  return Status::OK();
}

}  // namespace rekall
