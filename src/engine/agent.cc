// The Engine's part for Rekall's agents: reads counted as Rekall counts them,
// links (and the entries they reach), deprecation, stale entries. All of it
// in Rekall's own tables and columns, so Rekall reading the file sees it.
#include <algorithm>
#include <cctype>
#include <iterator>
#include <map>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "engine/engine_impl.h"
#include "store/rekall_values.h"
#include "util/ulid.h"

namespace rekall {

Status EngineImpl::Search(const SearchRequest& req, SearchResponse* resp) {
  Status s = SearchEntries(req, resp);
  if (s.ok()) RecordReads(resp->results);
  return s;
}

void EngineImpl::RecordReads(const std::vector<SearchResult>& results) {
  std::vector<std::string> ids;
  for (const auto& r : results) ids.push_back(r.entry.id);
  std::lock_guard<std::recursive_mutex> l(mu_);
  (void)store_->RecordAccess(ids);  // best effort (see engine_impl.h)
}

Status EngineImpl::Read(const std::string& id, store::Entry* e) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  Status s = store_->Get(id, e);
  if (s.ok()) (void)store_->RecordAccess({id});  // best effort, as in Search
  return s;
}

Status EngineImpl::Link(store::Link* l) {
  std::lock_guard<std::recursive_mutex> lock(mu_);
  Touch();
  return store_->AddLink(l);
}

Status EngineImpl::Unlink(const std::string& source, const std::string& target,
                          const std::optional<std::string>& type, int* removed) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->RemoveLinks(source, target, type, removed);
}

Status EngineImpl::LinksOf(const std::string& id, std::vector<store::Link>* out) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->LinksOf(id, out);
}

Status EngineImpl::CountLinks(size_t* n) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  return store_->CountLinks(n);
}

Status EngineImpl::RelatedStep(const std::vector<std::string>& from, int depth, const std::optional<std::string>& type,
                               std::set<std::string>* seen, std::vector<RelatedEntry>* out,
                               std::vector<std::string>* next) {
  for (const auto& id : from) {
    std::vector<store::Link> links;
    Status s = store_->LinksOf(id, &links);
    if (!s.ok()) return s;
    for (const auto& link : links) {
      if (type && link.relation_type != *type) continue;
      RelatedEntry r;
      r.outgoing = link.source_id == id;
      const std::string& other = r.outgoing ? link.target_id : link.source_id;
      if (!seen->insert(other).second) continue;
      if (!(s = store_->Get(other, &r.entry)).ok()) return s;
      r.relation_type = link.relation_type;
      r.depth = depth;
      r.reason = link.reason;
      next->push_back(other);
      out->push_back(std::move(r));
    }
  }
  return Status::OK();
}

Status EngineImpl::Related(const std::string& id, int depth, const std::optional<std::string>& type,
                           std::vector<RelatedEntry>* out) {
  out->clear();
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  bool exists = false;
  Status s = store_->Exists(id, &exists);
  if (s.ok() && !exists) s = Status::NotFound("no entry with id " + id);
  std::set<std::string> seen{id};
  std::vector<std::string> frontier{id};
  int max_depth = std::clamp(depth, 1, kMaxRelatedDepth);
  for (int d = 1; s.ok() && d <= max_depth && !frontier.empty(); ++d) {
    std::vector<std::string> next;
    s = RelatedStep(frontier, d, type, &seen, out, &next);
    frontier = std::move(next);
  }
  return s;
}

Status EngineImpl::Deprecate(const std::string& id, const std::optional<std::string>& replaced_by,
                             store::Entry* out, std::string* notice) {
  if (replaced_by) {
    bool exists = false;
    Status s = Exists(*replaced_by, &exists);
    if (!s.ok()) return s;
    if (!exists) return Status::NotFound("no entry with id " + *replaced_by + " (replaced_by)");
  }
  // What Rekall's `deprecate` writes: the status, and the successor or none.
  auto apply = [&replaced_by](store::Entry* e) {
    e->status = store::kObsoleteStatus;
    e->superseded_by = replaced_by;
    return Status::OK();
  };
  return Patch(id, apply, out, notice);
}

Status EngineImpl::Stale(int days, int limit, std::vector<store::Entry>* out) {
  if (days < 0) return Status::InvalidArgument("days must be >= 0");
  if (limit < 0) return Status::InvalidArgument("limit must be >= 0");
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->StaleEntries(days, limit, out);
}

// Rekall's review dates are local calendar days (date.today()).
std::string EngineImpl::Today() const { return IsoLocal(env_->NowSystem()).substr(0, 10); }

