// Rekall's second embedding of an entry: its structured context ("Situation:
// ...\nSolution: ..."), written when [smart_embeddings] enabled asks for it.
// Rekall stores it and never reads it; our semantic and hybrid search rank
// an entry by the better of its two vectors, so a query phrased like the
// situation finds the entry even when title and content use other words.
//
// Only entries given a context have one (a minority), so they are scanned
// from an in-memory copy rather than indexed: 1,000 of them are 1.5 MB and a
// few hundred microseconds of dot products per query. The copy is dropped on
// every write and on another process's commit, and reloaded on next use.
#include <algorithm>

#include "engine/engine_impl.h"
#include "index/simd.h"
#include "store/rekall_context.h"
#include "util/our_embeddings.h"

namespace rekall {

namespace {

bool PassesFilter(const store::Entry& e, const store::ListFilter& f) {
  if (f.type && e.type != *f.type) return false;
  if (f.project && e.project.value_or("") != *f.project) return false;
  if (f.status && e.status != *f.status) return false;
  for (const auto& t : f.tags)
    if (std::find(e.tags.begin(), e.tags.end(), t) == e.tags.end()) return false;
  return !f.memory_type || store::MemoryTypeOf(e) == *f.memory_type;
}

}  // namespace

void EngineImpl::KeepContextVector(const store::Entry& e, std::string* notice) {
  if (!cfg_.smart_embeddings || !store_->schema().has_embeddings_table) return;
  context_vectors_loaded_ = false;
  auto it = e.extra.find("context_structured");
  std::string text = it != e.extra.end() && it->is_string() ? store::ContextEmbeddingText(it->get<std::string>()) : "";
  Status s;
  if (text.empty()) {
    s = store_->DeleteEmbedding(e.id, EmbeddingType::kContext);
    if (s.IsNotFound()) s = Status::OK();
  } else {
    std::vector<float> vec;
    s = provider_->CheckAvailable();
    if (s.ok()) s = provider_->Embed({text}, &vec, std::chrono::hours(1));
    if (s.ok()) s = store_->PutContextEmbedding(e.id, vec);
  }
  if (!s.ok() && notice)
    *notice += (notice->empty() ? "" : "; ") + std::string("the context embedding was not stored (") + s.message() + ")";
}

Status EngineImpl::LoadContextVectors() {
  if (context_vectors_loaded_) return Status::OK();
  context_ids_.clear();
  context_matrix_.clear();
  std::vector<store::StoredEmbedding> all;
  Status s = store_->ListEmbeddings(EmbeddingType::kContext, &all);
  if (!s.ok()) return s;
  for (const auto& emb : all) {
    if (!IsOurEmbedding(emb.model_name, emb.dimensions) || emb.vector.size() != static_cast<size_t>(kOurDim)) continue;
    context_ids_.push_back(emb.entry_id);
    context_matrix_.insert(context_matrix_.end(), emb.vector.begin(), emb.vector.end());
  }
  context_vectors_loaded_ = true;
  return Status::OK();
}

Status EngineImpl::ContextHits(const std::vector<float>& q, int k, const store::ListFilter& f, std::vector<Hit>* hits) {
  hits->clear();
  if (!store_->schema().has_embeddings_table || q.size() != static_cast<size_t>(kOurDim)) return Status::OK();
  Status s = LoadContextVectors();
  if (!s.ok() || context_ids_.empty()) return s;
  // Rows of kOurDim (384) floats need no padding to the kernels' lanes.
  static_assert(kOurDim % simd::kFloatLanes == 0);
  std::vector<float> scores(context_ids_.size());
  simd::Best().dot_rows(q.data(), context_matrix_.data(), kOurDim, context_ids_.size(), scores.data());
  std::vector<Hit> all(context_ids_.size());
  for (size_t i = 0; i < context_ids_.size(); ++i) all[i] = Hit{context_ids_[i], scores[i]};
  std::sort(all.begin(), all.end(), [](const Hit& a, const Hit& b) {
    return a.score != b.score ? a.score > b.score : a.entry_id < b.entry_id;
  });
  for (const auto& h : all) {
    store::Entry e;
    Status g = store_->Get(h.entry_id, &e);
    if (g.IsNotFound()) continue;
    if (!g.ok()) return g;
    if (!PassesFilter(e, f)) continue;
    hits->push_back(h);
    if (static_cast<int>(hits->size()) == k) break;
  }
  return Status::OK();
}

Status EngineImpl::VectorHits(const std::vector<float>& q, int k, const store::ListFilter& f, std::vector<Hit>* hits) {
  Status s = NearestFiltered(q, k, f, hits);
  std::vector<Hit> by_context;
  if (s.ok()) s = ContextHits(q, k, f, &by_context);
  if (!s.ok() || by_context.empty()) return s;
  // An entry scores by the better of its summary and its context.
  for (const auto& c : by_context) {
    auto it = std::find_if(hits->begin(), hits->end(), [&](const Hit& h) { return h.entry_id == c.entry_id; });
    if (it == hits->end()) hits->push_back(c);
    else it->score = std::max(it->score, c.score);
  }
  std::sort(hits->begin(), hits->end(), [](const Hit& a, const Hit& b) {
    return a.score != b.score ? a.score > b.score : a.entry_id < b.entry_id;
  });
  if (hits->size() > static_cast<size_t>(k)) hits->resize(static_cast<size_t>(k));
  return Status::OK();
}

}  // namespace rekall
