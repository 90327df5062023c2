#include "store/store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "util/fake_env_for_test.h"
#include "util/temp_dir_for_test.h"

namespace fs = std::filesystem;

namespace rekall::store {
namespace {

std::string FixturePath(const std::string& name) {
  return std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/" + name;
}

std::string ReadFile(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

Entry MakeEntry(const std::string& title, const std::string& type = "bug") {
  Entry e;
  e.title = title;
  e.content = "content of " + title;
  e.type = type;
  e.project = "proj";
  e.confidence = 3;
  e.tags = {"nginx", "timeout"};
  return e;
}

std::vector<float> UnitVector(float seed) {
  std::vector<float> v(kDim);
  double n = 0;
  for (int i = 0; i < kDim; ++i) {
    v[i] = static_cast<float>(std::sin(seed * (i + 1)));
    n += v[i] * v[i];
  }
  for (auto& x : v) x = static_cast<float>(x / std::sqrt(n));
  return v;
}

// The store asks its Env which files and folders exist.
TEST(StoreOpen, AsksItsEnvWhatExists) {
  TempDir d;
  FakeEnv env;
  env.SetDirectory(d.path(), false);
  OpenOptions o;
  o.env = &env;
  std::unique_ptr<Store> s;
  Status st = Store::Open(d.file("k.db"), o, &s);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_NE(st.message().find("directory " + d.path() + " does not exist"), std::string::npos) << st.ToString();
  EXPECT_FALSE(fs::exists(d.file("k.db")));
}

TEST(StoreOpen, CreatesRekallSchemaWithMode0600) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  EXPECT_TRUE(s->schema().created);
  EXPECT_EQ(s->schema().user_version, kRekallUserVersion);
  EXPECT_EQ(s->schema().engine_version, kEngineSchemaVersion);
  struct stat sb;
  ASSERT_EQ(stat(d.file("k.db").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  // WAL mode is on.
  sqlite3_stmt* st;
  sqlite3_prepare_v2(s->db(), "PRAGMA journal_mode", -1, &st, nullptr);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
}

TEST(StoreOpen, MissingDirectoryIsAClearError) {
  std::unique_ptr<Store> s;
  Status st = Store::Open("/nonexistent_dir_xyz/k.db", {}, &s);
  EXPECT_TRUE(st.IsNotFound()) << st.ToString();
  EXPECT_NE(st.message().find("does not exist"), std::string::npos);
}

TEST(StoreOpen, NotADatabaseIsRejectedAndUntouched) {
  TempDir d;
  std::string p = d.file("text.db");
  std::ofstream(p) << std::string(5000, 'x');
  std::string before = ReadFile(p);
  std::unique_ptr<Store> s;
  Status st = Store::Open(p, {}, &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a SQLite database"), std::string::npos) << st.ToString();
  EXPECT_EQ(ReadFile(p), before);
}

TEST(StoreOpen, OtherSqliteDatabaseIsNotModified) {
  TempDir d;
  std::string p = d.file("other.db");
  sqlite3* db;
  sqlite3_open(p.c_str(), &db);
  sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES(1);", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  std::string before = ReadFile(p);
  std::unique_ptr<Store> s;
  Status st = Store::Open(p, {}, &s);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not a Rekall knowledge base"), std::string::npos) << st.ToString();
  EXPECT_EQ(ReadFile(p), before);
}

TEST(StoreOpen, CorruptDatabaseIsAClearError) {
  TempDir d;
  std::string p = d.file("k.db");
  {
    std::unique_ptr<Store> s;
    ASSERT_TRUE(Store::Open(p, {}, &s).ok());
    for (int i = 0; i < 50; ++i) {
      Entry e = MakeEntry("entry " + std::to_string(i));
      ASSERT_TRUE(s->Add(&e).ok());
    }
  }
  // Scribble over the pages after the header.
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    std::string junk(8000, '\xAB');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  std::unique_ptr<Store> s;
  Status st = Store::Open(p, {}, &s);
  if (st.ok()) {
    std::vector<Entry> all;
    st = s->List({}, &all);
  }
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
}

// Issue 10: an existing empty file we make a knowledge base becomes 0600.
TEST(StoreOpen, ExistingEmptyFileBecomesPrivate) {
  TempDir d;
  std::string p = d.file("k.db");
  std::ofstream(p).close();
  ASSERT_EQ(chmod(p.c_str(), 0644), 0);
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(p, {}, &s).ok());
  struct stat sb;
  ASSERT_EQ(stat(p.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
}

TEST(StoreOpen, ReadOnlyFileReadsButRefusesWrites) {
  TempDir d;
  std::string p = d.file("k.db");
  std::string id;
  {
    std::unique_ptr<Store> s;
    ASSERT_TRUE(Store::Open(p, {}, &s).ok());
    Entry e = MakeEntry("kept");
    ASSERT_TRUE(s->Add(&e).ok());
    id = e.id;
  }
  OpenOptions o;
  o.read_only = true;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(p, o, &s).ok());
  Entry got;
  ASSERT_TRUE(s->Get(id, &got).ok());
  Entry e = MakeEntry("new");
  Status st = s->Add(&e);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("read-only"), std::string::npos) << st.ToString();
  EXPECT_TRUE(s->Delete(id).ToString().find("read-only") != std::string::npos);
}

// Rekall's FTS update trigger fires only when the title or content is set:
// recording a read leaves the FTS row alone (it used to re-index it, scanning
// the FTS table per row), and edits are still indexed, tags included.
TEST(StoreOpen, TheFtsUpdateTriggerSkipsBookkeeping) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  auto one = [&](const std::string& sql) {
    sqlite::Stmt st(s->db(), sql);
    return st.Step() == SQLITE_ROW ? st.Text(0) : std::string();
  };
  EXPECT_NE(one("SELECT sql FROM sqlite_master WHERE name = 'entries_au'").find("AFTER UPDATE OF title, content ON"),
            std::string::npos);
  Entry e = MakeEntry("Nginx 504 behind proxy");
  e.tags = {"gateway"};
  ASSERT_TRUE(s->Add(&e).ok());
  const std::string rowid = one("SELECT rowid FROM entries_fts WHERE id = '" + e.id + "'");
  ASSERT_TRUE(s->RecordAccess({e.id}).ok());
  EXPECT_EQ(one("SELECT rowid FROM entries_fts WHERE id = '" + e.id + "'"), rowid);  // not re-indexed
  EXPECT_EQ(one("SELECT count(*) FROM entries_fts"), "1");
  e.title = "Haproxy 503";
  e.content = "the balancer answered 503";
  ASSERT_TRUE(s->Update(&e).ok());
  std::vector<KeywordHit> hits;
  ASSERT_TRUE(s->KeywordSearch("haproxy", {}, 10, &hits).ok());
  EXPECT_EQ(hits.size(), 1u);
  ASSERT_TRUE(s->KeywordSearch("gateway", {}, 10, &hits).ok());  // its tags too
  EXPECT_EQ(hits.size(), 1u);
  ASSERT_TRUE(s->KeywordSearch("nginx", {}, 10, &hits).ok());
  EXPECT_TRUE(hits.empty());
  // Opening again leaves the narrowed trigger as it is.
  s.reset();
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  EXPECT_NE(one("SELECT sql FROM sqlite_master WHERE name = 'entries_au'").find("UPDATE OF title, content"),
            std::string::npos);
}

// Counts the runs of Rekall's FTS update trigger on a connection (SQLite
// traces each trigger program it starts as "-- TRIGGER <name>").
struct TriggerRuns {
  explicit TriggerRuns(sqlite3* db, std::string name = "entries_au") : db(db), trace("-- TRIGGER " + name) {
    sqlite3_trace_v2(db, SQLITE_TRACE_STMT, [](unsigned, void* self, void*, void* x) {
      auto* me = static_cast<TriggerRuns*>(self);
      if (static_cast<const char*>(x) == me->trace) ++me->n;
      return 0;
    }, this);
  }
  ~TriggerRuns() { sqlite3_trace_v2(db, 0, nullptr, nullptr); }
  sqlite3* db;
  std::string trace;
  int n = 0;
};

std::string Dump(sqlite3* db, const std::string& sql) {
  std::string out;
  sqlite::Stmt st(db, sql);
  while (st.Step() == SQLITE_ROW) {
    for (int c = 0; c < st.ColumnCount(); ++c) out += (st.IsNull(c) ? "NULL" : st.Text(c)) + "|";
    out += "\n";
  }
  return out;
}

// A copy at `p` of Rekall's v12 fixture, its keyword rows drifted as a
// crash or an old bug leaves them (the 4th entry by id with a second row,
// the 6th with none), then `sql` run on it.
void CopyDriftedFixture(const std::string& src, const std::string& p, const std::string& sql) {
  fs::copy_file(src, p);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &raw), SQLITE_OK);
  const std::string drift =
      "INSERT INTO entries_fts(id, title, content, tags) SELECT id, 'zzdrift', 'zzdrift', '' FROM entries "
      "ORDER BY id LIMIT 1 OFFSET 3; DELETE FROM entries_fts WHERE id = (SELECT id FROM entries ORDER BY id "
      "LIMIT 1 OFFSET 5);";
  EXPECT_TRUE(sqlite::Exec(raw, drift + sql, "drift").ok());
  sqlite3_close(raw);
}

// Our updates leave Rekall's FTS update trigger out (its DELETE scans the
// whole FTS table) and do its work through our index on the FTS rows' ids.
// On two copies of a file Rekall wrote, with keyword rows drifted as a
// crash or an old bug leaves them (an entry with two rows, one with none),
// the same updates through that path and through Rekall's trigger (which a
// user's own trigger on `entries` makes us keep) leave the same keyword
// table: rows, rowids, ids, text and tags.
TEST(RekallFixture, OurUpdatesIndexKeywordsExactlyAsRekallsTrigger) {
  std::string src = FixturePath("rekall-v12.db");
  if (!fs::exists(src)) GTEST_SKIP() << "fixture absent: " << src;
  TempDir d;
  std::vector<std::string> ids;
  std::string fts[2];
  for (int copy = 0; copy < 2; ++copy) {
    std::string p = d.file("v12-" + std::to_string(copy) + ".db");
    CopyDriftedFixture(src, p,
                       copy == 0 ? "" : "CREATE TABLE audit(id TEXT); CREATE TRIGGER user_audit AFTER UPDATE ON "
                                        "entries BEGIN INSERT INTO audit VALUES (NEW.id); END;");
    std::unique_ptr<Store> s;
    ASSERT_TRUE(Store::Open(p, {}, &s).ok());
    if (ids.empty()) {
      sqlite::Stmt st(s->db(), "SELECT id FROM entries ORDER BY id LIMIT 12");
      while (st.Step() == SQLITE_ROW) ids.push_back(st.Text(0));
    }
    TriggerRuns runs(s->db());
    for (size_t i = 0; i < ids.size(); ++i) {
      Entry e;
      ASSERT_TRUE(s->Get(ids[i], &e).ok());
      e.title = "edited title " + std::to_string(i);
      if (i % 2) e.content = "haproxy answered 503 " + std::to_string(i);
      if (i % 3 == 0) e.tags = {"gateway", "t" + std::to_string(i)};
      ASSERT_TRUE(s->Update(&e).ok()) << ids[i];
    }
    EXPECT_EQ(runs.n, copy == 0 ? 0 : static_cast<int>(ids.size()));
    fts[copy] = Dump(s->db(), "SELECT rowid, id, title, content, tags FROM entries_fts ORDER BY rowid");
    EXPECT_TRUE(sqlite::Exec(s->db(), "INSERT INTO entries_fts(entries_fts) VALUES('integrity-check')", "fts").ok());
    EXPECT_EQ(Dump(s->db(), "PRAGMA integrity_check"), "ok|\n");
    std::vector<KeywordHit> hits;
    ASSERT_TRUE(s->KeywordSearch("haproxy", {}, 20, &hits).ok());
    EXPECT_EQ(hits.size(), ids.size() / 2);
    // Rekall's trigger stays in the file, and fires for other writers.
    EXPECT_NE(Dump(s->db(), "SELECT sql FROM sqlite_master WHERE name = 'entries_au'").find("DELETE FROM entries_fts"),
              std::string::npos);
    ASSERT_TRUE(sqlite::Exec(s->db(), "UPDATE entries SET title = 'raw' WHERE id = '" + ids[0] + "'", "raw").ok());
    EXPECT_EQ(runs.n, copy == 0 ? 1 : static_cast<int>(ids.size()) + 1);
  }
  EXPECT_EQ(fts[0], fts[1]);
  EXPECT_NE(fts[0].find("edited title 11"), std::string::npos);
  EXPECT_EQ(fts[0].find("zzdrift"), std::string::npos);  // the duplicate row went too
}

// Our deletes likewise leave Rekall's FTS delete trigger out (its DELETE
// scans the FTS table) and drop the entry's keyword rows through our index.
// On two copies of Rekall's file, drifted as above and with links between
// entries: the same deletes through that path and through Rekall's trigger
// (kept when any table has a trigger of its own: here one on `links`, which
// the delete's cascade must still fire) leave the same keyword table and
// the same links.
TEST(RekallFixture, OurDeletesDropKeywordRowsExactlyAsRekallsTrigger) {
  std::string src = FixturePath("rekall-v12.db");
  if (!fs::exists(src)) GTEST_SKIP() << "fixture absent: " << src;
  TempDir d;
  std::string fts[2], links[2];
  for (int copy = 0; copy < 2; ++copy) {
    std::string p = d.file("v12-" + std::to_string(copy) + ".db");
    {
      std::string sql =
          "INSERT INTO links(id, source_id, target_id, relation_type, created_at) SELECT 'l' || a.rowid, a.id, b.id, "
          "'related', '2026-01-01' FROM entries a JOIN entries b ON b.rowid = a.rowid + 1 WHERE a.rowid <= 20;"
          "CREATE TABLE audit(id TEXT);";
      if (copy == 1) sql += "CREATE TRIGGER user_links AFTER DELETE ON links BEGIN INSERT INTO audit VALUES (OLD.id); END;";
      CopyDriftedFixture(src, p, sql);
    }
    std::unique_ptr<Store> s;
    ASSERT_TRUE(Store::Open(p, {}, &s).ok());
    std::vector<std::string> ids;
    {
      sqlite::Stmt st(s->db(), "SELECT id FROM entries ORDER BY rowid LIMIT 8");
      while (st.Step() == SQLITE_ROW) ids.push_back(st.Text(0));
    }
    sqlite::Stmt drifted(s->db(), "SELECT id FROM entries ORDER BY id LIMIT 2 OFFSET 4");
    while (drifted.Step() == SQLITE_ROW)  // two rows, then none
      if (std::find(ids.begin(), ids.end(), drifted.Text(0)) == ids.end()) ids.push_back(drifted.Text(0));
    TriggerRuns runs(s->db(), "entries_ad");
    for (const std::string& id : ids) {
      Status del = s->Delete(id);
      ASSERT_TRUE(del.ok()) << id << ": " << del.ToString();
    }
    EXPECT_EQ(runs.n, copy == 0 ? 0 : static_cast<int>(ids.size()));
    fts[copy] = Dump(s->db(), "SELECT rowid, id, title, content, tags FROM entries_fts ORDER BY rowid");
    links[copy] = Dump(s->db(), "SELECT id, source_id, target_id FROM links ORDER BY id");
    EXPECT_EQ(Dump(s->db(), "SELECT count(*) FROM audit"), copy == 0 ? "0|\n" : "8|\n");  // the cascade's
    EXPECT_EQ(Dump(s->db(), "SELECT count(*) FROM entries_fts f LEFT JOIN entries e ON e.id = f.id WHERE e.id IS NULL"),
              "0|\n");
    EXPECT_TRUE(sqlite::Exec(s->db(), "INSERT INTO entries_fts(entries_fts) VALUES('integrity-check')", "fts").ok());
    EXPECT_EQ(Dump(s->db(), "PRAGMA integrity_check"), "ok|\n");
    EXPECT_EQ(Dump(s->db(), "PRAGMA foreign_key_check"), "");
  }
  EXPECT_EQ(fts[0], fts[1]);
  EXPECT_EQ(links[0], links[1]);
  EXPECT_EQ(links[0].find("l1|"), std::string::npos);  // cascaded away with its entries
  EXPECT_NE(links[0], "");
  EXPECT_EQ(fts[0].find("zzdrift"), std::string::npos);
}

// A trigger another process adds on `entries` while our store is open
// (a running server) fires for our updates from then on: the store sees
// the schema change and stops leaving the update trigger out; dropped
// again, our updates take the cheaper path again (hostile test).
TEST(RekallFixture, ATriggerAddedWhileOpenFiresForOurUpdates) {
  std::string src = FixturePath("rekall-v12.db");
  if (!fs::exists(src)) GTEST_SKIP() << "fixture absent: " << src;
  TempDir d;
  std::string p = d.file("v12.db");
  fs::copy_file(src, p);
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(p, {}, &s).ok());
  std::string id;
  {
    sqlite::Stmt st(s->db(), "SELECT id FROM entries ORDER BY id LIMIT 1");
    ASSERT_EQ(st.Step(), SQLITE_ROW);
    id = st.Text(0);
  }
  TriggerRuns runs(s->db());
  auto edit = [&](const std::string& title) {
    Entry e;
    ASSERT_TRUE(s->Get(id, &e).ok());
    e.title = title;
    ASSERT_TRUE(s->Update(&e).ok());
  };
  edit("first edit");
  EXPECT_EQ(runs.n, 0);  // Rekall's triggers only: the update trigger left out
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(p.c_str(), &other), SQLITE_OK);
  ASSERT_TRUE(sqlite::Exec(other,
                           "CREATE TABLE audit(id TEXT); CREATE TRIGGER user_audit AFTER UPDATE ON entries BEGIN "
                           "INSERT INTO audit VALUES (NEW.id); END;",
                           "a user's trigger")
                  .ok());
  edit("second edit");
  EXPECT_EQ(Dump(s->db(), "SELECT count(*) FROM audit"), "1|\n");
  EXPECT_EQ(runs.n, 1);  // and Rekall's own, no longer left out
  ASSERT_TRUE(sqlite::Exec(other, "DROP TRIGGER user_audit", "dropping it").ok());
  sqlite3_close(other);
  edit("third edit");
  EXPECT_EQ(Dump(s->db(), "SELECT count(*) FROM audit"), "1|\n");
  EXPECT_EQ(runs.n, 1);
  std::vector<KeywordHit> hits;
  ASSERT_TRUE(s->KeywordSearch("third", {}, 5, &hits).ok());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, id);
}

