// Rekall's command-line forms, as its IDE rule files type them
// (rekall-surface.md §2.3), on our `rekall`: add TYPE TITLE with its short
// options and context, search's options and JSON, show by prefix, similar
// by id or text, browse, deprecate, info, export/import's short options.
#include <sqlite3.h>

#include <string>
#include <vector>

#include "cli_fixture.h"

namespace {

class RekallFormsTest : public CliTest {
 protected:
  json ShowJson(const std::string& id) {
    Result r = Run({"--json", "--quiet", "show", id});
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out);
  }
  size_t Count(const std::vector<std::string>& list_args) {
    std::vector<std::string> args = {"--json", "list", "--include-obsolete"};
    args.insert(args.end(), list_args.begin(), list_args.end());
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out).size();
  }
  // Entries with the ids given (an import keeps them), for prefixes.
  void ImportIds(const std::vector<std::string>& ids) {
    std::string lines;
    for (const auto& id : ids) lines += R"({"id":")" + id + R"(","title":"title of )" + id + R"(","type":"bug"})" "\n";
    std::ofstream(dir_ + "/ids.jsonl") << lines;
    Result r = Run({"--quiet", "import", "--no-embed", dir_ + "/ids.jsonl"});
    ASSERT_EQ(r.code, 0) << r.err;
  }
  void Link(const std::string& source, const std::string& target, const std::string& type) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    std::string sql = "INSERT INTO links(id, source_id, target_id, relation_type, created_at) VALUES('L" + source +
                      target + "', '" + source + "', '" + target + "', '" + type + "', '2026-11-30T00:00:00')";
    EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    sqlite3_close(db);
  }
};

// REKALL_INSTRUCTIONS: echo "## Problem..." | rekall add bug "Fix: x" -t a,b -p proj -c 3
TEST_F(RekallFormsTest, AddTypeTitleWithContentOnStdinAndShortOptions) {
  Result r = Run({"--json", "--quiet", "add", "bug", "Fix: nginx 504", "-t", "nginx,proxy", "-p", "billing", "-c", "3"},
                 "## Problem\nproxy_read_timeout is 60 s\n");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = ShowJson(json::parse(r.out)["id"]);
  EXPECT_EQ(j["type"], "bug");
  EXPECT_EQ(j["title"], "Fix: nginx 504");
  EXPECT_EQ(j["content"], "## Problem\nproxy_read_timeout is 60 s\n");
  EXPECT_EQ(j["tags"], json({"nginx", "proxy"}));
  EXPECT_EQ(j["project"], "billing");
  EXPECT_EQ(j["confidence"], 3);
  EXPECT_EQ(j["extra"]["memory_type"], "episodic");  // Rekall's default
}

// claude capture.md: echo "MARKDOWN" | rekall add TYPE "TITLE" -p P -t TAGS --memory-type M -c N;
// and `rekall add pattern "title" --memory-type semantic`, `-m semantic`.
TEST_F(RekallFormsTest, AddMemoryTypeAndContentOption) {
  Result r = Run({"--json", "--quiet", "add", "pattern", "Retry with backoff", "-p", "infra", "-t", "retry",
                  "--memory-type", "semantic", "-c", "4"},
                 "Retry idempotent calls with jitter");
  ASSERT_EQ(r.code, 0) << r.err;
  json j = ShowJson(json::parse(r.out)["id"]);
  EXPECT_EQ(j["extra"]["memory_type"], "semantic");
  EXPECT_EQ(j["content"], "Retry idempotent calls with jitter");
  EXPECT_EQ(j["confidence"], 4);

  r = Run({"--json", "--quiet", "add", "decision", "Use ULIDs", "-m", "semantic", "--content", "sortable"},
          "ignored: --content was given");
  ASSERT_EQ(r.code, 0) << r.err;
  j = ShowJson(json::parse(r.out)["id"]);
  EXPECT_EQ(j["extra"]["memory_type"], "semantic");
  EXPECT_EQ(j["content"], "sortable");

  r = Run({"--json", "--quiet", "add", "bug", "Bare form"});  // empty stdin: no content
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ShowJson(json::parse(r.out)["id"])["content"], "");
}

