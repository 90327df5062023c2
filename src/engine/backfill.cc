// The server's background embedding of entries that have no summary
// embedding of ours: a Rekall file opened for the first time with Rekall's
// default configuration has none, and semantic search finds nothing there
// until they exist. `index rebuild` does the same in the foreground, holding
// the engine; here the embedding (about 15 ms of CPU per entry) runs without
// the engine's lock, so searches and writes go on while it works.
#include <algorithm>

#include "engine/engine_impl.h"

namespace rekall {

const char* BackfillStateName(BackfillState s) {
  switch (s) {
    case BackfillState::kOff: return "off";
    case BackfillState::kRunning: return "running";
    case BackfillState::kDone: return "done";
    case BackfillState::kFailed: return "failed";
  }
  return "off";
}

void EngineImpl::SetBackfill(const BackfillStatus& st) {
  std::lock_guard<std::mutex> l(backfill_mu_);
  backfill_ = st;
}

BackfillStatus EngineImpl::GetBackfill() {
  std::lock_guard<std::mutex> l(backfill_mu_);
  return backfill_;
}

void EngineImpl::StartBackgroundEmbedding() {
  std::lock_guard<std::recursive_mutex> l(mu_);
  backfill_wanted_ = true;
  if (store_->schema().read_only || !store_->schema().has_embeddings_table) return;
  if (backfill_thread_.joinable()) {
    if (GetBackfill().state == BackfillState::kRunning) return;
    backfill_thread_.join();  // finished: its last step is written
  }
  if (!provider_->CheckAvailable().ok()) return;
  std::vector<std::string> ids;
  if (!SyncWithOtherWriters().ok()) return;
  // Catching up with another writer's commit may have started it already
  // (RestartBackfillIfBehind, now that it is wanted): a second thread
  // assigned over that one would end the process (std::terminate).
  if (backfill_thread_.joinable()) return;
  if (!store_->EntriesWithoutEmbedding(EmbeddingType::kSummary, &ids).ok() || ids.empty()) return;
  BackfillStatus st;
  st.state = BackfillState::kRunning;
  st.remaining = ids.size();
  SetBackfill(st);
  backfill_thread_ = std::thread([this, ids = std::move(ids)]() mutable { BackfillLoop(std::move(ids)); });
}

void EngineImpl::RestartBackfillIfBehind() {
  if (GetBackfill().state == BackfillState::kRunning) return;
  size_t indexed = 0, entries = 0;
  if (index_ && (!index_->Count(&indexed).ok() || !store_->Count(&entries).ok() || indexed >= entries)) return;
  StartBackgroundEmbedding();
}

void EngineImpl::BackfillLoop(std::vector<std::string> ids) {
  env_->LowerThreadPriority();
  BackfillStatus st = GetBackfill();
  // Rounds: entries that lost or never got their vector meanwhile (another
  // process's import, a restore) are picked up while rounds make progress.
  for (size_t before = st.done; !ids.empty() && !stop_backfill_; before = st.done) {
    if (!BackfillRound(ids, &st)) return;
    std::lock_guard<std::recursive_mutex> l(mu_);
    if (st.done == before || !SyncWithOtherWriters().ok() ||
        !store_->EntriesWithoutEmbedding(EmbeddingType::kSummary, &ids).ok())
      break;
    st.remaining = ids.size();
    SetBackfill(st);
  }
  if (!stop_backfill_) st.state = BackfillState::kDone;
  SetBackfill(st);
}

bool EngineImpl::BackfillRound(const std::vector<std::string>& ids, BackfillStatus* out) {
  BackfillStatus& st = *out;
  for (size_t i = 0; i < ids.size() && !stop_backfill_; i += kBackfillStep) {
    auto first = ids.begin() + static_cast<long>(i);
    std::vector<std::string> step(first, first + static_cast<long>(std::min(kBackfillStep, ids.size() - i)));
    size_t stored = 0;
    Status s = EmbedAndStore(step, &stored);
    if (!s.ok()) {
      st.state = BackfillState::kFailed;
      st.error = s.ToString();
      SetBackfill(st);
      return false;
    }
    st.done += stored;
    st.remaining = ids.size() - i - step.size();
    SetBackfill(st);
  }
  return true;
}

Status EngineImpl::EmbedAndStore(const std::vector<std::string>& ids, size_t* stored) {
  std::vector<store::Entry> batch;
  {
    std::lock_guard<std::recursive_mutex> l(mu_);
    Status s = SyncWithOtherWriters();
    if (s.ok()) s = EnsureIndex();
    for (size_t j = 0; j < ids.size() && s.ok(); ++j) {
      store::Entry e;
      s = store_->Get(ids[j], &e);
      if (s.ok()) batch.push_back(std::move(e));
      if (s.IsNotFound()) s = Status::OK();  // deleted meanwhile
    }
    if (!s.ok()) return s;
  }
  std::vector<float> vecs;
  Status s = batch.empty() ? Status::OK() : EmbedEntries(batch, &vecs);
  if (!s.ok() || batch.empty()) return s;
  std::lock_guard<std::recursive_mutex> l(mu_);
  s = store_->WithTransaction([&]() -> Status {
    for (size_t j = 0; j < batch.size(); ++j) {
      store::Entry now;
      Status t = store_->Get(batch[j].id, &now);
      if (t.IsNotFound()) continue;
      // Changed since it was read: its writer stored the new text's vector.
      if (t.ok() && store::SummaryText(now) != store::SummaryText(batch[j])) continue;
      if (t.ok()) t = store_->PutSummary(now, Row(vecs, j));
      if (!t.ok()) return t;
      ++*stored;
    }
    return Status::OK();
  });
  if (!s.ok() && index_) index_->MarkStale();
  if (s.ok()) store_->DataVersion(&data_version_);
  return s;
}

}  // namespace rekall