// Our index on entries(updated_at) lets another process's index find the
// entries updated since its last look without scanning them all.
TEST(StoreOpen, IndexesUpdatedAtForOtherProcesses) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  sqlite::Stmt st(s->db(), "EXPLAIN QUERY PLAN SELECT id FROM entries WHERE updated_at > '2026-01-01'");
  ASSERT_EQ(st.Step(), SQLITE_ROW);
  EXPECT_NE(st.Text(3).find("rekall_engine_entries_updated_at"), std::string::npos) << st.Text(3);
}

TEST(StoreCrud, AddGetUpdateDelete) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  Entry e = MakeEntry("Nginx 504 behind proxy");
  e.tags = {"timeout", "nginx", "nginx", " proxy "};
  auto v = UnitVector(1.0f);
  ASSERT_TRUE(s->Add(&e, &v).ok());
  EXPECT_EQ(e.id.size(), 26u);
  Entry got;
  ASSERT_TRUE(s->Get(e.id, &got).ok());
  EXPECT_EQ(got.title, e.title);
  EXPECT_EQ(got.content, e.content);
  EXPECT_EQ(got.type, "bug");
  EXPECT_EQ(got.project.value(), "proj");
  EXPECT_EQ(got.tags, (std::vector<std::string>{"nginx", "proxy", "timeout"}));
  EXPECT_EQ(got.created_at, got.updated_at);
  // Rekall's defaults for its other columns were applied.
  EXPECT_EQ(got.extra["memory_type"], "episodic");

  StoredEmbedding emb;
  ASSERT_TRUE(s->GetEmbedding(e.id, EmbeddingType::kSummary, &emb).ok());
  EXPECT_EQ(emb.vector, v);
  EXPECT_EQ(emb.model_name, kOurModelName);
  EXPECT_EQ(emb.type, EmbeddingType::kSummary);
  EXPECT_TRUE(s->GetEmbedding(e.id, EmbeddingType::kContext, &emb).IsNotFound());
  // The SQL spelling of the type still works; anything else is refused.
  StoredEmbedding by_name;
  ASSERT_TRUE(s->GetEmbedding(e.id, "summary", &by_name).ok());
  EXPECT_EQ(by_name.vector, v);
  EXPECT_TRUE(s->GetEmbedding(e.id, "Summary", &by_name).IsInvalidArgument());

  got.title = "Nginx 504 after 60s";
  got.tags = {"nginx"};
  auto v2 = UnitVector(2.0f);
  ASSERT_TRUE(s->Update(&got, &v2).ok());
  Entry again;
  ASSERT_TRUE(s->Get(e.id, &again).ok());
  EXPECT_EQ(again.title, "Nginx 504 after 60s");
  EXPECT_EQ(again.tags, std::vector<std::string>{"nginx"});
  ASSERT_TRUE(s->GetEmbedding(e.id, EmbeddingType::kSummary, &emb).ok());
  EXPECT_EQ(emb.vector, v2);
  size_t n = 0;
  ASSERT_TRUE(s->CountEmbeddings(&n).ok());
  EXPECT_EQ(n, 1u);  // replaced, not duplicated

  ASSERT_TRUE(s->Delete(e.id).ok());
  EXPECT_TRUE(s->Get(e.id, &again).IsNotFound());
  ASSERT_TRUE(s->CountEmbeddings(&n).ok());
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(s->Delete(e.id).IsNotFound());
}

