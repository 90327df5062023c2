#include "engine/engine.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/fake_provider_for_test.h"
#include "sqlite/sqlite.h"
#include "store/store.h"

namespace fs = std::filesystem;

namespace rekall {
namespace {

// The finding of doctor check `check` (a failure when there is none).
DoctorFinding FindingOf(const std::vector<DoctorFinding>& found, const std::string& check) {
  for (const auto& f : found)
    if (f.check == check) return f;
  ADD_FAILURE() << "no finding " << check;
  return DoctorFinding();
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rekall_engine_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::unique_ptr<Engine> Open(const std::string& backend = "brute", FakeProvider** fp = nullptr) {
    EngineOptions o;
    o.db_path = dir_ + "/k.db";
    o.cfg.vector_backend = backend;
    o.cfg.sqlite_vec_path = REKALL_TEST_SQLITE_VEC;
    auto p = std::make_unique<FakeProvider>();
    if (fp) *fp = p.get();
    o.provider = std::move(p);
    std::unique_ptr<Engine> e;
    Status s = Engine::Open(std::move(o), &e);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e;
  }
  store::Entry Make(const std::string& title, const std::string& content, const std::string& type = "bug") {
    store::Entry e;
    e.title = title;
    e.content = content;
    e.type = type;
    return e;
  }
  std::string dir_;
};

TEST_F(EngineTest, SemanticSearchFindsByMeaningAndUpdatesAreSeen) {
  for (const std::string backend : {"brute", "sqlite-vec"}) {
    SCOPED_TRACE(backend);
    fs::remove(dir_ + "/k.db");
    auto eng = Open(backend);
    auto a = Make("nginx gateway timeout", "proxy read timeout upstream");
    auto b = Make("postgres pool exhausted", "too many connections database");
    auto c = Make("react effect cleanup", "useEffect unsubscribe leak", "pattern");
    std::string notice;
    ASSERT_TRUE(eng->Add(&a, &notice).ok());
    ASSERT_TRUE(eng->Add(&b, &notice).ok());
    ASSERT_TRUE(eng->Add(&c, &notice).ok());
    SearchRequest req;
    req.query = "upstream timeout";
    req.mode = SearchMode::kSemantic;  // the vector index of each backend
    SearchResponse resp;
    ASSERT_TRUE(eng->Search(req, &resp).ok());
    ASSERT_EQ(resp.results.size(), 3u);
    EXPECT_EQ(resp.results[0].entry.id, a.id);
    EXPECT_EQ(resp.results[0].entry.title, a.title);  // fetched
    EXPECT_EQ(resp.results[0].vector_rank, 1);

    // Update: the new text is what is scored.
    b.content = "upstream timeout upstream timeout";
    ASSERT_TRUE(eng->Update(&b, &notice).ok());
    ASSERT_TRUE(eng->Search(req, &resp).ok());
    EXPECT_EQ(resp.results[0].entry.id, b.id);

    // Delete: never returned again.
    ASSERT_TRUE(eng->Delete(b.id).ok());
    ASSERT_TRUE(eng->Search(req, &resp).ok());
    ASSERT_EQ(resp.results.size(), 2u);
    for (auto& r : resp.results) EXPECT_NE(r.entry.id, b.id);

    // Filters apply inside the KNN: k results of the type asked.
    req.filter.type = "pattern";
    req.limit = 1;
    ASSERT_TRUE(eng->Search(req, &resp).ok());
    ASSERT_EQ(resp.results.size(), 1u);
    EXPECT_EQ(resp.results[0].entry.id, c.id);
  }
}

TEST_F(EngineTest, HybridFusesRanksAndSaysWhy) {
  auto eng = Open();
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  auto b = Make("kubernetes ingress", "annotation proxy-read-timeout for nginx ingress");
  auto c = Make("unrelated", "something else entirely");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  ASSERT_TRUE(eng->Add(&b, &n).ok());
  ASSERT_TRUE(eng->Add(&c, &n).ok());
  SearchRequest req;
  req.query = "nginx timeout";
  req.mode = SearchMode::kHybrid;
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_FALSE(resp.results.empty());
  EXPECT_EQ(resp.results[0].entry.id, a.id);
  EXPECT_GT(resp.results[0].keyword_rank, 0);
  EXPECT_GT(resp.results[0].vector_rank, 0);
  // RRF score: sum of 1/(60+rank) over the lists the entry is in.
  double expect = 1.0 / (60 + resp.results[0].keyword_rank) + 1.0 / (60 + resp.results[0].vector_rank);
  EXPECT_NEAR(resp.results[0].score, expect, 1e-12);
}

TEST_F(EngineTest, ModelLoadingFallsBackToKeywordResults) {
  FakeProvider* fp = nullptr;
  auto eng = Open("brute", &fp);
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  fp->loading = true;
  SearchRequest req;
  req.query = "gateway";
  req.model_wait = std::chrono::milliseconds(1);
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_TRUE(resp.model_loading);
  EXPECT_EQ(resp.mode_used, SearchMode::kKeyword);
  EXPECT_NE(resp.notice.find("model loading"), std::string::npos);
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_EQ(resp.results[0].entry.id, a.id);
}

TEST_F(EngineTest, WithoutModelSemanticFallsBackToKeywordAndSaysWhatIsMissing) {
  FakeProvider* fp = nullptr;
  auto eng = Open("brute", &fp);
  fp->missing = true;
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  std::string notice;
  ASSERT_TRUE(eng->Add(&a, &notice).ok());
  EXPECT_NE(notice.find("index rebuild"), std::string::npos);
  SearchRequest req;
  req.query = "gateway";
  SearchResponse resp;
  // Semantic search answers with keyword results and says what is missing
  // (issue 12: a missing model is no longer an error).
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_EQ(resp.mode_used, SearchMode::kKeyword);
  EXPECT_FALSE(resp.model_loading);
  EXPECT_NE(resp.notice.find("model files not found"), std::string::npos) << resp.notice;
  EXPECT_NE(resp.notice.find("keyword results"), std::string::npos) << resp.notice;
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_EQ(resp.results[0].entry.id, a.id);
  req.mode = SearchMode::kHybrid;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_EQ(resp.mode_used, SearchMode::kKeyword);
  req.mode = SearchMode::kKeyword;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_EQ(resp.results.size(), 1u);
  // Once the model is there, rebuild embeds what is missing.
  fp->missing = false;
  size_t embedded = 0;
  ASSERT_TRUE(eng->RebuildIndex(false, nullptr, &embedded).ok());
  EXPECT_EQ(embedded, 1u);
  IndexStatus st;
  ASSERT_TRUE(eng->GetIndexStatus(&st).ok());
  EXPECT_EQ(st.missing, 0u);
  EXPECT_EQ(st.indexed, 1u);
}

TEST_F(EngineTest, SimilarExcludesItself) {
  auto eng = Open();
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  auto b = Make("nginx upstream timeout", "proxy timeout");
  auto c = Make("react hooks", "effect cleanup");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  ASSERT_TRUE(eng->Add(&b, &n).ok());
  ASSERT_TRUE(eng->Add(&c, &n).ok());
  std::vector<SearchResult> out;
  ASSERT_TRUE(eng->Similar(a.id, 5, {}, &out, &n).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].entry.id, b.id);
  EXPECT_TRUE(eng->Similar("01NOPE0000000000000000000Z", 5, {}, &out, &n).IsNotFound());
}

TEST_F(EngineTest, ImportIsAllOrNothingAndExportRoundTrips) {
  auto eng = Open();
  std::istringstream bad(
      "{\"title\":\"one\",\"type\":\"bug\"}\n"
      "{\"title\":\"two\",\"type\":\"bug\"}\n"
      "{\"title\":\"three\",\"type\":\"bug\"\n");
  size_t n = 0, skipped = 0;
  std::string notice;
  Status s = eng->Import(bad, OnConflict::kError, true, &n, &skipped, &notice);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("line 3"), std::string::npos) << s.ToString();
  EngineStats st;
  st.entries = 9;
  ASSERT_TRUE(eng->Stats(&st).ok());
  EXPECT_EQ(st.entries, 0u);