// -cj stores the structured context as rekall_add does; --context is its
// situation.
TEST_F(RekallFormsTest, AddStructuredContext) {
  std::string cj = R"({"situation":"504 under load","solution":"raise proxy_read_timeout","trigger_keywords":["nginx","504"]})";
  Result r = Run({"--json", "--quiet", "add", "bug", "Gateway timeout", "-cj", cj, "-t", "nginx"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = json::parse(r.out)["id"];
  json j = ShowJson(id);
  // As rekall_add stores it: the fields given, and Rekall's bookkeeping
  // fields beside them.
  json given = json::parse(cj);
  for (const auto& [key, value] : given.items()) EXPECT_EQ(j["context"][key], value) << key;
  EXPECT_EQ(j["context"]["extraction_method"], "manual");
  EXPECT_EQ(j["tags"], json({"nginx"}));
  r = Run({"--quiet", "show", id});
  EXPECT_NE(r.out.find("situation:  504 under load"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("solution:   raise proxy_read_timeout"), std::string::npos) << r.out;

  r = Run({"--json", "--quiet", "add", "bug", "Free context", "--context", "seen in prod after deploy"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ShowJson(json::parse(r.out)["id"])["context"]["situation"], "seen in prod after deploy");

  r = Run({"--json", "--quiet", "add", "bug", "Both", "--context", "not used", "--context-json",
           R"({"situation":"from json"})"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ShowJson(json::parse(r.out)["id"])["context"]["situation"], "from json");
}

TEST_F(RekallFormsTest, AddMistakesAreRefusedAndStoreNothing) {
  struct Case {
    std::vector<std::string> args;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {{"add", "bug", "x", "-cj", "{not json"}, "invalid JSON in --context-json"},
           {{"add", "bug", "x", "-cj", "[1,2]"}, "must be a JSON object"},
           {{"add", "bug", "x", "-ci"}, "not supported"},
           {{"add", "nope", "x"}, "invalid type"},
           {{"add", "bug", "x", "--type", "bug"}, "not both"},
           {{"add", "bug", "x", "-m", "procedural"}, "memory_type"},
           {{"add", "bug", "x", "-c", "9"}, "confidence"},
           {{"add", "bug"}, "a title is required"}}) {
    Result r = Run(c.args);
    EXPECT_EQ(r.code, 2) << c.args[3 < c.args.size() ? 3 : 1] << ": " << r.err;
    EXPECT_NE(r.err.find(c.says), std::string::npos) << r.err;
  }
  EXPECT_EQ(Count({}), 0u);
}

// Our options keep working; -t and -c in `add` are Rekall's now.
TEST_F(RekallFormsTest, OurAddFormsStillWork) {
  Result r = Run({"--json", "--quiet", "add", "--title", "Ours", "--type", "config", "--content", "c", "--tags", "a",
                  "--tag", "b", "--confidence", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = ShowJson(json::parse(r.out)["id"]);
  EXPECT_EQ(j["tags"], json({"a", "b"}));
  EXPECT_EQ(j["confidence"], 1);
  r = Run({"--json", "--quiet", "add"}, R"({"title":"From JSON","type":"reference"})");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(ShowJson(json::parse(r.out)["id"])["title"], "From JSON");
  r = Run({"add", "--help"});
  EXPECT_NE(r.out.find("-t was the title and -c the content"), std::string::npos) << r.out;
}

// claude consultation.md: rekall search "bug KEYWORDS" --json --limit 5;
// commands.md: --type bug / --memory-type semantic; Rekall's -t -m -l.
TEST_F(RekallFormsTest, SearchOptionsAndJsonShape) {
  std::string a = AddEntry("nginx gateway timeout", "bug");
  std::string b = AddEntry("nginx config reload", "config");
  Link(a, b, "related");
  Result r = Run({"--quiet", "search", "nginx", "--json", "--limit", "5", "--mode", "keyword"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["query"], "nginx");
  EXPECT_EQ(j["search_mode"], "fts");
  EXPECT_EQ(j["mode"], "keyword");
  EXPECT_EQ(j["total_count"], 2);
  ASSERT_EQ(j["results"].size(), 2u);
  for (const auto& res : j["results"]) {
    for (const char* key : {"id", "type", "title", "content", "tags", "project", "confidence", "consolidation_score",
                            "access_count", "last_accessed", "relevance_score", "semantic_score", "links", "score"})
      EXPECT_TRUE(res.contains(key)) << key << " in " << res.dump();
    EXPECT_EQ(res["relevance_score"], 1.0);  // a keyword hit, as Rekall scores every FTS hit
    EXPECT_TRUE(res["semantic_score"].is_null());
    if (res["id"] == a) EXPECT_EQ(res["links"]["outgoing"], json::parse(R"([{"target_id":")" + b + R"(","type":"related"}])"));
    else EXPECT_EQ(res["links"]["incoming"], json::parse(R"([{"source_id":")" + a + R"(","type":"related"}])"));
  }
  r = Run({"--json", "--quiet", "search", "nginx", "-t", "bug", "--mode", "keyword"});
  ASSERT_EQ(json::parse(r.out)["results"].size(), 1u);
  EXPECT_EQ(json::parse(r.out)["results"][0]["id"], a);
  EXPECT_EQ(json::parse(r.out)["context_matches"]["type"], "bug");
  r = Run({"--json", "--quiet", "search", "nginx", "-l", "1", "--mode", "keyword"});
  EXPECT_EQ(json::parse(r.out)["results"].size(), 1u);
  r = Run({"--json", "--quiet", "search", "nginx", "--memory-type", "semantic", "--mode", "keyword"});
  EXPECT_EQ(json::parse(r.out)["results"].size(), 0u) << r.out;
  r = Run({"--json", "--quiet", "search", "nginx", "-m", "episodic", "--mode", "keyword"});
  EXPECT_EQ(json::parse(r.out)["results"].size(), 2u) << r.out;
  r = Run({"search", "nginx", "-m", "keyword"});  // -m is the memory type now
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("invalid memory type"), std::string::npos) << r.err;
}

TEST_F(RekallFormsTest, SearchSemanticOnlyAndContext) {
  std::string a = AddEntry("nginx gateway timeout", "bug");
  Result r = Run({"--json", "--quiet", "search", "requests time out behind the proxy", "--semantic-only", "--context",
                  "web server"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["requested_mode"], "semantic");
  if (j["mode"] == "semantic") {  // the model is there
    EXPECT_EQ(j["search_mode"], "semantic");
    ASSERT_EQ(j["results"].size(), 1u);
    EXPECT_TRUE(j["results"][0]["semantic_score"].is_number());
  }
  r = Run({"search", "x", "--semantic-only", "--mode", "keyword"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("contradict"), std::string::npos) << r.err;
}

// `rekall show <id>` with a prefix; several matches say which; links,
// context, obsolete status, memory type and reads.
TEST_F(RekallFormsTest, ShowByPrefixWithLinks) {
  ImportIds({"01AAAAAAAAAAAAAAAAAAAAAA01", "01AAAAAAAAAAAAAAAAAAAAAA02", "01AAAAAAAAAAAAAAAAAAAAAB03"});
  json j = ShowJson("01aaaaaaaaaaaaaaaaaaaaab");
  EXPECT_EQ(j["id"], "01AAAAAAAAAAAAAAAAAAAAAB03");
  Result r = Run({"show", "01AAAAAAAAAAAAAAAAAAAAAA"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("several entries match"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("01AAAAAAAAAAAAAAAAAAAAAA01: title of 01AAAAAAAAAAAAAAAAAAAAAA01"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("01AAAAAAAAAAAAAAAAAAAAAA02: title of 01AAAAAAAAAAAAAAAAAAAAAA02"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
  r = Run({"show", "01ZZZ"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("no entry with id 01ZZZ"), std::string::npos) << r.err;

  Link("01AAAAAAAAAAAAAAAAAAAAAA01", "01AAAAAAAAAAAAAAAAAAAAAA02", "related");
  Link("01AAAAAAAAAAAAAAAAAAAAAB03", "01AAAAAAAAAAAAAAAAAAAAAA01", "supersedes");
  ASSERT_EQ(Run({"deprecate", "01AAAAAAAAAAAAAAAAAAAAAA01", "-r", "01AAAAAAAAAAAAAAAAAAAAAB03"}).code, 0);
  r = Run({"show", "01AAAAAAAAAAAAAAAAAAAAAA01"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("status:     obsolete"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("superseded by: 01AAAAAAAAAAAAAAAAAAAAAB03"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("memory:     episodic"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("accessed:   0 times"), std::string::npos) << r.out;  // before this read, as --json
  EXPECT_NE(r.out.find("-> [related] 01AAAAAAAAAAAAAAAAAAAAAA02  title of 01AAAAAAAAAAAAAAAAAAAAAA02"),
            std::string::npos) << r.out;
  EXPECT_NE(r.out.find("<- [supersedes] 01AAAAAAAAAAAAAAAAAAAAAB03  title of 01AAAAAAAAAAAAAAAAAAAAAB03"),
            std::string::npos) << r.out;
  r = Run({"show", "01AAAAAAAAAAAAAAAAAAAAAA01"});
  EXPECT_NE(r.out.find("accessed:   1 times, last 20"), std::string::npos) << r.out;
  j = ShowJson("01AAAAAAAAAAAAAAAAAAAAAA01");
  EXPECT_EQ(j["extra"]["access_count"], 2);
  ASSERT_EQ(j["links"].size(), 2u) << j.dump();
  EXPECT_EQ(j["links"][0]["title"].is_string(), true);
  EXPECT_EQ(j["status"], "obsolete");
}

// commands.md: `rekall similar ID` (ours: the entries nearest to it), and
// Rekall's `similar TEXT`.
TEST_F(RekallFormsTest, SimilarByIdPrefixOrText) {
  std::string a = AddEntry("nginx gateway timeout behind the proxy");
  std::string b = AddEntry("reverse proxy returns 504 after sixty seconds");
  std::string c = AddEntry("postgres vacuum takes a lock");
  Result r = Run({"--json", "--quiet", "similar", a.substr(0, 24), "-l", "1"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["entry_id"], a);
  ASSERT_EQ(j["results"].size(), 1u) << r.out;
  EXPECT_NE(j["results"][0]["id"], a);

  r = Run({"--json", "--quiet", "similar", "504 from the proxy"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["query"], "504 from the proxy");
  ASSERT_GE(j["results"].size(), 1u) << r.out;
  EXPECT_EQ(j["results"][0]["id"], b);

  ASSERT_EQ(Run({"deprecate", b}).code, 0);
  r = Run({"--json", "--quiet", "similar", "504 from the proxy"});
  j = json::parse(r.out);
  for (const auto& res : j["results"]) EXPECT_NE(res["id"], b);
  r = Run({"--json", "--quiet", "similar", "504 from the proxy", "--include-obsolete"});
  EXPECT_EQ(json::parse(r.out)["results"][0]["id"], b) << r.out;
}

TEST_F(RekallFormsTest, BrowseListsActiveEntriesNewestFirst) {
  std::string a = AddEntry("first", "bug");
  std::string b = AddEntry("second", "pattern");
  std::string c = AddEntry("third", "bug");
  ASSERT_EQ(Run({"deprecate", c}).code, 0);
  Result r = Run({"--json", "browse"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["id"], b);
  EXPECT_EQ(j[1]["id"], a);
  EXPECT_EQ(json::parse(Run({"--json", "browse", "-t", "bug"}).out).size(), 1u);
  EXPECT_EQ(json::parse(Run({"--json", "browse", "-l", "1"}).out).size(), 1u);
  EXPECT_EQ(json::parse(Run({"--json", "browse", "-p", "nope"}).out).size(), 0u);
  EXPECT_EQ(json::parse(Run({"--json", "browse", "-m", "semantic"}).out).size(), 0u);
  r = Run({"browse"});
  EXPECT_NE(r.out.find(b + "  [pattern] second"), std::string::npos) << r.out;
  r = Run({"browse", "--help"});
  EXPECT_NE(r.out.find("20"), std::string::npos) << r.out;  // Rekall's default limit
  EXPECT_EQ(json::parse(Run({"--json", "list", "-t", "pattern"}).out).size(), 1u);  // -t: the type in list too
}

TEST_F(RekallFormsTest, DeprecateWithAndWithoutReplacement) {
  std::string a = AddEntry("old way");
  std::string b = AddEntry("new way");
  Result r = Run({"deprecate", a, "-r", "01NOPE"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("--replaced-by"), std::string::npos) << r.err;
  EXPECT_EQ(ShowJson(a)["status"], "active");
  r = Run({"--json", "deprecate", a, "--replaced-by", b});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["superseded_by"], b);
  json j = ShowJson(a);
  EXPECT_EQ(j["status"], "obsolete");
  EXPECT_EQ(j["superseded_by"], b);
  r = Run({"deprecate", a});  // as Rekall: without -r the replacement is cleared
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "deprecated " + a + "\n");
  EXPECT_TRUE(ShowJson(a)["superseded_by"].is_null());
  EXPECT_EQ(Run({"deprecate", "01NOPE"}).code, 3);
}

TEST_F(RekallFormsTest, InfoSaysWhatTheDatabaseHolds) {
  std::string a = AddEntry("one");
  std::string b = AddEntry("two");
  AddEntry("three");
  ASSERT_EQ(Run({"deprecate", a}).code, 0);
  Link(a, b, "related");
  Result r = Run({"--json", "info"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["database"], db_);
  EXPECT_EQ(j["schema_version"], 12);
  EXPECT_EQ(j["schema_current"], true);
  EXPECT_EQ(j["entries"], 3);
  EXPECT_EQ(j["active"], 2);
  EXPECT_EQ(j["obsolete"], 1);
  EXPECT_EQ(j["links"], 1);
  EXPECT_EQ(j["size_bytes"], fs::file_size(db_));
  r = Run({"info"});
  EXPECT_NE(r.out.find("entries:  3 (2 active, 1 obsolete)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("schema:   v12/12 (current)"), std::string::npos) << r.out;

  // An older Rekall schema is said to be outdated, and read as it is.
  std::string v7 = std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/rekall-v7.db";
  if (fs::exists(v7)) {
    fs::copy_file(v7, dir_ + "/v7.db");
    r = Run({"--db", dir_ + "/v7.db", "--json", "info"}, "", false);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(json::parse(r.out)["schema_version"], 7);
    EXPECT_EQ(json::parse(r.out)["schema_current"], false);
    EXPECT_EQ(Slurp(dir_ + "/v7.db"), Slurp(v7));
  }

  std::string missing = dir_ + "/missing.db";
  r = Run({"--db", missing, "info"}, "", false);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("no database at " + missing), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(missing));
}

// All rule files: rekall export backup.rekall.zip / rekall import backup.rekall.zip;
// Rekall's -f, -s, -n, -y, --no-backup.
TEST_F(RekallFormsTest, ExportImportShortOptions) {
  AddEntry("kept");
  Result r = Run({"export", "-f", "rekall", dir_ + "/kb.rekall.zip"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(Slurp(dir_ + "/kb.rekall.zip").substr(0, 2), "PK");
  r = Run({"export", "-f", "md"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("kept"), std::string::npos);
  AddEntry("a pattern of another project", "pattern");
  std::string other_project = json::parse(Run({"--json", "--quiet", "add", "bug", "elsewhere", "-p", "ops"}).out)["id"];
  r = Run({"export", "-f", "json", "-t", "bug"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).size(), 2u) << r.out;
  r = Run({"export", "-f", "json", "-t", "bug", "-p", "ops"});
  ASSERT_EQ(json::parse(r.out).size(), 1u) << r.out;
  EXPECT_EQ(json::parse(r.out)[0]["id"], other_project);
  r = Run({"export", "--project", "nobody"});
  EXPECT_EQ(r.out, "");
  r = Run({"export", "-t", "banana", dir_ + "/x.jsonl"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("invalid type"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/x.jsonl"));
  std::string other = dir_ + "/other.db";
  r = Run({"--db", other, "--json", "import", dir_ + "/kb.rekall.zip", "-s", "skip", "-n", "-y", "--no-backup"}, "",
          false);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["added"], 1);
  r = Run({"--db", other, "--quiet", "import", dir_ + "/kb.rekall.zip", "-y", "--no-backup", "--no-embed"}, "", false);
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run({"--db", other, "--json", "list"}, "", false);
  EXPECT_EQ(json::parse(r.out).size(), 1u);
}

}  // namespace
