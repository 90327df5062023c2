// `rekall doctor`: checks the database and, when asked, repairs what is
// safe, after a backup. Kept apart from the engine's search and write paths,
// as LevelDB keeps its repairer apart from DBImpl; the SQL is the store's
// (store/maintenance.cc).
//
// Checks, in the order they are reported: SQLite's integrity check, a
// pending migration, orphan embeddings and tags, keyword-index drift,
// summaries of another model, summaries holding NaN or Inf, entries without
// an embedding, and the vector index against the embeddings table. Repairs:
// orphans and non-finite summaries deleted, the keyword index rebuilt,
// missing or mismatched embeddings computed (when the model is there), the
// vector index rebuilt. `--quick` (DoctorOptions::quick) runs the integrity
// check and the two drift checks alone.
//
// Every check is one SQL scan or a join by primary key: the doctor reads a
// 10,000-entry store in well under a second (bench/storage/doctor_bench.py).
#include <algorithm>
#include <cmath>

#include "config/resources.h"
#include "engine/engine_impl.h"
#include "store/backup.h"
#include "util/ulid.h"

namespace rekall {

namespace {

Severity WarnIf(size_t n) { return n ? Severity::kWarning : Severity::kOk; }

std::string FtsDriftMessage(size_t n) {
  return std::to_string(n) + " entries whose keyword index is missing or out of date";
}

void MarkFixed(std::vector<DoctorFinding>* out, const std::string& check) {
  for (auto& f : *out)
    if (f.check == check) f.fixed = true;
}

// Which model or sqlite-vec file is used and by which rule, or what is
// missing, how to get it, and every place looked in. A missing model is a
// warning (search falls back to keywords); a missing sqlite-vec is
// information (the brute-force index takes over).
DoctorFinding ResourceFinding(const std::string& check, const config::ResourceLocation& loc, Severity missing) {
  if (loc.found())
    return {check, Severity::kOk, loc.path + " (" + config::ResourceSourceName(loc.source) + ")", 0, false};
  std::string tried;
  for (const auto& t : loc.tried) tried += (tried.empty() ? "" : ", ") + t;
  return {check, missing, loc.missing + "; looked in: " + tried, 1, false};
}

}  // namespace

// What the checks found, for the repairs.
struct EngineImpl::DoctorCounts {
  size_t orphan_embeddings = 0;
  size_t orphan_tags = 0;
  size_t fts_drift = 0;
  size_t mismatched = 0;  // summaries of another model or dimension
  size_t missing = 0;     // entries with no summary at all
  std::vector<std::string> non_finite;  // entries whose summary holds NaN or Inf
  bool index_checked = false;
  size_t ours = 0;        // our summaries (of existing entries)
  size_t indexed = 0;     // vectors in the vector index
  bool index_drift() const { return index_checked && indexed != ours; }
};

Status EngineImpl::Doctor(const DoctorOptions& opts, std::vector<DoctorFinding>* out, std::string* backup) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  out->clear();
  DoctorCounts c;
  Status s = DoctorCheck(opts.quick, out, &c);
  if (s.ok()) s = DoctorIndexDrift(out, &c);
  if (!s.ok()) return s;
  bool can_embed = false;
  if (!opts.quick) {
    out->push_back(ResourceFinding("model", config::LocateModel(cfg_), Severity::kWarning));
    out->push_back(ResourceFinding("sqlite_vec", config::LocateSqliteVec(cfg_), Severity::kInfo));
    can_embed = provider_->CheckAvailable().ok();
  }
  bool anything = c.orphan_embeddings || c.orphan_tags || c.fts_drift || c.index_drift() ||
                  !c.non_finite.empty() || ((c.mismatched || c.missing) && can_embed);
  if (!opts.fix || !anything) return Status::OK();
  if (store_->schema().read_only) return Status::IOError("database is read-only; nothing was repaired");
  return DoctorRepair(c, out, backup);
}

