#include "sqlite/sqlite.h"

#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "sqlite/checkpointer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "util/our_embeddings.h"
#include "util/temp_dir_for_test.h"

namespace rekall::sqlite {
namespace {

// A database file (two connections can open it), removed at the end.
class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = Open(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    ASSERT_TRUE(Exec(db_, "CREATE TABLE t(k TEXT, n INTEGER, x REAL, b BLOB)", "schema").ok());
  }
  void TearDown() override { sqlite3_close_v2(db_); }
  sqlite3* Open(int flags) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, flags, nullptr), SQLITE_OK);
    return db;
  }
  int64_t Rows(sqlite3* db) {
    Stmt st(db, "SELECT count(*) FROM t");
    EXPECT_TRUE(st.StepRow("count").ok());
    return st.Int(0);
  }

  TempDir tmp_;
  const std::string path_ = tmp_.file("t.db");
  sqlite3* db_ = nullptr;
};

TEST_F(SqliteTest, BindsAndReadsEveryType) {
  Stmt ins(db_, "INSERT INTO t VALUES (?1, ?2, ?3, ?4)");
  ASSERT_TRUE(ins.status("insert").ok());
  const float blob[3] = {1.5f, -2.0f, 0.25f};
  ins.Bind(1, std::string("a\0b", 3));
  ins.Bind(2, int64_t{1} << 40);
  ins.BindDouble(3, 0.5);
  ins.BindBlob(4, blob, sizeof blob);
  ASSERT_TRUE(ins.Run("insert").ok());
  ins.Reset();
  ins.Bind(1, std::optional<std::string>());
  ASSERT_TRUE(ins.Run("insert").ok());  // the other bindings were cleared: NULLs

  Stmt sel(db_, "SELECT k, n, x, b FROM t ORDER BY rowid");
  ASSERT_TRUE(sel.StepRow("select").ok());
  EXPECT_EQ(sel.ColumnCount(), 4);
  EXPECT_EQ(sel.ColumnName(2), "x");
  EXPECT_EQ(sel.Type(3), SQLITE_BLOB);
  EXPECT_EQ(sel.Text(0), std::string("a\0b", 3));
  EXPECT_EQ(sel.OptText(0), std::string("a\0b", 3));
  EXPECT_EQ(sel.Int(1), int64_t{1} << 40);
  EXPECT_EQ(sel.Double(2), 0.5);
  ASSERT_EQ(sel.Bytes(3), int(sizeof blob));
  EXPECT_EQ(std::memcmp(sel.Blob(3), blob, sizeof blob), 0);
  ASSERT_EQ(sel.Step(), SQLITE_ROW);
  EXPECT_TRUE(sel.IsNull(0));
  EXPECT_EQ(sel.Text(0), "");
  EXPECT_EQ(sel.OptText(0), std::nullopt);
  EXPECT_TRUE(sel.IsNull(1));
  const int rc = sel.Step();
  EXPECT_TRUE(sel.Done(rc, "select").ok());
}

TEST_F(SqliteTest, PreparedStatementIsReusedAfterReset) {
  Stmt ins;
  EXPECT_FALSE(ins.prepared());
  ASSERT_TRUE(ins.Prepare(db_, "INSERT INTO t(k) VALUES (?1)").ok());
  EXPECT_TRUE(ins.prepared());
  for (const char* k : {"x", "y", "z"}) {
    ins.Reset();
    ins.Bind(1, k);
    ASSERT_TRUE(ins.Run("insert").ok());
  }
  EXPECT_EQ(Rows(db_), 3);
  ins.Finalize();
  EXPECT_FALSE(ins.prepared());
}

