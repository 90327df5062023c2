#include "engine/engine.h"

#include <malloc.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <cmath>
#include <fstream>
#include <istream>
#include <map>
#include <ostream>
#include <set>
#include <unordered_map>

#include "util/ulid.h"

namespace rekall {

namespace {

constexpr int kRrfK = 60;           // reciprocal rank fusion constant (Cormack et al.)
constexpr size_t kEmbedBatch = 32;  // texts per forward pass in rebuild/import

bool Cancelled(const std::atomic<bool>* c) { return c && c->load(std::memory_order_relaxed); }

long ReadProcStatusKb(const char* key) {
  std::ifstream f("/proc/self/status");
  std::string line;
  size_t n = std::strlen(key);
  while (std::getline(f, line))
    if (line.compare(0, n, key) == 0) return std::atol(line.c_str() + n + 1);
  return 0;
}

}  // namespace

long CurrentRssKb() { return ReadProcStatusKb("VmRSS"); }
long PeakRssKb() { return ReadProcStatusKb("VmHWM"); }

Status ParseSearchMode(const std::string& s, SearchMode* out) {
  if (s == "keyword") *out = SearchMode::kKeyword;
  else if (s == "semantic") *out = SearchMode::kSemantic;
  else if (s == "hybrid") *out = SearchMode::kHybrid;
  else return Status::InvalidArgument("invalid search mode '" + s + "' (expected keyword, semantic or hybrid)");
  return Status::OK();
}

const char* SearchModeName(SearchMode m) {
  switch (m) {
    case SearchMode::kKeyword: return "keyword";
    case SearchMode::kSemantic: return "semantic";
    case SearchMode::kHybrid: return "hybrid";
  }
  return "?";
}

Status ParseOnConflict(const std::string& s, OnConflict* out) {
  if (s == "error") *out = OnConflict::kError;
  else if (s == "skip") *out = OnConflict::kSkip;
  else if (s == "replace") *out = OnConflict::kReplace;
  else return Status::InvalidArgument("--on-conflict must be error, skip or replace");
  return Status::OK();
}

const char* OnConflictName(OnConflict c) {
  switch (c) {
    case OnConflict::kError: return "error";
    case OnConflict::kSkip: return "skip";
    case OnConflict::kReplace: return "replace";
  }
  return "?";
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

Status Engine::Open(EngineOptions opts, std::unique_ptr<Engine>* out) {
  std::unique_ptr<Engine> e(new Engine());
  e->cfg_ = opts.cfg;
  e->long_running_ = opts.long_running;
  if (opts.create_parent_dirs) {
    std::string dir = opts.db_path.substr(0, opts.db_path.rfind('/'));
    std::string cur;
    for (size_t i = 0; i <= dir.size(); ++i) {
      if (i == dir.size() || (dir[i] == '/' && i > 0)) {
        cur = dir.substr(0, i);
        ::mkdir(cur.c_str(), 0700);
      }
    }
  }
  store::OpenOptions so;
  so.read_only = opts.read_only;
  Status s = store::Store::Open(opts.db_path, so, &e->store_);
  if (!s.ok()) return s;
  e->store_->set_observer(e.get());
  e->provider_ = opts.provider ? std::move(opts.provider) : NewModelProvider(e->cfg_);
  EmbeddingCache::Options co;
  co.capacity = static_cast<size_t>(e->cfg_.cache_max_size);
  co.ttl = std::chrono::seconds(e->cfg_.cache_ttl_seconds);
  e->entry_cache_ = std::make_unique<EmbeddingCache>(co);
  e->query_cache_ = std::make_unique<EmbeddingCache>(co);
  e->store_->DataVersion(&e->data_version_);
  e->Touch();
  if (e->long_running_) {
    long secs = e->cfg_.model_idle_timeout_seconds >= 0 ? e->cfg_.model_idle_timeout_seconds
                                                        : e->cfg_.model_idle_timeout_minutes * 60;
    if (secs > 0) {
      Engine* self = e.get();
      e->idle_thread_ = std::thread([self, secs] { self->IdleLoop(std::chrono::seconds(secs)); });
    }
  }
  *out = std::move(e);
  return Status::OK();
}

Engine::~Engine() {
  {
    std::lock_guard<std::mutex> l(idle_mu_);
    stop_idle_ = true;
  }
  idle_cv_.notify_all();
  if (idle_thread_.joinable()) idle_thread_.join();
  index_.reset();
  if (store_) store_->set_observer(nullptr);
}

void Engine::Touch() {
  last_use_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  released_.store(false, std::memory_order_relaxed);
}

void Engine::IdleLoop(std::chrono::milliseconds timeout) {
  // Checks a few times per timeout: the release happens between 1x and
  // 1.25x the idle time after the last use.
  auto step = std::max<std::chrono::milliseconds>(timeout / 4, std::chrono::milliseconds(100));
  std::unique_lock<std::mutex> l(idle_mu_);
  while (!stop_idle_) {
    idle_cv_.wait_for(l, step);
    if (stop_idle_ || released_.load(std::memory_order_relaxed)) continue;
    auto last = std::chrono::steady_clock::time_point(
        std::chrono::steady_clock::duration(last_use_ns_.load(std::memory_order_relaxed)));
    if (std::chrono::steady_clock::now() - last < timeout) continue;
    released_.store(true, std::memory_order_relaxed);
    l.unlock();
    ReleaseIdleMemory();
    l.lock();
  }
}

void Engine::ReleaseIdleMemory() {
  std::lock_guard<std::recursive_mutex> l(mu_);
  // A brute index is only a copy of the embeddings table; sqlite-vec's lives
  // in the file and costs nothing to keep open.
  if (index_ && std::string(index_->name()) == "brute") index_.reset();
  entry_cache_->Clear();
  query_cache_->Clear();
  sqlite3_db_release_memory(store_->db());
  malloc_trim(0);
}

Status Engine::EnsureIndex() {
  if (index_) return Status::OK();
  if (!store_->schema().has_embeddings_table)
    return Status::Unavailable("database " + store_->path() + " has no embeddings table (Rekall schema " +
                               std::to_string(store_->schema().user_version) + "); run `rekall migrate`");
  IndexOptions io;
  Status s = ParseIndexBackend(cfg_.vector_backend, &io.backend);
  if (!s.ok()) return s;
  if (long_running_ && io.backend == IndexBackend::kAuto) io.backend = IndexBackend::kBrute;
  io.extension_path = cfg_.sqlite_vec_path.empty() ? REKALL_DEFAULT_SQLITE_VEC : cfg_.sqlite_vec_path;
  io.threads = static_cast<int>(cfg_.threads);
  io.dim = store::kDim;
  return OpenVectorIndex(store_->db(), io, &index_, &index_notice_);
}

Status Engine::SyncWithOtherWriters() {
  int64_t v = 0;
  Status s = store_->DataVersion(&v);
  if (!s.ok()) return s;
  if (v != data_version_) {
    // Another connection committed: any cached entry vector may be stale.
    data_version_ = v;
    entry_cache_->Clear();
    if (index_) {
      bool changed = false;
      s = index_->Refresh(&changed);
      if (!s.ok()) return s;
    }
  }
  return Status::OK();
}

Status Engine::OnSummaryVector(const store::Entry& e, const float* vec, int dim) {
  entry_cache_->Invalidate(e.id);
  if (!index_) return Status::OK();  // built from the embeddings table when opened
  EntryMeta m;
  m.type = e.type;
  m.project = e.project.value_or("");
  m.status = e.status;
  m.tags = e.tags;
  return index_->Upsert(e.id, vec, dim, m);
}

Status Engine::OnEntryRemoved(const std::string& id) {
  entry_cache_->Invalidate(id);
  if (!index_) return Status::OK();
  return index_->Remove(id);
}

Status Engine::AfterWrite(const std::string& id, Status s) {
  entry_cache_->Invalidate(id);
  if (!s.ok() && index_) index_->MarkStale();
  // Our own commit moved data_version; don't mistake it for another writer's.
  if (s.ok()) store_->DataVersion(&data_version_);
  return s;
}

Status Engine::Embed(const std::vector<std::string>& texts, std::vector<float>* out) {
  Status s = provider_->CheckAvailable();
  if (!s.ok()) return s;
  return provider_->Embed(texts, out, std::chrono::hours(1));
}

Status Engine::SummaryVector(const store::Entry& e, std::vector<float>* vec, bool* have, std::string* why) {
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

Status Engine::Add(store::Entry* e, std::string* notice) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  Status s = SyncWithOtherWriters();
  if (!s.ok()) return s;
  // Validate before paying for an embedding.
  store::NormalizeTags(&e->tags);
  if (!(s = store::ValidateEntry(*e)).ok()) return s;
  std::vector<float> vec;
  bool have_vec = false;
  std::string why;
  if (!(s = SummaryVector(*e, &vec, &have_vec, &why)).ok()) return s;
  if (have_vec && !(s = EnsureIndex()).ok()) return s;
  if (!have_vec && notice)
    *notice = "stored without an embedding (" + why + "); run `rekall index rebuild` once the model is installed";
  return AfterWrite(e->id, store_->Add(e, have_vec ? &vec : nullptr));
}

Status Engine::Update(store::Entry* e, std::string* notice) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  Status s = SyncWithOtherWriters();
  if (!s.ok()) return s;
  store::NormalizeTags(&e->tags);
  if (!(s = store::ValidateEntry(*e)).ok()) return s;
  bool exists = false;
  if (!(s = store_->Exists(e->id, &exists)).ok()) return s;
  if (!exists) return Status::NotFound("no entry with id " + e->id);
  std::vector<float> vec;
  bool have_vec = false;
  std::string why;
  if (!(s = SummaryVector(*e, &vec, &have_vec, &why)).ok()) return s;
  if (!have_vec && notice) *notice = "the entry's embedding was not updated (" + why + ")";
  if (store_->schema().has_embeddings_table && !(s = EnsureIndex()).ok()) return s;
  if (!have_vec && store_->schema().has_embeddings_table) {
    // Its old vector no longer describes it: drop it so search never scores
    // the entry by stale text; `index rebuild` embeds it again.
    s = store_->WithTransaction([&]() -> Status {
      Status t = store_->Update(e, nullptr);
      if (!t.ok()) return t;
      sqlite3_stmt* st = nullptr;
      sqlite3_prepare_v2(store_->db(), "DELETE FROM embeddings WHERE entry_id = ? AND embedding_type = 'summary'", -1,
                         &st, nullptr);
      sqlite3_bind_text(st, 1, e->id.c_str(), -1, SQLITE_TRANSIENT);
      int rc = sqlite3_step(st);
      sqlite3_finalize(st);
      if (rc != SQLITE_DONE) return store::SqliteError(store_->db(), rc, "dropping stale embedding");
      return index_ ? index_->Remove(e->id) : Status::OK();
    });
    return AfterWrite(e->id, s);
  }
  return AfterWrite(e->id, store_->Update(e, have_vec ? &vec : nullptr));
}

Status Engine::Delete(const std::string& id) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  Status s = SyncWithOtherWriters();
  if (!s.ok()) return s;
  if (store_->schema().has_embeddings_table && !(s = EnsureIndex()).ok()) return s;
  return AfterWrite(id, store_->Delete(id));
}