TEST(StoreCrud, BadInputIsRejectedAndNothingStored) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  struct Case {
    std::function<void(Entry*)> mutate;
    std::string expect;
  } cases[] = {
      {[](Entry* e) { e->type = "feature"; }, "invalid type"},
      {[](Entry* e) { e->confidence = 6; }, "invalid confidence"},
      {[](Entry* e) { e->confidence = -1; }, "invalid confidence"},
      {[](Entry* e) { e->status = "gone"; }, "invalid status"},
      {[](Entry* e) { e->title = ""; }, "title is empty"},
      {[](Entry* e) { e->title = "bad \xFF utf8"; }, "not valid UTF-8"},
      {[](Entry* e) { e->content = std::string("nul\0byte", 8); }, "NUL byte"},
      {[](Entry* e) { e->content = std::string(10 << 20, 'a'); }, "limit is"},
      {[](Entry* e) { e->tags = {"ok", ""}; }, "empty tag"},
      // Issue 10 #8: values Rekall's reader cannot parse (rekall_values_test.cc has every rule).
      {[](Entry* e) { e->created_at = "not a date"; }, "invalid created_at"},
      {[](Entry* e) { e->updated_at = "2026-01-31T09:30:00Z"; }, "invalid updated_at"},
      {[](Entry* e) { e->extra = {{"next_review", "soon"}}; }, "invalid next_review"},
      {[](Entry* e) { e->extra = {{"ease_factor", "high"}}; }, "invalid ease_factor"},
  };
  for (auto& c : cases) {
    Entry e = MakeEntry("x");
    c.mutate(&e);
    Status st = s->Add(&e);
    EXPECT_TRUE(st.IsInvalidArgument()) << c.expect << " -> " << st.ToString();
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << st.ToString();
  }
  size_t n = 99;
  ASSERT_TRUE(s->Count(&n).ok());
  EXPECT_EQ(n, 0u);
  // The same checks guard an update and an import's raw insert.
  Entry good = MakeEntry("good");
  ASSERT_TRUE(s->Add(&good).ok());
  Entry bad = good;
  bad.extra = {{"access_count", "many"}};
  EXPECT_NE(s->Update(&bad).message().find("invalid access_count"), std::string::npos);
  bad = good;
  bad.id = "01RAWRAWRAWRAWRAWRAWRAWRAW";
  bad.created_at = "yesterday";
  EXPECT_NE(s->InsertRaw(bad).message().find("invalid created_at"), std::string::npos);
  Entry back;
  ASSERT_TRUE(s->Get(good.id, &back).ok());
  EXPECT_EQ(back.extra.value("access_count", -1), 0);  // the failed update left it as it was
  ASSERT_TRUE(s->Delete(good.id).ok());
  // Wrong-dimension embedding: the entry is rolled back with it.
  Entry e = MakeEntry("dims");
  std::vector<float> small(10, 0.1f);
  EXPECT_FALSE(s->Add(&e, &small).ok());
  ASSERT_TRUE(s->Count(&n).ok());
  EXPECT_EQ(n, 0u);
}

