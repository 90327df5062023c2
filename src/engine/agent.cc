// The Engine's part for Rekall's agents: reads counted as Rekall counts them,
// links (and the entries they reach), deprecation, stale entries. All of it
// in Rekall's own tables and columns, so Rekall reading the file sees it.
#include <algorithm>

#include "engine/engine_impl.h"

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

Status EngineImpl::Unlink(const std::string& source, const std::string& target, int* removed) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  Touch();
  return store_->RemoveLinks(source, target, removed);
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

Status EngineImpl::RelatedStep(const std::vector<std::string>& from, int depth, std::set<std::string>* seen,
                               std::vector<RelatedEntry>* out, std::vector<std::string>* next) {
  for (const auto& id : from) {
    std::vector<store::Link> links;
    Status s = store_->LinksOf(id, &links);
    if (!s.ok()) return s;
    for (const auto& link : links) {
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

Status EngineImpl::Related(const std::string& id, int depth, std::vector<RelatedEntry>* out) {
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
    s = RelatedStep(frontier, d, &seen, out, &next);
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

}  // namespace rekall