  std::istringstream badtype("{\"title\":\"one\",\"type\":\"bug\"}\n{\"title\":\"x\",\"type\":\"nope\"}\n");
  s = eng->Import(badtype, OnConflict::kError, true, &n, &skipped, &notice);
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s.ToString();
  st.entries = 9;
  ASSERT_TRUE(eng->Stats(&st).ok());
  EXPECT_EQ(st.entries, 0u);

  std::istringstream good(
      "{\"title\":\"one\",\"type\":\"bug\",\"tags\":[\"b\",\"a\"],\"project\":\"p\"}\n"
      "\n"
      "{\"title\":\"d\\u00e9ploiement \\u65e5\\u672c\",\"type\":\"decision\",\"content\":\"x\"}\n");
  ASSERT_TRUE(eng->Import(good, OnConflict::kError, true, &n, &skipped, &notice).ok());
  EXPECT_EQ(n, 2u);
  std::ostringstream out1;
  ASSERT_TRUE(eng->Export(out1, &n, &notice).ok());
  EXPECT_EQ(n, 2u);

  // Into a fresh database: the same bytes come back out.
  EngineOptions o;
  o.db_path = dir_ + "/other.db";
  o.cfg.vector_backend = "brute";
  o.provider = std::make_unique<FakeProvider>();
  std::unique_ptr<Engine> other;
  ASSERT_TRUE(Engine::Open(std::move(o), &other).ok());
  std::istringstream in(out1.str());
  ASSERT_TRUE(other->Import(in, OnConflict::kError, true, &n, &skipped, &notice).ok());
  std::ostringstream out2;
  ASSERT_TRUE(other->Export(out2, &n, &notice).ok());
  EXPECT_EQ(out1.str(), out2.str());

  // Same ids again: error by default, skip on request.
  std::istringstream again(out1.str());
  s = other->Import(again, OnConflict::kError, true, &n, &skipped, &notice);
  EXPECT_NE(s.message().find("already exists"), std::string::npos);
  std::istringstream again2(out1.str());
  ASSERT_TRUE(other->Import(again2, OnConflict::kSkip, true, &n, &skipped, &notice).ok());
  EXPECT_EQ(skipped, 2u);
}

// Issue 10 #3: an export is always restorable. A chain C -> B -> A (each
// superseded by the next) written newest first, and a two-entry cycle, import
// into an empty file; its export imports again into another with the same
// entries and pointers.
TEST_F(EngineTest, ImportAcceptsSupersededByInAnyOrderChainsAndCycles) {
  auto line = [](const std::string& id, const std::string& created, const std::string& sup) {
    return "{\"id\":\"" + id + "\",\"title\":\"t " + id + "\",\"type\":\"bug\",\"created_at\":\"" + created +
           "\",\"updated_at\":\"" + created + "\",\"superseded_by\":" + (sup.empty() ? "null" : "\"" + sup + "\"") +
           "}\n";
  };
  const std::string a = "01AAAAAAAAAAAAAAAAAAAAAAAA", b = "01BBBBBBBBBBBBBBBBBBBBBBBB", c = "01CCCCCCCCCCCCCCCCCCCCCCCC";
  const std::string x = "01XXXXXXXXXXXXXXXXXXXXXXXX", y = "01YYYYYYYYYYYYYYYYYYYYYYYY";
  // The oldest entry points at the newer one that supersedes it; the newest
  // line comes first, so every pointer names a later line.
  std::string file = line(c, "2026-01-03T00:00:00", "") + line(a, "2026-01-01T00:00:00", b) +
                     line(b, "2026-01-02T00:00:00", c) + line(x, "2026-01-04T00:00:00", y) +
                     line(y, "2026-01-04T00:00:00", x);
  auto eng = Open();
  size_t n = 0, skipped = 0;
  std::string notice;
  std::istringstream in(file);
  Status s = eng->Import(in, OnConflict::kError, true, &n, &skipped, &notice);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(n, 5u);
  std::vector<store::Entry> all;
  ASSERT_TRUE(eng->List({}, &all).ok());
  std::map<std::string, std::string> sup;
  for (const auto& e : all) sup[e.id] = e.superseded_by.value_or("");
  EXPECT_EQ(sup[a], b);
  EXPECT_EQ(sup[b], c);
  EXPECT_EQ(sup[c], "");
  EXPECT_EQ(sup[x], y);
  EXPECT_EQ(sup[y], x);
  std::ostringstream out1;
  ASSERT_TRUE(eng->Export(out1, &n, &notice).ok());

  EngineOptions o;
  o.db_path = dir_ + "/other.db";
  o.cfg.vector_backend = "brute";
  o.provider = std::make_unique<FakeProvider>();
  std::unique_ptr<Engine> other;
  ASSERT_TRUE(Engine::Open(std::move(o), &other).ok());
  std::istringstream in2(out1.str());
  s = other->Import(in2, OnConflict::kError, true, &n, &skipped, &notice);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::ostringstream out2;
  ASSERT_TRUE(other->Export(out2, &n, &notice).ok());
  EXPECT_EQ(out1.str(), out2.str());

  // A pointer to an entry in neither the file nor the database still fails,
  // naming its line, and nothing is imported.
  std::istringstream dangling(line("01DDDDDDDDDDDDDDDDDDDDDDDD", "2026-01-05T00:00:00", "") +
                              line("01EEEEEEEEEEEEEEEEEEEEEEEE", "2026-01-05T00:00:00", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"));
  s = other->Import(dangling, OnConflict::kError, true, &n, &skipped, &notice);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("line 2"), std::string::npos) << s.ToString();
  EngineStats st;
  ASSERT_TRUE(other->Stats(&st).ok());
  EXPECT_EQ(st.entries, 5u);
}

TEST_F(EngineTest, ResolveIdTakesExactIdsAndUniquePrefixes) {
  auto eng = Open();
  auto a = Make("one", "x");
  auto b = Make("two", "y");
  a.id = "01AAAAAAAAAAAAAAAAAAAAAAAA";
  b.id = "01AAAAAAAAAAAAAAAAAAAAAAAB";
  auto c = Make("three", "z");
  c.id = "imported-id";
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  ASSERT_TRUE(eng->Add(&b, &n).ok());
  ASSERT_TRUE(eng->Add(&c, &n).ok());
  std::string id;
  ASSERT_TRUE(eng->ResolveId(a.id, &id).ok());
  EXPECT_EQ(id, a.id);
  ASSERT_TRUE(eng->ResolveId("imported-id", &id).ok());  // as given, not upper-cased
  EXPECT_EQ(id, "imported-id");
  ASSERT_TRUE(eng->ResolveId("01aaaaaaaaaaaaaaaaaaaaaaab", &id).ok());
  EXPECT_EQ(id, b.id);
  ASSERT_TRUE(eng->ResolveId("01aaaaaaaaaaaaaaaaaaaaaaaa", &id).ok());  // exact beats prefix
  EXPECT_EQ(id, a.id);
  Status s = eng->ResolveId("01aaa", &id);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("ambiguous (" + a.id + ", " + b.id + ")"), std::string::npos) << s.ToString();
  EXPECT_TRUE(eng->ResolveId("01B", &id).IsNotFound());
  EXPECT_TRUE(eng->ResolveId("01AAAAAAAAAAAAAAAAAAAAAAAC", &id).IsNotFound());
  EXPECT_TRUE(eng->ResolveId("", &id).IsInvalidArgument());
  // Every id a prefix names, for `show` to list: at most `limit`, in order.
  std::vector<std::string> ids;
  ASSERT_TRUE(eng->MatchIds("01aaa", 5, &ids).ok());
  EXPECT_EQ(ids, (std::vector<std::string>{a.id, b.id}));
  ASSERT_TRUE(eng->MatchIds("01aaa", 1, &ids).ok());
  EXPECT_EQ(ids, std::vector<std::string>{a.id});
  ASSERT_TRUE(eng->MatchIds(a.id, 5, &ids).ok());  // an exact id names itself alone
  EXPECT_EQ(ids, std::vector<std::string>{a.id});
  ASSERT_TRUE(eng->MatchIds("01B", 5, &ids).ok());
  EXPECT_TRUE(ids.empty());
  bool exists = false;
  ASSERT_TRUE(eng->Exists(b.id, &exists).ok());
  EXPECT_TRUE(exists);
  ASSERT_TRUE(eng->Exists("01aaaaaaaaaaaaaaaaaaaaaaab", &exists).ok());
  EXPECT_FALSE(exists);  // Exists is exact
  std::vector<store::Entry> listed;
  store::ListFilter f;
  f.limit = 2;
  ASSERT_TRUE(eng->List(f, &listed).ok());
  EXPECT_EQ(listed.size(), 2u);
}