Status Engine::Get(const std::string& id, store::Entry* e) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->Get(id, e);
}

const std::string& Engine::path() const { return store_->path(); }

const store::SchemaInfo& Engine::schema() const { return store_->schema(); }

bool Engine::HasEntryColumn(const std::string& column) const { return store_->HasEntryColumn(column); }

ModelState Engine::model_state() const { return provider_->state(); }

void Engine::WarmModel() { provider_->WarmUp(); }

bool Engine::WaitForModel(std::chrono::milliseconds max_wait, const std::atomic<bool>* cancelled) {
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

Status Engine::List(const store::ListFilter& f, std::vector<store::Entry>* out) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->List(f, out);
}

Status Engine::Exists(const std::string& id, bool* exists) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->Exists(id, exists);
}

Status Engine::ResolveId(const std::string& id_or_prefix, std::string* id) {
  constexpr size_t kUlidLength = 26;
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
      *id = candidate;
      return Status::OK();
    }
  }
  if (want.size() >= kUlidLength) return Status::NotFound("no entry with id " + id_or_prefix);
  std::vector<std::string> found;
  Status s = store_->IdsWithPrefix(want, 3, &found);
  if (!s.ok()) return s;
  if (found.empty()) return Status::NotFound("no entry with id " + id_or_prefix);
  if (found.size() > 1)
    return Status::InvalidArgument("id prefix " + id_or_prefix + " is ambiguous (" + found[0] + ", " + found[1] +
                                   (found.size() > 2 ? ", ..." : "") + "); give more characters");
  *id = found[0];
  return Status::OK();
}