class FailingObserver : public WriteObserver {
 public:
  Status OnSummaryVector(const Entry&, const float*, int) override { return Status::Internal("index write failed"); }
  Status OnEntryRemoved(const std::string&) override { return Status::Internal("index delete failed"); }
};

TEST(StoreCrud, ObserverFailureRollsBackTheWholeWrite) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  Entry keep = MakeEntry("keep");
  auto v = UnitVector(3.0f);
  ASSERT_TRUE(s->Add(&keep, &v).ok());
  FailingObserver obs;
  s->set_observer(&obs);
  Entry e = MakeEntry("lost");
  EXPECT_FALSE(s->Add(&e, &v).ok());
  EXPECT_FALSE(s->Delete(keep.id).ok());
  s->set_observer(nullptr);
  size_t n = 0;
  ASSERT_TRUE(s->Count(&n).ok());
  EXPECT_EQ(n, 1u);
  Entry got;
  EXPECT_TRUE(s->Get(keep.id, &got).ok());
  StoredEmbedding emb;
  EXPECT_TRUE(s->GetEmbedding(keep.id, EmbeddingType::kSummary, &emb).ok());
}

TEST(StoreSearch, KeywordSearchTreatsQueryLiterally) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  Entry a = MakeEntry("Ingress proxy-read-timeout annotation");
  a.content = "Set nginx.ingress.kubernetes.io/proxy-read-timeout to 300";
  a.tags = {"kubernetes"};
  Entry b = MakeEntry("C++ iterator invalidation", "pitfall");
  b.content = "push_back on a std::vector invalidates iterators; AND NEAR( are words here *";
  b.tags = {"cpp"};
  Entry c = MakeEntry("Postgres pool exhaustion", "bug");
  c.content = "Too many connections";
  c.tags = {"postgres", "database"};
  ASSERT_TRUE(s->Add(&a).ok());
  ASSERT_TRUE(s->Add(&b).ok());
  ASSERT_TRUE(s->Add(&c).ok());
  std::vector<KeywordHit> hits;
  for (const char* q : {"proxy-read-timeout", "C++", "\"quoted", "AND", "NEAR(", "*", "a\"b", "OR NOT",
                        "title:foo", "^start", "(unbalanced"}) {
    Status st = s->KeywordSearch(q, {}, 10, &hits);
    EXPECT_TRUE(st.ok()) << q << ": " << st.ToString();
  }
  ASSERT_TRUE(s->KeywordSearch("proxy-read-timeout", {}, 10, &hits).ok());
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].id, a.id);
  ASSERT_TRUE(s->KeywordSearch("C++ iterator", {}, 10, &hits).ok());
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].id, b.id);
  ASSERT_TRUE(s->KeywordSearch("NEAR(", {}, 10, &hits).ok());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, b.id);
  ASSERT_TRUE(s->KeywordSearch("*", {}, 10, &hits).ok());
  EXPECT_TRUE(hits.empty());
  // Tags are searchable, even though Rekall's trigger indexes before tags exist.
  ASSERT_TRUE(s->KeywordSearch("database", {}, 10, &hits).ok());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, c.id);
  // No entry holds both words: entries with either word match.
  ASSERT_TRUE(s->KeywordSearch("postgres kubernetes", {}, 10, &hits).ok());
  EXPECT_EQ(hits.size(), 2u);
  // Filters apply.
  ListFilter f;
  f.type = "pitfall";
  ASSERT_TRUE(s->KeywordSearch("postgres iterator", f, 10, &hits).ok());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, b.id);
  // After an update, the old words are gone from the index.
  c.content = "replaced body";
  c.tags = {"pg"};
  ASSERT_TRUE(s->Update(&c).ok());
  ASSERT_TRUE(s->KeywordSearch("database", {}, 10, &hits).ok());
  EXPECT_TRUE(hits.empty());
  ASSERT_TRUE(s->KeywordSearch("pg", {}, 10, &hits).ok());
  EXPECT_EQ(hits.size(), 1u);
}

