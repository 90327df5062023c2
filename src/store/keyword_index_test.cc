// The in-memory keyword index ranks exactly as FTS5's bm25(): the same
// rows, in the same order, with the same scores to the bit; and a store
// that keeps one answers keyword searches exactly as one that does not,
// through its own writes, other connections' writes and tables it cannot
// reproduce.
#include "store/keyword_index.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <thread>

#include "sqlite/sqlite.h"
#include "store/filter_sql.h"
#include "store/store.h"
#include "util/temp_dir_for_test.h"

namespace rekall::store {
namespace {

// Words with shared porter stems, case, diacritics, scripts without spaces,
// apostrophes and repeated forms: what the tokenizers must agree on.
const std::vector<std::string> kWords = {
    "run",      "running", "runs",    "runner",  "Run",      "RUNNING",    "connect", "connection", "connected",
    "café",     "Café",    "cafe",    "naïve",   "naive",    "résumé",     "resume",  "Straße",     "strasse",
    "東京",     "日本語",  "über",    "uber",    "timeout",  "timeouts",   "nginx",   "proxy",      "error",
    "errors",   "the",     "a",       "of",      "and",      "sqlite",     "index",   "indexes",    "indexing",
    "vector",   "search",  "x",       "42",      "v1",       "ﬁle",        "file",    "files",      "Ω",
    "don't",    "e.g.",    "foo-bar", "a_b",     "λόγος",    "crème",      "brûlée",  "ok",         "OK",
    "run-run",  "run-connection"};

// A word, sometimes two joined by a hyphen (a phrase for FTS5).
std::string Word(std::mt19937& rng) {
  std::string w = kWords[rng() % kWords.size()];
  if (rng() % 8 == 0) w += "-" + kWords[rng() % kWords.size()];
  return w;
}

std::string Words(std::mt19937& rng, int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += (i ? " " : "") + Word(rng);
  return out;
}

Entry RandomEntry(std::mt19937& rng) {
  Entry e;
  e.title = Words(rng, 1 + int(rng() % 6));
  e.content = rng() % 5 == 0 ? "" : Words(rng, int(rng() % 40));
  e.type = kEntryTypes[rng() % 6];
  e.project = rng() % 2 ? "alpha" : "beta";
  e.confidence = 3;
  for (int i = 0, n = int(rng() % 3); i < n; ++i) e.tags.push_back(kWords[rng() % 20] + std::to_string(i));
  return e;
}

void AddToken(void* p, std::string_view t) { static_cast<std::vector<std::string>*>(p)->emplace_back(t); }

std::vector<std::string> Tokens(const FtsTokenizer& tok, const std::string& word) {
  std::vector<std::string> out;
  EXPECT_TRUE(tok.Tokenize(word, true, AddToken, &out).ok());
  return out;
}

// The tokenizer of `db` and an index built from it at once (not the
// server's way: on the caller's thread and connection).
void BuildNow(sqlite3* db, std::unique_ptr<FtsTokenizer>* tok, std::unique_ptr<KeywordIndex>* idx) {
  ASSERT_TRUE(FtsTokenizer::Open(db, tok).ok());
  ASSERT_TRUE(KeywordIndex::Build(db, **tok, nullptr, idx).ok());
}

// Each word as the phrase FTS5 makes of it.
std::vector<std::vector<std::string>> Phrases(const FtsTokenizer& tok, const std::vector<std::string>& words) {
  std::vector<std::vector<std::string>> out;
  for (const auto& w : words) out.push_back(Tokens(tok, w));
  return out;
}

std::string Quoted(const std::string& w) {
  std::string q = "\"";
  for (char c : w) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

// FTS5's own ranking of the OR of `words`: every row, by score then rowid.
std::vector<std::pair<int64_t, double>> Reference(sqlite3* db, const std::vector<std::string>& words) {
  std::string match;
  for (const auto& w : words) match += (match.empty() ? "" : " OR ") + Quoted(w);
  sqlite::Stmt st(db, "SELECT rowid, bm25(entries_fts, 0, 3, 1, 2) AS s FROM entries_fts WHERE entries_fts MATCH ? "
                      "ORDER BY s, rowid");
  EXPECT_TRUE(st.status("").ok());
  st.Bind(1, match);
  std::vector<std::pair<int64_t, double>> out;
  while (st.Step() == SQLITE_ROW) out.emplace_back(st.Int(0), st.Double(1));
  return out;
}

struct Fixture {
  TempDir dir;
  std::string path = dir.file("kw.db");
  std::unique_ptr<Store> live;   // keeps an index
  std::unique_ptr<Store> plain;  // FTS5 only: the reference
  std::mt19937 rng{12345};

  explicit Fixture(int entries, Entry (*make)(std::mt19937&) = RandomEntry) {
    OpenOptions o;
    EXPECT_TRUE(Store::Open(path, o, &plain).ok());
    for (int i = 0; i < entries; ++i) {
      Entry e = make(rng);
      EXPECT_TRUE(plain->Add(&e).ok());
    }
    EXPECT_TRUE(Store::Open(path, o, &live).ok());
    EXPECT_TRUE(live->EnableKeywordIndex().ok());
  }

  // Searches until the index answers (it builds on its own thread).
  bool WaitReady() {
    for (int i = 0; i < 2000; ++i) {
      std::vector<KeywordHit> hits;
      live->KeywordSearch("run", {}, 1, &hits);
      if (live->KeywordIndexStats().ready) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // Both stores answer `q` the same, bit for bit; true when the index did.
  bool Same(const std::string& q, const ListFilter& f, int limit) {
    const uint64_t before = live->KeywordIndexStats().answered;
    std::vector<KeywordHit> a, b;
    Status sa = live->KeywordSearch(q, f, limit, &a);
    Status sb = plain->KeywordSearch(q, f, limit, &b);
    EXPECT_EQ(sa.ok(), sb.ok()) << q;
    EXPECT_EQ(a.size(), b.size()) << q;
    for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
      EXPECT_EQ(a[i].id, b[i].id) << q << " #" << i;
      EXPECT_EQ(std::memcmp(&a[i].bm25, &b[i].bm25, sizeof(double)), 0) << q << " #" << i;
      EXPECT_EQ(a[i].rank, b[i].rank);
    }
    return live->KeywordIndexStats().answered > before;
  }

  std::string RandomQuery() { return Words(rng, 1 + int(rng() % 8)); }
};

TEST(KeywordIndex, RanksAsFts5BitForBit) {
  Fixture fx(400);
  sqlite3* db = fx.plain->db();
  std::unique_ptr<FtsTokenizer> tok;
  ASSERT_TRUE(FtsTokenizer::Open(db, &tok).ok());
  std::unique_ptr<KeywordIndex> idx;
  Status s = KeywordIndex::Build(db, *tok, nullptr, &idx);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(idx->live_rows(), 400u);
  std::mt19937 rng(7);
  for (int q = 0; q < 300; ++q) {
    std::vector<std::string> words;
    // Repeats kept: FTS5 counts a repeated phrase twice.
    for (int i = 0, n = 1 + int(rng() % 6); i < n; ++i) words.push_back(Word(rng));
    auto want = Reference(db, words);
    std::vector<std::pair<int64_t, double>> got;
    idx->Rank(Phrases(*tok, words), 1 << 20, &got);
    ASSERT_EQ(got.size(), want.size()) << words[0];
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].first, want[i].first) << q << " #" << i;
      EXPECT_EQ(std::memcmp(&got[i].second, &want[i].second, sizeof(double)), 0)
          << q << " #" << i << " " << got[i].second << " vs " << want[i].second;
    }
    // A cap keeps the best rows.
    idx->Rank(Phrases(*tok, words), 3, &got);
    ASSERT_EQ(got.size(), std::min<size_t>(3, want.size()));
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].first, want[i].first);
  }
}