Status EngineImpl::DoctorCheck(bool quick, std::vector<DoctorFinding>* out, DoctorCounts* c) {
  Status s = DoctorIntegrity(out);
  if (s.ok()) s = store_->CountFtsDrift(&c->fts_drift);
  if (!s.ok()) return s;
  if (!quick) return DoctorRowChecks(out, c);
  out->push_back({"fts_drift", WarnIf(c->fts_drift), FtsDriftMessage(c->fts_drift), c->fts_drift, false});
  return Status::OK();
}

Status EngineImpl::DoctorIntegrity(std::vector<DoctorFinding>* out) {
  std::vector<std::string> problems;
  Status s = store_->IntegrityCheck(&problems);
  if (!s.ok()) return s;
  if (problems.empty()) {
    out->push_back({"integrity", Severity::kOk, "PRAGMA integrity_check: ok", 0, false});
  } else {
    std::string result;
    for (const auto& p : problems)
      if (result.size() < 500) result += p + "; ";
    out->push_back({"integrity", Severity::kError, "PRAGMA integrity_check: " + result + "restore a backup",
                    problems.size(), false});
  }
  if (store_->schema().pending_migration)
    out->push_back({"migration", Severity::kWarning, "the database needs `rekall migrate` (opened read-only)", 1,
                    false});
  return Status::OK();
}

Status EngineImpl::DoctorRowChecks(std::vector<DoctorFinding>* out, DoctorCounts* c) {
  auto add = [&](const std::string& check, Severity sev, const std::string& msg, size_t n) {
    out->push_back({check, sev, msg, n, false});
  };
  Status s;
  std::vector<std::string> missing_ids;
  if (!(s = store_->CountOrphanEmbeddings(&c->orphan_embeddings)).ok() ||
      !(s = store_->CountOrphanTags(&c->orphan_tags)).ok() ||
      !(s = store_->CountMismatchedSummaries(&c->mismatched)).ok() ||
      !(s = store_->EntriesWithoutEmbedding(EmbeddingType::kSummary, &missing_ids)).ok())
    return s;
  // Entries whose only summary is of another model are counted as mismatched.
  c->missing = missing_ids.size() - std::min(missing_ids.size(), c->mismatched);

  add("orphan_embeddings", WarnIf(c->orphan_embeddings),
      std::to_string(c->orphan_embeddings) + " embeddings belong to no entry", c->orphan_embeddings);
  add("orphan_tags", WarnIf(c->orphan_tags), std::to_string(c->orphan_tags) + " tags belong to no entry",
      c->orphan_tags);
  add("fts_drift", WarnIf(c->fts_drift), FtsDriftMessage(c->fts_drift), c->fts_drift);
  add("model_mismatch", WarnIf(c->mismatched),
      std::to_string(c->mismatched) +
          " summary embeddings of another model or dimension (re-embedded by `rekall index rebuild`; never mixed "
          "into search)",
      c->mismatched);
  if (!(s = FindNonFiniteSummaries(&c->non_finite)).ok()) return s;
  add("non_finite_vectors", WarnIf(c->non_finite.size()),
      std::to_string(c->non_finite.size()) +
          " summary embeddings hold NaN or infinite values or malformed bytes (no search can find them; --fix deletes them and "
          "re-embeds when the model is there, else `rekall index rebuild` does)",
      c->non_finite.size());
  add("missing_embeddings", c->missing ? Severity::kInfo : Severity::kOk,
      std::to_string(c->missing) + " entries without an embedding (`rekall index rebuild` adds them)", c->missing);
  return Status::OK();
}

// Summaries of ours with a NaN or infinite component: every distance to them
// is NaN, so they silently drop out of semantic search.
Status EngineImpl::FindNonFiniteSummaries(std::vector<std::string>* ids) {
  if (!store_->schema().has_embeddings_table) return Status::OK();
  std::vector<store::StoredEmbedding> all;
  Status s = store_->ListEmbeddings(EmbeddingType::kSummary, &all);
  if (!s.ok()) return s;
  for (const auto& e : all) {
    if (!IsOurEmbedding(e.model_name, e.dimensions)) continue;
    if (e.vector.size() != static_cast<size_t>(e.dimensions) ||  // malformed bytes
        std::any_of(e.vector.begin(), e.vector.end(), [](float v) { return !std::isfinite(v); }))
      ids->push_back(e.entry_id);
  }
  return Status::OK();
}