// Issue 11 #5: requiring every word capped recall (an entry holding most of
// the words was not found while one held them all). Any word matches; bm25
// still puts the entries holding more of the words first.
TEST(StoreSearch, KeywordSearchMatchesAnyWordRankingEntriesWithMoreOfThemFirst) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  Entry both = MakeEntry("nginx upstream timeout");
  Entry one = MakeEntry("nginx worker processes");
  Entry other = MakeEntry("postgres vacuum");
  Entry two = MakeEntry("upstream timeout in the load balancer");
  for (Entry* e : {&both, &one, &other, &two}) {
    e->tags = {"ops"};
    ASSERT_TRUE(s->Add(e).ok());
  }
  std::vector<KeywordHit> hits;
  ASSERT_TRUE(s->KeywordSearch("nginx upstream timeout", {}, 10, &hits).ok());
  ASSERT_EQ(hits.size(), 3u);
  EXPECT_EQ(hits[0].id, both.id);
  EXPECT_EQ(hits[1].id, two.id);
  EXPECT_EQ(hits[2].id, one.id);
  for (size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].rank, static_cast<int>(i) + 1);
  EXPECT_LE(hits[0].bm25, hits[1].bm25);
  EXPECT_LE(hits[1].bm25, hits[2].bm25);
  ASSERT_TRUE(s->KeywordSearch("nginx upstream timeout", {}, 2, &hits).ok());
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, both.id);
}