Status Engine::EmbedTexts(const config::Config& cfg, const std::vector<std::string>& texts, std::vector<float>* out,
                          int* dim) {
  std::unique_ptr<EmbeddingProvider> p = NewModelProvider(cfg);
  Status s = p->CheckAvailable();
  if (!s.ok()) return s;
  *dim = p->dim();
  return p->Embed(texts, out, std::chrono::hours(1));
}

Status Engine::PlanMigration(const EngineOptions& opts, MigrationReport* out) {
  *out = MigrationReport();
  out->database = opts.db_path;
  store::OpenOptions oo;
  oo.create_if_missing = false;
  oo.auto_migrate = false;
  oo.read_only = true;
  std::unique_ptr<store::Store> st;
  Status s = store::Store::Open(opts.db_path, oo, &st);
  if (!s.ok()) return s;
  if (!(s = store::PlanMigration(st->db(), opts.db_path, &out->plan)).ok()) return s;
  out->backup_path = out->plan.backup_path;
  std::vector<std::string> missing;
  if (!(s = st->EntriesWithoutEmbedding("summary", &missing)).ok()) return s;
  out->entries_without_embedding = missing.size();
  return st->Count(&out->entries);
}

Status Engine::Migrate(const EngineOptions& opts, MigrationReport* out) {
  Status s = PlanMigration(opts, out);
  if (!s.ok() || !out->plan.needed()) return s;
  // Opening read-write migrates (after a backup), as every command does.
  store::OpenOptions rw;
  rw.create_if_missing = false;
  std::unique_ptr<store::Store> st;
  if (!(s = store::Store::Open(opts.db_path, rw, &st)).ok()) return s;
  out->applied = true;
  out->migrated = st->schema().migrated;
  out->backup_path = st->schema().backup_path;
  return Status::OK();
}

