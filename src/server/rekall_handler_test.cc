#include "server/rekall_handler.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <functional>
#include <sstream>
#include <thread>

#include "engine/fake_provider_for_test.h"
#include "server/rekall_tools.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace rekall::server {
namespace {

class RekallHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rekall_handler_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    EngineOptions o;
    o.db_path = dir_ + "/k.db";
    o.cfg.vector_backend = "brute";
    o.cfg.sqlite_vec_path = REKALL_TEST_SQLITE_VEC;
    o.cfg.model_load_wait_seconds = 0.05;
    auto p = std::make_unique<FakeProvider>();
    fake_ = p.get();
    o.provider = std::move(p);
    Status s = Engine::Open(std::move(o), &engine_);
    ASSERT_TRUE(s.ok()) << s.ToString();
    handler_ = std::make_unique<RekallToolHandler>(engine_.get());
  }
  void TearDown() override {
    handler_.reset();
    engine_.reset();
    fs::remove_all(dir_);
  }
  ToolResult Call(const std::string& tool, json args) {
    return handler_->Call(tool, args, CancelToken());
  }
  std::string AddEntry(const std::string& title, const std::string& content, const std::string& type = "bug",
                       json more = json::object()) {
    more["title"] = title;
    more["content"] = content;
    more["type"] = type;
    ToolResult r = Call("rekall_add", more);
    EXPECT_FALSE(r.is_error) << r.text;
    return r.structured.value("id", std::string());
  }

  std::string dir_;
  FakeProvider* fake_ = nullptr;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<RekallToolHandler> handler_;
};

TEST_F(RekallHandlerTest, ListsTheRekallTools) {
  std::vector<std::string> names;
  for (const auto& t : handler_->Tools()) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{
                       "rekall_help", "rekall_search", "rekall_show", "rekall_add", "rekall_link", "rekall_suggest",
                       "rekall_get_context", "rekall_unlink", "rekall_related", "rekall_similar",
                       "rekall_sources_suggest", "rekall_info", "rekall_stale", "rekall_generalize",
                       "rekall_sources_verify", "rekall_deprecate", "rekall_update", "rekall_delete"}));  // Rekall's order
  EXPECT_EQ(handler_->SupersedeGroup("rekall_search"), "search");
  EXPECT_EQ(handler_->SupersedeGroup("rekall_add"), "");
}