TEST_F(EngineTest, HasEntryColumnAnswersForThisFile) {
  auto eng = Open();
  EXPECT_TRUE(eng->HasEntryColumn("context_structured"));  // a new file has Rekall's latest schema
  EXPECT_TRUE(eng->HasEntryColumn("title"));
  EXPECT_FALSE(eng->HasEntryColumn("no_such_column"));
}

TEST_F(EngineTest, IdleReleaseKeepsTheQueryCacheSoARepeatedQueryNeedsNoModel) {
  FakeProvider* fp = nullptr;
  auto eng = Open("brute", &fp);
  auto a = Make("nginx gateway timeout", "proxy read timeout upstream");
  std::string notice;
  ASSERT_TRUE(eng->Add(&a, &notice).ok());
  SearchRequest req;
  req.query = "upstream timeout";
  req.mode = SearchMode::kSemantic;
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  int calls = fp->calls;
  eng->ReleaseIdleMemory();
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_EQ(fp->calls, calls);  // answered from the query cache
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_EQ(resp.results[0].entry.id, a.id);
  req.query = "another question";
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_EQ(fp->calls, calls + 1);
}

// Issue 11 #6: a Rekall file that never had embeddings (Rekall's default)
// never answers a search by meaning with a silent nothing.
TEST_F(EngineTest, WithoutAnyEmbeddingSearchSaysHowToAddThemAndAnswersByKeyword) {
  auto eng = Open();
  std::istringstream in(
      "{\"title\":\"nginx gateway timeout\",\"type\":\"bug\",\"content\":\"proxy read timeout\"}\n"
      "{\"title\":\"postgres pool\",\"type\":\"bug\",\"content\":\"too many connections\"}\n");
  size_t imported = 0, skipped = 0;
  std::string notice;
  ASSERT_TRUE(eng->Import(in, OnConflict::kError, /*embed=*/false, &imported, &skipped, &notice).ok());
  for (SearchMode mode : {SearchMode::kSemantic, SearchMode::kHybrid}) {
    SCOPED_TRACE(SearchModeName(mode));
    SearchRequest req;
    req.query = "gateway timeout";
    req.mode = mode;
    SearchResponse resp;
    ASSERT_TRUE(eng->Search(req, &resp).ok());
    ASSERT_EQ(resp.results.size(), 1u);
    EXPECT_EQ(resp.results[0].entry.title, "nginx gateway timeout");
    // Keyword results, labelled as such (hybrid used to keep its label).
    EXPECT_EQ(resp.mode_used, SearchMode::kKeyword);
    EXPECT_NE(resp.notice.find("no entry has an embedding yet (2 entries): these are keyword results"),
              std::string::npos)
        << resp.notice;
    EXPECT_NE(resp.notice.find("`rekall index rebuild`"), std::string::npos) << resp.notice;
    // No keyword match either: the notice does not speak of results.
    req.query = "kubernetes";
    ASSERT_TRUE(eng->Search(req, &resp).ok());
    EXPECT_TRUE(resp.results.empty());
    EXPECT_NE(resp.notice.find("keyword search found nothing either"), std::string::npos) << resp.notice;
  }
  // Once embedded, no such notice.
  size_t n = 0;
  ASSERT_TRUE(eng->RebuildIndex(false, nullptr, &n).ok());
  SearchRequest req;
  req.query = "gateway timeout";
  req.mode = SearchMode::kSemantic;
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_EQ(resp.mode_used, SearchMode::kSemantic);
  EXPECT_EQ(resp.notice.find("no entry has an embedding"), std::string::npos) << resp.notice;
  ASSERT_FALSE(resp.results.empty());
  EXPECT_EQ(resp.results[0].vector_rank, 1);
}