// A file Rekall itself wrote (tests/../shared/fixtures/rekall): its own
// words, every one of them as a query.
TEST(KeywordIndex, RanksRekallsOwnFileAsFts5) {
  TempDir d;
  const std::string path = d.file("rekall.db");
  std::filesystem::copy_file(std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/rekall-v12.db", path);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  std::unique_ptr<FtsTokenizer> tok;
  ASSERT_TRUE(FtsTokenizer::Open(db, &tok).ok());
  std::unique_ptr<KeywordIndex> idx;
  Status s = KeywordIndex::Build(db, *tok, nullptr, &idx);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_GT(idx->live_rows(), 0u);
  std::vector<std::string> words;
  {
    sqlite::Stmt st(db, "SELECT title || ' ' || content || ' ' || coalesce(tags, '') FROM entries_fts");
    while (st.Step() == SQLITE_ROW) {
      std::string text = st.Text(0), w;
      for (char c : text + " ") {
        if (c == ' ' || c == '\n') {
          if (!w.empty() && w.find('"') == std::string::npos && !Tokens(*tok, w).empty()) words.push_back(w);
          w.clear();
        } else {
          w += c;
        }
      }
    }
  }
  ASSERT_FALSE(words.empty());
  std::mt19937 rng(3);
  for (size_t q = 0; q < std::min<size_t>(words.size(), 400); ++q) {
    std::vector<std::string> query = {words[q]};
    for (int i = 0, n = int(rng() % 4); i < n; ++i) query.push_back(words[rng() % words.size()]);
    auto want = Reference(db, query);
    std::vector<std::pair<int64_t, double>> got;
    idx->Rank(Phrases(*tok, query), 1 << 20, &got);
    ASSERT_EQ(got.size(), want.size()) << query[0];
    for (size_t i = 0; i < want.size(); ++i) {
      EXPECT_EQ(got[i].first, want[i].first);
      EXPECT_EQ(std::memcmp(&got[i].second, &want[i].second, sizeof(double)), 0) << query[0];
    }
  }
  idx.reset();
  tok.reset();
  sqlite3_close(db);
}

TEST(KeywordIndex, TokenizesAsFts5) {
  TempDir d;
  std::unique_ptr<Store> st;
  ASSERT_TRUE(Store::Open(d.file("t.db"), {}, &st).ok());
  std::unique_ptr<FtsTokenizer> tok;
  ASSERT_TRUE(FtsTokenizer::Open(st->db(), &tok).ok());
  EXPECT_EQ(Tokens(*tok, "Running"), std::vector<std::string>{"run"});
  EXPECT_EQ(Tokens(*tok, "Café"), std::vector<std::string>{"cafe"});
  EXPECT_EQ(Tokens(*tok, "foo-bar"), (std::vector<std::string>{"foo", "bar"}));
  EXPECT_TRUE(Tokens(*tok, "\u2014").empty());
}

TEST(KeywordIndex, StoreAnswersAsFts5) {
  Fixture fx(300);
  ASSERT_TRUE(fx.WaitReady());
  int answered = 0;
  for (int q = 0; q < 200; ++q) {
    ListFilter f;
    if (q % 4 == 1) f.type = "bug";
    if (q % 4 == 2) f.tags = {"run0"};
    if (q % 4 == 3) f.project = "alpha";
    const int limit = std::vector<int>{1, 2, 5, 10, 50, 1000}[size_t(q) % 6];
    answered += fx.Same(fx.RandomQuery(), f, limit);
  }
  EXPECT_EQ(answered, 200);  // every query by the index
  // Filters keeping few entries or none: the entries they keep are read
  // at once and matched against the index's ranking of every row.
  for (int q = 0; q < 60; ++q) {
    ListFilter f;
    f.status = "active";
    if (q % 3 == 0) f.project = "gamma";  // no entry
    if (q % 3 == 1) f.tags = {"run1"};
    if (q % 3 == 2) f.type = "bug", f.project = "alpha", f.tags = {"run0"};
    EXPECT_TRUE(fx.Same(fx.RandomQuery(), f, std::vector<int>{1, 3, 10, 1000}[size_t(q) % 4]));
  }
  EXPECT_TRUE(fx.Same("foo-bar run-run", {}, 10));  // phrases
  EXPECT_TRUE(fx.Same("-- run", {}, 10));           // "--" is no word
  // A word FTS5 makes no token of (an em dash) goes to FTS5, same answer.
  EXPECT_FALSE(fx.Same("\u2014 run", {}, 10));
}

TEST(KeywordIndex, FollowsOwnWrites) {
  Fixture fx(200);
  ASSERT_TRUE(fx.WaitReady());
  std::vector<std::string> ids;
  for (int round = 0; round < 30; ++round) {
    Entry e = RandomEntry(fx.rng);
    ASSERT_TRUE(fx.live->Add(&e).ok());
    ids.push_back(e.id);
    Entry u;
    ASSERT_TRUE(fx.live->Get(ids[fx.rng() % ids.size()], &u).ok());
    u.content = Words(fx.rng, 10);
    u.tags = {"nginx" + std::to_string(round)};
    ASSERT_TRUE(fx.live->Update(&u).ok());
    if (round % 3 == 0) {
      ASSERT_TRUE(fx.live->Delete(ids.front()).ok());
      ids.erase(ids.begin());
    }
    for (int q = 0; q < 5; ++q) EXPECT_TRUE(fx.Same(fx.RandomQuery(), {}, 10));
  }
  // A write that rolls back changes nothing.
  Status s = fx.live->WithTransaction([&] {
    Entry e = RandomEntry(fx.rng);
    Status a = fx.live->Add(&e);
    return a.ok() ? Status::Internal("roll back") : a;
  });
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(fx.Same("run cafe nginx", {}, 20));
}

TEST(KeywordIndex, OtherWritersMakeItStaleThenItIsBuiltAgain) {
  Fixture fx(200);
  ASSERT_TRUE(fx.WaitReady());
  const uint64_t builds = fx.live->KeywordIndexStats().builds;
  Entry e = RandomEntry(fx.rng);
  e.title = "zebra stripes";
  ASSERT_TRUE(fx.plain->Add(&e).ok());  // another connection
  // FTS5 answers at once, with the new entry.
  EXPECT_FALSE(fx.Same("zebra run", {}, 10));
  std::vector<KeywordHit> hits;
  ASSERT_TRUE(fx.live->KeywordSearch("zebra", {}, 10, &hits).ok());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, e.id);
  ASSERT_TRUE(fx.WaitReady());
  EXPECT_GT(fx.live->KeywordIndexStats().builds, builds);
  EXPECT_TRUE(fx.Same("zebra run", {}, 10));
  // A row written to the keyword table alone (drift): the same.
  ASSERT_TRUE(sqlite::Exec(fx.plain->db(),
                           "INSERT INTO entries_fts(id, title, content, tags) VALUES ('nope', 'zebra zebra', '', NULL);"
                           "UPDATE entries_fts SET content = 'running zebra' WHERE rowid = 3",
                           "drift")
                  .ok());
  EXPECT_FALSE(fx.Same("zebra run", {}, 10));
  ASSERT_TRUE(fx.WaitReady());
  EXPECT_TRUE(fx.Same("zebra run", {}, 10));
}