Status Engine::EmbedQuery(const std::string& q, std::chrono::milliseconds wait, std::vector<float>* v) {
  if (auto hit = query_cache_->Get(q)) {
    *v = *hit;
    return Status::OK();
  }
  Status s = provider_->Embed({q}, v, wait);
  if (s.ok()) query_cache_->Put(q, *v);
  return s;
}

Status Engine::FetchResults(std::vector<SearchResult>* rs) {
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

Status Engine::KeywordOnly(const SearchRequest& req, SearchResponse* resp) {
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

Status Engine::Search(const SearchRequest& req, SearchResponse* resp) {
  resp->results.clear();
  Touch();
  resp->mode_used = req.mode;
  if (req.query.find('\0') != std::string::npos) return Status::InvalidArgument("query contains a NUL byte");
  if (req.limit < 0) return Status::InvalidArgument("limit must be >= 0");
  if (req.mode == SearchMode::kKeyword) {
    std::lock_guard<std::recursive_mutex> l(mu_);
    return KeywordOnly(req, resp);
  }
  Status s = provider_->CheckAvailable();
  if (!s.ok())
    return Status::Unavailable("semantic search needs the model: " + s.message() +
                               " (keyword search works without it: --mode keyword)");
  // The query is embedded outside the lock: a search waiting for the model
  // must not hold up other requests.
  std::vector<float> q;
  s = EmbedQuery(req.query, req.model_wait, &q);
  if (s.IsUnavailable()) {
    // The model is still loading: answer now with keyword results, say so.
    std::lock_guard<std::recursive_mutex> l(mu_);
    resp->mode_used = SearchMode::kKeyword;
    resp->model_loading = true;
    resp->notice = "model loading: these are keyword results; semantic search is ready in a moment";
    return KeywordOnly(req, resp);
  }
  if (!s.ok()) return s;
  if (Cancelled(req.cancelled)) return Status::Cancelled("search cancelled");

  std::lock_guard<std::recursive_mutex> l(mu_);
  if (!(s = SyncWithOtherWriters()).ok()) return s;
  if (!(s = EnsureIndex()).ok()) return s;
  resp->notice = index_notice_;
  Filter f = ToIndexFilter(req.filter);
  if (req.mode == SearchMode::kSemantic) {
    std::vector<Hit> hits;
    if (!(s = index_->Search(q.data(), static_cast<int>(q.size()), req.limit, f, &hits)).ok()) return s;
    int rank = 0;
    for (const auto& h : hits) {
      ++rank;
      if (req.min_score && h.score < *req.min_score) continue;
      SearchResult r;
      r.entry.id = h.entry_id;
      r.score = h.score;
      r.cosine = h.score;
      r.vector_rank = rank;
      resp->results.push_back(std::move(r));
    }
    if (Cancelled(req.cancelled)) return Status::Cancelled("search cancelled");
    return FetchResults(&resp->results);
  }

  // Hybrid: reciprocal rank fusion of the bm25 ranking and the vector
  // ranking over a deeper candidate list than the page asked for. Ranks, not
  // raw scores, are fused: bm25 and cosine live on different scales.
  int depth = std::max(req.limit * 4, 50);
  std::vector<store::KeywordHit> kw;
  if (!(s = store_->KeywordSearch(req.query, req.filter, depth, &kw)).ok()) return s;
  std::vector<Hit> vh;
  if (!(s = index_->Search(q.data(), static_cast<int>(q.size()), depth, f, &vh)).ok()) return s;
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

Status Engine::Similar(const std::string& id, int limit, const store::ListFilter& filter,
                       std::vector<SearchResult>* out, std::string* notice) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  out->clear();
  Status s = SyncWithOtherWriters();
  if (!s.ok()) return s;
  bool exists = false;
  if (!(s = store_->Exists(id, &exists)).ok()) return s;
  if (!exists) return Status::NotFound("no entry with id " + id);
  std::vector<float> vec;
  if (auto hit = entry_cache_->Get(id)) {
    vec = *hit;
  } else {
    uint64_t token = entry_cache_->LoadToken();
    store::StoredEmbedding emb;
    s = store_->GetEmbedding(id, "summary", &emb);
    if (s.IsNotFound() || (s.ok() && (!store::IsOurModelName(emb.model_name) || emb.dimensions != store::kDim)))
      return Status::Unavailable("entry " + id + " has no embedding of " + store::kModelName +
                                 "; run `rekall index rebuild`");
    if (!s.ok()) return s;
    vec = emb.vector;
    entry_cache_->Put(id, vec, token);
  }
  if (!(s = EnsureIndex()).ok()) return s;
  if (notice) *notice = index_notice_;
  std::vector<Hit> hits;
  if (!(s = index_->Search(vec.data(), static_cast<int>(vec.size()), limit + 1, ToIndexFilter(filter), &hits)).ok())
    return s;
  int rank = 0;
  for (const auto& h : hits) {
    if (h.entry_id == id) continue;
    if (static_cast<int>(out->size()) == limit) break;
    SearchResult r;
    r.entry.id = h.entry_id;
    r.score = h.score;
    r.cosine = h.score;
    r.vector_rank = ++rank;
    out->push_back(std::move(r));
  }
  return FetchResults(out);
}

Status Engine::RebuildIndex(bool all, const std::function<void(size_t, size_t)>& progress, size_t* embedded) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  *embedded = 0;
  Status s = provider_->CheckAvailable();
  if (!s.ok()) return Status::Unavailable("cannot embed entries: " + s.message());
  if (!(s = SyncWithOtherWriters()).ok()) return s;
  if (!(s = EnsureIndex()).ok()) return s;
  std::vector<std::string> ids;
  if (all) {
    std::vector<store::Entry> es;
    if (!(s = store_->List({}, &es)).ok()) return s;
    for (auto& e : es) ids.push_back(e.id);
  } else if (!(s = store_->EntriesWithoutEmbedding("summary", &ids)).ok()) {
    return s;
  }
  size_t total = ids.size();
  if (progress) progress(0, total);
  for (size_t i = 0; i < total; i += kEmbedBatch) {
    size_t n = std::min(kEmbedBatch, total - i);
    std::vector<store::Entry> batch(n);
    std::vector<std::string> texts;
    for (size_t j = 0; j < n; ++j) {
      if (!(s = store_->Get(ids[i + j], &batch[j])).ok()) return s;
      texts.push_back(store::SummaryText(batch[j]));
    }
    std::vector<float> vecs;
    if (!(s = provider_->Embed(texts, &vecs, std::chrono::hours(1))).ok()) return s;
    const size_t d = static_cast<size_t>(provider_->dim());
    s = store_->WithTransaction([&]() -> Status {
      for (size_t j = 0; j < n; ++j) {
        std::vector<float> v(vecs.begin() + static_cast<long>(j * d), vecs.begin() + static_cast<long>((j + 1) * d));
        Status t = store_->PutSummary(batch[j], v);
        if (!t.ok()) return t;
      }
      return Status::OK();
    });
    if (!s.ok()) {
      if (index_) index_->MarkStale();
      return s;
    }
    *embedded += n;
    if (progress) progress(*embedded, total);
  }
  store_->DataVersion(&data_version_);
  return Status::OK();
}

Status Engine::GetIndexStatus(IndexStatus* st) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Status s = store_->Count(&st->entries);
  if (!s.ok()) return s;
  std::vector<std::string> missing;
  if (!(s = store_->EntriesWithoutEmbedding("summary", &missing)).ok()) return s;
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

Status Engine::Import(std::istream& in, OnConflict on_conflict, bool embed, size_t* imported, size_t* skipped,
                      std::string* notice) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  *imported = *skipped = 0;
  // Parse and validate every line before writing anything.
  std::vector<store::Entry> entries;
  std::vector<size_t> lines;
  std::string line;
  size_t lineno = 0;
  std::set<std::string> seen;
  while (std::getline(in, line)) {
    ++lineno;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::parse_error& e) {
      return Status::InvalidArgument("line " + std::to_string(lineno) + ": malformed JSON (" + e.what() +
                                     "); nothing was imported");
    }
    store::Entry e;
    Status s = store::EntryFromJson(j, &e);
    if (s.ok()) {
      store::NormalizeTags(&e.tags);
      s = store::ValidateEntry(e);
    }
    if (s.ok() && !e.id.empty() && !seen.insert(e.id).second) s = Status::InvalidArgument("duplicate id " + e.id);
    if (!s.ok()) return Status::InvalidArgument("line " + std::to_string(lineno) + ": " + s.message() +
                                                "; nothing was imported");
    entries.push_back(std::move(e));
    lines.push_back(lineno);
  }
  if (in.bad()) return Status::IOError("reading the import failed");

  bool can_embed = embed && store_->schema().has_embeddings_table && provider_->CheckAvailable().ok();
  std::vector<float> vecs;
  if (can_embed && !entries.empty()) {
    for (size_t i = 0; i < entries.size(); i += kEmbedBatch) {
      std::vector<std::string> texts;
      for (size_t j = i; j < std::min(entries.size(), i + kEmbedBatch); ++j)
        texts.push_back(store::SummaryText(entries[j]));
      std::vector<float> part;
      Status s = provider_->Embed(texts, &part, std::chrono::hours(1));
      if (!s.ok()) return s;
      vecs.insert(vecs.end(), part.begin(), part.end());
    }
    Status s = EnsureIndex();
    if (!s.ok()) return s;
  } else if (notice && !entries.empty() && embed) {
    *notice = "imported without embeddings (" + provider_->CheckAvailable().message() +
              "); run `rekall index rebuild` once the model is installed";
  }
  Status s = SyncWithOtherWriters();
  if (!s.ok()) return s;
  const size_t d = store::kDim;
  s = store_->WithTransaction([&]() -> Status {
    for (size_t i = 0; i < entries.size(); ++i) {
      store::Entry& e = entries[i];
      auto where = [&](const Status& t) {
        return Status(t.code() == Code::kInvalidArgument
                          ? Status::InvalidArgument("line " + std::to_string(lines[i]) + ": " + t.message() +
                                                    "; nothing was imported")
                          : t);
      };
      Status t;
      if (!e.id.empty()) {
        bool exists = false;
        if (!(t = store_->Exists(e.id, &exists)).ok()) return t;
        if (exists) {
          if (on_conflict == OnConflict::kSkip) {
            ++*skipped;
            continue;
          }
          if (on_conflict == OnConflict::kError)
            return Status::InvalidArgument("line " + std::to_string(lines[i]) + ": an entry with id " + e.id +
                                           " already exists (use --on-conflict skip or replace); nothing was imported");
          if (!(t = store_->Delete(e.id)).ok()) return t;
        }
        if (e.created_at.empty()) e.created_at = NowIsoLocal();
        if (e.updated_at.empty()) e.updated_at = e.created_at;
        if (!(t = store_->InsertRaw(e)).ok()) return where(t);
      } else {
        if (!(t = store_->Add(&e, nullptr)).ok()) return where(t);
      }
      if (can_embed) {
        std::vector<float> v(vecs.begin() + static_cast<long>(i * d), vecs.begin() + static_cast<long>((i + 1) * d));
        if (!(t = store_->PutSummary(e, v)).ok()) return t;
      }
      ++*imported;
    }
    return Status::OK();
  });
  if (!s.ok()) {
    *imported = *skipped = 0;
    if (index_) index_->MarkStale();
    entry_cache_->Clear();
    return s;
  }
  entry_cache_->Clear();
  store_->DataVersion(&data_version_);
  return Status::OK();
}

