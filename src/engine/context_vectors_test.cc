// [smart_embeddings] enabled: the context embedding, stored as Rekall
// stores it and used by semantic and hybrid search.
#include <gtest/gtest.h>


#include "engine/engine.h"
#include "engine/fake_provider_for_test.h"
#include "util/temp_dir_for_test.h"
#include "sqlite/sqlite.h"

namespace rekall {
namespace {

class ContextVectorsTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> Open(bool smart) {
    EngineOptions o;
    o.db_path = dir_.file("k.db");
    o.cfg.vector_backend = "brute";
    o.cfg.smart_embeddings = smart;
    o.provider = std::make_unique<FakeProvider>();
    std::unique_ptr<Engine> e;
    Status s = Engine::Open(std::move(o), &e);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e;
  }

  // Rows of the embeddings table of type 'context' (read as Rekall would).
  int ContextRows() {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(dir_.file("k.db").c_str(), &db), SQLITE_OK);
    int n = -1;
    {
      sqlite::Stmt st(db, "SELECT count(*) FROM embeddings WHERE embedding_type = 'context' AND dimensions = 384");
      if (st.Step() == SQLITE_ROW) n = static_cast<int>(st.Int(0));
    }
    sqlite3_close(db);
    return n;
  }

  static store::Entry WithContext() {
    store::Entry e;
    e.title = "alpha service note";
    e.content = "beta gamma";
    e.type = "bug";
    e.extra["context_structured"] =
        R"({"situation": "zebra crossing lights stuck", "solution": "giraffe reset", "trigger_keywords": ["zebra"]})";
    return e;
  }

  SearchResponse Search(Engine* eng, SearchMode mode) {
    SearchRequest req;
    req.query = "zebra crossing lights stuck";
    req.mode = mode;
    SearchResponse resp;
    EXPECT_TRUE(eng->Search(req, &resp).ok());
    return resp;
  }

  TempDir dir_;
};

TEST_F(ContextVectorsTest, EnabledStoresTheContextEmbeddingAndSearchUsesIt) {
  auto eng = Open(true);
  store::Entry e = WithContext(), other;
  other.title = "delta";
  other.content = "epsilon";
  other.type = "bug";
  std::string notice;
  ASSERT_TRUE(eng->Add(&e, &notice).ok()) << notice;
  ASSERT_TRUE(eng->Add(&other, &notice).ok());
  EXPECT_EQ(ContextRows(), 1);
  for (SearchMode mode : {SearchMode::kSemantic, SearchMode::kHybrid}) {
    SCOPED_TRACE(SearchModeName(mode));
    SearchResponse resp = Search(eng.get(), mode);
    ASSERT_FALSE(resp.results.empty());
    EXPECT_EQ(resp.results[0].entry.id, e.id);
    EXPECT_EQ(resp.results[0].vector_rank, 1);
    ASSERT_TRUE(resp.results[0].cosine.has_value());
    // The query's words are the situation's: the context vector scores
    // high, the summary ("alpha service note beta gamma") would score ~0.
    EXPECT_GT(*resp.results[0].cosine, 0.6);
  }
  // The context taken away: its embedding goes too.
  store::Entry got;
  ASSERT_TRUE(eng->Get(e.id, &got).ok());
  got.extra["context_structured"] = nullptr;
  got.extra["context_blob"] = nullptr;
  ASSERT_TRUE(eng->Update(&got, &notice).ok());
  EXPECT_EQ(ContextRows(), 0);
  SearchResponse resp = Search(eng.get(), SearchMode::kSemantic);
  ASSERT_FALSE(resp.results.empty());
  EXPECT_LT(*resp.results[0].cosine, 0.3);
}

TEST_F(ContextVectorsTest, DisabledAsRekallsDefaultStoresNone) {
  auto eng = Open(false);
  store::Entry e = WithContext();
  std::string notice;
  ASSERT_TRUE(eng->Add(&e, &notice).ok());
  EXPECT_EQ(ContextRows(), 0);
  SearchResponse resp = Search(eng.get(), SearchMode::kSemantic);
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_LT(*resp.results[0].cosine, 0.3);
}

TEST_F(ContextVectorsTest, FiltersApplyToEntriesFoundByTheirContext) {
  auto eng = Open(true);
  store::Entry e = WithContext();
  std::string notice;
  ASSERT_TRUE(eng->Add(&e, &notice).ok());
  SearchRequest req;
  req.query = "zebra crossing lights stuck";
  req.mode = SearchMode::kSemantic;
  req.filter.type = "pattern";
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_TRUE(resp.results.empty());
}

}  // namespace
}  // namespace rekall
