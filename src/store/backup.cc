#include "store/backup.h"

#include <pwd.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>

#include "sqlite/sqlite.h"
#include "store/migrate.h"

namespace rekall::store {

namespace fs = std::filesystem;

const char* BackupKindName(BackupKind k) {
  switch (k) {
    case BackupKind::kExplicit: return "backup";
    case BackupKind::kPreRestore: return "pre-restore";
    case BackupKind::kMigration: return "migration";
    case BackupKind::kDoctor: return "doctor";
  }
  return "backup";
}

namespace {

struct CloseDb {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using DbHandle = std::unique_ptr<sqlite3, CloseDb>;

Status OpenDb(const std::string& path, int flags, DbHandle* out) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  out->reset(db);
  if (rc != SQLITE_OK) return sqlite::ToStatus(db, rc, "cannot open " + path);
  sqlite3_busy_timeout(db, 5000);
  return Status::OK();
}

std::string LocalTime(std::time_t t, const char* format) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, format, &tm);
  return buf;
}

// PRAGMA integrity_check's first line ("ok" for a whole file).
Status IntegrityOf(sqlite3* db, const std::string& path) {
  sqlite::Stmt st(db, "PRAGMA integrity_check(1)");
  int rc = st.Step();
  if (rc != SQLITE_ROW)
    return Status::InvalidArgument(path + " is not a SQLite database we can read: " + sqlite3_errmsg(db));
  if (st.Text(0) != "ok") return Status::InvalidArgument(path + " fails SQLite's integrity check: " + st.Text(0));
  return Status::OK();
}

size_t CountRows(sqlite3* db, const char* table) {
  sqlite::Stmt exists(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?");
  exists.Bind(1, table);
  if (exists.Step() != SQLITE_ROW) return 0;
  sqlite::Stmt st(db, std::string("SELECT count(*) FROM ") + table);
  return st.Step() == SQLITE_ROW ? static_cast<size_t>(st.Int(0)) : 0;
}

// Copies all of `from` into `to`'s main database, in one transaction of `to`.
Status CopyPages(sqlite3* from, sqlite3* to, const std::string& what) {
  sqlite3_backup* b = sqlite3_backup_init(to, "main", from, "main");
  if (!b) return sqlite::ToStatus(to, sqlite3_errcode(to), what);
  int rc = sqlite3_backup_step(b, -1);
  int fin = sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) return sqlite::ToStatus(to, rc == SQLITE_OK ? fin : rc, what);
  if (fin != SQLITE_OK) return sqlite::ToStatus(to, fin, what);
  return Status::OK();
}

// A backup FreeBackupPath named beside `db_path`: <name>.backup-<kind><digit>.
bool IsAutomaticBackup(const std::string& file, const std::string& db_name, const std::string& kind) {
  const std::string prefix = db_name + ".backup-" + kind;
  return file.size() > prefix.size() && file.compare(0, prefix.size(), prefix) == 0 &&
         std::isdigit(static_cast<unsigned char>(file[prefix.size()]));
}

BackupFile DescribeBackup(const fs::path& p, BackupKind kind) {
  BackupFile b;
  b.path = p.string();
  b.kind = kind;
  struct stat st{};
  if (::stat(b.path.c_str(), &st) == 0) {
    b.bytes = static_cast<uint64_t>(st.st_size);
    b.modified = LocalTime(st.st_mtime, "%Y-%m-%d %H:%M:%S");
  }
  return b;
}

// The regular files of `dir` (none when it is missing).
std::vector<fs::path> FilesIn(const std::string& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec)) out.push_back(it->path());
  return out;
}

}  // namespace

std::string RekallBackupsDir(Env* env) {
  // As Python's expanduser: $HOME, else the account's home directory.
  std::string home = env->GetEnv("HOME");
  if (home.empty()) {
    const struct passwd* pw = getpwuid(getuid());
    if (pw && pw->pw_dir) home = pw->pw_dir;
  }
  return home + "/.rekall/backups";
}

std::string FreeRekallBackupPath(const std::string& dir, const std::string& suffix, Env* env) {
  std::time_t t = std::chrono::system_clock::to_time_t(env->NowSystem());
  const std::string base = dir + "/knowledge_" + LocalTime(t, "%Y-%m-%d_%H%M%S") + suffix;
  std::string path = base + ".db";
  for (int i = 1; env->FileExists(path); ++i) path = base + "-" + std::to_string(i) + ".db";
  return path;
}

