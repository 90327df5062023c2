// The store's maintenance methods (maintenance.cc): counts of what `rekall
// doctor` reports and the repairs it makes, on damage written behind the
// store's back with plain SQL.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "store/store.h"

namespace fs = std::filesystem;

namespace rekall::store {
namespace {

class MaintenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rekall_maintenance_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    ASSERT_TRUE(Store::Open(dir_ + "/k.db", {}, &store_).ok());
  }
  void TearDown() override {
    store_.reset();
    fs::remove_all(dir_);
  }
  std::string AddEntry(const std::string& title, bool with_vector) {
    Entry e;
    e.title = title;
    e.content = "content of " + title;
    e.type = "bug";
    e.tags = {"b", "a"};
    std::vector<float> v(kOurDim, 0.0f);
    v[0] = 1.0f;
    EXPECT_TRUE(store_->Add(&e, with_vector ? &v : nullptr).ok());
    return e.id;
  }
  // Damage as another program could leave it.
  void Sql(const std::string& sql) {
    Status s = sqlite::Exec(store_->db(), "PRAGMA foreign_keys = OFF; " + sql + "; PRAGMA foreign_keys = ON", "test");
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  size_t Count(Status (Store::*count)(size_t*)) {
    size_t n = 99;
    Status s = (store_.get()->*count)(&n);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return n;
  }

  std::string dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(MaintenanceTest, HealthyStoreHasNothingToReport) {
  AddEntry("one", true);
  AddEntry("two", false);
  std::vector<std::string> problems{"x"};
  ASSERT_TRUE(store_->IntegrityCheck(&problems).ok());
  EXPECT_TRUE(problems.empty());
  EXPECT_EQ(Count(&Store::CountOrphanEmbeddings), 0u);
  EXPECT_EQ(Count(&Store::CountOrphanTags), 0u);
  EXPECT_EQ(Count(&Store::CountFtsDrift), 0u);
  EXPECT_EQ(Count(&Store::CountOurSummaries), 1u);
}

TEST_F(MaintenanceTest, OrphansAreCountedAndDeleted) {
  std::string a = AddEntry("one", true);
  AddEntry("two", true);
  Sql("DELETE FROM entries WHERE id = '" + a + "'");  // its tags and embedding stay behind
  EXPECT_EQ(Count(&Store::CountOrphanEmbeddings), 1u);
  EXPECT_EQ(Count(&Store::CountOrphanTags), 2u);
  EXPECT_EQ(Count(&Store::CountOurSummaries), 1u);  // of existing entries only
  ASSERT_TRUE(store_->DeleteOrphanEmbeddings().ok());
  ASSERT_TRUE(store_->DeleteOrphanTags().ok());
  EXPECT_EQ(Count(&Store::CountOrphanEmbeddings), 0u);
  EXPECT_EQ(Count(&Store::CountOrphanTags), 0u);
}

TEST_F(MaintenanceTest, FtsDriftIsCountedAndRebuilt) {
  std::string a = AddEntry("nginx timeout", false);
  std::string b = AddEntry("postgres pool", false);
  Sql("DELETE FROM entries_fts WHERE id = '" + a + "'");
  Sql("UPDATE entries_fts SET tags = 'z' WHERE id = '" + b + "'");
  EXPECT_EQ(Count(&Store::CountFtsDrift), 2u);
  std::vector<KeywordHit> hits;
  ASSERT_TRUE(store_->KeywordSearch("nginx", {}, 10, &hits).ok());
  EXPECT_TRUE(hits.empty());
  ASSERT_TRUE(store_->RebuildFts().ok());
  EXPECT_EQ(Count(&Store::CountFtsDrift), 0u);
  ASSERT_TRUE(store_->KeywordSearch("nginx", {}, 10, &hits).ok());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, a);
}

// Every kind of drift counts, once per entry and stale FTS row; an FTS row
// of no entry is not an entry's drift.
TEST_F(MaintenanceTest, FtsDriftCountsEachStaleRowOfAnEntry) {
  std::string a = AddEntry("nginx timeout", false);
  std::string b = AddEntry("postgres pool", false);
  std::string c = AddEntry("react effect", false);
  AddEntry("intact", false);
  EXPECT_EQ(Count(&Store::CountFtsDrift), 0u);
  Sql("UPDATE entries_fts SET title = 'old title' WHERE id = '" + a + "'");
  EXPECT_EQ(Count(&Store::CountFtsDrift), 1u);
  Sql("UPDATE entries_fts SET content = NULL WHERE id = '" + b + "'");
  EXPECT_EQ(Count(&Store::CountFtsDrift), 2u);
  Sql("INSERT INTO entries_fts(id, title, content, tags) VALUES('ghost', 'g', 'g', '')");
  EXPECT_EQ(Count(&Store::CountFtsDrift), 2u);
  // A second, stale row beside c's good one.
  Sql("INSERT INTO entries_fts(id, title, content, tags) VALUES('" + c + "', 'react', 'stale', 'a b')");
  EXPECT_EQ(Count(&Store::CountFtsDrift), 3u);
  Sql("DELETE FROM entries_fts WHERE id = '" + a + "'");
  EXPECT_EQ(Count(&Store::CountFtsDrift), 3u);  // missing instead of stale
  ASSERT_TRUE(store_->RebuildFts().ok());
  EXPECT_EQ(Count(&Store::CountFtsDrift), 0u);
}

// Vacuum returns the pages of deleted rows, keeps the rest, and is refused
// inside a transaction (SQLite cannot VACUUM there) and on a read-only file.
TEST_F(MaintenanceTest, VacuumShrinksTheFileAndKeepsLiveRows) {
  std::vector<std::string> ids;
  for (int i = 0; i < 100; ++i) ids.push_back(AddEntry("entry " + std::to_string(i) + " nginx", true));
  for (size_t i = 0; i < ids.size(); i += 2) ASSERT_TRUE(store_->Delete(ids[i]).ok());
  uint64_t before = 0, after = 0;
  ASSERT_TRUE(store_->DatabaseBytes(&before).ok());
  Status inside = store_->WithTransaction([&] { return store_->Vacuum(); });
  EXPECT_EQ(inside.code(), Code::kInternal) << inside.ToString();
  Status s = store_->Vacuum();
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_TRUE(store_->DatabaseBytes(&after).ok());
  EXPECT_LT(after, before);
  EXPECT_EQ(after, fs::file_size(dir_ + "/k.db"));
  size_t n = 0;
  ASSERT_TRUE(store_->Count(&n).ok());
  EXPECT_EQ(n, 50u);
  EXPECT_EQ(Count(&Store::CountFtsDrift), 0u);
  EXPECT_EQ(Count(&Store::CountOurSummaries), 50u);
  std::vector<KeywordHit> hits;
  ASSERT_TRUE(store_->KeywordSearch("nginx", {}, 100, &hits).ok());
  EXPECT_EQ(hits.size(), 50u);

  store_.reset();
  OpenOptions ro;
  ro.read_only = true;
  ASSERT_TRUE(Store::Open(dir_ + "/k.db", ro, &store_).ok());
  EXPECT_EQ(store_->Vacuum().code(), Code::kIOError);
  EXPECT_EQ(fs::file_size(dir_ + "/k.db"), after);
}

TEST_F(MaintenanceTest, DeleteEmbeddingDropsOnlyThatEntrysVector) {
  std::string a = AddEntry("one", true);
  std::string b = AddEntry("two", true);
  ASSERT_TRUE(store_->DeleteEmbedding(a, EmbeddingType::kSummary).ok());
  ASSERT_TRUE(store_->DeleteEmbedding(a, EmbeddingType::kSummary).ok());  // none left: still ok
  StoredEmbedding emb;
  EXPECT_TRUE(store_->GetEmbedding(a, EmbeddingType::kSummary, &emb).IsNotFound());
  EXPECT_TRUE(store_->GetEmbedding(b, EmbeddingType::kSummary, &emb).ok());
  EXPECT_EQ(Count(&Store::CountOurSummaries), 1u);
}

TEST_F(MaintenanceTest, BackupIsAPrivateCopyAndPlanSaysUpToDate) {
  AddEntry("one", true);
  std::string dest = dir_ + "/copy.db";
  ASSERT_TRUE(store_->Backup(dest).ok());
  EXPECT_EQ(fs::status(dest).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  std::unique_ptr<Store> copy;
  ASSERT_TRUE(Store::Open(dest, {}, &copy).ok());
  size_t n = 0;
  ASSERT_TRUE(copy->Count(&n).ok());
  EXPECT_EQ(n, 1u);
  MigrationPlan plan;
  ASSERT_TRUE(store_->GetMigrationPlan(&plan).ok());
  EXPECT_FALSE(plan.needed());
  store_->ReleaseMemory();
  ASSERT_TRUE(store_->Count(&n).ok());  // still usable
}

}  // namespace
}  // namespace rekall::store
