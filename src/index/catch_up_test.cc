// An index catching up with another connection's commit (issue 13 #6):
// after each kind of change, the long-running index (brute, or sqlite-vec
// with every row a candidate so that its answers are exact) answers exactly
// as a brute index freshly loaded from the same tables, whether the change
// took the incremental path or the full reload. (A fresh sqlite-vec index
// would share the long-running one's vec0 table: not independent.)
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <tuple>

#include "index/index_source.h"
#include "index/sqlite_vec_index.h"
#include "index/index_test_util.h"

namespace rekall {
namespace {

using testing::ExecOrDie;
using testing::RandomUnit;
using testing::TempDb;

constexpr int kDim = 16;

using testing::Id;
using testing::Meta;

// Rekall's keyword index with its update trigger as our store narrows it
// (fired when the title or content is set), or none.
const char* kFts =
    "CREATE VIRTUAL TABLE entries_fts USING fts5(id UNINDEXED, title, content);"
    "CREATE TRIGGER entries_ai AFTER INSERT ON entries BEGIN"
    "  INSERT INTO entries_fts(id, title, content) VALUES (NEW.id, NEW.title, NEW.content); END;"
    "CREATE TRIGGER entries_ad AFTER DELETE ON entries BEGIN DELETE FROM entries_fts WHERE id = OLD.id; END;"
    "CREATE TRIGGER entries_au AFTER UPDATE OF title, content ON entries BEGIN"
    "  DELETE FROM entries_fts WHERE id = OLD.id;"
    "  INSERT INTO entries_fts(id, title, content) VALUES (NEW.id, NEW.title, NEW.content); END;";

// With Rekall's keyword table; the backend of the long-running index.
using Param = std::tuple<bool, IndexBackend>;

class CatchUpTest : public ::testing::TestWithParam<Param> {
 protected:
  static bool WithFts() { return std::get<0>(GetParam()); }
  static IndexBackend Backend() { return std::get<1>(GetParam()); }

  void SetUp() override {
    if (WithFts()) ExecOrDie(db_.db(), kFts);
    std::mt19937_64 rng(3);
    ExecOrDie(db_.db(), "BEGIN");
    for (int i = 0; i < 200; ++i) testing::WriteEntryRows(db_.db(), Id(i), RandomUnit(rng, kDim), Meta(i));
    ExecOrDie(db_.db(), "COMMIT");
    idx_ = OpenOn(db_.db(), Backend());
    other_ = db_.Open();
  }
  void TearDown() override {
    idx_.reset();
    sqlite3_close(other_);
  }

  static IndexOptions Options(IndexBackend b) {
    IndexOptions o;
    o.backend = b;
    o.extension_path = REKALL_TEST_SQLITE_VEC;
    o.vec_candidates_per_k = 4096;  // every row a candidate: exact answers
    o.dim = kDim;
    o.quantization = Quantization::kNone;  // exact scores on both sides
    return o;
  }

  static std::unique_ptr<VectorIndex> OpenOn(sqlite3* db, IndexBackend b) {
    std::unique_ptr<VectorIndex> idx;
    std::string notice;
    EXPECT_TRUE(OpenVectorIndex(db, Options(b), &idx, &notice).ok());
    return idx;
  }

  // A sqlite-vec index on db as OpenVectorIndex makes one, watched by hook.
  static std::unique_ptr<VectorIndex> OpenVecOn(sqlite3* db, CatchUpHook hook) {
    std::unique_ptr<VectorIndex> idx;
    EXPECT_TRUE(LoadSqliteVec(db, REKALL_TEST_SQLITE_VEC, nullptr).ok());
    EXPECT_TRUE(NewSqliteVecIndex(db, Options(IndexBackend::kSqliteVec), &idx, std::move(hook)).ok());
    return idx;
  }