TEST(StoreSearch, ListFilters) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  for (int i = 0; i < 10; ++i) {
    Entry e = MakeEntry("e" + std::to_string(i), i % 2 ? "bug" : "decision");
    e.project = i < 5 ? "a" : "b";
    e.tags = {i % 3 == 0 ? "three" : "other"};
    if (i == 9) e.status = "obsolete";
    ASSERT_TRUE(s->Add(&e).ok());
  }
  std::vector<Entry> out;
  ListFilter f;
  f.type = "bug";
  ASSERT_TRUE(s->List(f, &out).ok());
  EXPECT_EQ(out.size(), 5u);
  f.project = "b";
  ASSERT_TRUE(s->List(f, &out).ok());
  EXPECT_EQ(out.size(), 3u);
  ListFilter g;
  g.tags = {"three"};
  ASSERT_TRUE(s->List(g, &out).ok());
  EXPECT_EQ(out.size(), 4u);
  g.status = "obsolete";
  ASSERT_TRUE(s->List(g, &out).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].title, "e9");
  ListFilter lim;
  lim.limit = 3;
  ASSERT_TRUE(s->List(lim, &out).ok());
  EXPECT_EQ(out.size(), 3u);
}

TEST(RekallFixture, V12OpensAndEveryEntryAndEmbeddingReads) {
  std::string src = FixturePath("rekall-v12.db");
  if (!fs::exists(src)) GTEST_SKIP() << "fixture absent: " << src;
  TempDir d;
  std::string p = d.file("v12.db");
  fs::copy_file(src, p);
  auto manifest = nlohmann::json::parse(ReadFile(FixturePath("manifest.json")));
  std::unique_ptr<Store> s;
  Status st = Store::Open(p, {}, &s);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_EQ(s->schema().user_version, 12);
  auto ids = manifest["v12"]["entry_ids"].get<std::vector<std::string>>();
  ASSERT_EQ(ids.size(), 120u);
  for (const auto& id : ids) {
    Entry e;
    ASSERT_TRUE(s->Get(id, &e).ok()) << id;
    EXPECT_FALSE(e.title.empty());
  }
  Entry big;
  ASSERT_TRUE(s->Get(ids[5], &big).ok());
  EXPECT_GT(big.content.size(), 50000u);
  std::vector<StoredEmbedding> sum, ctx;
  ASSERT_TRUE(s->ListEmbeddings(EmbeddingType::kSummary, &sum).ok());
  ASSERT_TRUE(s->ListEmbeddings(EmbeddingType::kContext, &ctx).ok());
  EXPECT_EQ(sum.size(), 96u);
  EXPECT_EQ(ctx.size(), 14u);
  // Bytes equal what Rekall wrote, read straight from SQLite.
  sqlite3* raw;
  ASSERT_EQ(sqlite3_open_v2(src.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  for (const auto& e : sum) {
    sqlite3_stmt* q;
    sqlite3_prepare_v2(raw, "SELECT vector FROM embeddings WHERE entry_id=? AND embedding_type='summary'", -1, &q,
                       nullptr);
    sqlite3_bind_text(q, 1, e.entry_id.c_str(), -1, SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(q), SQLITE_ROW);
    ASSERT_EQ(sqlite3_column_bytes(q, 0), 1536);
    EXPECT_EQ(std::memcmp(sqlite3_column_blob(q, 0), e.vector.data(), 1536), 0);
    sqlite3_finalize(q);
    EXPECT_TRUE(IsOurModelName(e.model_name));
  }
  sqlite3_close(raw);
  // Every fifth entry has no embedding.
  std::vector<std::string> missing;
  ASSERT_TRUE(s->EntriesWithoutEmbedding(EmbeddingType::kSummary, &missing).ok());
  EXPECT_EQ(missing.size(), 24u);
  // Our bookkeeping was added beside Rekall's; user_version unchanged.
  sqlite3_stmt* q;
  sqlite3_prepare_v2(s->db(), "PRAGMA user_version", -1, &q, nullptr);
  sqlite3_step(q);
  EXPECT_EQ(sqlite3_column_int(q, 0), 12);
  sqlite3_finalize(q);
}

// "Ours" is one definition (util/our_embeddings.h): our model under either
// name, 384 dimensions, 1536 bytes. Every other summary row counts as
// mismatched and its entry as lacking an embedding, so `index rebuild`
// re-embeds it.
// Issue 10 #7: a Rekall file we never opened, damaged past page 1, is
// checked before our first write and never modified: no WAL switch, no
// migration, no backup beside it; it opens read-only and writes say why.
TEST(RekallFixture, DamagedFileIsNeverWritten) {
  std::string src = FixturePath("rekall-v12.db");
  if (!fs::exists(src)) GTEST_SKIP() << "fixture absent: " << src;
  TempDir d;
  std::string p = d.file("v12.db");
  fs::copy_file(src, p);
  fs::permissions(p, fs::perms::owner_read | fs::perms::owner_write);
  {
    std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 * 2);  // page 3: the index of entries' primary key
    std::string junk(64, '\xAB');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  std::string before = ReadFile(p);
  {
    std::unique_ptr<Store> s;
    Status st = Store::Open(p, {}, &s);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(s->schema().read_only);
    EXPECT_FALSE(s->schema().migrated);
    Entry e = MakeEntry("new");
    st = s->Add(&e);
    EXPECT_EQ(st.code(), Code::kCorruption) << st.ToString();
    EXPECT_NE(st.message().find("quick_check"), std::string::npos) << st.ToString();
    EXPECT_NE(st.message().find("rekall doctor"), std::string::npos) << st.ToString();
  }
  EXPECT_EQ(ReadFile(p), before);
  for (const auto& f : fs::directory_iterator(d.path()))
    EXPECT_EQ(f.path().filename().string().find(".backup-"), std::string::npos) << f.path();
}

TEST(StoreEmbeddings, OnlyOurModelAndShapeCountAsPresent) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  std::vector<std::string> ids;
  for (const char* t : {"ours", "short-name", "other-model", "other-dim", "short-bytes", "none"}) {
    Entry e = MakeEntry(t);
    auto v = UnitVector(1.0f);
    ASSERT_TRUE(s->Add(&e, std::string(t) == "none" ? nullptr : &v).ok());
    ids.push_back(e.id);
  }
  ASSERT_TRUE(ExecSql(s->db(),
                      "UPDATE embeddings SET model_name = 'all-MiniLM-L6-v2' WHERE entry_id = '" + ids[1] + "';"
                      "UPDATE embeddings SET model_name = 'some/other-model' WHERE entry_id = '" + ids[2] + "';"
                      "UPDATE embeddings SET dimensions = 128, vector = substr(vector, 1, 512) WHERE entry_id = '" +
                          ids[3] + "';"
                          "UPDATE embeddings SET vector = substr(vector, 1, 100) WHERE entry_id = '" + ids[4] + "'",
                      "test setup")
                  .ok());
  std::vector<std::string> missing;
  ASSERT_TRUE(s->EntriesWithoutEmbedding(EmbeddingType::kSummary, &missing).ok());
  std::vector<std::string> expected = {ids[2], ids[3], ids[4], ids[5]};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(missing, expected);
  size_t n = 0;
  ASSERT_TRUE(s->CountMismatchedSummaries(&n).ok());
  EXPECT_EQ(n, 3u);
  ASSERT_TRUE(s->CountEmbeddings(&n).ok());
  EXPECT_EQ(n, 5u);
  ASSERT_TRUE(s->EntriesWithoutEmbedding(EmbeddingType::kContext, &missing).ok());
  EXPECT_EQ(missing.size(), ids.size());
}

TEST(BuildFts, QuotesEveryTerm) {
  EXPECT_EQ(BuildFtsQuery("a AND b"), "\"a\" OR \"AND\" OR \"b\"");
  EXPECT_EQ(BuildFtsQuery("say \"hi\""), "\"say\" OR \"\"\"hi\"\"\"");
  EXPECT_EQ(BuildFtsQuery("NOT x OR"), "\"NOT\" OR \"x\" OR \"OR\"");
  EXPECT_EQ(BuildFtsQuery("* ( )"), "");
  EXPECT_EQ(BuildFtsQuery(""), "");
}

// Issue 10 #6: one word repeated 20,000 times made bm25() quadratic. Each
// distinct term is sent once, and at most kMaxFtsTerms of them.
TEST(BuildFts, EachDistinctTermOnceAndAtMostTheCap) {
  std::string repeated;
  for (int i = 0; i < 20000; ++i) repeated += (i % 2 ? "Timeout " : "timeout ");
  EXPECT_EQ(BuildFtsQuery(repeated), "\"timeout\"");
  std::string many;
  for (size_t i = 0; i < 3 * kMaxFtsTerms; ++i) many += "w" + std::to_string(i) + " ";
  const std::string q = BuildFtsQuery(many);
  size_t phrases = 0;
  for (size_t at = 0; (at = q.find(" OR ", at)) != std::string::npos; at += 4) ++phrases;
  EXPECT_EQ(phrases + 1, kMaxFtsTerms);
  EXPECT_EQ(q.rfind("\"w0\"", 0), 0u);
}

TEST(StoreSearch, KeywordQueryPastTheSizeLimitIsRefused) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  Entry a = MakeEntry("gateway timeout");
  ASSERT_TRUE(s->Add(&a).ok());
  std::vector<KeywordHit> hits;
  std::string q;
  while (q.size() + 8 <= kMaxKeywordQueryBytes) q += "timeout ";
  ASSERT_TRUE(s->KeywordSearch(q, {}, 10, &hits).ok());
  EXPECT_EQ(hits.size(), 1u);
  q += "timeout ";
  Status st = s->KeywordSearch(q, {}, 10, &hits);
  EXPECT_EQ(st.code(), Code::kInvalidArgument);
  EXPECT_NE(st.message().find("at most"), std::string::npos) << st.message();
}

