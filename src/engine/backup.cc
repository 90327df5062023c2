// `rekall backup` and `restore`: the Engine's door to store/backup.h.
#include <filesystem>

#include "engine/engine.h"
#include "store/backup.h"

namespace rekall {

Status Engine::Backup(const EngineOptions& opts, const std::string& dest, store::BackupFile* out) {
  *out = store::BackupFile();
  out->path = dest.empty() ? store::FreeRekallBackupPath(store::RekallBackupsDir(opts.env), "", opts.env) : dest;
  if (opts.env->FileExists(out->path))
    return Status::InvalidArgument(out->path + " already exists; a backup never overwrites a file");
  Status s = store::BackupDatabaseFile(opts.db_path, out->path, opts.env);
  if (!s.ok()) return s;
  store::DatabaseFileInfo info;
  // The copy is checked as a restore would check it; a bad copy is removed.
  if (!(s = store::InspectDatabaseFile(out->path, &info, opts.env)).ok()) {
    opts.env->RemoveFile(out->path);
    return s.Append("; the copy was removed");
  }
  out->bytes = info.bytes;
  return Status::OK();
}

Status Engine::ListBackups(const EngineOptions& opts, std::vector<store::BackupFile>* out) {
  return store::ListBackupFiles(opts.db_path, store::RekallBackupsDir(opts.env), out);
}

Status Engine::InspectBackup(const EngineOptions& opts, const std::string& file, store::DatabaseFileInfo* out) {
  return store::InspectDatabaseFile(file, out, opts.env);
}

Status Engine::Restore(const EngineOptions& opts, const std::string& file, bool safety,
                       store::DatabaseFileInfo* restored, std::string* safety_backup) {
  safety_backup->clear();
  std::error_code ec;
  if (std::filesystem::equivalent(file, opts.db_path, ec))
    return Status::InvalidArgument(file + " is the database itself; nothing was restored");
  Status s = InspectBackup(opts, file, restored);
  if (!s.ok()) return s.Append("; nothing was restored");
  if (safety && opts.env->FileExists(opts.db_path)) {
    const std::string dest =
        store::FreeRekallBackupPath(store::RekallBackupsDir(opts.env), "_pre-restore", opts.env);
    if (!(s = store::BackupDatabaseFile(opts.db_path, dest, opts.env)).ok())
      return s.Append("; nothing was restored");
    *safety_backup = dest;
  }
  return store::RestoreDatabaseFile(file, opts.db_path, opts.env);
}

}  // namespace rekall