  // Every search (unfiltered and by each field) of the long-running index
  // equals the one of an index loaded afresh on a third connection.
  void ExpectEqualsFresh() {
    sqlite3* third = db_.Open();
    auto fresh = OpenOn(third, IndexBackend::kBrute);
    size_t n = 0, want = 0;
    ASSERT_TRUE(idx_->Count(&n).ok());
    ASSERT_TRUE(fresh->Count(&want).ok());
    EXPECT_EQ(n, want);
    std::mt19937_64 rng(9);
    std::vector<Filter> filters(6);
    filters[1].type = "pattern";
    filters[2].project = "";
    filters[3].status = "obsolete";
    filters[4].tags = {"even"};
    filters[5].tags = {"three", "new"};
    for (const Filter& f : filters) {
      auto q = RandomUnit(rng, kDim);
      std::vector<Hit> got, exp;
      ASSERT_TRUE(idx_->Search(q.data(), kDim, 1000, f, &got).ok());
      ASSERT_TRUE(fresh->Search(q.data(), kDim, 1000, f, &exp).ok());
      ASSERT_EQ(got.size(), exp.size());
      for (size_t i = 0; i < got.size(); ++i) {
        EXPECT_EQ(got[i].entry_id, exp[i].entry_id) << "rank " << i;
        EXPECT_EQ(got[i].score, exp[i].score) << "rank " << i;
      }
    }
    fresh.reset();
    sqlite3_close(third);
  }

  void Other(const std::string& sql) { ExecOrDie(other_, sql); }
  std::vector<float> Vec(uint64_t seed) {
    std::mt19937_64 rng(seed);
    return RandomUnit(rng, kDim);
  }

