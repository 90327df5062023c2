#include "sqlite/sqlite.h"

namespace rekall::sqlite {

Status ToStatus(sqlite3* db, int rc, const std::string& what) {
  const std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string msg = what + " (" + detail + ")";
  switch (rc & 0xFF) {
    case SQLITE_NOTADB: return Status::Corruption(what + ": the file is not a SQLite database");
    case SQLITE_CORRUPT: return Status::Corruption(what + ": the database file is corrupt (" + detail + ")");
    case SQLITE_READONLY: return Status::IOError(what + ": the database is read-only (" + detail + ")");
    case SQLITE_FULL: return Status::IOError(what + ": the disk is full (" + detail + ")");
    case SQLITE_CANTOPEN: return Status::IOError(what + ": cannot open the database file (" + detail + ")");
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return Status::Busy(what + ": the database is locked by another process (" + detail + ")");
    case SQLITE_IOERR: return Status::IOError(msg);
    case SQLITE_CONSTRAINT: return Status::InvalidArgument(msg);
    case SQLITE_INTERRUPT: return Status::Cancelled(what + ": cancelled");
    default: return Status::Internal(msg);
  }
}

Status Exec(sqlite3* db, const std::string& sql, const std::string& what) {
  char* err = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  if (rc == SQLITE_OK) return Status::OK();
  const std::string msg = err ? err : sqlite3_errstr(rc);
  sqlite3_free(err);
  return ToStatus(db, rc, what + ": " + msg);
}

Status Stmt::Prepare(sqlite3* db, const std::string& sql) {
  Finalize();
  db_ = db;
  prepare_rc_ = sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size() + 1), &st_, nullptr);
  return status("preparing " + sql);
}

Status Stmt::status(const std::string& what) const {
  return prepare_rc_ == SQLITE_OK ? Status::OK() : ToStatus(db_, prepare_rc_, what);
}

void Stmt::Finalize() {
  sqlite3_finalize(st_);
  st_ = nullptr;
}

void Stmt::Reset() {
  if (st_ == nullptr) return;
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

void Stmt::Bind(int i, const std::string& s) {
  sqlite3_bind_text(st_, i, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
}

void Stmt::Bind(int i, const char* s) { sqlite3_bind_text(st_, i, s, -1, SQLITE_TRANSIENT); }

void Stmt::Bind(int i, const std::optional<std::string>& s) {
  if (s) Bind(i, *s);
  else BindNull(i);
}

void Stmt::Bind(int i, int64_t v) { sqlite3_bind_int64(st_, i, v); }

void Stmt::BindDouble(int i, double v) { sqlite3_bind_double(st_, i, v); }

void Stmt::BindBlob(int i, const void* p, size_t n) {
  sqlite3_bind_blob(st_, i, p, static_cast<int>(n), SQLITE_TRANSIENT);
}

void Stmt::BindNull(int i) { sqlite3_bind_null(st_, i); }

int Stmt::Step() {
  const int rc = sqlite3_step(st_);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) sqlite3_reset(st_);
  return rc;
}

Status Stmt::Run(const std::string& what) {
  const int rc = Step();
  return rc == SQLITE_DONE ? Status::OK() : ToStatus(db_, rc, what);
}

Status Stmt::StepRow(const std::string& what) {
  const int rc = Step();
  return rc == SQLITE_ROW ? Status::OK() : ToStatus(db_, rc, what);
}

Status Stmt::Done(int rc, const std::string& what) const {
  return rc == SQLITE_DONE ? Status::OK() : ToStatus(db_, rc, what);
}

std::string Stmt::Text(int col) const {
  const unsigned char* t = sqlite3_column_text(st_, col);
  return t ? std::string(reinterpret_cast<const char*>(t), sqlite3_column_bytes(st_, col)) : std::string();
}

std::optional<std::string> Stmt::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}

Transaction::~Transaction() {
  // ROLLBACK also ends statements still in progress, so it cannot leave the
  // transaction open.
  if (open_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Transaction::Begin(sqlite3* db, const std::string& what) {
  db_ = db;
  Status s = Exec(db_, "BEGIN IMMEDIATE", what);
  open_ = s.ok();
  return s;
}

Status Transaction::Commit(const std::string& what) {
  Status s = Exec(db_, "COMMIT", what);
  if (s.ok()) open_ = false;
  return s;
}

TriggersOff::TriggersOff(sqlite3* db) : db_(db) {
  sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_TRIGGER, -1, &was_on_);
  if (was_on_) sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, nullptr);
}

TriggersOff::~TriggersOff() {
  if (was_on_) sqlite3_db_config(db_, SQLITE_DBCONFIG_ENABLE_TRIGGER, 1, nullptr);
}

ReadSnapshot::ReadSnapshot(sqlite3* db) {
  if (sqlite3_get_autocommit(db) && sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) == SQLITE_OK) db_ = db;
}

ReadSnapshot::~ReadSnapshot() {
  // A read transaction commits or rolls back alike; an interrupted
  // statement may already have ended it.
  if (db_ && !sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr);
}

Savepoint::~Savepoint() {
  if (!open_) return;
  if (!top_) {
    const std::string sql = "ROLLBACK TO \"" + name_ + "\"; RELEASE \"" + name_ + "\"";
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK) return;
  }
  // Ours, or a nested scope that cannot be undone alone: end it all. The
  // caller's COMMIT then fails, as it must.
  if (!sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

Status Savepoint::Begin(sqlite3* db, const std::string& name) {
  db_ = db;
  name_ = name;
  top_ = sqlite3_get_autocommit(db_) != 0;
  Status s = top_ ? Exec(db_, "BEGIN IMMEDIATE", "starting a transaction for " + name_)
                  : Exec(db_, "SAVEPOINT \"" + name_ + "\"", "starting savepoint " + name_);
  open_ = s.ok();
  return s;
}

Status Savepoint::Release() {
  Status s = top_ ? Exec(db_, "COMMIT", "committing " + name_)
                  : Exec(db_, "RELEASE \"" + name_ + "\"", "releasing savepoint " + name_);
  if (s.ok()) open_ = false;  // else rolled back when destroyed
  return s;
}

namespace {
constexpr int kCancelPollInstructions = 500;
int PollCancelled(void* flag) { return static_cast<const std::atomic<bool>*>(flag)->load() ? 1 : 0; }
}  // namespace

CancelScope::CancelScope(sqlite3* db, const std::atomic<bool>* cancelled) : db_(cancelled ? db : nullptr) {
  if (db_) {
    sqlite3_progress_handler(db_, kCancelPollInstructions, PollCancelled,
                             const_cast<void*>(static_cast<const void*>(cancelled)));
  }
}

CancelScope::~CancelScope() {
  if (db_) sqlite3_progress_handler(db_, 0, nullptr, nullptr);
}

Status DataVersion(sqlite3* db, int64_t* v) {
  Stmt st(db, "PRAGMA data_version");
  Status s = st.status("reading data_version");
  if (s.ok()) s = st.StepRow("reading data_version");
  if (s.ok()) *v = st.Int(0);
  return s;
}

std::string LibraryVersion() { return sqlite3_libversion(); }

}  // namespace rekall::sqlite
