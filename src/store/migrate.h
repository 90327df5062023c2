// Migration of an existing Rekall database to what this engine needs.
//
// Our changes are additive only, so Rekall itself still opens the file:
//  - before Rekall's schema 3 there is no `embeddings` table: we create it
//    with Rekall's own definition (its migration 3 uses IF NOT EXISTS, so a
//    later Rekall upgrade of the file still works);
//  - our bookkeeping table rekall_engine_meta.
// Rekall's PRAGMA user_version is never changed.
//
// The file is first copied beside itself with SQLite's online backup API
// (knowledge.db.backup-YYYYmmddTHHMMSS, kept), then every change runs in one
// transaction: on any failure it rolls back and the original is as it was.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "util/env.h"
#include "util/status.h"

struct sqlite3;

namespace rekall::store {

struct MigrationStep {
  std::string description;
  std::string sql;
};

struct MigrationPlan {
  int user_version = 0;  // Rekall's, unchanged by us
  int engine_version = 0;  // ours before the migration (0: never used by us)
  std::vector<MigrationStep> steps;
  std::string backup_path;  // where the backup will go
  bool needed() const { return !steps.empty(); }
};

// Inspects `db` (the file at `path`) without changing it. Fails for a file
// that is not a Rekall database or is newer than we know. `env` tells which
// backup names are taken and the time the backup is named after.
Status PlanMigration(sqlite3* db, const std::string& path, MigrationPlan* plan, Env* env = Env::Default());

struct MigrateOptions {
  bool backup = true;
  // Test hook: called before step i runs; a non-ok status aborts (and so
  // rolls back) the migration.
  std::function<Status(size_t i)> before_step;
};

// Backs up, then applies the plan in one transaction. *backup_path receives
// the backup's path.
Status RunMigration(sqlite3* db, const MigrationPlan& plan, const MigrateOptions& opts, std::string* backup_path,
                    Env* env = Env::Default());

// A name for a new backup of `db_path` that no file has yet:
// <db_path>.backup-<kind><YYYYmmddTHHMMSS>, with -1, -2... when taken (two
// backups within a second keep both).
std::string FreeBackupPath(const std::string& db_path, const std::string& kind, Env* env);

// Copies the database behind `db` to `dest` (created 0600 through `env`)
// with the online backup API: a consistent snapshot even while others write.
Status BackupDatabase(sqlite3* db, const std::string& dest, Env* env = Env::Default());

}  // namespace rekall::store