TEST_F(SqliteTest, PrepareFailureNamesTheSqlOrTheCaller) {
  Stmt st;
  Status s = st.Prepare(db_, "SELECT nope FROM t");
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_NE(s.message().find("SELECT nope FROM t"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("no such column"), std::string::npos) << s.message();
  Stmt ctor(db_, "SELECT nope FROM t");
  s = ctor.status("listing things");
  EXPECT_EQ(s.code(), Code::kInternal);
  EXPECT_EQ(s.message().rfind("listing things", 0), 0u) << s.message();
  EXPECT_EQ(ctor.Step(), SQLITE_MISUSE);  // harmless on a failed statement
}

TEST_F(SqliteTest, ErrorsKeepTheirClass) {
  EXPECT_EQ(ToStatus(nullptr, SQLITE_BUSY, "w").code(), Code::kBusy);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_BUSY_SNAPSHOT, "w").code(), Code::kBusy);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_LOCKED, "w").code(), Code::kBusy);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_READONLY_DBMOVED, "w").code(), Code::kIOError);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_IOERR_WRITE, "w").code(), Code::kIOError);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_FULL, "w").code(), Code::kIOError);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_CANTOPEN, "w").code(), Code::kIOError);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_CORRUPT, "w").code(), Code::kCorruption);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_NOTADB, "w").code(), Code::kCorruption);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_CONSTRAINT_UNIQUE, "w").code(), Code::kInvalidArgument);
  EXPECT_EQ(ToStatus(nullptr, SQLITE_ERROR, "w").code(), Code::kInternal);
  Status s = ToStatus(nullptr, SQLITE_READONLY, "saving");
  EXPECT_EQ(s.message().rfind("saving: the database is read-only", 0), 0u) << s.message();

  // The same classes from real failures.
  sqlite3* ro = Open(SQLITE_OPEN_READONLY);
  s = Exec(ro, "INSERT INTO t(k) VALUES ('x')", "writing");
  EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
  EXPECT_EQ(s.message().rfind("writing: ", 0), 0u) << s.message();
  sqlite3_close_v2(ro);
  ASSERT_TRUE(Exec(db_, "CREATE UNIQUE INDEX tk ON t(k); INSERT INTO t(k) VALUES ('x')", "setup").ok());
  EXPECT_EQ(Exec(db_, "INSERT INTO t(k) VALUES ('x')", "dup").code(), Code::kInvalidArgument);
}

TEST_F(SqliteTest, TransactionCommitsOrRollsBack) {
  {
    Transaction t;
    ASSERT_TRUE(t.Begin(db_, "starting").ok());
    ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('dropped')", "insert").ok());
  }  // destroyed uncommitted
  EXPECT_EQ(Rows(db_), 0);
  EXPECT_TRUE(sqlite3_get_autocommit(db_));
  {
    Transaction t;
    ASSERT_TRUE(t.Begin(db_, "starting").ok());
    ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('kept')", "insert").ok());
    ASSERT_TRUE(t.Commit("committing").ok());
  }
  EXPECT_EQ(Rows(db_), 1);
}

// Inside the scope the table's trigger does not fire, on a statement
// prepared there; a statement prepared before the scope, stepped after it,
// and every statement after it fire it again.
TEST_F(SqliteTest, TriggersOffSilencesTriggersOnlyInsideTheScope) {
  ASSERT_TRUE(Exec(db_, "CREATE TABLE log(k TEXT); CREATE TRIGGER t_ai AFTER INSERT ON t BEGIN "
                        "INSERT INTO log VALUES (NEW.k); END;", "schema").ok());
  auto logged = [&] {
    Stmt st(db_, "SELECT count(*) FROM log");
    EXPECT_TRUE(st.StepRow("count").ok());
    return st.Int(0);
  };
  Stmt before(db_, "INSERT INTO t(k) VALUES ('prepared before')");
  {
    TriggersOff off(db_);
    ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('silent')", "insert").ok());
    {
      TriggersOff nested(db_);  // already off: leaves it off
    }
    ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('still silent')", "insert").ok());
  }
  EXPECT_EQ(logged(), 0);
  EXPECT_EQ(before.Step(), SQLITE_DONE);  // re-prepared with the trigger on
  ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('heard')", "insert").ok());
  EXPECT_EQ(logged(), 2);
  EXPECT_EQ(Rows(db_), 4);
}

TEST_F(SqliteTest, SecondWriterIsBusy) {
  sqlite3* other = Open(SQLITE_OPEN_READWRITE);
  sqlite3_busy_timeout(other, 0);
  Transaction mine;
  ASSERT_TRUE(mine.Begin(db_, "starting").ok());
  Transaction theirs;
  Status s = theirs.Begin(other, "starting theirs");
  EXPECT_EQ(s.code(), Code::kBusy) << s.ToString();
  EXPECT_EQ(s.message().rfind("starting theirs: ", 0), 0u) << s.message();
  EXPECT_TRUE(sqlite3_get_autocommit(other));
  sqlite3_close_v2(other);
}