Status InspectDatabaseFile(const std::string& path, DatabaseFileInfo* out, Env* env) {
  *out = DatabaseFileInfo();
  out->path = path;
  if (!env->IsRegularFile(path))
    return Status::InvalidArgument((env->FileExists(path) ? "not a regular file (a folder, a pipe, a device): "
                                                          : "no such file: ") +
                                   path);
  DbHandle db;
  Status s = OpenDb(path, SQLITE_OPEN_READONLY, &db);
  if (s.ok()) s = IntegrityOf(db.get(), path);
  MigrationPlan plan;
  // A Rekall schema we know (an `entries` table, user_version not newer).
  if (s.ok()) s = PlanMigration(db.get(), path, &plan, env);
  if (!s.ok()) return s;
  out->rekall_schema_version = plan.user_version;
  out->entries = CountRows(db.get(), "entries");
  out->links = CountRows(db.get(), "links");
  std::error_code ec;
  out->bytes = fs::file_size(path, ec);
  return Status::OK();
}

Status BackupDatabaseFile(const std::string& db_path, const std::string& dest, Env* env) {
  if (!env->IsRegularFile(db_path)) return Status::NotFound("no database to back up at " + db_path);
  // A bare file name lives in the working folder, which exists.
  const fs::path folder = fs::path(dest).parent_path();
  Status s = folder.empty() ? Status::OK() : env->CreateDirs(folder.string(), 0700);
  DbHandle db;
  if (s.ok()) s = OpenDb(db_path, SQLITE_OPEN_READONLY, &db);
  return s.ok() ? BackupDatabase(db.get(), dest, env) : s;
}

Status RestoreDatabaseFile(const std::string& from, const std::string& db_path, Env* env) {
  DbHandle src, dst;
  Status s = OpenDb(from, SQLITE_OPEN_READONLY, &src);
  // A new database is private, as every file we create.
  if (s.ok() && !env->FileExists(db_path)) s = env->CreateNewFile(db_path, 0600);
  if (s.ok()) s = OpenDb(db_path, SQLITE_OPEN_READWRITE, &dst);
  if (s.ok()) s = CopyPages(src.get(), dst.get(), "restoring " + from + " into " + db_path);
  if (!s.ok()) return s.Append("; the database was not changed");
  return Status::OK();
}

Status PruneAutomaticBackups(const std::string& db_path, const std::string& kind, std::vector<std::string>* removed) {
  const fs::path db(db_path);
  const std::string name = db.filename().string();
  // Newest first by the time they were written, then by name (dated, with
  // -1, -2... within a second): a name freed by an earlier pruning and
  // taken again is still the newest.
  std::vector<std::pair<std::pair<int64_t, std::string>, std::string>> ours;
  for (const auto& p : FilesIn(db.parent_path().empty() ? "." : db.parent_path().string())) {
    struct stat st{};
    if (!IsAutomaticBackup(p.filename().string(), name, kind) || ::stat(p.c_str(), &st) != 0) continue;
    const int64_t ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
    ours.push_back({{ns, p.filename().string()}, p.string()});
  }
  std::sort(ours.begin(), ours.end(), std::greater<>());
  for (size_t i = kAutomaticBackupsKept; i < ours.size(); ++i) {
    std::error_code ec;
    if (!fs::remove(ours[i].second, ec) || ec) return Status::IOError("cannot delete old backup " + ours[i].second);
    removed->push_back(ours[i].second);
  }
  return Status::OK();
}

Status ListBackupFiles(const std::string& db_path, const std::string& rekall_dir, std::vector<BackupFile>* out) {
  out->clear();
  const fs::path db(db_path);
  const std::string name = db.filename().string();
  for (const auto& p : FilesIn(db.parent_path().empty() ? "." : db.parent_path().string())) {
    const std::string f = p.filename().string();
    if (IsAutomaticBackup(f, name, "")) out->push_back(DescribeBackup(p, BackupKind::kMigration));
    else if (IsAutomaticBackup(f, name, "doctor-")) out->push_back(DescribeBackup(p, BackupKind::kDoctor));
  }
  for (const auto& p : FilesIn(rekall_dir)) {
    const std::string f = p.filename().string();
    if (f.rfind("knowledge_", 0) != 0 || p.extension() != ".db") continue;
    bool pre = f.find("_pre-restore") != std::string::npos;
    out->push_back(DescribeBackup(p, pre ? BackupKind::kPreRestore : BackupKind::kExplicit));
  }
  std::stable_sort(out->begin(), out->end(),
                   [](const BackupFile& a, const BackupFile& b) { return a.modified > b.modified; });
  return Status::OK();
}

}  // namespace rekall::store
