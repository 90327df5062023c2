// Backups, restore and their checks, on real files.
#include "store/backup.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "store/store.h"
#include "util/fake_env_for_test.h"
#include "util/temp_dir_for_test.h"

namespace rekall::store {
namespace {

namespace fs = std::filesystem;

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override { db_ = dir_.file("k.db"); }
  // A database of ours holding entries titled `titles`.
  void Make(const std::string& path, const std::vector<std::string>& titles) {
    std::unique_ptr<Store> s;
    ASSERT_TRUE(Store::Open(path, OpenOptions(), &s).ok());
    for (const auto& t : titles) {
      Entry e;
      e.title = t;
      e.type = "bug";
      ASSERT_TRUE(s->Add(&e).ok());
    }
  }
  std::vector<std::string> Titles(const std::string& path) {
    std::unique_ptr<Store> s;
    EXPECT_TRUE(Store::Open(path, OpenOptions(), &s).ok());
    std::vector<Entry> all;
    EXPECT_TRUE(s->List(ListFilter(), &all).ok());
    std::vector<std::string> out;
    for (const auto& e : all) out.push_back(e.title);
    std::sort(out.begin(), out.end());
    return out;
  }
  TempDir dir_;
  std::string db_;
};

TEST_F(BackupTest, BackupThenRestoreRoundTrips) {
  Make(db_, {"a", "b"});
  const std::string copy = dir_.file("sub/copy.db");
  ASSERT_TRUE(BackupDatabaseFile(db_, copy).ok());
  DatabaseFileInfo info;
  ASSERT_TRUE(InspectDatabaseFile(copy, &info).ok());
  EXPECT_EQ(info.entries, 2u);
  EXPECT_GT(info.bytes, 0u);
  Make(db_, {"c"});  // the live database moves on
  EXPECT_EQ(Titles(db_), (std::vector<std::string>{"a", "b", "c"}));
  ASSERT_TRUE(RestoreDatabaseFile(copy, db_).ok());
  EXPECT_EQ(Titles(db_), (std::vector<std::string>{"a", "b"}));
  // Into a missing file too.
  ASSERT_TRUE(RestoreDatabaseFile(copy, dir_.file("new.db")).ok());
  EXPECT_EQ(fs::status(dir_.file("new.db")).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(Titles(dir_.file("new.db")), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(BackupDatabaseFile(dir_.file("none.db"), dir_.file("x.db")).IsNotFound());
}

TEST_F(BackupTest, InspectRefusesWhatIsNotAKnowledgeBase) {
  DatabaseFileInfo info;
  std::ofstream(dir_.file("text.db")) << "not a database at all, just some text that is long enough to matter";
  EXPECT_TRUE(InspectDatabaseFile(dir_.file("text.db"), &info).IsInvalidArgument());
  EXPECT_TRUE(InspectDatabaseFile(dir_.file("missing.db"), &info).IsInvalidArgument());
  sqlite3* other;
  ASSERT_EQ(sqlite3_open(dir_.file("other.db").c_str(), &other), SQLITE_OK);
  ASSERT_TRUE(sqlite::Exec(other, "CREATE TABLE t(x)", "t").ok());
  sqlite3_close(other);
  Status s = InspectDatabaseFile(dir_.file("other.db"), &info);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("not a Rekall knowledge base"), std::string::npos) << s.ToString();
  // A database whose pages were damaged fails the integrity check: here the
  // root page of its `entries` table.
  Make(db_, {"a", "b", "c"});
  ASSERT_TRUE(BackupDatabaseFile(db_, dir_.file("damaged.db")).ok());
  int64_t root = 0, page_size = 0;
  {
    std::unique_ptr<Store> s;
    ASSERT_TRUE(Store::Open(dir_.file("damaged.db"), OpenOptions(), &s).ok());
    sqlite::Stmt r(s->db(), "SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master "
                            "WHERE name = 'entries'");
    ASSERT_EQ(r.Step(), SQLITE_ROW);
    root = r.Int(0);
    page_size = r.Int(1);
  }
  {
    std::fstream f(dir_.file("damaged.db"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekp((root - 1) * page_size + 8);
    std::string junk(static_cast<size_t>(page_size - 8), '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  EXPECT_FALSE(InspectDatabaseFile(dir_.file("damaged.db"), &info).ok());
}

TEST_F(BackupTest, AutomaticBackupsKeepTheNewestThreeOfEachKind) {
  // Written in this order; the last takes a name freed by an earlier pruning.
  const char* written[] = {"k.db.backup-20260102T000000", "k.db.backup-20260102T000000-1",
                           "k.db.backup-20260103T000000", "k.db.backup-20260104T000000",
                           "k.db.backup-20260101T000000"};
  auto t = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const char* name : written) {
    std::ofstream(dir_.file(name)) << "x";
    fs::last_write_time(dir_.file(name), t += std::chrono::seconds(1));
  }
  for (const char* name : {"k.db.backup-doctor-20260101T000000", "other.db.backup-20250101T000000", "k.db.backupnote"})
    std::ofstream(dir_.file(name)) << "x";
  std::vector<std::string> removed;
  ASSERT_TRUE(PruneAutomaticBackups(db_, "", &removed).ok());
  EXPECT_EQ(removed, (std::vector<std::string>{dir_.file("k.db.backup-20260102T000000-1"),
                                               dir_.file("k.db.backup-20260102T000000")}));
  for (const char* kept : {"k.db.backup-20260101T000000", "k.db.backup-20260103T000000", "k.db.backup-20260104T000000",
                           "k.db.backup-doctor-20260101T000000", "other.db.backup-20250101T000000", "k.db.backupnote"})
    EXPECT_TRUE(fs::exists(dir_.file(kept))) << kept;
}

TEST_F(BackupTest, ListsOursBesideTheDatabaseAndRekallsFolder) {
  const std::string rekall_dir = dir_.file("home/.rekall/backups");
  fs::create_directories(rekall_dir);
  for (const std::string& name :
       {dir_.file("k.db.backup-20260101T000000"), dir_.file("k.db.backup-doctor-20260101T000000"),
        rekall_dir + "/knowledge_2026-01-01_000000.db", rekall_dir + "/knowledge_2026-01-02_000000_pre-restore.db",
        rekall_dir + "/notes.txt", dir_.file("other.db.backup-20260101T000000")})
    std::ofstream(name) << "12345";
  std::vector<BackupFile> list;
  ASSERT_TRUE(ListBackupFiles(db_, rekall_dir, &list).ok());
  ASSERT_EQ(list.size(), 4u);
  std::map<std::string, BackupKind> kinds;
  for (const auto& b : list) {
    kinds[fs::path(b.path).filename().string()] = b.kind;
    EXPECT_EQ(b.bytes, 5u);
    EXPECT_EQ(b.modified.size(), 19u) << b.modified;
  }
  EXPECT_EQ(kinds["k.db.backup-20260101T000000"], BackupKind::kMigration);
  EXPECT_EQ(kinds["k.db.backup-doctor-20260101T000000"], BackupKind::kDoctor);
  EXPECT_EQ(kinds["knowledge_2026-01-01_000000.db"], BackupKind::kExplicit);
  EXPECT_EQ(kinds["knowledge_2026-01-02_000000_pre-restore.db"], BackupKind::kPreRestore);
}

TEST(RekallBackupNames, DatedInRekallsFolderAndNeverReused) {
  TempDir dir;
  FakeEnv env;
  env.Advance(std::chrono::hours(24 * 10));  // 2026-01-11 in every time zone
  std::string first = FreeRekallBackupPath(dir.path(), "", &env);
  EXPECT_EQ(first.rfind(dir.path() + "/knowledge_2026-01-1", 0), 0u) << first;
  EXPECT_EQ(first.substr(first.size() - 3), ".db");
  std::ofstream(first) << "taken";
  std::string second = FreeRekallBackupPath(dir.path(), "", &env);
  EXPECT_EQ(second, first.substr(0, first.size() - 3) + "-1.db");
  std::string pre = FreeRekallBackupPath(dir.path(), "_pre-restore", &env);
  EXPECT_NE(pre.find("_pre-restore.db"), std::string::npos);
}

}  // namespace
}  // namespace rekall::store