// The whole-table ranking KeywordSearch stands for: every word, one join,
// ordered by bm25 then id.
std::vector<std::pair<std::string, double>> FullRanking(Store* s, const std::string& query, int limit) {
  sqlite::Stmt st(s->db(),
                  "SELECT e.id, bm25(entries_fts, 0.0, 3.0, 1.0, 2.0) AS score FROM entries_fts JOIN entries e ON "
                  "e.id = entries_fts.id WHERE entries_fts MATCH ? ORDER BY score, e.id LIMIT " +
                      std::to_string(limit));
  st.Bind(1, BuildFtsQuery(query));
  std::vector<std::pair<std::string, double>> out;
  while (st.Step() == SQLITE_ROW) out.emplace_back(st.Text(0), st.Double(1));
  return out;
}

// Words held by half the entries or more weigh 1e-6 in bm25: the search
// ranks by the other words, gives the same entries in the same order as
// the whole-table ranking (scores within 1e-5), and fills a longer list
// with the entries holding only the common word, as that ranking does.
TEST(StoreSearch, KeywordSearchRanksByInformativeWordsAndFillsFromCommonOnes) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  for (int i = 0; i < 30; ++i) {
    std::string extra = i < 3 ? std::string(" nginx") + (i == 0 ? " nginx upstream" : "") : "";
    Entry e = MakeEntry("service note " + std::to_string(i) + extra);
    e.tags = {};
    e.content = std::string(size_t(i % 5 + 1), 'x') + " the service restarts" + (i == 1 ? " upstream" : "");
    ASSERT_TRUE(s->Add(&e).ok());
  }
  for (int limit : {2, 3, 10, 40}) {
    SCOPED_TRACE(limit);
    std::vector<KeywordHit> hits;
    ASSERT_TRUE(s->KeywordSearch("the service nginx upstream", {}, limit, &hits).ok());
    auto want = FullRanking(s.get(), "the service nginx upstream", limit);
    ASSERT_EQ(hits.size(), want.size());
    for (size_t i = 0; i < hits.size(); ++i) {
      EXPECT_EQ(hits[i].id, want[i].first) << i;
      EXPECT_NEAR(hits[i].bm25, want[i].second, 1e-5);
      EXPECT_EQ(hits[i].rank, int(i) + 1);
    }
  }
}