Status EngineImpl::DoctorIndexDrift(std::vector<DoctorFinding>* out, DoctorCounts* c) {
  if (!store_->schema().has_embeddings_table) return Status::OK();
  // Opening the index of a read-only file could not build it: nothing to
  // compare, and the report says so rather than look complete.
  if (store_->schema().read_only) {
    out->push_back({"index_drift", Severity::kInfo, "not checked: the file is read-only, so the vector index cannot "
                                                    "be opened to compare", 0, false});
    return Status::OK();
  }
  Status s = store_->CountOurSummaries(&c->ours);
  if (!s.ok()) return s;
  s = EnsureIndex();
  if (s.ok()) s = index_->Count(&c->indexed);
  if (!s.ok()) {
    out->push_back({"index", Severity::kError, "vector index: " + s.message(), 1, false});
    return Status::OK();
  }
  c->index_checked = true;
  size_t drift = c->indexed > c->ours ? c->indexed - c->ours : c->ours - c->indexed;
  out->push_back({"index_drift", WarnIf(drift),
                  std::string(index_->name()) + " index holds " + std::to_string(c->indexed) + " vectors for " +
                      std::to_string(c->ours) + " embeddings",
                  drift, false});
  return Status::OK();
}

Status EngineImpl::DoctorRepair(const DoctorCounts& c, std::vector<DoctorFinding>* out, std::string* backup) {
  std::string b = store::FreeBackupPath(store_->path(), "doctor-", env_);
  Status s = store_->Backup(b);
  if (!s.ok()) return s.Append("; nothing was repaired");
  if (backup) *backup = b;
  std::vector<std::string> pruned;
  (void)store::PruneAutomaticBackups(store_->path(), "doctor-", &pruned);  // best effort, as after a migration
  if (!(s = DoctorRepairRows(c, out)).ok()) return s;
  if ((c.mismatched || c.missing || !c.non_finite.empty()) && provider_->CheckAvailable().ok()) {
    size_t n = 0;
    if (!(s = RebuildIndex(false, nullptr, &n)).ok()) return s;
    if (c.mismatched) MarkFixed(out, "model_mismatch");
    if (c.missing) MarkFixed(out, "missing_embeddings");
  }
  if (c.index_checked) {
    size_t loaded = 0, skipped = 0;
    if (!(s = index_->Rebuild(&loaded, &skipped)).ok()) return s;
    if (c.index_drift()) MarkFixed(out, "index_drift");
  }
  store_->DataVersion(&data_version_);
  entry_cache_->Clear();
  return Status::OK();
}

Status EngineImpl::DoctorRepairRows(const DoctorCounts& c, std::vector<DoctorFinding>* out) {
  Status s = store_->WithTransaction([&]() -> Status {
    Status t;
    if (c.orphan_embeddings && !(t = store_->DeleteOrphanEmbeddings()).ok()) return t;
    if (c.orphan_tags && !(t = store_->DeleteOrphanTags()).ok()) return t;
    if (c.fts_drift && !(t = store_->RebuildFts()).ok()) return t;
    for (const auto& id : c.non_finite)
      if (!(t = store_->DeleteEmbedding(id, EmbeddingType::kSummary)).ok()) return t;
    return Status::OK();
  });
  if (!s.ok()) return s;
  if (c.orphan_embeddings) MarkFixed(out, "orphan_embeddings");
  if (c.orphan_tags) MarkFixed(out, "orphan_tags");
  if (c.fts_drift) MarkFixed(out, "fts_drift");
  if (!c.non_finite.empty()) MarkFixed(out, "non_finite_vectors");
  return Status::OK();
}

}  // namespace rekall