TEST_F(SqliteTest, SavepointRollsBackOnlyItsOwnWork) {
  Transaction t;
  ASSERT_TRUE(t.Begin(db_, "starting").ok());
  ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('outer')", "insert").ok());
  {
    Savepoint sp;
    ASSERT_TRUE(sp.Begin(db_, "inner").ok());
    ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('inner')", "insert").ok());
  }  // destroyed unreleased
  {
    Savepoint sp;
    ASSERT_TRUE(sp.Begin(db_, "inner").ok());
    ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('released')", "insert").ok());
    ASSERT_TRUE(sp.Release().ok());
  }
  ASSERT_TRUE(t.Commit("committing").ok());
  Stmt st(db_, "SELECT group_concat(k, ',') FROM (SELECT k FROM t ORDER BY rowid)");
  ASSERT_TRUE(st.StepRow("select").ok());
  EXPECT_EQ(st.Text(0), "outer,released");
}

TEST_F(SqliteTest, SavepointOutsideATransactionIsOne) {
  {
    Savepoint sp;
    ASSERT_TRUE(sp.Begin(db_, "alone").ok());
    ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('x')", "insert").ok());
  }
  EXPECT_EQ(Rows(db_), 0);
  EXPECT_TRUE(sqlite3_get_autocommit(db_));
}

// Issue 10 #4: a bare SAVEPOINT in autocommit mode is a deferred
// transaction; its first write must upgrade a read lock, which fails at once
// when another connection writes. Ours takes the write lock at Begin.
TEST_F(SqliteTest, SavepointOutsideATransactionTakesTheWriteLock) {
  Savepoint sp;
  ASSERT_TRUE(sp.Begin(db_, "alone").ok());
  EXPECT_TRUE(sp.top_level());
  sqlite3* other = Open(SQLITE_OPEN_READWRITE);
  Status s = Exec(other, "BEGIN IMMEDIATE", "theirs");
  EXPECT_EQ(s.code(), Code::kBusy) << s.message();
  ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('x')", "insert").ok());
  ASSERT_TRUE(sp.Release().ok());
  EXPECT_TRUE(sqlite3_get_autocommit(db_));
  EXPECT_EQ(Rows(other), 1);
  sqlite3_close_v2(other);
}

// Two reads inside a ReadSnapshot see the same file, whatever another
// connection commits between them (WAL: the writer is not blocked); inside
// the caller's transaction the snapshot leaves that transaction open.
TEST_F(SqliteTest, ReadSnapshotSeesOneStateOfTheFile) {
  ASSERT_TRUE(Exec(db_, "PRAGMA journal_mode = WAL", "wal").ok());
  sqlite3* other = Open(SQLITE_OPEN_READWRITE);
  {
    ReadSnapshot snap(db_);
    EXPECT_EQ(Rows(db_), 0);
    ASSERT_TRUE(Exec(other, "INSERT INTO t(k) VALUES ('x')", "theirs").ok());
    EXPECT_EQ(Rows(db_), 0);
  }
  EXPECT_TRUE(sqlite3_get_autocommit(db_));
  EXPECT_EQ(Rows(db_), 1);
  ASSERT_TRUE(Exec(db_, "BEGIN", "begin").ok());
  { ReadSnapshot inner(db_); }
  EXPECT_FALSE(sqlite3_get_autocommit(db_));
  ASSERT_TRUE(Exec(db_, "COMMIT", "commit").ok());
  sqlite3_close_v2(other);
}

// A reader upgraded to a writer while another connection writes: the step
// fails with SQLITE_BUSY, and the statement must not stay in progress.
class BusyWriteTest : public SqliteTest {
 protected:
  // db_ inside a deferred transaction holding a read lock; other_ holds the
  // write lock.
  void HoldLocks() {
    ASSERT_TRUE(Exec(db_, "BEGIN", "begin").ok());
    EXPECT_EQ(Rows(db_), 0);
    other_ = Open(SQLITE_OPEN_READWRITE);
    ASSERT_TRUE(Exec(other_, "BEGIN IMMEDIATE", "theirs").ok());
  }
  void TearDown() override {
    sqlite3_close_v2(other_);
    SqliteTest::TearDown();
  }
  sqlite3* other_ = nullptr;
};