// Other connections' commits that leave the keyword table alone (Rekall's
// read bookkeeping, the vector index's codes) keep the index answering,
// before and after the store's own writes.
TEST(KeywordIndex, CommitsElsewhereKeepItAnswering) {
  Fixture fx(100);
  ASSERT_TRUE(fx.WaitReady());
  std::vector<KeywordHit> hits;
  ASSERT_TRUE(fx.plain->KeywordSearch("run", {}, 3, &hits).ok());
  ASSERT_FALSE(hits.empty());
  for (int round = 0; round < 5; ++round) {
    Entry e = RandomEntry(fx.rng);
    ASSERT_TRUE(fx.live->Add(&e).ok());
    ASSERT_TRUE(fx.plain->RecordAccess({hits[0].id}).ok());
    EXPECT_TRUE(fx.Same("run cafe " + kWords[size_t(round)], {}, 10));
    ASSERT_TRUE(fx.plain->RecordAccess({hits[0].id}).ok());
    ASSERT_TRUE(fx.live->Delete(e.id).ok());
    EXPECT_TRUE(fx.Same("run cafe " + kWords[size_t(round)], {}, 10));
  }
  EXPECT_EQ(fx.live->KeywordIndexStats().builds, 1u);
}

TEST(KeywordIndex, TableDeclaredOtherwiseStaysWithFts5) {
  Fixture fx(100);
  ASSERT_TRUE(fx.WaitReady());
  ASSERT_TRUE(sqlite::Exec(fx.plain->db(),
                           "DROP TABLE entries_fts;"
                           "CREATE VIRTUAL TABLE entries_fts USING fts5(id UNINDEXED, title, content, tags, "
                           "tokenize = 'unicode61 remove_diacritics 0');"
                           "INSERT INTO entries_fts(id, title, content, tags) SELECT id, title, content, NULL "
                           "FROM entries",
                           "redeclare")
                  .ok());
  // FTS5 answers while the build runs, and after it refused the table.
  for (int i = 0; i < 2000 && fx.live->KeywordIndexStats().last_error.empty(); ++i) {
    EXPECT_FALSE(fx.Same("café run", {}, 10));
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(fx.live->KeywordIndexStats().last_error, "");
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(fx.Same("café run naive", {}, 10));
  EXPECT_FALSE(fx.live->KeywordIndexStats().ready);
  EXPECT_FALSE(fx.live->KeywordIndexStats().building);
}

// Only our own index on the keyword rows' ids is trusted for lookups: one
// of the same name made otherwise would turn each lookup into a scan.
TEST(KeywordIndex, OnlyOurIdIndexIsUsedForFilters) {
  Fixture fx(300);
  ASSERT_TRUE(fx.WaitReady());
  sqlite3* db = fx.plain->db();
  EXPECT_TRUE(internal::FtsIdIndexIsOurs(db));
  const std::vector<std::string> others = {
      "CREATE INDEX rekall_engine_fts_id ON entries_fts_content(c1)",
      "CREATE INDEX rekall_engine_fts_id ON entries_fts_content(c0, c1)",
      "CREATE INDEX rekall_engine_fts_id ON entries_fts_content(c0 COLLATE NOCASE)",
      "CREATE INDEX rekall_engine_fts_id ON entries_fts_content(c0) WHERE c1 IS NOT NULL",
      "CREATE INDEX rekall_engine_fts_id ON entries(type)"};
  for (const std::string& sql : others) {
    ASSERT_TRUE(sqlite::Exec(db, "DROP INDEX rekall_engine_fts_id; " + sql, "replace").ok()) << sql;
    EXPECT_FALSE(internal::FtsIdIndexIsOurs(db)) << sql;
    // Filtered searches still answer as FTS5 does, by other paths, once
    // the index is built again after the schema change.
    ListFilter gamma;
    gamma.project = "gamma";
    bool answered = false;
    for (int i = 0; i < 500 && !answered; ++i) {
      answered = fx.Same("run café", gamma, 5);
      if (!answered) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_TRUE(answered) << sql;
    for (int q = 0; q < 10; ++q) {
      ListFilter f;
      f.project = q % 2 ? "gamma" : "alpha";
      fx.Same(fx.RandomQuery(), f, 5);
    }
  }
  ASSERT_TRUE(sqlite::Exec(db,
                           "DROP INDEX rekall_engine_fts_id; "
                           "CREATE INDEX rekall_engine_fts_id ON entries_fts_content(c0 DESC)",
                           "replace")
                  .ok());
  EXPECT_TRUE(internal::FtsIdIndexIsOurs(db));  // as good for equality
}

// A server on an empty store builds an empty index, answers, and follows
// its first writes (the build once passed a null pointer to memset:
// undefined, caught by UBSan in the MCP agent test).
TEST(KeywordIndex, EmptyTableBuildsAndAnswers) {
  Fixture fx(0);
  ASSERT_TRUE(fx.WaitReady());
  EXPECT_TRUE(fx.Same("run", {}, 5));
  Entry e = RandomEntry(fx.rng);
  e.title = "run café";
  ASSERT_TRUE(fx.live->Add(&e).ok());
  EXPECT_TRUE(fx.Same("run", {}, 5));
  EXPECT_EQ(fx.live->KeywordIndexStats().builds, 1u);
}

// Most entries the same note: a query for it ties past the 4,096 rows the
// index ranks at once.
Entry MostlyTheSameNote(std::mt19937& rng) {
  Entry e = RandomEntry(rng);
  if (rng() % 20 != 0) {
    e.title = "deploy failed";
    e.content.clear();
    e.tags.clear();
  }
  return e;
}

// Filters on more matches than the index ranks at once: a filter keeping
// few entries walks the ranking of every row, a tie past the ranked rows
// with no such filter goes to FTS5's join; the same answers as FTS5.
TEST(KeywordIndex, FiltersPastTheRowsRankedAtOnce) {
  Fixture fx(4600, MostlyTheSameNote);
  ASSERT_TRUE(fx.WaitReady());
  ASSERT_TRUE(sqlite::Exec(fx.plain->db(), "UPDATE entries SET project = 'gamma' WHERE rowid % 700 = 0", "gamma").ok());
  std::vector<ListFilter> filters(6);
  filters[0].project = "gamma";  // 6 entries
  filters[1].type = "bug";       // a sixth: fewer than 2,048
  filters[2].project = "alpha";  // half: more than 2,048
  filters[3].tags = {"run0"};    // no indexed start
  filters[4].project = "none-such";
  for (ListFilter& f : filters) f.status = "active";
  for (const ListFilter& f : filters)
    for (int limit : {1, 5, 50})
      for (const char* q : {"deploy", "deploy failed run", "failed café"})
        EXPECT_TRUE(fx.Same(q, f, limit)) << q << " " << limit;
}

TEST(KeywordIndex, ReleasedThenBuiltAgain) {
  Fixture fx(100);
  ASSERT_TRUE(fx.WaitReady());
  fx.live->ReleaseMemory();
  EXPECT_FALSE(fx.live->KeywordIndexStats().ready);
  EXPECT_FALSE(fx.Same("run cafe", {}, 5));
  ASSERT_TRUE(fx.WaitReady());
  EXPECT_TRUE(fx.Same("run cafe", {}, 5));
}

// The index ranks `words` as FTS5 does, bit for bit.
void ExpectRanksAsFts5(sqlite3* db, const FtsTokenizer& tok, const KeywordIndex& idx,
                       const std::vector<std::string>& words) {
  auto want = Reference(db, words);
  std::vector<std::pair<int64_t, double>> got;
  idx.Rank(Phrases(tok, words), 1 << 20, &got);
  ASSERT_EQ(got.size(), want.size()) << words[0];
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].first, want[i].first) << words[0] << " #" << i;
    EXPECT_EQ(std::memcmp(&got[i].second, &want[i].second, sizeof(double)), 0) << words[0] << " #" << i;
  }
}