Status EngineImpl::DueForReview(const std::optional<std::string>& project, int limit,
                                std::vector<store::DueReview>* out) {
  if (limit < 0) return Status::InvalidArgument("limit must be >= 0");
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->DueForReview(project, limit, Today(), out);
}

Status EngineImpl::RecordReview(const std::string& id, int quality, store::ReviewSchedule* out) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->RecordReview(id, quality, Today(), out);
}

}  // namespace rekall

namespace rekall {

namespace {

// The trigger keywords of an entry's structured context (none if it has none).
std::set<std::string> ContextKeywords(const store::Entry& e) {
  std::set<std::string> out;
  auto it = e.extra.find("context_structured");
  if (it == e.extra.end() || !it->is_string()) return out;
  auto ctx = nlohmann::json::parse(it->get<std::string>(), nullptr, false);
  if (!ctx.is_object() || !ctx["trigger_keywords"].is_array()) return out;
  for (const auto& k : ctx["trigger_keywords"]) {
    if (!k.is_string()) continue;
    std::string s = k.get<std::string>();
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.insert(s);
  }
  return out;
}

// Rekall's grouping: keywords by how many entries carry them, most first;
// the entries of a keyword not yet grouped form a cluster when there are two
// or more and they all share at least two keywords.
std::vector<KeywordCluster> Clusters(const std::vector<store::Entry>& entries) {
  std::map<std::string, std::vector<size_t>> by_keyword;
  std::vector<std::set<std::string>> kws;
  for (size_t i = 0; i < entries.size(); ++i) {
    kws.push_back(ContextKeywords(entries[i]));
    for (const auto& k : kws.back()) by_keyword[k].push_back(i);
  }
  std::vector<std::pair<std::string, std::vector<size_t>>> order(by_keyword.begin(), by_keyword.end());
  std::stable_sort(order.begin(), order.end(), [](const auto& a, const auto& b) { return a.second.size() > b.second.size(); });
  std::set<size_t> used;
  std::vector<KeywordCluster> out;
  for (const auto& [kw, members] : order) {
    std::vector<size_t> free;
    for (size_t i : members)
      if (!used.count(i)) free.push_back(i);
    if (free.size() < 2) continue;
    std::set<std::string> common = kws[free[0]];
    for (size_t i : free) {
      std::set<std::string> both;
      std::set_intersection(common.begin(), common.end(), kws[i].begin(), kws[i].end(), std::inserter(both, both.end()));
      common = std::move(both);
    }
    if (common.size() < 2) continue;
    KeywordCluster c{{common.begin(), common.end()}, {}};
    for (size_t i : free) {
      c.entries.push_back(entries[i]);
      used.insert(i);
    }
    out.push_back(std::move(c));
  }
  return out;
}

// "Pattern: " and the first words of the sources' titles, each once.
std::string GeneralTitle(const std::vector<store::Entry>& sources) {
  std::vector<std::string> words;
  for (const auto& e : sources) {
    std::istringstream in(e.title);
    std::string w;
    for (int n = 0; n < 3 && in >> w; ++n)
      if (std::find(words.begin(), words.end(), w) == words.end()) words.push_back(w);
  }
  std::string title = "Pattern:";
  for (size_t i = 0; i < words.size() && i < 5; ++i) title += " " + words[i];
  return title;
}

// Content, tags (of two sources or more, at most five) and project.
void GeneralFields(const std::vector<store::Entry>& sources, store::Entry* e) {
  e->content = "## Generalized from " + std::to_string(sources.size()) + " entries\n\n### Source Entries:\n";
  std::map<std::string, int> tag_count;
  for (const auto& s : sources) {
    e->content += "- [" + s.id.substr(0, 12) + "...] " + s.title + " (" + s.type + ")\n";
    for (const auto& t : s.tags) ++tag_count[t];
  }
  e->tags.clear();
  for (const auto& [t, n] : tag_count)
    if (n >= 2 && e->tags.size() < 5) e->tags.push_back(t);
  e->project = sources[0].project;
  e->confidence = 3;
}

}  // namespace

Status EngineImpl::GetContexts(const std::vector<std::string>& ids, std::vector<std::optional<std::string>>* out) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  // An id nobody stored is a mistake to report, not an entry without context.
  for (const auto& id : ids) {
    bool exists = false;
    Status s = store_->Exists(id, &exists);
    if (!s.ok()) return s;
    if (!exists) return Status::NotFound("no entry with id " + id);
  }
  return store_->StoredContexts(ids, out);
}