TEST_F(RekallHandlerTest, AddShowAndContext) {
  std::string id = AddEntry("nginx gateway timeout", "raise proxy_read_timeout", "bug",
                            {{"project", "infra"},
                             {"tags", {"nginx", "Timeout "}},
                             {"confidence", 4},
                             {"context", {{"situation", "502 under load"}, {"trigger_keywords", {"502", "nginx"}}}}});
  ASSERT_EQ(id.size(), 26u);
  ToolResult r = Call("rekall_show", {{"id", id}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["title"], "nginx gateway timeout");
  EXPECT_EQ(r.structured["project"], "infra");
  EXPECT_EQ(r.structured["confidence"], 4);
  EXPECT_EQ(r.structured["tags"], json({"Timeout", "nginx"}));  // trimmed, sorted
  EXPECT_EQ(r.structured["context"]["situation"], "502 under load");
  EXPECT_FALSE(r.structured.contains("extra"));
  EXPECT_NE(r.text.find("raise proxy_read_timeout"), std::string::npos);
  EXPECT_NE(r.text.find("situation: 502 under load"), std::string::npos);

  // A prefix (any case) finds it too.
  ToolResult p = Call("rekall_show", {{"id", id.substr(0, 20)}});
  ASSERT_FALSE(p.is_error) << p.text;
  EXPECT_EQ(p.structured["id"], id);
  std::string lower = id.substr(0, 22);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(Call("rekall_show", {{"id", lower}}).structured["id"], id);

  // Rekall's older plain-string context.
  std::string id2 = AddEntry("cors preflight", "allow OPTIONS", "pitfall", {{"context", "browser blocks PUT"}});
  EXPECT_EQ(Call("rekall_show", {{"id", id2}}).structured["context"]["situation"], "browser blocks PUT");
}

TEST_F(RekallHandlerTest, UnknownIdIsAToolError) {
  ToolResult r = Call("rekall_show", {{"id", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"}});
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("no entry with id"), std::string::npos) << r.text;
  EXPECT_EQ(r.structured["error"], "not found") << r.structured.dump();
  EXPECT_TRUE(Call("rekall_show", {{"id", "nope"}}).is_error);
  EXPECT_TRUE(Call("rekall_delete", {{"id", "nope"}}).is_error);
  EXPECT_TRUE(Call("rekall_delete", {{"id", "nope"}, {"confirm", true}}).is_error);
  EXPECT_TRUE(Call("rekall_update", {{"id", "nope"}, {"title", "x"}}).is_error);
  EXPECT_TRUE(Call("rekall_similar", {{"entry_id", "nope"}}).is_error);
}

TEST_F(RekallHandlerTest, AmbiguousPrefixIsAnError) {
  AddEntry("one", "a");
  AddEntry("two", "b");
  ToolResult r = Call("rekall_show", {{"id", "0"}});
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("ambiguous"), std::string::npos) << r.text;
}

TEST_F(RekallHandlerTest, InvalidFieldsAreToolErrors) {
  ToolResult r = Call("rekall_add", {{"title", ""}, {"type", "bug"}});
  EXPECT_TRUE(r.is_error);
  r = Call("rekall_search", {{"query", "x"}, {"type", "nonsense"}});
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("invalid type"), std::string::npos);
  r = Call("rekall_search", {{"query", "   "}});
  EXPECT_TRUE(r.is_error);
}

// Integer arguments beyond any range saturate instead of wrapping: a huge
// limit asks for everything (clamped to kMaxLimit), a huge confidence is
// refused as out of range.
TEST_F(RekallHandlerTest, TranscriptCaptureIsRefusedWithWhatToDoInstead) {
  ToolResult r = Call("rekall_add", {{"title", "t"}, {"type", "bug"}, {"auto_capture_conversation", true},
                                     {"_transcript_path", "/tmp/x.jsonl"}});
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("context.conversation_excerpt"), std::string::npos) << r.text;
  r = Call("rekall_add", {{"title", "t"}, {"type", "bug"}, {"auto_detect_files", true}});
  EXPECT_FALSE(r.is_error) << r.text;
  EXPECT_NE(r.structured.value("notice", std::string()).find("files_modified"), std::string::npos) << r.text;
}

TEST_F(RekallHandlerTest, HugeIntegerArgumentsSaturate) {
  for (const char* t : {"timeout one", "timeout two", "timeout three"}) AddEntry(t, "body");
  for (json limit : {json(1e300), json(18446744073709551615ull), json(9223372036854775807ll)}) {
    ToolResult r = Call("rekall_search", {{"query", "timeout"}, {"mode", "keyword"}, {"limit", limit}});
    ASSERT_FALSE(r.is_error) << r.text;
    EXPECT_EQ(r.structured["results"].size(), 3u) << limit.dump();
  }
  ToolResult r = Call("rekall_add", {{"title", "t"}, {"type", "bug"}, {"confidence", 18446744073709551615ull}});
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("invalid confidence 2147483647"), std::string::npos) << r.text;
  r = Call("rekall_add", {{"title", "t"}, {"type", "bug"}, {"confidence", 1e300}});
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("invalid confidence"), std::string::npos) << r.text;
}

