#include "store/migrate.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "store/store.h"
#include "util/fake_env_for_test.h"
#include "util/temp_dir_for_test.h"

namespace fs = std::filesystem;

namespace rekall::store {
namespace {

std::string Fixture(const std::string& name) {
  return std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/" + name;
}

// Every table's schema and rows (blobs in hex), in a stable order: equal
// dumps mean equal content.
std::string Dump(const std::string& path, const std::vector<std::string>& only = {}) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  std::string out;
  std::vector<std::string> tables;
  sqlite3_stmt* st;
  sqlite3_prepare_v2(db,
                     "SELECT name, sql FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                     "AND name NOT LIKE 'entries_fts%' ORDER BY name",
                     -1, &st, nullptr);
  while (sqlite3_step(st) == SQLITE_ROW) {
    std::string name = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
    tables.push_back(name);
    out += reinterpret_cast<const char*>(sqlite3_column_text(st, 1));
    out += "\n";
  }
  sqlite3_finalize(st);
  for (const auto& t : tables) {
    sqlite3_prepare_v2(db, ("SELECT * FROM \"" + t + "\" ORDER BY 1, 2").c_str(), -1, &st, nullptr);
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int i = 0; i < sqlite3_column_count(st); ++i) {
        if (sqlite3_column_type(st, i) == SQLITE_BLOB) {
          const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st, i));
          char buf[3];
          for (int k = 0; k < sqlite3_column_bytes(st, i); ++k) {
            std::snprintf(buf, sizeof buf, "%02x", p[k]);
            out += buf;
          }
        } else if (sqlite3_column_type(st, i) == SQLITE_NULL) {
          out += "NULL";
        } else {
          out += reinterpret_cast<const char*>(sqlite3_column_text(st, i));
        }
        out += "|";
      }
      out += "\n";
    }
    sqlite3_finalize(st);
  }
  sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, nullptr);
  sqlite3_step(st);
  out += "user_version=" + std::to_string(sqlite3_column_int(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

class MigrateTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (!fs::exists(Fixture(GetParam()))) GTEST_SKIP() << "fixture absent";
    db_ = dir_ + "/knowledge.db";
    fs::copy_file(Fixture(GetParam()), db_);
    original_ = Dump(db_);
  }
  // The plan for the file, read through a read-only connection.
  void Plan(MigrationPlan* plan) {
    sqlite3* db;
    ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    Status s = PlanMigration(db, db_, plan);
    sqlite3_close(db);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::vector<std::string> Backups() {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(dir_))
      if (e.path().filename().string().find(".backup-") != std::string::npos) out.push_back(e.path());
    return out;
  }
  TempDir tmp_;
  const std::string dir_ = tmp_.path();
  std::string db_, original_;
};

