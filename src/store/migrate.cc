#include "store/migrate.h"

#include <chrono>
#include <ctime>

#include "sqlite/sqlite.h"
#include "store/schema.h"
#include "store/store.h"

namespace rekall::store {

namespace {

bool HasTable(sqlite3* db, const char* name, Status* err) {
  sqlite::Stmt st(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?");
  *err = st.status("reading the schema");
  if (!err->ok()) return false;
  st.Bind(1, name);
  const int rc = st.Step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) *err = sqlite::ToStatus(db, rc, "reading the schema");
  return rc == SQLITE_ROW;
}

std::string Timestamp(Env* env) {
  std::time_t t = std::chrono::system_clock::to_time_t(env->NowSystem());
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%S", &tm);
  return buf;
}

}  // namespace

std::string FreeBackupPath(const std::string& db_path, const std::string& kind, Env* env) {
  const std::string base = db_path + ".backup-" + kind + Timestamp(env);
  std::string path = base;
  for (int i = 1; env->FileExists(path); ++i) path = base + "-" + std::to_string(i);
  return path;
}

Status PlanMigration(sqlite3* db, const std::string& path, MigrationPlan* plan, Env* env) {
  *plan = MigrationPlan();
  Status err;
  bool has_entries = HasTable(db, "entries", &err);
  if (!err.ok()) return err;
  if (!has_entries)
    return Status::InvalidArgument(path + " is not a Rekall knowledge base (no `entries` table); it was not modified");
  {
    sqlite::Stmt st(db, "PRAGMA user_version");
    if (st.Step() == SQLITE_ROW) plan->user_version = static_cast<int>(st.Int(0));
  }
  if (plan->user_version > kRekallUserVersion)
    return Status::InvalidArgument(path + " has Rekall schema version " + std::to_string(plan->user_version) +
                                   ", newer than this tool knows (" + std::to_string(kRekallUserVersion) +
                                   "); it was not modified");
  if (!HasTable(db, "embeddings", &err)) {
    if (!err.ok()) return err;
    plan->steps.push_back({"create Rekall's `embeddings` table (as Rekall's schema 3 defines it)",
                           RekallEmbeddingsTable()});
  }
  if (!HasTable(db, "rekall_engine_meta", &err)) {
    if (!err.ok()) return err;
    plan->steps.push_back({"create our bookkeeping table `rekall_engine_meta`", EngineSchema()});
  } else {
    sqlite::Stmt st(db, "SELECT value FROM rekall_engine_meta WHERE key='schema_version'");
    if (st.Step() == SQLITE_ROW) plan->engine_version = std::atoi(st.Text(0).c_str());
  }
  if (plan->engine_version < kEngineSchemaVersion) {
    plan->steps.push_back({"record engine schema version " + std::to_string(kEngineSchemaVersion),
                           "INSERT OR REPLACE INTO rekall_engine_meta(key, value) VALUES('schema_version', '" +
                               std::to_string(kEngineSchemaVersion) + "')"});
  }
  if (plan->needed()) {
    plan->steps.push_back({"record the migration (from Rekall schema " + std::to_string(plan->user_version) + ")",
                           "INSERT OR REPLACE INTO rekall_engine_meta(key, value) VALUES('migrated_from_user_version', '" +
                               std::to_string(plan->user_version) + "'), ('migrated_at', datetime('now'))"});
    plan->backup_path = FreeBackupPath(path, "", env);
  }
  return Status::OK();
}

namespace {

// Copies `db` into the empty file `dest` with SQLite's online backup API.
Status CopyDatabase(sqlite3* db, const std::string& dest) {
  sqlite3* out = nullptr;
  int rc = sqlite3_open_v2(dest.c_str(), &out, SQLITE_OPEN_READWRITE, nullptr);
  Status s;
  if (rc == SQLITE_OK) {
    sqlite3_backup* b = sqlite3_backup_init(out, "main", db, "main");
    if (!b) {
      s = sqlite::ToStatus(out, sqlite3_errcode(out), "backing up to " + dest);
    } else {
      rc = sqlite3_backup_step(b, -1);
      int fin = sqlite3_backup_finish(b);
      if (rc != SQLITE_DONE) s = sqlite::ToStatus(out, rc, "backing up to " + dest);
      else if (fin != SQLITE_OK) s = sqlite::ToStatus(out, fin, "backing up to " + dest);
    }
  } else {
    s = sqlite::ToStatus(out, rc, "cannot open backup " + dest);
  }
  // The backup must be one complete file, without a journal beside it.
  if (s.ok()) sqlite3_exec(out, "PRAGMA journal_mode=DELETE", nullptr, nullptr, nullptr);
  sqlite3_close(out);
  return s;
}

}  // namespace

Status BackupDatabase(sqlite3* db, const std::string& dest, Env* env) {
  Status s = env->CreateNewFile(dest, 0600);
  if (!s.ok()) return Status::IOError("cannot create backup " + s.message());
  s = CopyDatabase(db, dest);
  if (!s.ok()) {
    env->RemoveFile(dest);
    return s;
  }
  // On disk before we touch the original (best effort: the copy is whole).
  env->SyncFile(dest);
  return Status::OK();
}

Status RunMigration(sqlite3* db, const MigrationPlan& plan, const MigrateOptions& opts, std::string* backup_path,
                    Env* env) {
  if (!plan.needed()) return Status::OK();
  if (opts.backup) {
    Status s = BackupDatabase(db, plan.backup_path, env);
    if (!s.ok()) return s.Append("; the database was not modified");
    if (backup_path) *backup_path = plan.backup_path;
  }
  sqlite::Transaction txn;
  Status s = txn.Begin(db, "starting the migration");
  if (!s.ok()) return s;
  for (size_t i = 0; i < plan.steps.size() && s.ok(); ++i) {
    if (opts.before_step) s = opts.before_step(i);
    if (s.ok()) s = sqlite::Exec(db, plan.steps[i].sql, "migration step '" + plan.steps[i].description + "'");
  }
  if (s.ok()) s = txn.Commit("committing the migration");
  if (!s.ok()) {
    // txn rolls back as it goes out of scope.
    return s.Append("; rolled back, the database is as it was" +
                    (opts.backup ? " (backup kept at " + plan.backup_path + ")" : std::string()));
  }
  return Status::OK();
}

}  // namespace rekall::store