TEST_F(BusyWriteTest, AFailedStepResetsTheStatement) {
  HoldLocks();
  {
    Savepoint sp;
    ASSERT_TRUE(sp.Begin(db_, "inner").ok());
    EXPECT_FALSE(sp.top_level());
    Stmt ins(db_, "INSERT INTO t(k) VALUES ('x')");
    EXPECT_EQ(ins.Step(), SQLITE_BUSY);
    EXPECT_FALSE(sqlite3_stmt_busy(ins.get()));
    EXPECT_EQ(ins.Run("insert").code(), Code::kBusy);
  }  // rolled back to its start and released
  EXPECT_FALSE(sqlite3_get_autocommit(db_));
  EXPECT_TRUE(Exec(db_, "ROLLBACK", "rollback").ok());
  ASSERT_TRUE(Exec(other_, "COMMIT", "theirs").ok());
  Transaction t;
  EXPECT_TRUE(t.Begin(db_, "starting").ok());  // the connection is usable
}

TEST_F(BusyWriteTest, ASavepointThatCannotBeReleasedRollsBackEverything) {
  HoldLocks();
  sqlite3_stmt* raw = nullptr;
  {
    Savepoint sp;
    ASSERT_TRUE(sp.Begin(db_, "inner").ok());
    // Stepped outside Stmt: left in progress, so RELEASE fails.
    ASSERT_EQ(sqlite3_prepare_v2(db_, "INSERT INTO t(k) VALUES ('x')", -1, &raw, nullptr), SQLITE_OK);
    EXPECT_EQ(sqlite3_step(raw), SQLITE_BUSY);
  }
  EXPECT_TRUE(sqlite3_get_autocommit(db_));  // not stuck inside a transaction
  sqlite3_finalize(raw);
  ASSERT_TRUE(Exec(other_, "COMMIT", "theirs").ok());
  Transaction t;
  EXPECT_TRUE(t.Begin(db_, "starting").ok());
}

// Issue 10 #6: a cancelled request stops its query instead of running it to
// the end.
TEST_F(SqliteTest, CancelScopeInterruptsOnlyWhileTheFlagIsSetAndItLives) {
  const std::string sql =
      "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 200000) SELECT sum(n) FROM c";
  std::atomic<bool> cancelled{false};
  {
    CancelScope scope(db_, &cancelled);
    Stmt st(db_, sql);
    ASSERT_TRUE(st.StepRow("sum").ok());
    EXPECT_EQ(st.Int(0), int64_t(200000) * 200001 / 2);
    cancelled = true;
    Stmt again(db_, sql);
    Status s = again.StepRow("sum");
    EXPECT_EQ(s.code(), Code::kCancelled) << s.message();
  }
  Stmt after(db_, sql);  // the scope is gone: the flag no longer matters
  EXPECT_TRUE(after.StepRow("sum").ok());
  CancelScope none(db_, nullptr);
  Stmt unflagged(db_, sql);
  EXPECT_TRUE(unflagged.StepRow("sum").ok());
}

TEST_F(SqliteTest, DataVersionMovesOnOtherConnectionsCommits) {
  int64_t v0 = 0, v1 = 0, v2 = 0;
  ASSERT_TRUE(DataVersion(db_, &v0).ok());
  ASSERT_TRUE(Exec(db_, "INSERT INTO t(k) VALUES ('mine')", "insert").ok());
  ASSERT_TRUE(DataVersion(db_, &v1).ok());
  EXPECT_EQ(v1, v0);  // our own commits do not count
  sqlite3* other = Open(SQLITE_OPEN_READWRITE);
  ASSERT_TRUE(Exec(other, "INSERT INTO t(k) VALUES ('theirs')", "insert").ok());
  sqlite3_close_v2(other);
  ASSERT_TRUE(DataVersion(db_, &v2).ok());
  EXPECT_NE(v2, v1);
}

