// Store maintenance: the SQL behind `rekall doctor` (checks and repairs),
// backups, and the few other calls the engine needs beside reads and writes.
#include "store/migrate.h"
#include "store/store.h"

namespace rekall::store {

namespace {

using sqlite::Stmt;

// Entries whose FTS row is missing or whose indexed text differs from the
// entry (Rekall's trigger indexes tags before they are written): the entries
// with no FTS row, plus the FTS rows that differ from their entry. The FTS
// id column is UNINDEXED, so the scan runs over entries_fts and looks each
// entry up by its primary key; a join the other way scans the whole FTS
// table once per entry (31 s at 10,000 entries).
constexpr const char* kFtsDriftSql =
    "SELECT (SELECT COUNT(*) FROM entries WHERE id NOT IN "
    "(SELECT id FROM entries_fts WHERE id IS NOT NULL)) + "
    "(SELECT COUNT(*) FROM entries_fts f JOIN entries e ON e.id = f.id WHERE "
    "f.title IS NOT e.title OR f.content IS NOT e.content "
    "OR COALESCE(f.tags, '') IS NOT COALESCE((SELECT GROUP_CONCAT(tag, ' ') FROM "
    "(SELECT tag FROM tags t WHERE t.entry_id = e.id ORDER BY tag)), ''))";

// Every entry's FTS row, with its tags sorted as WriteTags leaves them.
constexpr const char* kFtsRebuildSql =
    "DELETE FROM entries_fts; "
    "INSERT INTO entries_fts(id, title, content, tags) SELECT e.id, e.title, e.content, "
    "(SELECT GROUP_CONCAT(tag, ' ') FROM (SELECT tag FROM tags t WHERE t.entry_id = e.id ORDER BY tag)) "
    "FROM entries e";

// Runs a query returning one integer.
Status QueryCount(sqlite3* db, const std::string& sql, size_t* n) {
  *n = 0;
  Stmt st(db, sql);
  Status s = st.status("doctor");
  if (s.ok()) s = st.StepRow("doctor");
  if (s.ok()) *n = static_cast<size_t>(st.Int(0));
  return s;
}

}  // namespace

Status Store::IntegrityCheck(std::vector<std::string>* problems) {
  problems->clear();
  Stmt st(db_, "PRAGMA integrity_check");
  Status s = st.status("integrity check");
  if (!s.ok()) return s;
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    std::string line = st.Text(0);
    if (line != "ok") problems->push_back(line);
  }
  return st.Done(rc, "integrity check");
}

Status Store::CountOrphanEmbeddings(size_t* n) {
  *n = 0;
  if (!schema_.has_embeddings_table) return Status::OK();
  return QueryCount(db_, "SELECT COUNT(*) FROM embeddings WHERE entry_id NOT IN (SELECT id FROM entries)", n);
}

Status Store::CountOrphanTags(size_t* n) {
  return QueryCount(db_, "SELECT COUNT(*) FROM tags WHERE entry_id NOT IN (SELECT id FROM entries)", n);
}

Status Store::CountFtsDrift(size_t* n) { return QueryCount(db_, kFtsDriftSql, n); }

Status Store::CountOurSummaries(size_t* n) {
  *n = 0;
  if (!schema_.has_embeddings_table) return Status::OK();
  return QueryCount(db_, "SELECT COUNT(*) FROM embeddings m JOIN entries e ON e.id = m.entry_id WHERE " +
                             OurSummarySql("m"),
                    n);
}

Status Store::DeleteOrphanEmbeddings() {
  return sqlite::Exec(db_, "DELETE FROM embeddings WHERE entry_id NOT IN (SELECT id FROM entries)", "doctor");
}

Status Store::DeleteOrphanTags() {
  return sqlite::Exec(db_, "DELETE FROM tags WHERE entry_id NOT IN (SELECT id FROM entries)", "doctor");
}

Status Store::RebuildFts() {
  return WithTransaction([&] { return sqlite::Exec(db_, kFtsRebuildSql, "doctor"); });
}

Status Store::DeleteEmbedding(const std::string& entry_id, EmbeddingType type) {
  Stmt st(db_, "DELETE FROM embeddings WHERE entry_id = ?1 AND " + EmbeddingTypeSql("", type));
  Status s = st.status("dropping stale embedding");
  if (!s.ok()) return s;
  st.Bind(1, entry_id);
  return st.Run("dropping stale embedding");
}

Status Store::Backup(const std::string& dest) { return BackupDatabase(db_, dest, env_); }

Status Store::GetMigrationPlan(MigrationPlan* plan) { return store::PlanMigration(db_, path_, plan, env_); }

void Store::ReleaseMemory() {
  if (keyword_index_) keyword_index_->Release();
  sqlite3_db_release_memory(db_);
}

Status Store::DatabaseBytes(uint64_t* bytes) {
  size_t pages = 0, page_size = 0;
  Status s = QueryCount(db_, "PRAGMA page_count", &pages);
  if (s.ok()) s = QueryCount(db_, "PRAGMA page_size", &page_size);
  *bytes = uint64_t(pages) * page_size;
  return s;
}

Status Store::Vacuum() {
  if (!unwritable_.ok()) return unwritable_;
  if (schema_.read_only) return Status::IOError("database " + path_ + " is read-only; nothing was vacuumed");
  if (txn_depth_ > 0) return Status::Internal("vacuum inside a transaction");
  Status s = sqlite::Exec(db_, "INSERT INTO entries_fts(entries_fts) VALUES('optimize')", "merging the keyword index");
  if (s.ok()) s = sqlite::Exec(db_, "VACUUM", "vacuum");
  if (s.ok()) s = sqlite::Exec(db_, "PRAGMA wal_checkpoint(TRUNCATE)", "checkpointing after vacuum");
  return s;
}

}  // namespace rekall::store