// With a filter, the rowid ranking looks up the entries of the best rows
// and skips those the filter rules out; the list equals the join's, ties
// in id order, whether the filter keeps most rows (status), few (project,
// tag), or none.
TEST(StoreSearch, KeywordSearchWithFilterEqualsTheFilteredJoin) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  for (int i = 0; i < 120; ++i) {
    // Three scores only (title length varies by i % 3): long ties.
    Entry e = MakeEntry("alpha beta" + std::string(i % 3 == 0 ? "" : i % 3 == 1 ? " gamma" : " gamma delta"),
                        i % 4 == 0 ? "pattern" : "bug");
    e.content = "same body";
    e.project = i % 10 == 0 ? "rare" : "proj";
    e.tags = {i % 7 == 0 ? "seven" : "other"};
    e.id = "01FLT" + std::to_string(1000 - i);  // later rows, smaller ids
    ASSERT_TRUE(s->Add(&e).ok());
  }
  struct Case {
    ListFilter f;
    std::string where;
  };
  std::vector<Case> cases(5);
  cases[0].f.status = "active", cases[0].where = "e.status = 'active'";
  cases[1].f.type = "pattern", cases[1].where = "e.type = 'pattern'";
  cases[2].f.project = "rare", cases[2].where = "e.project = 'rare'";
  cases[3].f.tags = {"seven"}, cases[3].where = "e.id IN (SELECT entry_id FROM tags WHERE tag = 'seven')";
  cases[4].f.project = "none", cases[4].where = "e.project = 'none'";
  for (const Case& c : cases) {
    for (int limit : {1, 5, 10, 40}) {
      SCOPED_TRACE(c.where + " limit " + std::to_string(limit));
      sqlite::Stmt st(s->db(), "SELECT e.id FROM entries_fts JOIN entries e ON e.id = entries_fts.id WHERE " + c.where +
                                   " AND entries_fts MATCH 'alpha' ORDER BY bm25(entries_fts, 0.0, 3.0, 1.0, 2.0), "
                                   "e.id LIMIT " + std::to_string(limit));
      std::vector<std::string> want;
      while (st.Step() == SQLITE_ROW) want.push_back(st.Text(0));
      std::vector<KeywordHit> hits;
      ASSERT_TRUE(s->KeywordSearch("alpha", c.f, limit, &hits).ok());
      std::vector<std::string> got;
      for (const auto& h : hits) got.push_back(h.id);
      EXPECT_EQ(got, want);
    }
  }
}

// Entries tied on score come in id order even when the ties run past the
// rows the ranking pass reads; an FTS row without its entry never shows.
TEST(StoreSearch, KeywordSearchOrdersLongTiesByIdAndSkipsOrphanRows) {
  TempDir d;
  std::unique_ptr<Store> s;
  ASSERT_TRUE(Store::Open(d.file("k.db"), {}, &s).ok());
  for (int i = 0; i < 40; ++i) {
    Entry e = MakeEntry("alpha beta");
    e.content = "same body";
    e.tags = {};
    e.id = "01TIE" + std::to_string(100 - i);  // later rows, smaller ids
    ASSERT_TRUE(s->Add(&e).ok());
  }
  std::vector<KeywordHit> hits;
  ASSERT_TRUE(s->KeywordSearch("alpha", {}, 5, &hits).ok());
  auto want = FullRanking(s.get(), "alpha", 5);
  ASSERT_EQ(hits.size(), 5u);
  for (size_t i = 0; i < hits.size(); ++i) EXPECT_EQ(hits[i].id, want[i].first);
  ASSERT_TRUE(ExecSql(s->db(), "INSERT INTO entries_fts(id, title, content, tags) VALUES('00ORPHAN', 'gamma', '', '')",
                      "orphan")
                  .ok());
  Entry g = MakeEntry("gamma ray");
  g.tags = {};
  ASSERT_TRUE(s->Add(&g).ok());
  ASSERT_TRUE(s->KeywordSearch("gamma", {}, 5, &hits).ok());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, g.id);
}

}  // namespace
}  // namespace rekall::store