TEST_F(RekallHandlerTest, SearchModesCarryScoresAndWhy) {
  std::string a = AddEntry("nginx gateway timeout", "proxy read timeout upstream", "bug", {{"project", "infra"}});
  std::string b = AddEntry("postgres pool exhausted", "too many connections database", "bug");
  std::string c = AddEntry("react effect cleanup", "useEffect unsubscribe leak", "pattern", {{"tags", {"react"}}});

  ToolResult r = Call("rekall_search", {{"query", "upstream timeout"}, {"mode", "semantic"}, {"limit", 10}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["mode"], "semantic");
  EXPECT_EQ(r.structured["model_loading"], false);
  ASSERT_EQ(r.structured["results"].size(), 3u);
  const json& top = r.structured["results"][0];
  EXPECT_EQ(top["id"], a);
  EXPECT_EQ(top["title"], "nginx gateway timeout");
  EXPECT_EQ(top["type"], "bug");
  EXPECT_EQ(top["project"], "infra");
  EXPECT_EQ(top["why"]["vector_rank"], 1);
  EXPECT_TRUE(top["why"].contains("cosine"));
  EXPECT_NE(r.text.find("nginx gateway timeout"), std::string::npos);
  EXPECT_NE(r.text.find(a), std::string::npos);
  EXPECT_NE(r.text.find("why: vector #1"), std::string::npos) << r.text;

  r = Call("rekall_search", {{"query", "timeout"}, {"mode", "keyword"}, {"limit", 10}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["mode"], "keyword");
  ASSERT_EQ(r.structured["results"].size(), 1u);
  EXPECT_EQ(r.structured["results"][0]["why"]["keyword_rank"], 1);
  EXPECT_TRUE(r.structured["results"][0]["why"].contains("bm25"));

  r = Call("rekall_search", {{"query", "nginx timeout"}, {"mode", "hybrid"}, {"limit", 2}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["mode"], "hybrid");
  ASSERT_EQ(r.structured["results"].size(), 2u);
  EXPECT_EQ(r.structured["results"][0]["id"], a);
  EXPECT_TRUE(r.structured["results"][0]["why"].contains("keyword_rank"));
  EXPECT_TRUE(r.structured["results"][0]["why"].contains("vector_rank"));

  // Filters: type, project, tags.
  r = Call("rekall_search", {{"query", "leak"}, {"type", "pattern"}, {"limit", 10}});
  ASSERT_EQ(r.structured["results"].size(), 1u);
  EXPECT_EQ(r.structured["results"][0]["id"], c);
  r = Call("rekall_search", {{"query", "anything"}, {"project", "infra"}, {"limit", 10}});
  ASSERT_EQ(r.structured["results"].size(), 1u);
  r = Call("rekall_search", {{"query", "anything"}, {"tags", {"react"}}, {"limit", 10}});
  ASSERT_EQ(r.structured["results"].size(), 1u);
  EXPECT_EQ(r.structured["results"][0]["id"], c);

  r = Call("rekall_search", {{"query", "zzzqqq"}, {"mode", "keyword"}});
  ASSERT_FALSE(r.is_error);
  EXPECT_EQ(r.structured["count"], 0);
  EXPECT_NE(r.text.find("No entries found"), std::string::npos);
  (void)b;
}

TEST_F(RekallHandlerTest, SearchWhileTheModelLoadsGivesMarkedKeywordResults) {
  std::string a = AddEntry("nginx gateway timeout", "proxy read timeout");
  fake_->loading = true;
  ToolResult r = Call("rekall_search", {{"query", "gateway"}, {"mode", "semantic"}, {"limit", 10}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["mode"], "keyword");
  EXPECT_EQ(r.structured["requested_mode"], "semantic");
  EXPECT_EQ(r.structured["model_loading"], true);
  ASSERT_EQ(r.structured["results"].size(), 1u);
  EXPECT_EQ(r.structured["results"][0]["id"], a);
  EXPECT_NE(r.text.find("model is loading"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("keyword"), std::string::npos);
  // The wait budget came from the config (50 ms), partly spent waiting here.
  EXPECT_LE(fake_->last_wait.count(), 50);
}

TEST_F(RekallHandlerTest, CancelledWhileWaitingForTheModelReturnsAtOnce) {
  AddEntry("nginx gateway timeout", "proxy read timeout");
  fake_->loading = true;
  CancelToken token;
  token.Cancel();
  auto t0 = std::chrono::steady_clock::now();
  ToolResult r = handler_->Call("rekall_search", {{"query", "gateway"}, {"limit", 10}}, token);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(40));
  EXPECT_TRUE(r.is_error);  // discarded by the server anyway
}

TEST_F(RekallHandlerTest, SemanticSearchUsesTheContext) {
  std::string a = AddEntry("alpha", "kubernetes ingress annotation");
  std::string b = AddEntry("beta", "react hook dependency");
  ToolResult r = Call("rekall_search", {{"query", "configuration"}, {"context", "react hook"}, {"limit", 1}});
  ASSERT_FALSE(r.is_error) << r.text;
  ASSERT_EQ(r.structured["results"].size(), 1u);
  EXPECT_EQ(r.structured["results"][0]["id"], b);
  EXPECT_EQ(r.structured["query"], "configuration");
  EXPECT_EQ(r.structured["mode"], "hybrid");  // the default
  // The context sharpens the meaning only: its words never match as keywords.
  r = Call("rekall_search", {{"query", "configuration"}, {"context", "kubernetes"}, {"mode", "keyword"}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_TRUE(r.structured["results"].empty()) << r.structured.dump();
  r = Call("rekall_search", {{"query", "configuration"}, {"context", "kubernetes ingress"}, {"mode", "semantic"},
                             {"limit", 1}});
  ASSERT_EQ(r.structured["results"].size(), 1u);
  EXPECT_EQ(r.structured["results"][0]["id"], a);
}

TEST_F(RekallHandlerTest, UpdateDeleteAndSimilar) {
  std::string a = AddEntry("nginx gateway timeout", "proxy read timeout upstream");
  std::string b = AddEntry("nginx upstream timeout again", "proxy timeout upstream nginx");
  std::string c = AddEntry("postgres pool", "too many connections");

  ToolResult r = Call("rekall_similar", {{"entry_id", a}, {"limit", 5}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["entry_id"], a);
  ASSERT_EQ(r.structured["results"].size(), 2u);
  EXPECT_EQ(r.structured["results"][0]["id"], b);
  EXPECT_NE(r.text.find("Entries similar to"), std::string::npos);

  r = Call("rekall_update", {{"id", c}, {"title", "postgres pool exhausted"}, {"confidence", 5}, {"tags", {"db"}}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["updated"], json({"title", "confidence", "tags"}));
  ToolResult shown = Call("rekall_show", {{"id", c}});
  EXPECT_EQ(shown.structured["title"], "postgres pool exhausted");
  EXPECT_EQ(shown.structured["content"], "too many connections");  // untouched
  EXPECT_EQ(shown.structured["confidence"], 5);
  EXPECT_EQ(shown.structured["tags"], json({"db"}));

  r = Call("rekall_update", {{"id", c}, {"confidence", 9}});
  EXPECT_TRUE(r.is_error);

  r = Call("rekall_delete", {{"id", b}});
  EXPECT_TRUE(r.is_error);  // Rekall's confirm is required
  EXPECT_NE(r.text.find("confirm=true"), std::string::npos) << r.text;
  EXPECT_FALSE(Call("rekall_show", {{"id", b}}).is_error);
  r = Call("rekall_delete", {{"id", b}, {"confirm", true}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["deleted"], b);
  EXPECT_TRUE(Call("rekall_show", {{"id", b}}).is_error);
  r = Call("rekall_search", {{"query", "nginx upstream timeout"}, {"limit", 10}});
  for (const auto& hit : r.structured["results"]) EXPECT_NE(hit["id"], b);
}

TEST_F(RekallHandlerTest, InfoReportsEngineStats) {
  AddEntry("one", "a");
  ToolResult r = Call("rekall_info", json::object());
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["entries"], 1);
  EXPECT_EQ(r.structured["model_state"], "loaded");
  EXPECT_TRUE(r.structured.contains("rss_kb"));
  EXPECT_TRUE(r.structured.contains("query_cache"));
  EXPECT_TRUE(r.structured.contains("backend"));
  EXPECT_NE(r.text.find("entries: 1"), std::string::npos) << r.text;
  // How the brute index scans: exact below the 1-bit threshold.
  EXPECT_NE(r.text.find("vector scan: exact float32"), std::string::npos) << r.text;
  EXPECT_EQ(r.structured["vector_scan"]["mode"], "float32");
}

// A database of Rekall's schema 2 has no context column: the entry is kept,
// without its context, and the result says so.
TEST(RekallHandlerOldSchemaTest, AddKeepsTheEntryWhenTheDatabaseCannotHoldTheContext) {
  std::string fixture = std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/rekall-v2.db";
  if (!fs::exists(fixture)) GTEST_SKIP() << "fixture absent";
  char tmpl[] = "/tmp/rekall_handler_test_XXXXXX";
  std::string dir = mkdtemp(tmpl);
  fs::copy_file(fixture, dir + "/k.db");
  EngineOptions o;
  o.db_path = dir + "/k.db";
  o.cfg.vector_backend = "brute";
  o.provider = std::make_unique<FakeProvider>();
  std::unique_ptr<Engine> engine;
  ASSERT_TRUE(Engine::Open(std::move(o), &engine).ok());
  RekallToolHandler handler(engine.get());
  ToolResult r = handler.Call(
      "rekall_add", {{"title", "cors"}, {"type", "pitfall"}, {"context", {{"situation", "PUT blocked"}}}}, CancelToken());
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_NE(r.structured.value("notice", std::string()).find("this database cannot hold the context"),
            std::string::npos)
      << r.structured.dump();
  ToolResult shown = handler.Call("rekall_show", {{"id", r.structured["id"]}}, CancelToken());
  EXPECT_EQ(shown.structured["title"], "cors");
  EXPECT_FALSE(shown.structured.contains("context"));
  engine.reset();
  fs::remove_all(dir);
}

TEST_F(RekallHandlerTest, ConcurrentCallsFromSeveralWorkers) {
  for (int i = 0; i < 20; ++i) AddEntry("entry " + std::to_string(i), "word" + std::to_string(i) + " shared");
  std::atomic<int> errors{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        ToolResult r = t % 2 ? handler_->Call("rekall_search", {{"query", "shared word3"}, {"limit", 5}}, CancelToken())
                             : handler_->Call("rekall_add",
                                              {{"title", "added " + std::to_string(t) + "-" + std::to_string(i)},
                                               {"type", "reference"}},
                                              CancelToken());
        if (r.is_error) ++errors;
      }
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(Call("rekall_info", json::object()).structured["entries"], 70);
}

TEST_F(RekallHandlerTest, LinksRelatedBothWaysUpToThreeLinks) {
  std::string a = AddEntry("a", "x"), b = AddEntry("b", "y"), c = AddEntry("c", "z"), d = AddEntry("d", "w");
  ToolResult r = Call("rekall_link", {{"source_id", a}, {"target_id", b}, {"relation_type", "related"},
                                      {"reason", "same theme"}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_NE(r.text.find("Link created: " + a + " → [related] → " + b), std::string::npos) << r.text;
  EXPECT_FALSE(Call("rekall_link", {{"source_id", c}, {"target_id", b}, {"relation_type", "supersedes"},
                                    {"reason", "c replaces b"}}).is_error);
  EXPECT_FALSE(Call("rekall_link", {{"source_id", d}, {"target_id", c}, {"relation_type", "derived_from"},
                                    {"reason", "r"}}).is_error);
  // Rekall's refusals: a duplicate, a link to itself, an unknown entry.
  EXPECT_TRUE(Call("rekall_link", {{"source_id", a}, {"target_id", b}, {"relation_type", "related"},
                                   {"reason", "again"}}).is_error);
  EXPECT_TRUE(Call("rekall_link", {{"source_id", a}, {"target_id", a}, {"relation_type", "related"},
                                   {"reason", "self"}}).is_error);
  EXPECT_TRUE(Call("rekall_link", {{"source_id", a}, {"target_id", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"},
                                   {"relation_type", "related"}, {"reason", "r"}}).is_error);

  r = Call("rekall_related", {{"entry_id", a}, {"depth", 1}});
  ASSERT_FALSE(r.is_error) << r.text;
  ASSERT_EQ(r.structured["count"], 1);
  EXPECT_EQ(r.structured["related"][0]["id"], b);
  EXPECT_EQ(r.structured["related"][0]["direction"], "outgoing");
  r = Call("rekall_related", {{"entry_id", b}, {"depth", 1}});
  EXPECT_EQ(r.structured["count"], 2);  // incoming from a and from c
  EXPECT_NE(r.text.find("← [supersedes]"), std::string::npos) << r.text;
  r = Call("rekall_related", {{"entry_id", a}, {"depth", 9}});  // clamped to 3
  EXPECT_EQ(r.structured["depth"], 3);
  ASSERT_EQ(r.structured["count"], 3);
  EXPECT_EQ(r.structured["related"][2]["id"], d);
  EXPECT_EQ(r.structured["related"][2]["depth"], 3);

  ToolResult shown = Call("rekall_show", {{"id", b}});
  EXPECT_EQ(shown.structured["links"].size(), 2u);

  r = Call("rekall_unlink", {{"source_id", b}, {"target_id", a}});
  EXPECT_EQ(r.structured["removed"], 0);  // direction matters
  EXPECT_NE(r.text.find("No link found"), std::string::npos);
  r = Call("rekall_unlink", {{"source_id", a}, {"target_id", b}});
  EXPECT_EQ(r.structured["removed"], 1);
  r = Call("rekall_related", {{"entry_id", a}, {"depth", 1}});
  EXPECT_EQ(r.structured["count"], 0);
  EXPECT_NE(r.text.find("No related entries"), std::string::npos);
}

TEST_F(RekallHandlerTest, DeprecateHidesFromSearchAndKeepsTheEntry) {
  std::string old = AddEntry("nginx timeout old fix", "proxy timeout 60");
  std::string now = AddEntry("nginx timeout fix", "proxy timeout 300");
  ToolResult r = Call("rekall_deprecate", {{"id", old}, {"replaced_by", now}, {"reason", "outdated"}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["status"], "obsolete");
  EXPECT_EQ(r.structured["superseded_by"], now);
  EXPECT_NE(r.text.find("Reason: outdated"), std::string::npos);
  r = Call("rekall_search", {{"query", "nginx timeout"}, {"mode", "keyword"}, {"limit", 10}});
  ASSERT_EQ(r.structured["count"], 1);
  EXPECT_EQ(r.structured["results"][0]["id"], now);
  r = Call("rekall_search", {{"query", "nginx timeout"}, {"mode", "keyword"}, {"limit", 10},
                             {"include_obsolete", true}});
  EXPECT_EQ(r.structured["count"], 2);
  EXPECT_EQ(Call("rekall_show", {{"id", old}}).structured["status"], "obsolete");
  EXPECT_TRUE(Call("rekall_deprecate", {{"id", old}, {"replaced_by", "01ZZZZZZZZZZZZZZZZZZZZZZZZ"}}).is_error);
  EXPECT_TRUE(Call("rekall_deprecate", {{"id", old}, {"replaced_by", old}}).is_error);
}

TEST_F(RekallHandlerTest, ReadsAreCountedAndStaleListsTheUnread) {
  std::string a = AddEntry("alpha", "one");
  ToolResult r = Call("rekall_stale", {{"days", 0}, {"limit", 20}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["count"], 1);  // read when written, a moment ago
  r = Call("rekall_stale", {{"days", 90}, {"limit", 20}});
  EXPECT_EQ(r.structured["count"], 0);
  EXPECT_NE(r.text.find("No entries inactive"), std::string::npos);
  Call("rekall_show", {{"id", a}});
  Call("rekall_search", {{"query", "alpha"}, {"mode", "keyword"}});
  store::Entry e;
  ASSERT_TRUE(engine_->Get(a, &e).ok());
  EXPECT_EQ(e.extra["access_count"], 2);
  EXPECT_TRUE(e.extra["last_accessed"].is_string());
}

TEST_F(RekallHandlerTest, MemoryTypeIsSettable) {
  std::string id = AddEntry("general rule", "always pin versions", "pattern", {{"memory_type", "semantic"}});
  store::Entry e;
  ASSERT_TRUE(engine_->Get(id, &e).ok());
  EXPECT_EQ(e.extra["memory_type"], "semantic");
  std::string other = AddEntry("an event", "it broke once");
  ASSERT_TRUE(engine_->Get(other, &e).ok());
  EXPECT_EQ(e.extra["memory_type"], "episodic");  // Rekall's default
}

TEST_F(RekallHandlerTest, GeneralizeLinksTheNewEntryToItsSources) {
  std::string a = AddEntry("nginx timeout on upload", "raise proxy_read_timeout", "bug", {{"tags", {"nginx", "web"}}});
  std::string b = AddEntry("nginx timeout on export", "raise it too", "bug", {{"tags", {"nginx", "db"}}});
  EXPECT_TRUE(Call("rekall_generalize", {{"entry_ids", {a}}, {"type", "pattern"}}).is_error);
  EXPECT_TRUE(Call("rekall_generalize", {{"entry_ids", {a, a}}, {"type", "pattern"}}).is_error);  // one distinct
  EXPECT_TRUE(Call("rekall_generalize", {{"entry_ids", {a, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"}}, {"type", "pattern"}}).is_error);
  ToolResult r = Call("rekall_generalize", {{"entry_ids", {a, b}}, {"type", "pattern"}});
  ASSERT_FALSE(r.is_error) << r.text;
  std::string g = r.structured["id"];
  EXPECT_EQ(r.structured["title"], "Pattern: nginx timeout on");  // the first 3 words of each, once
  EXPECT_EQ(r.structured["tags"], json({"nginx"}));  // in two sources or more
  store::Entry e;
  ASSERT_TRUE(engine_->Get(g, &e).ok());
  EXPECT_NE(e.content.find("Generalized from 2 entries"), std::string::npos);
  EXPECT_EQ(e.confidence, 3);
  r = Call("rekall_related", {{"entry_id", g}, {"depth", 1}});
  ASSERT_EQ(r.structured["count"], 2);
  EXPECT_EQ(r.structured["related"][0]["relation_type"], "derived_from");
  EXPECT_EQ(r.structured["related"][0]["direction"], "outgoing");
}

TEST_F(RekallHandlerTest, GetContextAndSuggestReadWhatAddStored) {
  json ctx1 = {{"situation", "uploads cut at 30 s"}, {"solution", "raise the worker timeout"},
               {"trigger_keywords", {"gunicorn", "timeout", "upload"}}};
  json ctx2 = {{"situation", "exports cut at 30 s"}, {"solution", "raise the worker timeout too"},
               {"trigger_keywords", {"gunicorn", "timeout"}}};
  std::string a = AddEntry("gunicorn upload", "x", "bug", {{"context", ctx1}});
  std::string b = AddEntry("gunicorn export", "y", "bug", {{"context", ctx2}});
  std::string c = AddEntry("no context", "z");
  ToolResult r = Call("rekall_get_context", {{"entry_ids", {a, c}}});
  ASSERT_FALSE(r.is_error) << r.text;
  EXPECT_EQ(r.structured["contexts"][0]["context"], "Situation: uploads cut at 30 s\nSolution: raise the worker timeout");
  EXPECT_TRUE(r.structured["contexts"][1]["context"].is_null());
  EXPECT_NE(r.text.find("(No context stored)"), std::string::npos);
  EXPECT_TRUE(Call("rekall_get_context", {{"entry_ids", json::array()}}).is_error);
  r = Call("rekall_get_context", {{"entry_ids", {a, "01NOSUCHENTRY0000000000000"}}});
  EXPECT_TRUE(r.is_error);
  EXPECT_NE(r.text.find("no entry with id 01NOSUCHENTRY0000000000000"), std::string::npos) << r.text;
  r = Call("rekall_get_context", {{"entry_ids", {c}}});
  EXPECT_NE(r.text.find("No context stored"), std::string::npos);

  r = Call("rekall_suggest", {{"limit", 10}});
  ASSERT_FALSE(r.is_error) << r.text;
  ASSERT_EQ(r.structured["clusters"].size(), 1u);
  EXPECT_EQ(r.structured["clusters"][0]["keywords"], json({"gunicorn", "timeout"}));
  EXPECT_EQ(r.structured["clusters"][0]["entry_ids"].size(), 2u);
  r = Call("rekall_suggest", {{"limit", 10}, {"include_consolidation", false}});
  EXPECT_NE(r.text.find("No suggestions"), std::string::npos);
  (void)b;
}

TEST_F(RekallHandlerTest, SourcesAreSuggestedByThemeAndListedForVerification) {
  std::string a = AddEntry("react hooks", "x", "pattern", {{"tags", {"React"}}});
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir_ + "/k.db").c_str(), &db), SQLITE_OK);
  const char* sql =
      "INSERT INTO sources(id, domain, url_pattern, personal_score, created_at, last_verified) VALUES "
      "('S1', 'react.dev', '/reference/*', 80, '2025-01-01T00:00:00', NULL), "
      "('S2', 'vuejs.org', '/guide', 60, '2025-01-01T00:00:00', '2999-01-01T00:00:00'); "
      "INSERT INTO source_themes(source_id, theme) VALUES ('S1', 'react'), ('S2', 'vue');";
  ASSERT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
  ToolResult r = Call("rekall_sources_suggest", {{"entry_id", a}, {"limit", 5}});
  ASSERT_FALSE(r.is_error) << r.text;
  ASSERT_EQ(r.structured["count"], 1);
  EXPECT_EQ(r.structured["sources"][0]["url"], "https://react.dev/reference/");
  EXPECT_EQ(r.structured["sources"][0]["themes"], json({"react"}));
  r = Call("rekall_sources_verify", {{"limit", 10}});
  ASSERT_FALSE(r.is_error) << r.text;
  ASSERT_EQ(r.structured["count"], 1);  // S2 was verified "recently"
  EXPECT_EQ(r.structured["sources"][0]["id"], "S1");
}

TEST_F(RekallHandlerTest, HelpHasATopic) {
  ToolResult r = Call("rekall_help", {{"topic", "links"}});
  ASSERT_FALSE(r.is_error);
  EXPECT_NE(r.text.find("rekall_link"), std::string::npos);
  EXPECT_EQ(r.text.find("## Adding"), std::string::npos);
  r = Call("rekall_help", json::object());
  EXPECT_NE(r.text.find("## Adding"), std::string::npos);
  EXPECT_NE(r.text.find("## Searching"), std::string::npos);
}

}  // namespace
}  // namespace rekall::server