Status EngineImpl::WriteGeneralized(store::Entry* e, const std::vector<std::string>& sources) {
  std::vector<float> vec;
  bool have_vec = false;
  std::string why;
  Status s = BeginWrite(e);
  if (s.ok()) s = SummaryVector(*e, &vec, &have_vec, &why);
  if (s.ok() && have_vec) s = EnsureIndex();
  if (!s.ok()) return s;
  std::string reason = "Generalized from " + std::to_string(sources.size()) + " entries";
  return AfterWrite(e->id, store_->WithTransaction([&]() -> Status {
    Status t = store_->Add(e, have_vec ? &vec : nullptr);
    for (size_t i = 0; t.ok() && i < sources.size(); ++i) {
      store::Link link{"", e->id, sources[i], "derived_from", "", reason};
      t = store_->AddLink(&link);
    }
    return t;
  }));
}

Status EngineImpl::DraftGeneralizedLocked(const std::vector<std::string>& asked, store::Entry* e,
                                          std::vector<std::string>* ids) {
  for (const auto& id : asked)
    if (std::find(ids->begin(), ids->end(), id) == ids->end()) ids->push_back(id);
  if (ids->size() < 2) return Status::InvalidArgument("at least 2 distinct entry ids are needed to generalize");
  if (!store_->has_links_table()) return Status::Unavailable("this database has no links table; run `rekall migrate`");
  std::vector<store::Entry> sources(ids->size());
  for (size_t i = 0; i < ids->size(); ++i) {
    Status s = store_->Get((*ids)[i], &sources[i]);
    if (!s.ok()) return s;
  }
  if (e->title.empty()) e->title = GeneralTitle(sources);
  if (e->type.empty()) e->type = "pattern";
  GeneralFields(sources, e);
  return Status::OK();
}

Status EngineImpl::DraftGeneralized(const std::vector<std::string>& asked, store::Entry* e) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  std::vector<std::string> ids;
  return DraftGeneralizedLocked(asked, e, &ids);
}

Status EngineImpl::Generalize(const std::vector<std::string>& asked, store::Entry* e, std::string* notice) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  std::vector<std::string> ids;
  Status s = DraftGeneralizedLocked(asked, e, &ids);
  if (s.ok()) s = WriteGeneralized(e, ids);
  if (s.ok() && notice && !store_->schema().has_embeddings_table) *notice = "stored without an embedding";
  return s;
}

Status EngineImpl::Suggest(const std::optional<std::string>& type, int limit, bool clusters, Suggestions* out) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  Status s = store_->PendingSuggestions(type, std::max(limit, 0), &out->pending);
  std::vector<store::Entry> with_context;
  if (s.ok() && clusters) s = store_->EntriesWithContext(500, &with_context);  // Rekall's window
  if (s.ok()) out->clusters = Clusters(with_context);
  return s;
}

Status EngineImpl::SourcesFor(const std::string& id, int limit, std::vector<store::Source>* out) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  store::Entry e;
  Status s = store_->Get(id, &e);
  if (!s.ok()) return s;
  std::vector<std::string> themes;
  for (size_t i = 0; i < e.tags.size() && i < 5; ++i) {
    std::string t = e.tags[i];
    for (auto& c : t) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    themes.push_back(t);
  }
  return store_->SourcesWithThemes(themes, std::max(limit, 0), out);
}

Status EngineImpl::SourcesToVerify(int limit, std::vector<store::Source>* out) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->SourcesToVerify(std::max(limit, 0), out);
}

}  // namespace rekall

namespace rekall {

Status EngineImpl::NearestFiltered(const std::vector<float>& q, int k, const store::ListFilter& f,
                                   std::vector<Hit>* hits) {
  const int dim = static_cast<int>(q.size());
  if (!f.memory_type) return index_->Search(q.data(), dim, k, ToIndexFilter(f), hits);
  for (int want = k;; want *= 4) {
    std::vector<Hit> all;
    Status s = index_->Search(q.data(), dim, want, ToIndexFilter(f), &all);
    if (!s.ok()) return s;
    hits->clear();
    for (const auto& h : all) {
      store::Entry e;
      if (!store_->Get(h.entry_id, &e).ok()) continue;
      if (store::MemoryTypeOf(e) == *f.memory_type) hits->push_back(h);
      if (static_cast<int>(hits->size()) == k) return Status::OK();
    }
    if (static_cast<int>(all.size()) < want || want > (1 << 24)) return Status::OK();  // the index has no more
  }
}

}  // namespace rekall