TEST_F(EngineTest, WaitForModelEndsWithTheLoadOrTheCancellation) {
  FakeProvider* fp = nullptr;
  auto eng = Open("brute", &fp);
  EXPECT_EQ(eng->model_state(), ModelState::kLoaded);
  EXPECT_TRUE(eng->WaitForModel(std::chrono::milliseconds(0)));
  fp->loading = true;
  EXPECT_EQ(eng->model_state(), ModelState::kLoading);
  EXPECT_FALSE(eng->WaitForModel(std::chrono::milliseconds(20)));
  std::atomic<bool> cancelled{true};
  EXPECT_FALSE(eng->WaitForModel(std::chrono::hours(1), &cancelled));
  std::thread loader([fp] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    fp->loading = false;
  });
  EXPECT_TRUE(eng->WaitForModel(std::chrono::hours(1)));
  loader.join();
  fp->missing = true;
  EXPECT_EQ(eng->model_state(), ModelState::kMissing);
  EXPECT_TRUE(eng->WaitForModel(std::chrono::hours(1)));
}

TEST_F(EngineTest, OnConflictAndSeverityNamesRoundTrip) {
  for (OnConflict c : {OnConflict::kError, OnConflict::kSkip, OnConflict::kReplace, OnConflict::kMerge}) {
    OnConflict back = OnConflict::kError;
    ASSERT_TRUE(ParseOnConflict(OnConflictName(c), &back).ok());
    EXPECT_EQ(back, c);
  }
  OnConflict c;
  Status s = ParseOnConflict("banana", &c);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.message(), "--strategy must be error, skip, replace or merge");
  for (ExchangeFormat f : {ExchangeFormat::kJsonLines, ExchangeFormat::kRekallJson, ExchangeFormat::kRekallZip,
                           ExchangeFormat::kMarkdown}) {
    ExchangeFormat back = ExchangeFormat::kJsonLines;
    ASSERT_TRUE(ParseExchangeFormat(ExchangeFormatName(f), &back).ok());
    EXPECT_EQ(back, f);
  }
  ExchangeFormat f;
  EXPECT_TRUE(ParseExchangeFormat("csv", &f).IsInvalidArgument());
  ASSERT_TRUE(ExchangeFormatOfName("kb.rekall.zip", &f));
  EXPECT_EQ(f, ExchangeFormat::kRekallZip);
  ASSERT_TRUE(ExchangeFormatOfName("KB.JSON", &f));
  EXPECT_EQ(f, ExchangeFormat::kRekallJson);
  ASSERT_TRUE(ExchangeFormatOfName("a/kb.md", &f));
  EXPECT_EQ(f, ExchangeFormat::kMarkdown);
  ASSERT_TRUE(ExchangeFormatOfName("kb.jsonl", &f));
  EXPECT_EQ(f, ExchangeFormat::kJsonLines);
  EXPECT_FALSE(ExchangeFormatOfName("kb.txt", &f));
  EXPECT_FALSE(ExchangeFormatOfName("json", &f));
  EXPECT_STREQ(SeverityName(Severity::kWarning), "warning");
  EXPECT_STREQ(ModelStateName(ModelState::kMissing), "missing");
}

TEST_F(EngineTest, StatsJsonKeepsItsKeys) {
  auto eng = Open();
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  EngineStats st;
  ASSERT_TRUE(eng->Stats(&st).ok());
  nlohmann::json j = EngineStatsToJson(st);
  std::vector<std::string> keys;
  for (auto it = j.begin(); it != j.end(); ++it) keys.push_back(it.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"backend", "cache_max_size", "cache_ttl_seconds", "database",
                                            "engine_schema_version", "entries", "entry_cache", "indexed_vectors",
                                            "model_idle_timeout_minutes", "model_loads", "model_path", "model_precision", "model_source",
                                            "model_state", "peak_rss_kb", "query_cache", "rekall_schema_version",
                                            "rss_kb", "sqlite_vec_path", "sqlite_vec_source", "summary_embeddings",
                                            "vector_scan"}));
  EXPECT_EQ(j["entries"], 1);
  EXPECT_EQ(j["summary_embeddings"], 1);
  EXPECT_EQ(j["indexed_vectors"], 1);
  // One vector, far below the 1-bit threshold: exact, and nothing checked.
  EXPECT_EQ(j["vector_scan"], (nlohmann::json{{"mode", "float32"}}));
  EXPECT_EQ(j["model_state"], "loaded");
  EXPECT_EQ(j["database"], dir_ + "/k.db");
  EXPECT_EQ(j["model_precision"], "fp32");
}

TEST_F(EngineTest, MigrationPlanOfAnUpToDateFileIsEmpty) {
  auto eng = Open();
  auto a = Make("one", "x");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  eng.reset();
  EngineOptions o;
  o.db_path = dir_ + "/k.db";
  MigrationReport r;
  ASSERT_TRUE(Engine::PlanMigration(o, &r).ok());
  EXPECT_FALSE(r.plan.needed());
  EXPECT_EQ(r.entries, 1u);
  EXPECT_EQ(r.entries_without_embedding, 0u);
  ASSERT_TRUE(Engine::Migrate(o, &r).ok());
  EXPECT_FALSE(r.applied);
  o.db_path = dir_ + "/absent.db";
  EXPECT_FALSE(Engine::PlanMigration(o, &r).ok());
  EXPECT_FALSE(fs::exists(o.db_path));  // never created
}

TEST_F(EngineTest, DoctorFindsDamageAndRepairsItAfterABackup) {
  auto eng = Open();
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  auto b = Make("postgres pool exhausted", "too many connections");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  ASSERT_TRUE(eng->Add(&b, &n).ok());
  std::vector<DoctorFinding> found;
  std::string backup;
  ASSERT_TRUE(eng->Doctor(false, &found, &backup).ok());
  std::vector<std::string> checks;
  for (const auto& f : found) {
    checks.push_back(f.check);
    EXPECT_EQ(f.severity, Severity::kOk) << f.check << ": " << f.message;
  }
  EXPECT_EQ(checks, (std::vector<std::string>{"integrity", "orphan_embeddings", "orphan_tags", "fts_drift",
                                              "model_mismatch", "non_finite_vectors", "missing_embeddings",
                                              "index_drift", "model", "sqlite_vec"}));
  {
    // Another program damages the file: a tag of no entry, a lost FTS row.
    std::unique_ptr<store::Store> raw;
    ASSERT_TRUE(store::Store::Open(dir_ + "/k.db", {}, &raw).ok());
    ASSERT_TRUE(sqlite::Exec(raw->db(),
                               "PRAGMA foreign_keys = OFF; INSERT INTO tags(entry_id, tag) VALUES('ghost', 'x'); "
                               "DELETE FROM entries_fts WHERE id = '" + a.id + "'",
                               "test")
                    .ok());
  }
  auto finding = [&](const std::string& check) { return FindingOf(found, check); };
  ASSERT_TRUE(eng->Doctor(false, &found, &backup).ok());
  EXPECT_EQ(finding("orphan_tags").severity, Severity::kWarning);
  EXPECT_EQ(finding("orphan_tags").count, 1u);
  EXPECT_EQ(finding("fts_drift").severity, Severity::kWarning);
  EXPECT_EQ(finding("fts_drift").count, 1u);
  EXPECT_FALSE(finding("fts_drift").fixed);
  EXPECT_TRUE(backup.empty());

  ASSERT_TRUE(eng->Doctor(true, &found, &backup).ok());
  EXPECT_TRUE(finding("orphan_tags").fixed);
  EXPECT_TRUE(finding("fts_drift").fixed);
  EXPECT_FALSE(finding("model_mismatch").fixed);
  ASSERT_FALSE(backup.empty());
  EXPECT_TRUE(fs::exists(backup));
  ASSERT_TRUE(eng->Doctor(false, &found, &backup).ok());
  for (const auto& f : found) EXPECT_EQ(f.severity, Severity::kOk) << f.check << ": " << f.message;
  SearchRequest req;
  req.query = "gateway";
  req.mode = SearchMode::kKeyword;
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_EQ(resp.results[0].entry.id, a.id);
}