// The SQL fragments of util/our_embeddings.h, run against Rekall's table.
TEST_F(SqliteTest, OurEmbeddingsSqlSelectsOurRowsOnly) {
  ASSERT_TRUE(Exec(db_,
                   "CREATE TABLE embeddings(entry_id TEXT, embedding_type TEXT, vector BLOB, dimensions INT,"
                   " model_name TEXT)",
                   "schema")
                  .ok());
  struct Row {
    const char* id;
    const char* type;
    int floats, dims;
    const char* model;
  };
  const Row rows[] = {
      {"long-name", "summary", 384, 384, "sentence-transformers/all-MiniLM-L6-v2"},
      {"short-name", "summary", 384, 384, "all-MiniLM-L6-v2"},
      {"other-model", "summary", 384, 384, "some/other-model"},
      {"other-dim", "summary", 128, 128, "all-MiniLM-L6-v2"},
      {"short-bytes", "summary", 100, 384, "all-MiniLM-L6-v2"},
      {"context", "context", 384, 384, "all-MiniLM-L6-v2"},
  };
  Stmt ins(db_, "INSERT INTO embeddings VALUES (?1, ?2, ?3, ?4, ?5)");
  for (const Row& r : rows) {
    std::vector<float> v(r.floats, 0.5f);
    ins.Reset();
    ins.Bind(1, r.id);
    ins.Bind(2, r.type);
    ins.BindBlob(3, v.data(), v.size() * sizeof(float));
    ins.Bind(4, int64_t{r.dims});
    ins.Bind(5, r.model);
    ASSERT_TRUE(ins.Run("insert").ok());
  }
  auto ids = [&](const std::string& where) {
    Stmt st(db_, "SELECT group_concat(entry_id, ',') FROM (SELECT entry_id FROM embeddings m WHERE " + where +
                     " ORDER BY rowid)");
    EXPECT_TRUE(st.StepRow(where).ok()) << where;
    return st.Text(0);
  };
  EXPECT_EQ(ids(OurSummarySql("m")), "long-name,short-name");
  EXPECT_EQ(ids(OurEmbeddingSql("m", EmbeddingType::kContext)), "context");
  EXPECT_EQ(ids(OurModelSql("m", EmbeddingType::kSummary)), "long-name,short-name,other-dim,short-bytes");
  EXPECT_EQ(ids(EmbeddingTypeSql("m", EmbeddingType::kSummary)),
            "long-name,short-name,other-model,other-dim,short-bytes");
  EXPECT_EQ(ids(OurSummarySql("")), "long-name,short-name");  // the bare table
}

// Writes n rows of a 4,000-byte blob (about a page each), one commit each.
void WritePages(sqlite3* db, int n) {
  Stmt ins(db, "INSERT INTO t(k, b) VALUES ('w', ?1)");
  const std::string big(4000, 'x');
  for (int i = 0; i < n; ++i) {
    ins.Reset();
    ins.BindBlob(1, big.data(), big.size());
    ASSERT_TRUE(ins.Run("insert").ok());
  }
}

// Frames in the WAL as a PASSIVE checkpoint finds them.
int WalFrames(sqlite3* db) {
  Stmt st(db, "PRAGMA wal_checkpoint(PASSIVE)");
  EXPECT_TRUE(st.StepRow("checkpoint").ok());
  return static_cast<int>(st.Int(1));
}

// Commits no longer checkpoint by themselves: the log grows past SQLite's
// 1,000-page automatic threshold until the Checkpointer (whose threshold is
// out of reach here) would run; once it is gone the connection's automatic
// checkpoints are back.
TEST_F(SqliteTest, CheckpointerTakesTheCheckpointsOutOfCommits) {
  ASSERT_TRUE(Exec(db_, "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF", "wal").ok());
  std::unique_ptr<Checkpointer> c;
  Checkpointer::Options o;
  o.pages = 1 << 30;
  ASSERT_TRUE(Checkpointer::Start(db_, path_, o, &c).ok());
  WritePages(db_, 1300);
  EXPECT_GT(WalFrames(db_), 1200);
  EXPECT_EQ(c->checkpoints(), 0);
  c.reset();
  WritePages(db_, 1300);  // restarts the log, then checkpoints at 1,000
  EXPECT_LT(WalFrames(db_), 1100);
}

// Past its threshold, the Checkpointer's thread checkpoints; every row is
// there for another connection.
TEST_F(SqliteTest, CheckpointerCheckpointsOnItsThread) {
  ASSERT_TRUE(Exec(db_, "PRAGMA journal_mode = WAL", "wal").ok());
  std::unique_ptr<Checkpointer> c;
  Checkpointer::Options o;
  o.pages = 16;
  ASSERT_TRUE(Checkpointer::Start(db_, path_, o, &c).ok());
  WritePages(db_, 100);
  for (int i = 0; i < 500 && c->checkpoints() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GT(c->checkpoints(), 0);
  sqlite3* other = Open(SQLITE_OPEN_READONLY);
  EXPECT_EQ(Rows(other), 100);
  sqlite3_close_v2(other);
}

}  // namespace
}  // namespace rekall::sqlite
