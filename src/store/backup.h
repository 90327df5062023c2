// Whole-file copies of a knowledge base: `rekall backup` and `restore`, the
// check of a file before it is restored, the list of the copies we and
// Rekall made, and the retention of the automatic ones.
//
// Every copy goes through SQLite's online backup API, never a file copy: a
// live database in WAL mode has committed pages in its -wal file that a copy
// of the main file would miss. A restore copies the other way, into the live
// file, inside one write transaction of the destination: other processes see
// the old database or the new one, never a mix, and a failure leaves the old.
#pragma once

#include <string>
#include <vector>

#include "store/types.h"
#include "util/env.h"
#include "util/status.h"

namespace rekall::store {

// How many automatic backups of one database (the migration's
// <db>.backup-<YYYYmmddTHHMMSS>, doctor's <db>.backup-doctor-...) are kept,
// each kind apart: the newest, the older ones deleted as a new one is made.
inline constexpr size_t kAutomaticBackupsKept = 3;

// Rekall's folder of explicit backups, under the home folder whatever the
// database's path (Rekall's backup.py), and its names in there:
// knowledge_YYYY-MM-DD_HHMMSS.db, knowledge_<ts>_pre-restore.db before a
// restore. Rekall's `restore` and its list take them; so do ours.
std::string RekallBackupsDir(Env* env);
// A name in `dir` for a new backup that no file has yet (`suffix` "" or
// "_pre-restore"), with -1, -2... when taken.
std::string FreeRekallBackupPath(const std::string& dir, const std::string& suffix, Env* env);

// Opens the file at `path` read-only and checks it is a whole database
// (PRAGMA integrity_check) in a Rekall schema we know: InvalidArgument
// saying what is wrong otherwise. *out: what it holds.
Status InspectDatabaseFile(const std::string& path, DatabaseFileInfo* out, Env* env = Env::Default());

// Copies the database at `db_path` (opened read-only; it must exist) to
// the new file `dest` (0600; its folder created).
Status BackupDatabaseFile(const std::string& db_path, const std::string& dest, Env* env = Env::Default());

// Replaces the database at `db_path` (created 0600 when missing) by the
// content of the file `from`, in one transaction of `db_path`.
Status RestoreDatabaseFile(const std::string& from, const std::string& db_path, Env* env = Env::Default());

// Deletes all but the newest kAutomaticBackupsKept automatic backups of
// `db_path` of `kind` ("" for the migration's, "doctor-"); *removed: their
// paths.
Status PruneAutomaticBackups(const std::string& db_path, const std::string& kind, std::vector<std::string>* removed);

// The backups of `db_path` beside it and those in `rekall_dir`, newest
// first.
Status ListBackupFiles(const std::string& db_path, const std::string& rekall_dir, std::vector<BackupFile>* out);

}  // namespace rekall::store