// `doctor --quick`: the integrity check and the two drift checks alone, with
// the same findings the full doctor reports for them; --fix repairs the drift.
TEST_F(EngineTest, QuickDoctorRunsIntegrityAndDriftChecksAlone) {
  auto eng = Open();
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  {
    std::unique_ptr<store::Store> raw;
    ASSERT_TRUE(store::Store::Open(dir_ + "/k.db", {}, &raw).ok());
    ASSERT_TRUE(sqlite::Exec(raw->db(),
                               "PRAGMA foreign_keys = OFF; INSERT INTO tags(entry_id, tag) VALUES('ghost', 'x'); "
                               "DELETE FROM entries_fts WHERE id = '" + a.id + "'",
                               "test")
                    .ok());
  }
  DoctorOptions quick;
  quick.quick = true;
  std::vector<DoctorFinding> found;
  std::string backup;
  ASSERT_TRUE(eng->Doctor(quick, &found, &backup).ok());
  std::vector<std::string> checks;
  for (const auto& f : found) checks.push_back(f.check);
  EXPECT_EQ(checks, (std::vector<std::string>{"integrity", "fts_drift", "index_drift"}));
  EXPECT_EQ(FindingOf(found, "integrity").severity, Severity::kOk);
  EXPECT_EQ(FindingOf(found, "fts_drift").severity, Severity::kWarning);
  EXPECT_EQ(FindingOf(found, "fts_drift").count, 1u);
  EXPECT_EQ(FindingOf(found, "index_drift").severity, Severity::kOk);
  std::vector<DoctorFinding> full;
  ASSERT_TRUE(eng->Doctor(false, &full, &backup).ok());
  for (const auto& f : found) {
    EXPECT_EQ(FindingOf(full, f.check).message, f.message) << f.check;
    EXPECT_EQ(FindingOf(full, f.check).count, f.count) << f.check;
  }

  quick.fix = true;
  ASSERT_TRUE(eng->Doctor(quick, &found, &backup).ok());
  EXPECT_TRUE(FindingOf(found, "fts_drift").fixed);
  EXPECT_FALSE(backup.empty());
  ASSERT_TRUE(eng->Doctor(false, &full, &backup).ok());
  EXPECT_EQ(FindingOf(full, "fts_drift").count, 0u);
  EXPECT_EQ(FindingOf(full, "orphan_tags").count, 1u);  // not a quick check: left as it was
}

// Issue 14 #7: after deleting half the entries, vacuum gives their space
// back (rows, FTS postings, embeddings, vec0 rows) and keeps every entry:
// the same entries and the same search results before and after.
TEST_F(EngineTest, VacuumGivesSpaceBackAndKeepsEveryEntry) {
  for (const std::string backend : {"sqlite-vec", "brute"}) {
    SCOPED_TRACE(backend);
    fs::remove(dir_ + "/k.db");
    auto eng = Open(backend);
    std::vector<std::string> ids;
    std::string n, filler;
    for (int i = 0; i < 40; ++i) filler += "upstream proxy timeout pool connection cache ";
    for (int i = 0; i < 200; ++i) {
      auto e = Make("note " + std::to_string(i) + (i % 3 ? " nginx gateway" : " postgres pool"), filler);
      ASSERT_TRUE(eng->Add(&e, &n).ok());
      ids.push_back(e.id);
    }
    for (size_t i = 0; i < ids.size(); i += 2) ASSERT_TRUE(eng->Delete(ids[i]).ok());
    auto answers = [&] {
      std::vector<std::string> got;
      for (SearchMode mode : {SearchMode::kSemantic, SearchMode::kKeyword, SearchMode::kHybrid}) {
        SearchRequest req;
        req.query = "nginx gateway note 17";
        req.mode = mode;
        req.limit = 20;
        SearchResponse resp;
        EXPECT_TRUE(eng->Search(req, &resp).ok());
        for (const auto& r : resp.results) got.push_back(r.entry.id + " " + std::to_string(r.score));
      }
      return got;
    };
    std::vector<std::string> before = answers();
    ASSERT_EQ(before.size(), 60u);
    VacuumReport r;
    Status s = eng->Vacuum(&r);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(r.entries, 100u);
    EXPECT_LT(r.bytes_after, r.bytes_before);
    EXPECT_EQ(r.vector_index_rebuilt, backend == "sqlite-vec");
    EXPECT_EQ(r.notice.empty(), backend == "sqlite-vec") << r.notice;
    EXPECT_EQ(std::uintmax_t(r.bytes_after), fs::file_size(dir_ + "/k.db"));  // the WAL checkpointed
    EXPECT_EQ(answers(), before);
    eng.reset();
    eng = Open(backend);  // a new process reads the vacuumed file alike
    EXPECT_EQ(answers(), before);
    EngineStats st;
    ASSERT_TRUE(eng->Stats(&st).ok());
    EXPECT_EQ(st.entries, 100u);
    EXPECT_EQ(st.summary_embeddings, 100u);
  }
}

TEST_F(EngineTest, VacuumRefusesAReadOnlyFile) {
  {
    auto eng = Open();
    auto e = Make("nginx gateway timeout", "proxy read timeout");
    std::string n;
    ASSERT_TRUE(eng->Add(&e, &n).ok());
  }
  EngineOptions o;
  o.db_path = dir_ + "/k.db";
  o.read_only = true;
  o.provider = std::make_unique<FakeProvider>();
  std::unique_ptr<Engine> eng;
  ASSERT_TRUE(Engine::Open(std::move(o), &eng).ok());
  VacuumReport r;
  Status s = eng->Vacuum(&r);
  EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
  EXPECT_NE(s.message().find("read-only"), std::string::npos) << s.ToString();
}