TEST_P(MigrateTest, MigratesWithBackupAndKeepsEveryByte) {
  std::unique_ptr<Store> s;
  Status st = Store::Open(db_, {}, &s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(s->schema().migrated);
  EXPECT_TRUE(s->schema().has_embeddings_table);
  EXPECT_EQ(s->schema().engine_version, kEngineSchemaVersion);
  ASSERT_FALSE(s->schema().backup_path.empty());
  s.reset();

  // The backup holds the original content and opens.
  auto backups = Backups();
  ASSERT_EQ(backups.size(), 1u);
  EXPECT_EQ(Dump(backups[0]), original_);

  // Rekall's tables are byte for byte what they were; user_version too.
  std::vector<std::string> rekall_tables = {"entries", "tags", "links"};
  if (GetParam() != "rekall-v2.db") rekall_tables.push_back("embeddings");
  EXPECT_EQ(Dump(db_, rekall_tables), Dump(backups[0], rekall_tables));
  std::string after = Dump(db_);
  EXPECT_NE(after.find("user_version=" + original_.substr(original_.rfind('=') + 1)), std::string::npos);

  // A second open has nothing to do: no new backup.
  ASSERT_TRUE(Store::Open(db_, {}, &s).ok());
  EXPECT_FALSE(s->schema().migrated);
  EXPECT_EQ(Backups().size(), 1u);

  // The store reads every entry.
  size_t n = 0;
  ASSERT_TRUE(s->Count(&n).ok());
  EXPECT_EQ(n, 120u);
  std::vector<std::string> missing;
  ASSERT_TRUE(s->EntriesWithoutEmbedding(EmbeddingType::kSummary, &missing).ok());
  EXPECT_EQ(missing.size(), GetParam() == "rekall-v2.db" ? 120u : 24u);
}

TEST_P(MigrateTest, FailureMidMigrationRollsBack) {
  OpenOptions o;
  o.migrate.before_step = [](size_t i) {
    return i == 1 ? Status::IOError("injected failure") : Status::OK();
  };
  std::unique_ptr<Store> s;
  Status st = Store::Open(db_, o, &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("rolled back"), std::string::npos) << st.ToString();
  EXPECT_EQ(Dump(db_), original_);
  // The backup made before is kept.
  EXPECT_EQ(Backups().size(), 1u);
}

TEST_P(MigrateTest, ReadOnlyOpenReportsPendingAndChangesNothing) {
  OpenOptions o;
  o.read_only = true;
  std::unique_ptr<Store> s;
  Status st = Store::Open(db_, o, &s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_TRUE(s->schema().pending_migration);
  size_t n = 0;
  ASSERT_TRUE(s->Count(&n).ok());
  EXPECT_EQ(n, 120u);
  s.reset();
  EXPECT_EQ(Dump(db_), original_);
  EXPECT_TRUE(Backups().empty());
}

TEST_P(MigrateTest, PlanListsStepsWithoutChanging) {
  MigrationPlan plan;
  ASSERT_NO_FATAL_FAILURE(Plan(&plan));
  EXPECT_TRUE(plan.needed());
  bool creates_embeddings = false;
  for (const auto& s : plan.steps) creates_embeddings |= s.description.find("`embeddings`") != std::string::npos;
  EXPECT_EQ(creates_embeddings, GetParam() == "rekall-v2.db");
  EXPECT_NE(plan.backup_path.find(db_ + ".backup-"), std::string::npos);
  EXPECT_EQ(Dump(db_), original_);
}

TEST_P(MigrateTest, FullDiskDuringBackupChangesNothing) {
  // The backup goes beside the database: make it impossible by putting a
  // directory where the backup file would be created.
  MigrationPlan plan;
  ASSERT_NO_FATAL_FAILURE(Plan(&plan));
  fs::create_directory(plan.backup_path);
  sqlite3* db;
  ASSERT_EQ(sqlite3_open_v2(db_.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  std::string backup;
  Status st = RunMigration(db, plan, {}, &backup);
  sqlite3_close(db);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not modified"), std::string::npos) << st.ToString();
  EXPECT_EQ(Dump(db_), original_);
}

INSTANTIATE_TEST_SUITE_P(Fixtures, MigrateTest, ::testing::Values("rekall-v12.db", "rekall-v7.db", "rekall-v2.db"));

// A database at `path` with an `entries` table and Rekall's schema
// `version`, left open.
sqlite3* RekallLikeDb(const std::string& path, int version) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  const std::string sql = "CREATE TABLE entries(id TEXT PRIMARY KEY); PRAGMA user_version = " + std::to_string(version);
  sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  return db;
}

TEST(MigrateOther, UnknownAndNewerDatabasesAreNeverModified) {
  TempDir dir;
  std::string p = dir.file("future.db");
  sqlite3_close(RekallLikeDb(p, 99));
  std::string before = Dump(p);
  std::unique_ptr<Store> s;
  Status st = Store::Open(p, {}, &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("newer"), std::string::npos) << st.ToString();
  EXPECT_EQ(Dump(p), before);
}

// Backups are named after the time of the plan, and never overwrite one
// another: a name already taken gets a counter.
TEST(MigrateOther, BackupNamesAreDatedAndNeverReused) {
  TempDir dir;
  std::string p = dir.file("old.db");
  sqlite3* db = RekallLikeDb(p, 2);
  FakeEnv env;
  env.Advance(std::chrono::hours(180 * 24 + 12));  // 2026-06-30 12:00 UTC: June in every time zone
  MigrationPlan first, second;
  ASSERT_TRUE(PlanMigration(db, p, &first, &env).ok());
  EXPECT_EQ(first.backup_path.rfind(p + ".backup-202606", 0), 0u) << first.backup_path;
  std::ofstream(first.backup_path) << "taken";
  ASSERT_TRUE(PlanMigration(db, p, &second, &env).ok());  // same second
  EXPECT_EQ(second.backup_path, first.backup_path + "-1");
  sqlite3_close(db);
}

// Issue 10: doctor's backups share the rule (two repairs within a second
// keep both backups).
TEST(MigrateOther, FreeBackupPathNamesAKindAndSkipsTakenNames) {
  char tmpl[] = "/tmp/rekall_migrate_other_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  FakeEnv env;
  env.Advance(std::chrono::hours(24 * 10));  // 2026-01-11: in 2026 in every time zone
  std::string first = FreeBackupPath(dir + "/k.db", "doctor-", &env);
  EXPECT_EQ(first.rfind(dir + "/k.db.backup-doctor-2026", 0), 0u) << first;
  std::ofstream(first) << "taken";
  EXPECT_EQ(FreeBackupPath(dir + "/k.db", "doctor-", &env), first + "-1");
  std::ofstream(first + "-1") << "taken";
  EXPECT_EQ(FreeBackupPath(dir + "/k.db", "doctor-", &env), first + "-2");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace rekall::store