Status Engine::Export(std::ostream& out, size_t* exported) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  std::vector<store::Entry> all;
  Status s = store_->List({}, &all);
  if (!s.ok()) return s;
  // Oldest first, so an import replays the history in order.
  std::sort(all.begin(), all.end(), [](const store::Entry& a, const store::Entry& b) {
    return a.created_at != b.created_at ? a.created_at < b.created_at : a.id < b.id;
  });
  for (const auto& e : all) out << store::EntryToJson(e).dump() << '\n';
  out.flush();
  if (!out) return Status::IOError("writing the export failed");
  *exported = all.size();
  return Status::OK();
}

Status Engine::Stats(EngineStats* out) {
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
  st.entry_cache = entry_cache_->stats();
  st.query_cache = query_cache_->stats();
  st.cache_max_size = cfg_.cache_max_size;
  st.cache_ttl_seconds = cfg_.cache_ttl_seconds;
  st.model_state = provider_->state();
  st.model_loads = provider_->load_count();
  st.model_idle_timeout_minutes = cfg_.model_idle_timeout_minutes;
  st.rss_kb = CurrentRssKb();
  st.peak_rss_kb = PeakRssKb();
  *out = std::move(st);
  return Status::OK();
}

nlohmann::json EngineStatsToJson(const EngineStats& st) {
  auto cache_json = [](const EmbeddingCache::Stats& c) {
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
  j["entry_cache"] = cache_json(st.entry_cache);
  j["query_cache"] = cache_json(st.query_cache);
  j["cache_max_size"] = st.cache_max_size;
  j["cache_ttl_seconds"] = st.cache_ttl_seconds;
  j["model_state"] = ModelStateName(st.model_state);
  j["model_loads"] = st.model_loads;
  j["model_idle_timeout_minutes"] = st.model_idle_timeout_minutes;
  j["rss_kb"] = st.rss_kb;
  j["peak_rss_kb"] = st.peak_rss_kb;
  return j;
}

}  // namespace rekall