// Issue 10: a summary holding NaN drops out of every search; doctor says so,
// and --fix deletes it and re-embeds the entry.
// A NaN component, or bytes that do not match the dimension (which used to
// stop doctor before it reported anything): found, and fixed by --fix.
TEST_F(EngineTest, DoctorFlagsAndFixesNonFiniteAndMalformedVectors) {
  for (bool malformed : {false, true}) {
  SCOPED_TRACE(malformed ? "malformed bytes" : "NaN");
  fs::remove(dir_ + "/k.db");
  auto eng = Open();
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  auto b = Make("postgres pool exhausted", "too many connections");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  ASSERT_TRUE(eng->Add(&b, &n).ok());
  {
    std::unique_ptr<store::Store> raw;
    ASSERT_TRUE(store::Store::Open(dir_ + "/k.db", {}, &raw).ok());
    std::vector<float> v(malformed ? 1 : store::kDim, 0.1f);
    v[malformed ? 0 : 7] = malformed ? 0.1f : std::nanf("");
    sqlite::Stmt st(raw->db(), "UPDATE embeddings SET vector = ? WHERE entry_id = ? AND embedding_type = 'summary'");
    st.BindBlob(1, v.data(), v.size() * sizeof(float));
    st.Bind(2, a.id);
    ASSERT_EQ(st.Step(), SQLITE_DONE);
  }
  std::vector<DoctorFinding> found;
  std::string backup;
  auto finding = [&](const std::string& check) { return FindingOf(found, check); };
  ASSERT_TRUE(eng->Doctor(false, &found, &backup).ok());
  EXPECT_EQ(finding("non_finite_vectors").severity, Severity::kWarning);
  EXPECT_EQ(finding("non_finite_vectors").count, 1u);
  ASSERT_TRUE(eng->Doctor(true, &found, &backup).ok());
  EXPECT_TRUE(finding("non_finite_vectors").fixed);
  ASSERT_TRUE(eng->Doctor(false, &found, &backup).ok());
  for (const auto& f : found) EXPECT_EQ(f.severity, Severity::kOk) << f.check << ": " << f.message;
  std::vector<SearchResult> out;
  ASSERT_TRUE(eng->Similar(b.id, 5, {}, &out, &n).ok());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].entry.id, a.id);
  }
}

TEST_F(EngineTest, DoctorOnAReadOnlyFileSaysWhatItCouldNotCheck) {
  {
    auto eng = Open();
    auto a = Make("nginx gateway timeout", "proxy read timeout");
    std::string n;
    ASSERT_TRUE(eng->Add(&a, &n).ok());
  }
  EngineOptions o;
  o.db_path = dir_ + "/k.db";
  o.read_only = true;
  o.cfg.vector_backend = "brute";
  o.provider = std::make_unique<FakeProvider>();
  std::unique_ptr<Engine> ro;
  ASSERT_TRUE(Engine::Open(std::move(o), &ro).ok());
  std::vector<DoctorFinding> found;
  std::string backup;
  ASSERT_TRUE(ro->Doctor(false, &found, &backup).ok());
  DoctorFinding f = FindingOf(found, "index_drift");
  EXPECT_EQ(f.severity, Severity::kInfo);
  EXPECT_NE(f.message.find("read-only"), std::string::npos) << f.message;
}

TEST_F(EngineTest, UpdateWithoutTheModelDropsTheStaleVector) {
  FakeProvider* fp = nullptr;
  auto eng = Open("brute", &fp);
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  auto b = Make("nginx upstream timeout", "proxy timeout");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  ASSERT_TRUE(eng->Add(&b, &n).ok());
  fp->missing = true;
  a.content = "something else entirely";
  std::string notice;
  ASSERT_TRUE(eng->Update(&a, &notice).ok());
  EXPECT_NE(notice.find("embedding was not updated"), std::string::npos) << notice;
  IndexStatus st;
  ASSERT_TRUE(eng->GetIndexStatus(&st).ok());
  EXPECT_EQ(st.missing, 1u);
  EXPECT_EQ(st.indexed, 1u);
  std::vector<SearchResult> out;
  EXPECT_TRUE(eng->Similar(a.id, 5, {}, &out, &n).IsUnavailable());
  // An invalid entry is refused before anything else, even when it does not exist.
  auto bad = Make("x", "y", "nope");
  bad.id = "01NOPE0000000000000000000Z";
  EXPECT_TRUE(eng->Update(&bad, &notice).IsInvalidArgument());
}

TEST_F(EngineTest, WritesByAnotherProcessAreSeen) {
  auto eng = Open();
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  SearchRequest req;
  req.query = "gateway timeout";
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_EQ(resp.results.size(), 1u);
  // A second engine on the same file stands for another process.
  auto other = Open();
  auto b = Make("gateway timeout again", "gateway timeout");
  ASSERT_TRUE(other->Add(&b, &n).ok());
  ASSERT_TRUE(other->Delete(a.id).ok());
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_EQ(resp.results[0].entry.id, b.id);
}

}  // namespace
}  // namespace rekall

