// Store maintenance: the SQL behind `rekall doctor` (checks and repairs),
// backups, and the few other calls the engine needs beside reads and writes.
#include <sqlite3.h>

#include "store/migrate.h"
#include "store/store.h"

namespace rekall::store {

namespace {

// Entries whose FTS row is missing or whose indexed text differs from the
// entry (Rekall's trigger indexes tags before they are written).
constexpr const char* kFtsDriftSql =
    "SELECT COUNT(*) FROM entries e LEFT JOIN entries_fts f ON f.id = e.id WHERE f.id IS NULL "
    "OR f.title IS NOT e.title OR f.content IS NOT e.content "
    "OR COALESCE(f.tags, '') IS NOT COALESCE((SELECT GROUP_CONCAT(tag, ' ') FROM "
    "(SELECT tag FROM tags t WHERE t.entry_id = e.id ORDER BY tag)), '')";

// Every entry's FTS row, with its tags sorted as WriteTags leaves them.
constexpr const char* kFtsRebuildSql =
    "DELETE FROM entries_fts; "
    "INSERT INTO entries_fts(id, title, content, tags) SELECT e.id, e.title, e.content, "
    "(SELECT GROUP_CONCAT(tag, ' ') FROM (SELECT tag FROM tags t WHERE t.entry_id = e.id ORDER BY tag)) "
    "FROM entries e";

constexpr const char* kOurSummariesSql =
    "SELECT COUNT(*) FROM embeddings m JOIN entries e ON e.id = m.entry_id WHERE "
    "m.embedding_type = 'summary' AND m.dimensions = 384 AND length(m.vector) = 1536 AND "
    "m.model_name IN ('sentence-transformers/all-MiniLM-L6-v2', 'all-MiniLM-L6-v2')";

// Runs a query returning one integer.
Status QueryCount(sqlite3* db, const char* sql, size_t* n) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &st, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, "doctor");
  rc = sqlite3_step(st);
  *n = rc == SQLITE_ROW ? static_cast<size_t>(sqlite3_column_int64(st, 0)) : 0;
  sqlite3_finalize(st);
  if (rc != SQLITE_ROW) return SqliteError(db, rc, "doctor");
  return Status::OK();
}

}  // namespace

Status Store::IntegrityCheck(std::vector<std::string>* problems) {
  problems->clear();
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_, "PRAGMA integrity_check", -1, &st, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, "integrity check");
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    const unsigned char* t = sqlite3_column_text(st, 0);
    std::string line = t ? reinterpret_cast<const char*>(t) : "";
    if (line != "ok") problems->push_back(line);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return SqliteError(db_, rc, "integrity check");
  return Status::OK();
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
  return QueryCount(db_, kOurSummariesSql, n);
}

Status Store::DeleteOrphanEmbeddings() {
  return ExecSql(db_, "DELETE FROM embeddings WHERE entry_id NOT IN (SELECT id FROM entries)", "doctor");
}

Status Store::DeleteOrphanTags() {
  return ExecSql(db_, "DELETE FROM tags WHERE entry_id NOT IN (SELECT id FROM entries)", "doctor");
}

Status Store::RebuildFts() {
  return WithTransaction([&] { return ExecSql(db_, kFtsRebuildSql, "doctor"); });
}

Status Store::DeleteEmbedding(const std::string& entry_id, const std::string& type) {
  sqlite3_stmt* st = nullptr;
  int rc = sqlite3_prepare_v2(db_, "DELETE FROM embeddings WHERE entry_id = ? AND embedding_type = ?", -1, &st,
                              nullptr);
  if (rc != SQLITE_OK) return SqliteError(db_, rc, "dropping stale embedding");
  sqlite3_bind_text(st, 1, entry_id.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, type.c_str(), -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return SqliteError(db_, rc, "dropping stale embedding");
  return Status::OK();
}

Status Store::Backup(const std::string& dest) { return BackupDatabase(db_, dest); }

Status Store::GetMigrationPlan(MigrationPlan* plan) { return store::PlanMigration(db_, path_, plan); }

void Store::ReleaseMemory() { sqlite3_db_release_memory(db_); }

}  // namespace rekall::store