  TempDb db_;
  std::unique_ptr<VectorIndex> idx_;
  sqlite3* other_ = nullptr;
};

TEST_P(CatchUpTest, AddedEntry) {
  testing::WriteEntryRows(other_, "added", Vec(1), EntryMeta{"bug", "p1", "active", {"new", "three"}}, "2026-03-01");
  ExpectEqualsFresh();
}

// INSERT OR REPLACE of both rows: new rowids.
TEST_P(CatchUpTest, EditedTextWithNewVectorReplacingRows) {
  testing::WriteEntryRows(other_, Id(7), Vec(2), Meta(7), "2026-03-01");
  ExpectEqualsFresh();
}

// UPDATE of the entry in place, the vector by delete + insert.
TEST_P(CatchUpTest, EditedTextWithVectorDeletedAndInserted) {
  const std::vector<float> v = Vec(3);
  Other("BEGIN; UPDATE entries SET content = 'new', updated_at = '2026-03-01' WHERE id = '" + Id(8) +
        "'; DELETE FROM embeddings WHERE entry_id = '" + Id(8) + "'");
  testing::WriteEntryRows(other_, Id(8), v, Meta(8), "2026-03-01");
  Other("COMMIT");
  ExpectEqualsFresh();
}

TEST_P(CatchUpTest, MetadataOnlyEdit) {
  Other("UPDATE entries SET type = 'pattern', project = 'p9', status = 'obsolete', updated_at = '2026-03-01'"
        " WHERE id = '" + Id(9) + "'");
  ExpectEqualsFresh();
}

TEST_P(CatchUpTest, TagChange) {
  Other("BEGIN; DELETE FROM tags WHERE entry_id = '" + Id(6) + "'; INSERT INTO tags VALUES ('" + Id(6) +
        "', 'new'), ('" + Id(6) + "', 'three'); UPDATE entries SET updated_at = '2026-03-01' WHERE id = '" +
        Id(6) + "'; COMMIT");
  ExpectEqualsFresh();
}

// No writer we know removes a tag without touching updated_at; one that
// does gets the full reload, not a stale tag.
TEST_P(CatchUpTest, TagRemovedAloneFallsBackToReload) {
  Other("DELETE FROM tags WHERE entry_id = '" + Id(6) + "' AND tag = 'even'");
  ExpectEqualsFresh();
}

TEST_P(CatchUpTest, DeletedEntry) {
  testing::DeleteEntryRows(other_, Id(10));
  ExpectEqualsFresh();
}

// An entry deleted without its embedding: the orphan never ranks.
TEST_P(CatchUpTest, DeletedEntryRowOnly) {
  Other("DELETE FROM entries WHERE id = '" + Id(11) + "'");
  ExpectEqualsFresh();
}

// The row holding the highest rowid deleted, then a new one taking its rowid.
TEST_P(CatchUpTest, HighestRowidReused) {
  Other("BEGIN; DELETE FROM embeddings WHERE rowid = (SELECT max(rowid) FROM embeddings)");
  testing::WriteEntryRows(other_, Id(199), Vec(4), Meta(199), "2026-01-01");
  Other("COMMIT");
  ExpectEqualsFresh();
}

// The two highest entries deleted, then another entry's vector replaced
// alone (INSERT OR REPLACE, as Rekall writes it; updated_at unchanged): the
// new embeddings row reuses a rowid at or below the last maximum seen.
TEST_P(CatchUpTest, VectorReplacedIntoARowidFreedByDeletes) {
  testing::WriteEntryRows(other_, "x1", Vec(6), Meta(1), "2026-02-01");
  testing::WriteEntryRows(other_, "x2", Vec(7), Meta(2), "2026-02-01");
  ExpectEqualsFresh();
  testing::DeleteEntryRows(other_, "x2");
  testing::DeleteEntryRows(other_, "x1");
  const std::vector<float> v = Vec(8);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(other_,
                               "INSERT OR REPLACE INTO embeddings(id, entry_id, embedding_type, vector, dimensions,"
                               " model_name, created_at) VALUES (?1 || ':summary', ?1, 'summary', ?2, ?3,"
                               " 'sentence-transformers/all-MiniLM-L6-v2', '')",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_text(st, 1, Id(12).c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_blob(st, 2, v.data(), int(v.size() * sizeof(float)), SQLITE_TRANSIENT);
  sqlite3_bind_int(st, 3, int(v.size()));
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  ExpectEqualsFresh();
}

TEST_P(CatchUpTest, ManyChanges) {
  Other("BEGIN");
  for (int i = 0; i < 30; ++i) testing::WriteEntryRows(other_, "new" + std::to_string(i), Vec(100 + i), Meta(i), "2026-04-01");
  for (int i = 20; i < 40; ++i) testing::DeleteEntryRows(other_, Id(i));
  for (int i = 40; i < 50; ++i) testing::WriteEntryRows(other_, Id(i), Vec(200 + i), Meta(i + 1), "2026-04-02");
  Other("UPDATE entries SET status = 'obsolete', updated_at = '2026-04-03' WHERE id IN ('" + Id(60) + "', '" +
        Id(61) + "')");
  Other("COMMIT");
  ExpectEqualsFresh();
}

// Several commits in a row, each caught up before the next.
TEST_P(CatchUpTest, SuccessiveCommits) {
  for (int i = 0; i < 5; ++i) {
    testing::WriteEntryRows(other_, "s" + std::to_string(i), Vec(300 + i), Meta(i), "2026-05-0" + std::to_string(i + 1));
    testing::DeleteEntryRows(other_, Id(100 + i));
    ExpectEqualsFresh();
  }
}

// VACUUM may renumber rowids: the marks cannot be trusted, everything is read.
TEST_P(CatchUpTest, Vacuum) {
  for (int i = 50; i < 60; ++i) testing::DeleteEntryRows(other_, Id(i));
  ExpectEqualsFresh();
  testing::WriteEntryRows(other_, "after", Vec(5), Meta(1), "2026-06-01");
  Other("VACUUM");
  ExpectEqualsFresh();
}

// Our own writes mixed with another connection's commit.
TEST_P(CatchUpTest, OwnWritesThenOthers) {
  const std::vector<float> v = Vec(6);
  ExecOrDie(db_.db(), "BEGIN");
  testing::WriteEntryRows(db_.db(), "mine", v, Meta(2), "2026-07-01");
  ASSERT_TRUE(idx_->Upsert("mine", v.data(), kDim, Meta(2)).ok());
  testing::DeleteEntryRows(db_.db(), Id(12));
  ASSERT_TRUE(idx_->Remove(Id(12)).ok());
  ExecOrDie(db_.db(), "COMMIT");
  testing::WriteEntryRows(other_, "theirs", Vec(7), Meta(3), "2026-07-02");
  ExpectEqualsFresh();
}

// A row this process wrote (its rowids unknown to the index) deleted by
// another, with nothing else changing the counts.
TEST_P(CatchUpTest, OwnWriteDeletedByOther) {
  const std::vector<float> v = Vec(8);
  testing::WriteEntryRows(db_.db(), "mine", v, Meta(2), "2026-07-01");
  ASSERT_TRUE(idx_->Upsert("mine", v.data(), kDim, Meta(2)).ok());
  testing::DeleteEntryRows(other_, "mine");
  ExpectEqualsFresh();
}

// What the detection finds, for the changes the incremental path takes:
// it reads only the entries named, and gives up only when it must.
TEST_P(CatchUpTest, DetectionNamesOnlyWhatChanged) {
  index_internal::SourceMarks was, now;
  index_internal::SourceChanges ch;
  ASSERT_TRUE(index_internal::ReadSourceMarks(other_, &was).ok());
  testing::WriteEntryRows(other_, "added", Vec(1), Meta(1), "2026-09-01");
  Other("UPDATE entries SET type = 'pattern', updated_at = '2026-09-02' WHERE id = '" + Id(5) + "'");
  ASSERT_TRUE(index_internal::ReadSourceMarks(other_, &now).ok());
  ASSERT_TRUE(index_internal::FindSourceChanges(other_, was, now, &ch).ok());
  EXPECT_TRUE(ch.provable);
  EXPECT_FALSE(ch.rows_gone);
  // The entry holding each table's highest rowid before is read again too.
  EXPECT_TRUE(std::count(ch.touched.begin(), ch.touched.end(), "added"));
  EXPECT_TRUE(std::count(ch.touched.begin(), ch.touched.end(), Id(5)));
  EXPECT_LE(ch.touched.size(), 4u);
  was = now;
  testing::DeleteEntryRows(other_, Id(6));
  ASSERT_TRUE(index_internal::ReadSourceMarks(other_, &now).ok());
  ASSERT_TRUE(index_internal::FindSourceChanges(other_, was, now, &ch).ok());
  EXPECT_TRUE(ch.provable);
  EXPECT_TRUE(ch.rows_gone);
  was = now;
  Other("VACUUM");
  ASSERT_TRUE(index_internal::ReadSourceMarks(other_, &now).ok());
  ASSERT_TRUE(index_internal::FindSourceChanges(other_, was, now, &ch).ok());
  EXPECT_FALSE(ch.provable);
}

// The stored form of the marks gives back the marks and the text after
// them; anything else is no marks.
TEST(SourceMarksText, RoundTripsAndRejectsOtherText) {
  index_internal::SourceMarks m;
  m.schema_version = 7;
  m.embeddings = {120, 100};
  m.entries = {130, 99};
  m.tags = {0, 0};
  m.fts_max_rowid = -1;
  m.max_updated = "2026-11-30 07:00:00:x";  // a ':' inside is read by length
  const std::string text = index_internal::SerializeMarks(m, "100|12|");
  index_internal::SourceMarks back;
  std::string tail;
  ASSERT_TRUE(index_internal::ParseMarks(text, &back, &tail));
  EXPECT_EQ(back, m);
  EXPECT_EQ(tail, "100|12|");
  for (const std::string& bad : {std::string(), std::string("marks2") + text.substr(6), text.substr(0, 20),
                                 std::string("marks1 1 2 3"), std::string("100|12|")}) {
    EXPECT_FALSE(index_internal::ParseMarks(bad, &back, &tail)) << bad;
  }
}

// An entry rewritten in place with an older updated_at (an import's
// replace): its new keyword row tells.
TEST_P(CatchUpTest, RewrittenInPlaceWithOlderUpdatedAt) {
  if (!WithFts()) GTEST_SKIP() << "without the keyword table only updated_at can tell";
  Other("UPDATE entries SET title = 'imported', type = 'pattern', status = 'obsolete', updated_at = '2000-01-01'"
        " WHERE id = '" + Id(13) + "'");
  ExpectEqualsFresh();
}

// Bookkeeping writes (reads recorded on results) change nothing indexed.
TEST_P(CatchUpTest, BookkeepingUpdate) {
  Other("UPDATE entries SET confidence = 3 WHERE id = '" + Id(14) + "'");
  ExpectEqualsFresh();
}

// A new process (connection) opening the sqlite-vec index after another's
// commit of one entry rewrites that entry's row, not every row; a change the
// marks cannot prove (VACUUM) takes the full comparison. Both leave the
// table answering as a fresh brute index.
TEST_P(CatchUpTest, NewSqliteVecProcessReadsOnlyWhatChanged) {
  if (Backend() != IndexBackend::kSqliteVec) GTEST_SKIP() << "sqlite-vec's open";
  idx_.reset();
  testing::WriteEntryRows(other_, "added", Vec(1), Meta(1), "2026-09-01");
  std::vector<std::pair<bool, size_t>> calls;
  auto hook = [&](bool incremental, size_t entries) { calls.emplace_back(incremental, entries); };
  sqlite3* next = db_.Open();
  auto reopened = OpenVecOn(next, hook);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_TRUE(calls[0].first);
  // The entry holding a table's highest rowid before may be read again too.
  EXPECT_GE(calls[0].second, 1u);
  EXPECT_LE(calls[0].second, 4u);
  idx_ = std::move(reopened);
  ExpectEqualsFresh();
  idx_.reset();
  sqlite3_close(next);

  calls.clear();
  Other("VACUUM");
  testing::WriteEntryRows(other_, "after", Vec(5), Meta(2), "2026-09-02");
  next = db_.Open();
  reopened = OpenVecOn(next, hook);
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_FALSE(calls[0].first);
  EXPECT_EQ(calls[0].second, 202u);
  idx_ = std::move(reopened);
  ExpectEqualsFresh();
  idx_.reset();
  sqlite3_close(next);
}

// A deleted entry's row goes on the full path; the marks stored with it
// make the next one-row commit incremental again.
TEST_P(CatchUpTest, SqliteVecDeletionThenAddition) {
  if (Backend() != IndexBackend::kSqliteVec) GTEST_SKIP() << "sqlite-vec's open";
  idx_.reset();
  std::vector<bool> incremental;
  auto hook = [&](bool inc, size_t) { incremental.push_back(inc); };
  testing::DeleteEntryRows(other_, Id(3));
  sqlite3* next = db_.Open();
  idx_ = OpenVecOn(next, hook);
  ExpectEqualsFresh();
  testing::WriteEntryRows(other_, "added", Vec(1), Meta(1), "2026-09-01");
  ExpectEqualsFresh();
  EXPECT_EQ(incremental, (std::vector<bool>{false, true}));
  idx_.reset();
  sqlite3_close(next);
}

// The value of a rekall_index_state row ("" when none).
std::string StateRow(sqlite3* db, const std::string& name) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "SELECT value FROM rekall_index_state WHERE name = ?1", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  std::string v;
  if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0)) {
    v = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  return v;
}

void SetStateRow(sqlite3* db, const std::string& name, const std::string& value) {
  sqlite3_stmt* st = nullptr;
  sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO rekall_index_state(name, value) VALUES (?1, ?2)", -1, &st, nullptr);
  sqlite3_bind_text(st, 1, name.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, value.c_str(), -1, SQLITE_TRANSIENT);
  ASSERT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
}

// An older rekall wrote last: it brought embeddings_vec in line and stored
// what it stores, the sources' fingerprint, with the marks row of the
// rekall of 2026-11-30 or without it (before). Another program then
// changed the sources. The next open catches up from those marks when
// there are some (reading only what changed), else by comparing every row;
// either way it answers as a fresh index.
TEST_P(CatchUpTest, SqliteVecCatchesUpAfterAnOlderRekall) {
  if (Backend() != IndexBackend::kSqliteVec) GTEST_SKIP() << "sqlite-vec's state row";
  for (bool with_marks : {true, false}) {
    SCOPED_TRACE(with_marks ? "with the marks row" : "fingerprint alone");
    ExpectEqualsFresh();  // embeddings_vec in line with the sources
    idx_.reset();
    const std::string fp = testing::OlderRekallFingerprint(other_);
    SetStateRow(other_, "embeddings_vec", fp);
    if (with_marks) {
      index_internal::SourceMarks m;
      ASSERT_TRUE(index_internal::ReadSourceMarks(other_, &m).ok());
      SetStateRow(other_, "embeddings_vec.marks", index_internal::SerializeMarks(m, fp));
    } else {
      Other("DELETE FROM rekall_index_state WHERE name = 'embeddings_vec.marks'");
    }
    const std::string tag = with_marks ? "a" : "b";
    testing::WriteEntryRows(other_, "added" + tag, Vec(with_marks ? 21 : 22), Meta(1), "2026-10-01");
    Other("UPDATE entries SET type = 'pattern', updated_at = '2026-10-02' WHERE id = '" + Id(with_marks ? 5 : 6) + "'");
    std::vector<bool> incremental;
    auto hook = [&](bool inc, size_t) { incremental.push_back(inc); };
    idx_ = OpenVecOn(db_.db(), hook);
    EXPECT_EQ(incremental, std::vector<bool>{with_marks});
    ExpectEqualsFresh();
  }
}

// What this rekall leaves for an older one: a state row that no
// fingerprint of the sources equals, so that an older rekall always
// compares, even once the sources are back where a fingerprint it could
// have taken before was (an entry added, caught up into embeddings_vec,
// then deleted by another program); and, for the rekall of 2026-11-30,
// marks stored with that state which are where embeddings_vec stands.
TEST_P(CatchUpTest, SqliteVecStateMakesAnOlderRekallCatchUp) {
  if (Backend() != IndexBackend::kSqliteVec) GTEST_SKIP() << "sqlite-vec's state row";
  ExpectEqualsFresh();
  const std::string before = testing::OlderRekallFingerprint(other_);
  testing::WriteEntryRows(other_, "added", Vec(1), Meta(1), "2027-01-01");
  ExpectEqualsFresh();  // "added" caught up into embeddings_vec
  const std::string state = StateRow(other_, "embeddings_vec");
  index_internal::SourceMarks stored, now;
  std::string tail;
  ASSERT_TRUE(index_internal::ParseMarks(StateRow(other_, "embeddings_vec.marks"), &stored, &tail));
  ASSERT_TRUE(index_internal::ReadSourceMarks(other_, &now).ok());
  EXPECT_EQ(tail, state);  // trusted by the rekall of 2026-11-30
  EXPECT_EQ(stored, now);
  EXPECT_NE(state, testing::OlderRekallFingerprint(other_));
  idx_.reset();
  testing::DeleteEntryRows(other_, "added");
  ASSERT_EQ(testing::OlderRekallFingerprint(other_), before);
  // "added" is still in embeddings_vec: an older rekall must not trust it.
  EXPECT_NE(StateRow(other_, "embeddings_vec"), before);
  idx_ = OpenVecOn(db_.db(), nullptr);
  ExpectEqualsFresh();
}

INSTANTIATE_TEST_SUITE_P(Schemas, CatchUpTest,
                         ::testing::Combine(::testing::Bool(),
                                            ::testing::Values(IndexBackend::kBrute, IndexBackend::kSqliteVec)),
                         [](const ::testing::TestParamInfo<Param>& i) {
                           return std::string(std::get<0>(i.param) ? "WithFts" : "NoFts") +
                                  (std::get<1>(i.param) == IndexBackend::kBrute ? "Brute" : "SqliteVec");
                         });

}  // namespace
}  // namespace rekall