namespace rekall {
namespace {

TEST_F(EngineTest, LongRunningEngineReleasesItsIndexWhenIdle) {
  EngineOptions o;
  o.db_path = dir_ + "/k.db";
  o.cfg.vector_backend = "auto";
  o.cfg.model_idle_timeout_seconds = 1;
  o.long_running = true;
  o.provider = std::make_unique<FakeProvider>();
  std::unique_ptr<Engine> eng;
  ASSERT_TRUE(Engine::Open(std::move(o), &eng).ok());
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  SearchRequest req;
  req.query = "gateway";
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EngineStats st;
  ASSERT_TRUE(eng->Stats(&st).ok());
  EXPECT_EQ(st.backend, "brute");  // long-running + auto: the in-memory matrix
  // After the idle timeout the matrix is given back...
  for (int i = 0; i < 50 && st.backend != "not loaded"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(eng->Stats(&st).ok());
  }
  EXPECT_EQ(st.backend, "not loaded");
  // ...and the next search reloads it and still finds the entry.
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_EQ(resp.results[0].entry.id, a.id);
}

// A server ranks keyword searches with its in-memory index, through its own
// writes, exactly as FTS5 ranks them for a one-shot command on the file.
TEST_F(EngineTest, ServerRanksKeywordsInMemoryAsFts5Does) {
  EngineOptions o;
  o.db_path = dir_ + "/k.db";
  o.cfg.vector_backend = "brute";
  o.long_running = true;
  o.provider = std::make_unique<FakeProvider>();
  std::unique_ptr<Engine> server;
  ASSERT_TRUE(Engine::Open(std::move(o), &server).ok());
  const std::vector<std::string> words = {"nginx", "timeout", "proxy", "postgres", "pool", "react", "leak",
                                          "gateway", "upstream", "cache", "e.g.", "read-timeout", "Café"};
  std::string notice;
  std::vector<std::string> ids;
  for (int i = 0; i < 60; ++i) {
    auto e = Make(words[size_t(i) % words.size()] + " " + words[size_t(i * 7) % words.size()],
                  words[size_t(i * 3) % words.size()] + " " + words[size_t(i * 5) % words.size()] + " notes",
                  i % 2 ? "bug" : "pattern");
    ASSERT_TRUE(server->Add(&e, &notice).ok());
    ids.push_back(e.id);
  }
  EngineStats st;
  SearchRequest req;
  req.mode = SearchMode::kSemantic;
  req.query = "nginx";
  SearchResponse resp;
  // The vector index's first load adds its codes table to the file (a
  // schema change, after which the keyword index is built again): over
  // before the keyword index is waited for.
  ASSERT_TRUE(server->Search(req, &resp).ok());
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(server->Stats(&st).ok());
    if (st.vector_scan && !st.vector_scan->loading) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  req.mode = SearchMode::kKeyword;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(server->Search(req, &resp).ok());
    ASSERT_TRUE(server->Stats(&st).ok());
    ASSERT_TRUE(st.keyword_index.has_value());
    if (st.keyword_index->ready) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(st.keyword_index->ready);
  auto cli = Open();
  auto same = [&](const std::string& q, SearchMode mode) {
    SearchRequest r;
    r.query = q;
    r.mode = mode;
    r.limit = 7;
    SearchResponse a, b;
    ASSERT_TRUE(server->Search(r, &a).ok());
    ASSERT_TRUE(cli->Search(r, &b).ok());
    ASSERT_EQ(a.results.size(), b.results.size()) << q;
    for (size_t i = 0; i < a.results.size(); ++i) {
      EXPECT_EQ(a.results[i].entry.id, b.results[i].entry.id) << q;
      EXPECT_EQ(a.results[i].bm25, b.results[i].bm25) << q;
    }
  };
  const uint64_t before = st.keyword_index->answered;
  same("nginx timeout notes", SearchMode::kKeyword);
  same("read-timeout cafe gateway", SearchMode::kHybrid);
  // The server's own writes: followed in place, still exact.
  store::Entry u;
  ASSERT_TRUE(server->Get(ids[3], &u).ok());
  u.title = "gateway gateway cache";
  ASSERT_TRUE(server->Update(&u, &notice).ok());
  ASSERT_TRUE(server->Delete(ids[4]).ok());
  same("gateway cache", SearchMode::kKeyword);
  same("e.g. leak pool", SearchMode::kHybrid);
  ASSERT_TRUE(server->Stats(&st).ok());
  EXPECT_EQ(st.keyword_index->answered, before + 4);  // none by FTS5: the writes were followed in place
  EXPECT_EQ(EngineStatsToJson(st)["keyword_index"]["state"], "ready");
}

TEST_F(EngineTest, StatsAndDoctorSayWhereTheModelAndTheExtensionAreOrWhatIsMissing) {
  EngineOptions o;
  o.db_path = dir_ + "/k.db";
  o.cfg.model_path = dir_ + "/no-model";  // set in code: reported as an option
  o.cfg.sqlite_vec_path = REKALL_TEST_SQLITE_VEC;
  o.cfg.sqlite_vec_path_origin = config::Origin::kEnvironment;
  o.provider = std::make_unique<FakeProvider>();
  std::unique_ptr<Engine> eng;
  ASSERT_TRUE(Engine::Open(std::move(o), &eng).ok());
  EngineStats stats;
  ASSERT_TRUE(eng->Stats(&stats).ok());
  nlohmann::json st = EngineStatsToJson(stats);
  EXPECT_EQ(st["sqlite_vec_path"], REKALL_TEST_SQLITE_VEC);
  EXPECT_EQ(st["sqlite_vec_source"], "environment");
  EXPECT_FALSE(st.contains("sqlite_vec_missing"));
  EXPECT_EQ(st["model_path"], dir_ + "/no-model");
  EXPECT_EQ(st["model_source"], "option");
  EXPECT_NE(st["model_missing"].get<std::string>().find(dir_ + "/no-model/model.safetensors not found"),
            std::string::npos)
      << st.dump();

  std::vector<DoctorFinding> findings;
  std::string backup;
  ASSERT_TRUE(eng->Doctor(false, &findings, &backup).ok());
  std::map<std::string, DoctorFinding> by_check;
  for (const auto& f : findings) by_check[f.check] = f;
  ASSERT_TRUE(by_check.count("model") && by_check.count("sqlite_vec"));
  EXPECT_EQ(by_check["model"].severity, Severity::kWarning);
  EXPECT_NE(by_check["model"].message.find("get the files with:"), std::string::npos) << by_check["model"].message;
  EXPECT_NE(by_check["model"].message.find("looked in: " + dir_ + "/no-model"), std::string::npos);
  EXPECT_EQ(by_check["sqlite_vec"].severity, Severity::kOk);
  EXPECT_EQ(by_check["sqlite_vec"].message, std::string(REKALL_TEST_SQLITE_VEC) + " (environment)");
}

}  // namespace
}  // namespace rekall

