// `rekall vacuum`: gives the space of deleted entries back to the file
// system. SQLite's VACUUM returns the pages of deleted rows, tags,
// embeddings and (once merged) FTS postings; sqlite-vec's vec0 table never
// frees the space of a deleted row, so it is rebuilt from the embeddings
// table first (DROP + CREATE: its old pages become free pages VACUUM drops).
// Nothing of an entry is lost: VACUUM copies every live page atomically, and
// the vec0 table is derived data the index can always rebuild.
#include "engine/engine_impl.h"

namespace rekall {

Status EngineImpl::Vacuum(VacuumReport* out) {
  std::lock_guard<std::recursive_mutex> l(mu_);
  VacuumReport r;
  r.database = store_->path();
  // Damage first: a damaged file is opened read-only, and damage is what to say.
  std::vector<std::string> problems;
  Status s = store_->IntegrityCheck(&problems);
  if (!s.ok()) return s.Append("; nothing was vacuumed");
  if (!problems.empty())
    return Status::Corruption("database " + r.database + " fails SQLite's integrity check (" + problems[0] +
                              "); nothing was vacuumed. Run `rekall doctor` for the details");
  if (store_->schema().read_only)
    return Status::IOError("database " + r.database + " is read-only; nothing was vacuumed");
  size_t after = 0;
  if (!(s = store_->Count(&r.entries)).ok() || !(s = store_->DatabaseBytes(&r.bytes_before)).ok()) return s;
  if (store_->schema().has_embeddings_table && !(s = VacuumVectorIndex(&r)).ok()) return s;
  if (!(s = store_->Vacuum()).ok()) return s;
  if (!(s = store_->DatabaseBytes(&r.bytes_after)).ok() || !(s = store_->Count(&after)).ok()) return s;
  if (after != r.entries)  // VACUUM copies rows, it never drops one: a bug if it did
    return Status::Internal("vacuum left " + std::to_string(after) + " entries of " + std::to_string(r.entries));
  store_->DataVersion(&data_version_);
  entry_cache_->Clear();
  *out = std::move(r);
  return Status::OK();
}

Status EngineImpl::VacuumVectorIndex(VacuumReport* r) {
  Status s = EnsureIndex();
  if (!s.ok()) return s;
  if (std::string(index_->name()) != "sqlite-vec") {
    r->notice = "sqlite-vec is not loaded (" + std::string(index_->name()) +
                " index in use): a vec0 table in the file keeps the space of deleted vectors";
    return Status::OK();
  }
  size_t loaded = 0, skipped = 0;
  s = index_->Rebuild(&loaded, &skipped);
  r->vector_index_rebuilt = s.ok();
  return s;
}

}  // namespace rekall