// The FTS rowid of an entry's keyword row, or -1.
int64_t FtsRowid(sqlite3* db, const std::string& id) {
  sqlite::Stmt st(db, "SELECT rowid FROM entries_fts WHERE id = ?");
  st.Bind(1, id);
  return st.Step() == SQLITE_ROW ? st.Int(0) : -1;
}

std::vector<std::string> EntryIds(sqlite3* db) {
  std::vector<std::string> ids;
  sqlite::Stmt st(db, "SELECT id FROM entries ORDER BY rowid");
  while (st.Step() == SQLITE_ROW) ids.push_back(st.Text(0));
  return ids;
}

// Rows of the build updated, deleted and written again, rows added after it
// and updated at once, again and again: every ranking stays FTS5's, and the
// newest row, updated many times, leaves no dead row and takes no memory.
TEST(KeywordIndex, RemovedAndAddedRowsKeepRankingAsFts5) {
  Fixture fx(300);
  sqlite3* db = fx.plain->db();
  std::unique_ptr<FtsTokenizer> tok;
  std::unique_ptr<KeywordIndex> idx;
  BuildNow(db, &tok, &idx);
  ASSERT_TRUE(idx);
  std::vector<std::string> ids = EntryIds(db);
  auto refresh = [&](std::vector<int64_t> rows) {
    Status s = idx->Refresh(db, *tok, rows);
    ASSERT_TRUE(s.ok()) << s.ToString();
  };
  for (int round = 0; round < 40; ++round) {
    Entry old;
    const std::string& id = ids[fx.rng() % ids.size()];
    ASSERT_TRUE(fx.plain->Get(id, &old).ok());
    const int64_t before = FtsRowid(db, id);
    old.content = Words(fx.rng, 12);
    ASSERT_TRUE(fx.plain->Update(&old).ok());
    refresh({before, FtsRowid(db, id)});
    Entry e = RandomEntry(fx.rng);
    ASSERT_TRUE(fx.plain->Add(&e).ok());
    refresh({FtsRowid(db, e.id)});
    ids.push_back(e.id);
    for (int u = 0; u < 3; ++u) {
      const int64_t was = FtsRowid(db, e.id);
      e.title = Words(fx.rng, 3);
      ASSERT_TRUE(fx.plain->Update(&e).ok());
      refresh({was, FtsRowid(db, e.id)});
    }
    if (round % 4 == 0) {
      const size_t k = fx.rng() % ids.size();
      const int64_t gone = FtsRowid(db, ids[k]);
      ASSERT_TRUE(fx.plain->Delete(ids[k]).ok());
      ids.erase(ids.begin() + long(k));
      refresh({gone});
    }
    for (int q = 0; q < 10; ++q) ExpectRanksAsFts5(db, *tok, *idx, {Word(fx.rng), Word(fx.rng), Word(fx.rng)});
  }
  EXPECT_EQ(idx->live_rows(), ids.size());
  // The newest row updated 300 times: no dead row, no memory more.
  Entry e = RandomEntry(fx.rng);
  ASSERT_TRUE(fx.plain->Add(&e).ok());
  refresh({FtsRowid(db, e.id)});
  const size_t dead = idx->dead_rows();
  const size_t bytes = idx->MemoryBytes();
  for (int u = 0; u < 300; ++u) {
    const int64_t was = FtsRowid(db, e.id);
    e.content = Words(fx.rng, 10);
    ASSERT_TRUE(fx.plain->Update(&e).ok());
    refresh({was, FtsRowid(db, e.id)});
  }
  EXPECT_EQ(idx->dead_rows(), dead);
  EXPECT_LE(idx->MemoryBytes(), bytes + 16 * 1024);
  ExpectRanksAsFts5(db, *tok, *idx, {"run", "cafe", "timeout-nginx", e.title});
}