namespace rekall {
namespace {

// Issue 10 #2: two processes (two engines on one file) patching the same
// entry at once: every tag either adds, and both fields, survive.
TEST_F(EngineTest, ConcurrentPatchesLoseNoUpdate) {
  for (const std::string backend : {"brute", "sqlite-vec"}) {
    SCOPED_TRACE(backend);
    fs::remove(dir_ + "/k.db");
    auto setup = Open(backend);
    auto e = Make("shared", "shared content");
    std::string n;
    ASSERT_TRUE(setup->Add(&e, &n).ok());
    constexpr int kRounds = 25;
    auto writer = [&](const std::string& who, bool title) {
      auto eng = Open(backend);
      for (int i = 0; i < kRounds; ++i) {
        const std::string tag = who + std::to_string(i);
        const std::string text = who + " round " + std::to_string(i);
        store::Entry out;
        std::string notice;
        Status s = eng->Patch(e.id, [&](store::Entry* x) {
          x->tags.push_back(tag);
          (title ? x->title : x->content) = text;
          return Status::OK();
        }, &out, &notice);
        EXPECT_TRUE(s.ok()) << s.ToString();
      }
    };
    std::thread a(writer, "a", true), b(writer, "b", false);
    a.join();
    b.join();
    store::Entry got;
    ASSERT_TRUE(setup->Get(e.id, &got).ok());
    EXPECT_EQ(got.tags.size(), size_t(2 * kRounds));
    EXPECT_EQ(got.title, "a round " + std::to_string(kRounds - 1));
    EXPECT_EQ(got.content, "b round " + std::to_string(kRounds - 1));
  }
}

// Someone changes the entry's text between Patch's embedding (outside the
// lock) and its write: the patch is re-applied to their version, and the
// stored vector describes the text stored, not the one first embedded.
TEST_F(EngineTest, PatchReembedsWhenTheTextChangedMeanwhile) {
  auto eng = Open();
  auto other = Open();
  auto e = Make("nginx gateway", "proxy read");
  std::string n;
  ASSERT_TRUE(eng->Add(&e, &n).ok());
  int calls = 0;
  store::Entry out;
  Status s = eng->Patch(e.id, [&](store::Entry* x) {
    if (++calls == 1) {  // first run, before the embedding: another process writes
      store::Entry theirs;
      EXPECT_TRUE(other->Get(e.id, &theirs).ok());
      theirs.content = "upstream timeout";
      EXPECT_TRUE(other->Update(&theirs, &n).ok());
    }
    x->title = "gateway";
    return Status::OK();
  }, &out, &n);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(calls, 4);  // outside, inside (moved), outside again, inside
  EXPECT_EQ(out.title, "gateway");
  EXPECT_EQ(out.content, "upstream timeout");
  SearchRequest req;
  req.query = store::SummaryText(out);
  req.mode = SearchMode::kSemantic;  // the score is the cosine
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_NEAR(resp.results[0].score, 1.0, 1e-5);
}

TEST_F(EngineTest, PatchOfAMissingEntryOrABadValueChangesNothing) {
  auto eng = Open();
  auto e = Make("title", "content");
  std::string n;
  ASSERT_TRUE(eng->Add(&e, &n).ok());
  store::Entry out;
  auto set_type = [](store::Entry* x) {
    x->type = "banana";
    return Status::OK();
  };
  EXPECT_EQ(eng->Patch("NOPE", set_type, &out, &n).code(), Code::kNotFound);
  EXPECT_EQ(eng->Patch(e.id, set_type, &out, &n).code(), Code::kInvalidArgument);
  store::Entry got;
  ASSERT_TRUE(eng->Get(e.id, &got).ok());
  EXPECT_EQ(got.type, "bug");
}

// Issue 10 #6: cancellation reaches SQLite: a cancelled search stops with
// Cancelled instead of running its query to the end.
// serve opens the index in the background at start; the idle release
// still gives it back, and searches find what it holds.
TEST_F(EngineTest, WarmIndexLoadsInTheBackgroundAndIsStillReleasedWhenIdle) {
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  std::string n;
  ASSERT_TRUE(Open()->Add(&a, &n).ok());
  EngineOptions o;
  o.db_path = dir_ + "/k.db";
  o.cfg.model_idle_timeout_seconds = 1;
  o.long_running = true;
  o.provider = std::make_unique<FakeProvider>();
  std::unique_ptr<Engine> eng;
  ASSERT_TRUE(Engine::Open(std::move(o), &eng).ok());
  EngineStats st;
  ASSERT_TRUE(eng->Stats(&st).ok());
  EXPECT_EQ(st.backend, "not loaded");
  eng->WarmIndex();
  for (int i = 0; i < 100 && st.backend != "brute"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    ASSERT_TRUE(eng->Stats(&st).ok());
  }
  EXPECT_EQ(st.backend, "brute");
  EXPECT_EQ(st.indexed_vectors, std::optional<size_t>(1));
  for (int i = 0; i < 50 && st.backend != "not loaded"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_TRUE(eng->Stats(&st).ok());
  }
  EXPECT_EQ(st.backend, "not loaded");
  SearchRequest req;
  req.query = "gateway";
  req.mode = SearchMode::kSemantic;
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_EQ(resp.results[0].entry.id, a.id);
}

// Another process edits an entry's text (its vector rewritten in place)
// and its type: the running engine's index follows.
TEST_F(EngineTest, AnotherProcessEditIsSeenByTheRunningIndex) {
  auto eng = Open();
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  auto b = Make("postgres pool exhausted", "too many connections");
  std::string n;
  ASSERT_TRUE(eng->Add(&a, &n).ok());
  ASSERT_TRUE(eng->Add(&b, &n).ok());
  SearchRequest req;
  req.query = "react effect cleanup";
  req.mode = SearchMode::kSemantic;
  req.filter.type = "pattern";
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_TRUE(resp.results.empty());
  auto other = Open();
  b.title = "react effect cleanup";
  b.content = "useEffect unsubscribe";
  b.type = "pattern";
  ASSERT_TRUE(other->Update(&b, &n).ok());
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_EQ(resp.results[0].entry.id, b.id);
  ASSERT_TRUE(resp.results[0].cosine);
  EXPECT_GT(*resp.results[0].cosine, 0.5);  // the new text's vector (the old one shares no word)
}

TEST_F(EngineTest, CancelledSearchStopsInsideSqlite) {
  auto eng = Open();
  std::string n;
  for (int i = 0; i < 200; ++i) {
    auto e = Make("gateway timeout " + std::to_string(i), "upstream read timeout number " + std::to_string(i));
    ASSERT_TRUE(eng->Add(&e, &n).ok());
  }
  for (SearchMode mode : {SearchMode::kKeyword, SearchMode::kHybrid}) {
    std::atomic<bool> cancelled{true};
    SearchRequest req;
    req.query = "upstream timeout";
    req.mode = mode;
    req.limit = 100;
    req.cancelled = &cancelled;
    SearchResponse resp;
    Status s = eng->Search(req, &resp);
    EXPECT_EQ(s.code(), Code::kCancelled) << s.ToString();
    cancelled = false;
    ASSERT_TRUE(eng->Search(req, &resp).ok());
    EXPECT_EQ(resp.results.size(), 100u);
  }
}

}  // namespace
}  // namespace rekall

namespace rekall {
namespace {

// An import's replace rewrites the entry in place: its links and the entries
// that point at it stay (a delete and insert dropped both; found by a
// hostile test). A self-superseded entry in a file is refused.
TEST_F(EngineTest, ImportReplaceKeepsLinksAndPointersAndRefusesSelfSupersede) {
  auto eng = Open();
  auto a = Make("nginx gateway timeout", "proxy read timeout");
  auto b = Make("postgres pool exhausted", "too many connections");
  auto c = Make("old gateway note", "superseded");
  std::string notice;
  ASSERT_TRUE(eng->Add(&a, &notice).ok());
  ASSERT_TRUE(eng->Add(&b, &notice).ok());
  c.superseded_by = a.id;
  ASSERT_TRUE(eng->Add(&c, &notice).ok());
  store::Link l;
  l.source_id = a.id;
  l.target_id = b.id;
  l.relation_type = "related";
  ASSERT_TRUE(eng->Link(&l).ok());
  std::ostringstream out;
  size_t n = 0, skipped = 0;
  ASSERT_TRUE(eng->Export(out, &n, &notice).ok());
  std::string text = out.str();
  size_t at = text.find("nginx gateway timeout");
  ASSERT_NE(at, std::string::npos);
  text.replace(at, 5, "NGINX");
  std::istringstream in(text);
  ASSERT_TRUE(eng->Import(in, OnConflict::kReplace, false, &n, &skipped, &notice).ok());
  EXPECT_EQ(n, 3u);
  size_t links = 0;
  ASSERT_TRUE(eng->CountLinks(&links).ok());
  EXPECT_EQ(links, 1u);
  store::Entry got;
  ASSERT_TRUE(eng->Get(c.id, &got).ok());
  EXPECT_EQ(got.superseded_by, a.id);
  ASSERT_TRUE(eng->Get(a.id, &got).ok());
  EXPECT_EQ(got.title, "NGINX gateway timeout");
  // Its old vector described other text: dropped, `index rebuild` adds it.
  IndexStatus st;
  ASSERT_TRUE(eng->GetIndexStatus(&st).ok());
  EXPECT_EQ(st.missing, 1u);

  std::istringstream self("{\"id\":\"" + b.id + "\",\"title\":\"t\",\"type\":\"bug\",\"superseded_by\":\"" + b.id +
                          "\",\"created_at\":\"2026-01-01T00:00:00\",\"updated_at\":\"2026-01-01T00:00:00\"}\n");
  Status s = eng->Import(self, OnConflict::kReplace, false, &n, &skipped, &notice);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("superseded by itself"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace rekall