namespace rekall {

namespace {

// Runs a query returning one integer.
Status QueryCount(sqlite3* db, const std::string& sql, size_t* n) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr);
  if (rc != SQLITE_OK) return store::SqliteError(db, rc, "doctor");
  rc = sqlite3_step(st);
  *n = rc == SQLITE_ROW ? static_cast<size_t>(sqlite3_column_int64(st, 0)) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return store::SqliteError(db, rc, "doctor");
  return Status::OK();
}


// Entries whose FTS row is missing or whose indexed text differs from the
// entry (Rekall's trigger indexes tags before they are written).
const char* kFtsDrift =
    "SELECT COUNT(*) FROM entries e LEFT JOIN entries_fts f ON f.id = e.id WHERE f.id IS NULL "
    "OR f.title IS NOT e.title OR f.content IS NOT e.content "
    "OR COALESCE(f.tags, '') IS NOT COALESCE((SELECT GROUP_CONCAT(tag, ' ') FROM "
    "(SELECT tag FROM tags t WHERE t.entry_id = e.id ORDER BY tag)), '')";

}  // namespace

Status Engine::Doctor(bool fix, std::vector<DoctorFinding>* out, std::string* backup) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  out->clear();
  sqlite3* db = store_->db();
  Status s;
  auto add = [&](const std::string& check, Severity sev, const std::string& msg, size_t n) {
    out->push_back({check, sev, msg, n, false});
    return &out->back();
  };

  // 1. SQLite's own check of the file.
  {
    sqlite3_stmt* st = nullptr;
    int rc = sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr);
    std::string result;
    size_t problems = 0;
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      std::string line = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
      if (line != "ok") {
        ++problems;
        if (result.size() < 500) result += line + "; ";
      }
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_OK) return store::SqliteError(db, rc, "integrity check");
    if (problems) add("integrity", Severity::kError, "PRAGMA integrity_check: " + result + "restore a backup", problems);
    else add("integrity", Severity::kOk, "PRAGMA integrity_check: ok", 0);
  }
  bool has_emb = store_->schema().has_embeddings_table;
  if (store_->schema().pending_migration)
    add("migration", Severity::kWarning, "the database needs `rekall migrate` (opened read-only)", 1);

  size_t orphan_emb = 0, orphan_tags = 0, fts_drift = 0, mismatched = 0, missing = 0;
  if (has_emb &&
      !(s = QueryCount(db, "SELECT COUNT(*) FROM embeddings WHERE entry_id NOT IN (SELECT id FROM entries)", &orphan_emb))
           .ok())
    return s;
  if (!(s = QueryCount(db, "SELECT COUNT(*) FROM tags WHERE entry_id NOT IN (SELECT id FROM entries)", &orphan_tags)).ok())
    return s;
  if (!(s = QueryCount(db, kFtsDrift, &fts_drift)).ok()) return s;
  if (!(s = store_->CountMismatchedSummaries(&mismatched)).ok()) return s;
  std::vector<std::string> missing_ids;
  if (!(s = store_->EntriesWithoutEmbedding("summary", &missing_ids)).ok()) return s;
  missing = missing_ids.size() - std::min(missing_ids.size(), mismatched);

  auto* f_orphan_emb = add("orphan_embeddings", orphan_emb ? Severity::kWarning : Severity::kOk,
                           std::to_string(orphan_emb) + " embeddings belong to no entry", orphan_emb);
  auto idx_orphan_emb = out->size() - 1;
  add("orphan_tags", orphan_tags ? Severity::kWarning : Severity::kOk, std::to_string(orphan_tags) + " tags belong to no entry",
      orphan_tags);
  auto idx_orphan_tags = out->size() - 1;
  add("fts_drift", fts_drift ? Severity::kWarning : Severity::kOk,
      std::to_string(fts_drift) + " entries whose keyword index is missing or out of date", fts_drift);
  auto idx_fts = out->size() - 1;
  add("model_mismatch", mismatched ? Severity::kWarning : Severity::kOk,
      std::to_string(mismatched) + " summary embeddings of another model or dimension (re-embedded by `rekall index "
                                   "rebuild`; never mixed into search)",
      mismatched);
  auto idx_mismatch = out->size() - 1;
  add("missing_embeddings", missing ? Severity::kInfo : Severity::kOk,
      std::to_string(missing) + " entries without an embedding (`rekall index rebuild` adds them)", missing);
  auto idx_missing = out->size() - 1;
  (void)f_orphan_emb;

  // Vector index drift: what the index holds against the embeddings table.
  size_t ours = 0, indexed = 0;
  bool index_ok = false;
  if (has_emb && !store_->schema().read_only) {
    if (!(s = QueryCount(db,
                         "SELECT COUNT(*) FROM embeddings m JOIN entries e ON e.id = m.entry_id WHERE "
                         "m.embedding_type = 'summary' AND m.dimensions = 384 AND length(m.vector) = 1536 AND "
                         "m.model_name IN ('sentence-transformers/all-MiniLM-L6-v2', 'all-MiniLM-L6-v2')",
                         &ours))
             .ok())
      return s;
    s = EnsureIndex();
    if (s.ok()) s = index_->Count(&indexed);
    if (!s.ok()) {
      add("index", Severity::kError, "vector index: " + s.message(), 1);
    } else {
      index_ok = true;
      size_t drift = indexed > ours ? indexed - ours : ours - indexed;
      add("index_drift", drift ? Severity::kWarning : Severity::kOk,
          std::string(index_->name()) + " index holds " + std::to_string(indexed) + " vectors for " +
              std::to_string(ours) + " embeddings",
          drift);
    }
  }
  auto idx_drift = out->size() - 1;

  bool anything = orphan_emb || orphan_tags || fts_drift || (index_ok && indexed != ours) ||
                  ((mismatched || missing) && provider_->CheckAvailable().ok());
  if (!fix || !anything) return Status::OK();
  if (store_->schema().read_only) return Status::IOError("database is read-only; nothing was repaired");

  // Repairs, after a backup.
  std::string b = store_->path() + ".backup-doctor-" + NowIsoLocal().substr(0, 19);
  for (auto& c : b)
    if (c == ':') c = '-';
  if (!(s = store::BackupDatabase(db, b)).ok()) return s.Append("; nothing was repaired");
  if (backup) *backup = b;
  s = store_->WithTransaction([&]() -> Status {
    Status t;
    if (orphan_emb &&
        !(t = store::ExecSql(db, "DELETE FROM embeddings WHERE entry_id NOT IN (SELECT id FROM entries)", "doctor")).ok())
      return t;
    if (orphan_tags && !(t = store::ExecSql(db, "DELETE FROM tags WHERE entry_id NOT IN (SELECT id FROM entries)", "doctor")).ok())
      return t;
    if (fts_drift) {
      // Re-index every entry: delete and insert its FTS row with sorted tags.
      if (!(t = store::ExecSql(db, "DELETE FROM entries_fts", "doctor")).ok()) return t;
      if (!(t = store::ExecSql(db,
                               "INSERT INTO entries_fts(id, title, content, tags) SELECT e.id, e.title, e.content, "
                               "(SELECT GROUP_CONCAT(tag, ' ') FROM (SELECT tag FROM tags t WHERE t.entry_id = e.id "
                               "ORDER BY tag)) FROM entries e",
                               "doctor"))
               .ok())
        return t;
    }
    return Status::OK();
  });
  if (!s.ok()) return s;
  (*out)[idx_orphan_emb].fixed = orphan_emb > 0;
  (*out)[idx_orphan_tags].fixed = orphan_tags > 0;
  (*out)[idx_fts].fixed = fts_drift > 0;
  if ((mismatched || missing) && provider_->CheckAvailable().ok()) {
    size_t n = 0;
    if (!(s = RebuildIndex(false, nullptr, &n)).ok()) return s;
    (*out)[idx_mismatch].fixed = mismatched > 0;
    (*out)[idx_missing].fixed = missing > 0;
  }
  if (index_ok) {
    size_t loaded = 0, skipped = 0;
    if (!(s = index_->Rebuild(&loaded, &skipped)).ok()) return s;
    size_t now = 0;
    index_->Count(&now);
    if (indexed != ours) (*out)[idx_drift].fixed = true;
  }
  store_->DataVersion(&data_version_);
  entry_cache_->Clear();
  return Status::OK();
}

}  // namespace rekall