// A phrase is matched within a column: the last word of a title and the
// first of the content make no phrase, nor content and tags.
TEST(KeywordIndex, PhrasesStopAtColumnBoundaries) {
  TempDir d;
  std::unique_ptr<Store> st;
  ASSERT_TRUE(Store::Open(d.file("p.db"), {}, &st).ok());
  const std::vector<std::array<std::string, 3>> rows = {{"alpha run", "connection beta", "gamma"},
                                                        {"delta", "run connection", ""},
                                                        {"epsilon", "the timeout", "nginx"},
                                                        {"timeout nginx timeout", "nginx", "timeout"},
                                                        {"run", "connection", "run"}};
  for (const auto& r : rows) {
    Entry e;
    e.title = r[0];
    e.content = r[1];
    e.type = kEntryTypes[0];
    if (!r[2].empty()) e.tags = {r[2]};
    ASSERT_TRUE(st->Add(&e).ok());
  }
  sqlite3* db = st->db();
  std::unique_ptr<FtsTokenizer> tok;
  std::unique_ptr<KeywordIndex> idx;
  BuildNow(db, &tok, &idx);
  ASSERT_TRUE(idx);
  EXPECT_EQ(idx->Holding(Tokens(*tok, "run-connection")), 1);
  EXPECT_EQ(idx->Holding(Tokens(*tok, "timeout-nginx")), 1);
  EXPECT_EQ(idx->Holding(Tokens(*tok, "beta-gamma")), 0);
  EXPECT_EQ(idx->Holding(Tokens(*tok, "nginx-timeout")), 1);
  for (const char* w : {"run-connection", "timeout-nginx", "beta-gamma", "nginx-timeout", "connection-run"})
    ExpectRanksAsFts5(db, *tok, *idx, {w, "run"});
}

