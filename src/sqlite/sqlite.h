// The small SQLite layer under both the store and the vector index, which
// must not depend on each other: one prepared-statement wrapper, one mapping
// of SQLite's errors to Status, one way to run SQL, to hold a transaction or
// a savepoint, and to notice other connections' commits.
#pragma once

#include <sqlite3.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "util/status.h"

namespace rekall::sqlite {

// The Status for SQLite result code `rc` (primary or extended) on `db`
// (may be null), naming `what` and SQLite's own message. The class of the
// error is kept, and callers rely on it:
//   busy, locked                   -> Busy (another process holds the lock
//                                     past the busy timeout)
//   not a database, corrupt        -> Corruption
//   read-only, I/O, full, can't open -> IOError
//   constraint                     -> InvalidArgument
//   interrupt                      -> Cancelled (CancelScope)
//   anything else                  -> Internal
// e.g. a vector index that cannot write (read-only file, lock held) tells an
// IOError or Busy apart from a bug, and keeps answering from the source
// tables.
Status ToStatus(sqlite3* db, int rc, const std::string& what);

// Runs `sql` (one or more statements, rows ignored). A failure names
// `what` and SQLite's message.
Status Exec(sqlite3* db, const std::string& sql, const std::string& what);

// One prepared statement, finalized when destroyed. Prepared once, it can be
// reset and run again with new bindings (statements an object keeps).
// Parameters are 1-based, columns 0-based; bound text and blobs are copied.
class Stmt {
 public:
  Stmt() = default;
  // Prepares at once; status() tells whether that worked.
  Stmt(sqlite3* db, const std::string& sql) { Prepare(db, sql); }
  ~Stmt() { sqlite3_finalize(st_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  // Prepares `sql`, finalizing the statement held before, if any. A
  // failure names the SQL.
  Status Prepare(sqlite3* db, const std::string& sql);
  // The outcome of the last Prepare, naming `what` on failure.
  Status status(const std::string& what) const;
  bool prepared() const { return st_ != nullptr; }
  void Finalize();
  // Ready for a new run: reset, bindings cleared.
  void Reset();

  void Bind(int i, const std::string& s);
  void Bind(int i, const char* s);
  void Bind(int i, const std::optional<std::string>& s);  // nullopt: NULL
  void Bind(int i, int64_t v);
  void BindDouble(int i, double v);
  void BindBlob(int i, const void* p, size_t n);
  void BindNull(int i);

  // sqlite3_step: SQLITE_ROW, SQLITE_DONE or an error code. A failed step
  // resets the statement: SQLITE_BUSY is resumable, so a statement left
  // as it is stays "in progress" and makes the enclosing RELEASE or COMMIT
  // fail, leaving the connection inside a transaction (issue 10 #4).
  int Step();
  // Steps a statement that returns no rows; an error names `what`.
  Status Run(const std::string& what);
  // Steps to the first row; no row is an error too (counts, PRAGMAs).
  Status StepRow(const std::string& what);
  // The Status for a Step() result `rc` that ended a loop over rows: ok for
  // SQLITE_DONE.
  Status Done(int rc, const std::string& what) const;

  int ColumnCount() const { return sqlite3_column_count(st_); }
  std::string ColumnName(int col) const { return sqlite3_column_name(st_, col); }
  int Type(int col) const { return sqlite3_column_type(st_, col); }  // SQLITE_NULL, SQLITE_TEXT...
  bool IsNull(int col) const { return Type(col) == SQLITE_NULL; }
  std::string Text(int col) const;  // "" for NULL
  std::optional<std::string> OptText(int col) const;
  int64_t Int(int col) const { return sqlite3_column_int64(st_, col); }
  double Double(int col) const { return sqlite3_column_double(st_, col); }
  const void* Blob(int col) const { return sqlite3_column_blob(st_, col); }
  int Bytes(int col) const { return sqlite3_column_bytes(st_, col); }

  sqlite3_stmt* get() const { return st_; }

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* st_ = nullptr;
  int prepare_rc_ = SQLITE_OK;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back when destroyed uncommitted.
// IMMEDIATE takes the write lock at once, so two writers queue on the busy
// timeout instead of failing on a lock upgrade. Only valid while the
// connection is in autocommit mode (no transaction open).
class Transaction {
 public:
  Transaction() = default;
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Failures name `what` (e.g. "starting a transaction").
  Status Begin(sqlite3* db, const std::string& what);
  // A failed commit leaves the transaction open: it rolls back when
  // destroyed.
  Status Commit(const std::string& what);

 private:
  sqlite3* db_ = nullptr;
  bool open_ = false;
};

// The connection's triggers off for the life of the scope, then back as
// they were (SQLITE_DBCONFIG_ENABLE_TRIGGER; TEMP triggers still fire).
// For a write that does a trigger's work itself, more cheaply (the store's
// keyword index upkeep). SQLite compiles a statement's triggers when it
// prepares it: prepare and step the statement inside the scope. Changing
// the setting expires the connection's prepared statements, which SQLite
// prepares again on their next step.
class TriggersOff {
 public:
  explicit TriggersOff(sqlite3* db);
  ~TriggersOff();
  TriggersOff(const TriggersOff&) = delete;
  TriggersOff& operator=(const TriggersOff&) = delete;

 private:
  sqlite3* db_;
  int was_on_ = 1;
};

// One read snapshot for several statements: BEGIN (deferred) ... COMMIT
// when the connection is in autocommit mode, nothing inside a transaction
// (which is a snapshot already). Without it each statement reads the file
// as it is then, and a second statement may see another process's write
// that the first did not (issue 13 hostile test: a keyword search ranked
// FTS rows, then looked up their entries after a delete and an insert had
// reused a row number). Taking no write lock, it blocks no writer in WAL
// mode.
class ReadSnapshot {
 public:
  explicit ReadSnapshot(sqlite3* db);
  ~ReadSnapshot();
  ReadSnapshot(const ReadSnapshot&) = delete;
  ReadSnapshot& operator=(const ReadSnapshot&) = delete;

 private:
  sqlite3* db_ = nullptr;  // null when the snapshot is the caller's
};

// The one write scope: atomic inside the caller's transaction (SAVEPOINT
// `name` ... RELEASE) or, outside one, a transaction of its own that is
// BEGIN IMMEDIATE ... COMMIT. Never a bare SAVEPOINT in autocommit mode:
// that is a deferred transaction whose first write must upgrade a read
// lock, which SQLite refuses at once with SQLITE_BUSY (no busy wait) when
// another connection writes (issue 10 #4). Destroyed unreleased, it rolls
// back; if that fails, the whole transaction is rolled back rather than
// leaving the connection inside it.
class Savepoint {
 public:
  Savepoint() = default;
  ~Savepoint();
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;

  Status Begin(sqlite3* db, const std::string& name);
  Status Release();
  // Whether Begin opened the transaction (the connection was in autocommit).
  bool top_level() const { return top_; }

 private:
  sqlite3* db_ = nullptr;
  std::string name_;
  bool open_ = false;
  bool top_ = false;
};

// While it lives, SQLite work on `db` stops with SQLITE_INTERRUPT (a
// Cancelled status) soon after *cancelled becomes true: a progress handler
// polls the flag every few hundred VM instructions, so a cancelled request
// does not run its query to the end (issue 10 #6). The handler is per
// connection: one scope at a time on a connection. A null flag does nothing.
class CancelScope {
 public:
  CancelScope(sqlite3* db, const std::atomic<bool>* cancelled);
  ~CancelScope();
  CancelScope(const CancelScope&) = delete;
  CancelScope& operator=(const CancelScope&) = delete;

 private:
  sqlite3* db_;
};

// PRAGMA data_version: moves whenever another connection commits to the
// file, so a long-running process notices other processes' writes.
Status DataVersion(sqlite3* db, int64_t* v);

// The SQLite library this binary runs with, e.g. "3.40.1" (for `--version`).
std::string LibraryVersion();

}  // namespace rekall::sqlite