// What the index holds is bounded by what it must: a posting per distinct
// term of a row (two varints: at most 3 bytes in a table this size), at
// most two bytes a token, a few words a row and a term, and a page per
// array. 8-byte postings in a vector per term, a vector per row of 4-byte
// token ids and hash maps of terms and rowids went past it.
TEST(KeywordIndex, MemoryBoundedByPostingsAndTokens) {
  Fixture fx(2000);
  sqlite3* db = fx.plain->db();
  std::unique_ptr<FtsTokenizer> tok;
  std::unique_ptr<KeywordIndex> idx;
  BuildNow(db, &tok, &idx);
  ASSERT_TRUE(idx);
  size_t rows = 0, tokens = 0, postings = 0, term_bytes = 0;
  std::set<std::string> terms;
  sqlite::Stmt st(db, "SELECT c1, c2, c3 FROM entries_fts_content");
  while (st.Step() == SQLITE_ROW) {
    std::vector<std::string> row;
    for (int c = 0; c < 3; ++c) ASSERT_TRUE(tok->Tokenize(st.Text(c), false, AddToken, &row).ok());
    tokens += row.size();
    postings += std::set<std::string>(row.begin(), row.end()).size();
    for (const auto& t : row)
      if (terms.insert(t).second) term_bytes += t.size();
    ++rows;
  }
  ASSERT_EQ(rows, 2000u);
  const size_t bound = 3 * postings + 2 * tokens + 40 * rows + term_bytes + 48 * terms.size() + 64 * 1024;
  EXPECT_LE(idx->MemoryBytes(), bound) << tokens << " tokens, " << postings << " postings";
  EXPECT_GE(idx->MemoryBytes(), 2 * postings + tokens);
}

}  // namespace
}  // namespace rekall::store
