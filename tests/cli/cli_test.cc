// Drives the `rekall` binary as a user would: arguments, stdin, stdout,
// stderr and the exit code.
#include <gtest/gtest.h>
#include <pwd.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cli_fixture.h"

namespace {

TEST_F(CliTest, HelpEverywhere) {
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--help"}, {"add", "--help"}, {"search", "--help"}, {"index", "--help"}, {"import", "--help"}}) {
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << args[0];
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  }
  Result r = Run({"frobnicate"});
  EXPECT_NE(r.code, 0);
}

// Issue 11: Rekall's name of the server command, and its documentation's.
TEST_F(CliTest, McpServerAndMcpAreNamesOfServe) {
  for (const char* name : {"mcp-server", "mcp"}) {
    Result r = Run({name, "--help"});
    EXPECT_EQ(r.code, 0) << name << ": " << r.err;
    EXPECT_NE(r.out.find("over MCP (stdio)"), std::string::npos) << r.out;
  }
}

// Issue 11: obsolete (deprecated) entries stay out of list and search unless
// asked for; `show` counts a read in Rekall's access columns.
TEST_F(CliTest, ObsoleteEntriesAreHiddenUnlessAskedFor) {
  std::string live = AddEntry("proxy timeout live");
  std::string old = AddEntry("proxy timeout old");
  ASSERT_EQ(Run({"edit", old, "--status", "obsolete"}).code, 0);
  Result r = Run({"--json", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).size(), 1u);
  r = Run({"--json", "list", "--include-obsolete"});
  EXPECT_EQ(json::parse(r.out).size(), 2u);
  r = Run({"--json", "search", "--mode", "keyword", "proxy", "timeout"});
  ASSERT_EQ(r.code, 0) << r.err;
  auto results = json::parse(r.out)["results"];
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0]["id"], live);
  r = Run({"--json", "search", "--mode", "keyword", "--include-obsolete", "proxy", "timeout"});
  EXPECT_EQ(json::parse(r.out)["results"].size(), 2u);
  ASSERT_EQ(Run({"show", old}).code, 0);
  r = Run({"--json", "show", old});
  // The search that returned it and the first show, as Rekall counts reads.
  EXPECT_EQ(json::parse(r.out)["extra"]["access_count"], 2);
}

TEST_F(CliTest, BareRekallPrintsHelpAndAMistypedCommandGetsTheNearestOne) {
  Result r = Run({}, "", false);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Usage"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("search"), std::string::npos) << r.out;
  r = Run({"serach", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown command 'serach'; did you mean 'search'?"), std::string::npos) << r.err;
  r = Run({"--backend", "brute", "imprt", "f"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("did you mean 'import'?"), std::string::npos) << r.err;
  r = Run({"mcp", "x"});
  EXPECT_NE(r.err.find("did you mean 'mcp-config'?"), std::string::npos) << r.err;
  r = Run({"search", "--mode", "fuzzy", "x"});  // a known command's own error is not a typo
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.find("unknown command"), std::string::npos) << r.err;
  // Nor after a global flag (--json, --quiet take no value: the command
  // after them was taken for the flag's value).
  r = Run({"--json", "--quiet", "search", "--mode", "fuzzy", "x"});
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.err.find("unknown command"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("fuzzy"), std::string::npos) << r.err;
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"add", "--help"}, {"search", "--help"}, {"index", "rebuild", "--help"}, {"mcp-config", "--help"}}) {
    r = Run(args);
    EXPECT_EQ(r.code, 0);
    EXPECT_NE(r.out.find("Examples:\n  rekall " + args[0]), std::string::npos) << r.out;
  }
}

TEST_F(CliTest, VersionNamesTheEngineTheModelAndSqliteVec) {
  Result r = Run({"--version"}, "", false);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("rekall 0.1.0", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("model: sentence-transformers/all-MiniLM-L6-v2, 384-d, at "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("sqlite-vec: v0.1.9 at "), std::string::npos) << r.out;
  // --version is answered before other options are parsed: the config file
  // and the environment still count.
  fs::create_directories(dir_ + "/cfg/rekall");
  std::ofstream(dir_ + "/cfg/rekall/config.toml") << "[engine]\nmodel_path = \"" << dir_ << "/none\"\n";
  r = Run({"--version"}, "", false);
  EXPECT_NE(r.out.find("model: sentence-transformers/all-MiniLM-L6-v2, 384-d, not found: "), std::string::npos)
      << r.out;
}

TEST_F(CliTest, AddShowEditDeleteRoundTrip) {
  std::string id = AddEntry("Nginx 504 behind the proxy");
  Result r = Run({"--json", "show", id});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["title"], "Nginx 504 behind the proxy");
  EXPECT_EQ(j["tags"], json({"t1", "t2"}));
  EXPECT_EQ(j["project"], "p");

  r = Run({"--json", "--quiet", "edit", id, "--title", "Nginx 504 after 60 s", "--confidence", "5", "--add-tag",
           "nginx", "--remove-tag", "t1"});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run({"--json", "show", id});
  j = json::parse(r.out);
  EXPECT_EQ(j["title"], "Nginx 504 after 60 s");
  EXPECT_EQ(j["confidence"], 5);
  EXPECT_EQ(j["tags"], json({"nginx", "t2"}));

  r = Run({"show", id});
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Nginx 504 after 60 s"), std::string::npos);

  r = Run({"delete", id});
  EXPECT_EQ(r.code, 0) << r.err;
  r = Run({"show", id});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("no entry with id"), std::string::npos);
}

TEST_F(CliTest, AddFromJsonOnStdin) {
  Result r = Run({"--json", "--quiet", "add"},
                 R"({"title":"D\u00e9ploiement bloqu\u00e9","type":"decision","content":"x","tags":["ops"]})");
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = json::parse(r.out)["id"];
  r = Run({"--json", "show", id});
  EXPECT_EQ(json::parse(r.out)["title"], "D\xC3\xA9ploiement bloqu\xC3\xA9");
}

TEST_F(CliTest, BadInputGetsClearErrorsAndChangesNothing) {
  std::string id = AddEntry("keep me");
  std::string before = Run({"export"}).out;
  struct Case {
    std::vector<std::string> args;
    std::string input;
    std::string expect;
    int code;
  } cases[] = {
      {{"add", "--title", "x", "--type", "feature"}, "", "invalid type", 2},
      {{"add", "--title", "x", "--type", "bug", "--confidence", "9"}, "", "invalid confidence", 2},
      {{"add", "--title", "bad \xFF", "--type", "bug"}, "", "not valid UTF-8", 2},
      {{"add", "--stdin"}, "{\"title\":\"a\\u0000b\",\"type\":\"bug\"}", "NUL byte", 2},
      {{"add", "--stdin"}, "{\"title\": ", "malformed JSON", 2},
      {{"add", "--stdin"}, "{\"title\":\"x\",\"type\":\"bug\",\"colour\":1}", "unknown field", 2},
      {{"show", "01NOPE00000000000000000000"}, "", "no entry with id", 3},
      {{"edit", "01NOPE00000000000000000000", "--title", "y"}, "", "no entry with id", 3},
      {{"edit", id, "--type", "nope"}, "", "invalid type", 2},
      {{"delete", id, "01NOPE00000000000000000000"}, "", "nothing deleted", 3},
      {{"search", "--mode", "fuzzy", "x"}, "", "fuzzy", 2},
      {{"list", "--type", "nope"}, "", "invalid type", 2},
  };
  for (const auto& c : cases) {
    Result r = Run(c.args, c.input);
    EXPECT_EQ(r.code, c.code) << c.args[0] << " " << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << "stderr: " << r.err;
  }
  // A 10 MB content.
  std::string big(10 << 20, 'a');
  Result r = Run({"add", "--stdin"}, "{\"title\":\"big\",\"type\":\"bug\",\"content\":\"" + big + "\"}");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("limit"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"export"}).out, before);
}

TEST_F(CliTest, BadDatabasePathsAreClearErrors) {
  // A missing file is invalid input (2), never "unknown id" (3).
  Result r = Run({"--db", dir_ + "/missing/dir/k.db", "list"}, "", false);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;

  std::ofstream(dir_ + "/notes.txt") << "these are my notes, not a database\n";
  std::string before = Slurp(dir_ + "/notes.txt");
  r = Run({"--db", dir_ + "/notes.txt", "list"}, "", false);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("not a SQLite database"), std::string::npos) << r.err;
  EXPECT_EQ(Slurp(dir_ + "/notes.txt"), before);

  r = Run({"--db", dir_, "list"}, "", false);
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
}

TEST_F(CliTest, NewDatabaseIsPrivate) {
  AddEntry("x");
  struct stat sb;
  ASSERT_EQ(stat(db_.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
}

TEST_F(CliTest, KeywordSearchTakesWordsLiterally) {
  Result r = Run({"--json", "--quiet", "add", "--title", "Ingress proxy-read-timeout", "--type", "config",
                  "--content", "nginx.ingress.kubernetes.io/proxy-read-timeout: 300"});
  ASSERT_EQ(r.code, 0) << r.err;
  AddEntry("C++ iterator invalidation");
  for (const char* q : {"proxy-read-timeout", "C++", "\"unbalanced", "AND", "NEAR(", "*", "OR", "a:b"}) {
    r = Run({"--json", "search", "--mode", "keyword", q});
    EXPECT_EQ(r.code, 0) << q << ": " << r.err;
    EXPECT_NO_THROW(json::parse(r.out)) << r.out;
  }
  r = Run({"--json", "search", "--mode", "keyword", "proxy-read-timeout"});
  json j = json::parse(r.out);
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["title"], "Ingress proxy-read-timeout");
  EXPECT_EQ(j["results"][0]["why"]["keyword_rank"], 1);
}

TEST_F(CliTest, WithoutTheModelSearchAnswersByKeywordAndSaysHowToGetIt) {
  std::string nowhere = dir_ + "/no-model";
  Result r = Run({"--model-path", nowhere, "--json", "add", "--title", "Nginx gateway timeout", "--type", "bug",
                  "--content", "proxy_read_timeout"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(nowhere + "/model.safetensors not found"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("get the files with: "), std::string::npos) << r.err;
  r = Run({"--model-path", nowhere, "--json", "search", "gateway"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("keyword results"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("get the files with: "), std::string::npos) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["mode"], "keyword");
  EXPECT_EQ(j["requested_mode"], "hybrid");
  EXPECT_NE(j["notice"].get<std::string>().find("get the files with: "), std::string::npos) << r.out;
  ASSERT_EQ(j["results"].size(), 1u);
  EXPECT_EQ(j["results"][0]["title"], "Nginx gateway timeout");
  r = Run({"--model-path", nowhere, "embed", "x"});
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("get the files with: "), std::string::npos) << r.err;
  r = Run({"--model-path", nowhere, "--json", "stats"});
  ASSERT_EQ(r.code, 0) << r.err;
  j = json::parse(r.out);
  EXPECT_EQ(j["model_source"], "option");
  EXPECT_EQ(j["model_state"], "missing");
  EXPECT_TRUE(j.contains("model_missing"));
  r = Run({"--json", "stats"});
  j = json::parse(r.out);
  EXPECT_NE(j["model_source"], "not found") << r.out;  // the build tree's, or one installed for this user
  EXPECT_FALSE(j.contains("model_missing")) << r.out;
}

TEST_F(CliTest, McpConfigNamesThisBinaryTheDatabaseAndServe) {
  std::string bin = fs::canonical(REKALL_BIN).string();
  std::vector<std::string> args = {"--db", db_, "serve"};
  Result r = Run({"mcp-config", "vscode"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["servers"]["rekall"]["command"], bin);
  EXPECT_EQ(j["servers"]["rekall"]["args"], json(args));
  EXPECT_EQ(j["servers"]["rekall"]["type"], "stdio");
  EXPECT_NE(r.err.find(".vscode/mcp.json"), std::string::npos) << r.err;
  for (const char* client : {"claude-desktop", "cursor"}) {
    r = Run({"mcp-config", client});
    ASSERT_EQ(r.code, 0) << r.err;
    j = json::parse(r.out);
    EXPECT_EQ(j["mcpServers"]["rekall"]["command"], bin) << client;
    EXPECT_EQ(j["mcpServers"]["rekall"]["args"], json(args)) << client;
  }
  r = Run({"mcp-config", "claude-code"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "claude mcp add rekall -- " + bin + " --db " + db_ + " serve\n");
  // A relative --db is made absolute: the client starts the server elsewhere.
  r = Run({"--db", "k.db", "mcp-config", "claude-code"}, "", false);
  EXPECT_EQ(r.out, "claude mcp add rekall -- " + bin + " --db " + fs::canonical(dir_).string() + "/k.db serve\n");
  r = Run({"mcp-config"});
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* client : {"# claude-code", "# claude-desktop", "# cursor", "# vscode"})
    EXPECT_NE(r.out.find(client), std::string::npos) << r.out;
  r = Run({"mcp-config", "emacs"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown client 'emacs'"), std::string::npos) << r.err;
}

// Issue 11 #5: the default mode is the one that measures best (hybrid), and
// `search --help` says so, with the figure.
TEST_F(CliTest, SearchDefaultsToHybridAndHelpSaysWhy) {
  std::string id = AddEntry("Nginx 504 behind the proxy");
  AddEntry("Postgres pool exhausted");
  Result r = Run({"--json", "search", "gateway timeout at the proxy"});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["mode"], "hybrid");
  ASSERT_FALSE(j["results"].empty());
  EXPECT_EQ(j["results"][0]["id"], id);
  EXPECT_EQ(j["results"][0]["why"]["keyword_rank"], 1);
  EXPECT_EQ(j["results"][0]["why"]["vector_rank"], 1);
  r = Run({"search", "--help"});
  EXPECT_NE(r.out.find("=hybrid"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hybrid is the default"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nDCG@10"), std::string::npos) << r.out;
}

TEST_F(CliTest, ImportRollsBackWholeAndNamesTheLine) {
  AddEntry("existing");
  std::string before = Run({"export"}).out;
  std::string lines = "{\"title\":\"a\",\"type\":\"bug\"}\n{\"title\":\"b\",\"type\":\"bug\"}\n{not json}\n";
  std::ofstream(dir_ + "/bad.jsonl") << lines;
  Result r = Run({"import", dir_ + "/bad.jsonl"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"export"}).out, before);
  r = Run({"import", dir_ + "/absent.jsonl"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("No such file"), std::string::npos) << r.err;
  r = Run({"import", dir_});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("is a directory"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"export"}).out, before);
}

// An import that writes nothing (a dry run, a refused file) into a database
// that did not exist leaves no file behind: a typo in --db creates nothing.
TEST_F(CliTest, AnImportThatWritesNothingCreatesNoDatabase) {
  std::ofstream(dir_ + "/one.jsonl") << "{\"title\":\"a\",\"type\":\"bug\"}\n";
  std::ofstream(dir_ + "/bad.jsonl") << "{not json}\n";
  Result r = Run({"--db", dir_ + "/typo.db", "import", "--dry-run", dir_ + "/one.jsonl"}, "", false);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/typo.db"));
  r = Run({"--db", dir_ + "/typo.db", "import", dir_ + "/bad.jsonl"}, "", false);
  EXPECT_EQ(r.code, 2);
  for (const char* f : {"/typo.db", "/typo.db-wal", "/typo.db-shm"}) EXPECT_FALSE(fs::exists(dir_ + f)) << f;
  r = Run({"--db", dir_ + "/typo.db", "import", dir_ + "/one.jsonl"}, "", false);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(dir_ + "/typo.db"));
  // An existing database is never removed, even by a refused import.
  r = Run({"--db", dir_ + "/typo.db", "import", dir_ + "/bad.jsonl"}, "", false);
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(fs::exists(dir_ + "/typo.db"));
}

TEST_F(CliTest, ExportToAnEmptyFileNameIsRefused) {
  AddEntry("kept");
  Result r = Run({"export", ""});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("output file name is empty"), std::string::npos) << r.err;
  EXPECT_TRUE(r.out.empty());
}

TEST_F(CliTest, ExportImportRoundTripIsExact) {
  std::string sample = std::string(REKALL_SOURCE_DIR) + "/data/sample.jsonl";
  Result r = Run({"--quiet", "import", "--no-embed", sample});
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run({"export", dir_ + "/out1.jsonl"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string first = Slurp(dir_ + "/out1.jsonl");
  EXPECT_EQ(std::count(first.begin(), first.end(), '\n'), 50);
  Result r2 = Run({"--db", dir_ + "/second.db", "--quiet", "import", "--no-embed", dir_ + "/out1.jsonl"}, "", false);
  ASSERT_EQ(r2.code, 0) << r2.err;
  r2 = Run({"--db", dir_ + "/second.db", "export"}, "", false);
  EXPECT_EQ(r2.out, first);
}

TEST_F(CliTest, RekallFixtureRoundTripsThroughExport) {
  std::string fixture = std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/rekall-v12.db";
  if (!fs::exists(fixture)) GTEST_SKIP() << "fixture absent";
  fs::copy_file(fixture, db_);
  Result r = Run({"export"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 120);
  std::ofstream(dir_ + "/v12.jsonl") << r.out;
  Result r2 = Run({"--db", dir_ + "/copy.db", "--quiet", "import", "--no-embed", dir_ + "/v12.jsonl"}, "", false);
  ASSERT_EQ(r2.code, 0) << r2.err;
  r2 = Run({"--db", dir_ + "/copy.db", "export"}, "", false);
  EXPECT_EQ(r2.out, r.out);
}

TEST_F(CliTest, ConfigErrorsAndWarnings) {
  fs::create_directories(dir_ + "/cfg/rekall");
  std::ofstream(dir_ + "/cfg/rekall/config.toml") << "[performance]\nvector_backend = \"faiss\"\n";
  Result r = Run({"list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("vector_backend"), std::string::npos) << r.err;
  std::ofstream(dir_ + "/cfg/rekall/config.toml") << "[performance]\ncache_size = 3\n[ui]\ntheme = \"dark\"\n";
  r = Run({"list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("unknown key 'cache_size'"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("theme"), std::string::npos) << r.err;
  // [engine] precision: a bad name and a precision that does not ship both
  // stop the command (exit 2) with the key, the file and, for int8, why.
  const std::string cfg = dir_ + "/cfg/rekall/config.toml";
  std::ofstream(cfg) << "[engine]\nprecision = \"fp8\"\n";
  r = Run({"list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find(cfg + " [engine]: precision must be fp32 or bf16, not 'fp8'"), std::string::npos) << r.err;
  std::ofstream(cfg) << "[engine]\nprecision = \"int8\"\n";
  r = Run({"list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("precision = \"int8\" is refused"), std::string::npos) << r.err;
  std::ofstream(cfg) << "[engine]\nprecision = \"bf16\"\n";
  r = Run({"list"});
  EXPECT_EQ(r.code, 0) << r.err;
}

// Issue 10 #2: two `edit` processes on one entry at once, with different
// tags, then title against content: both print "updated", and both changes
// are there (one was lost every time before Engine::Patch).
TEST_F(CliTest, ConcurrentEditsLoseNoUpdate) {
  const std::string id = AddEntry("shared entry");
  auto both = [&](const std::vector<std::string>& a, const std::vector<std::string>& b) {
    std::string cmd = "cd " + Quote(dir_) + " && unset REKALL_HOME REKALL_DB_PATH; export XDG_CONFIG_HOME=" +
                      Quote(dir_ + "/cfg") + "; ";
    int i = 0;
    for (const auto* args : {&a, &b}) {
      std::string one = Quote(REKALL_BIN) + " --quiet --db " + Quote(db_) + " edit " + Quote(id);
      for (const auto& x : *args) one += " " + Quote(x);
      cmd += "(" + one + " >/dev/null 2>err" + std::to_string(i) + "; echo $? >rc" + std::to_string(i) + ") & ";
      ++i;
    }
    ASSERT_EQ(std::system((cmd + "wait").c_str()), 0);
    for (int k = 0; k < 2; ++k) {
      EXPECT_EQ(Slurp(dir_ + "/rc" + std::to_string(k)), "0\n") << Slurp(dir_ + "/err" + std::to_string(k));
    }
  };
  for (int round = 0; round < 4; ++round) {
    const std::string n = std::to_string(round);
    both({"--add-tag", "a" + n}, {"--add-tag", "b" + n});
    both({"--title", "title " + n}, {"--content", "content " + n});
    Result r = Run({"--json", "show", id});
    ASSERT_EQ(r.code, 0) << r.err;
    json e = json::parse(r.out);
    auto tags = e["tags"].get<std::vector<std::string>>();
    for (const std::string& t : {"a" + n, "b" + n})
      EXPECT_NE(std::find(tags.begin(), tags.end(), t), tags.end()) << "round " << n << ": lost tag " << t;
    EXPECT_EQ(e["title"], "title " + n);
    EXPECT_EQ(e["content"], "content " + n);
  }
}

// A value nested 300,000 levels deep, inside an entry's `extra`.
std::string DeepEntry(const std::string& id_field) {
  const size_t depth = 300000;
  return "{" + id_field + "\"title\":\"deep\",\"type\":\"bug\",\"extra\":{\"x\":" + std::string(depth, '[') +
         std::string(depth, ']') + "}}";
}

TEST_F(CliTest, DeepJsonIsRefusedEverywhereItEnters) {
  std::string id = AddEntry("keep me");
  std::string before = Run({"export"}).out;
  Result r = Run({"add", "--stdin"}, DeepEntry(""));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("deeper than 128"), std::string::npos) << r.err;
  r = Run({"edit", id, "--stdin"}, DeepEntry("\"id\":\"" + id + "\","));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("deeper than 128"), std::string::npos) << r.err;
  std::ofstream(dir_ + "/deep.jsonl") << "{\"title\":\"fine\",\"type\":\"bug\"}\n" << DeepEntry("") << "\n";
  r = Run({"import", dir_ + "/deep.jsonl"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("line 2"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("deeper than 128"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"export"}).out, before);
}

TEST_F(CliTest, ImportBoundsEachLine) {
  std::string before = Run({"export"}).out;
  std::ofstream(dir_ + "/long.jsonl") << "{\"title\":\"fine\",\"type\":\"bug\"}\n" << std::string(17 << 20, ' ');
  Result r = Run({"import", dir_ + "/long.jsonl"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("line 2: longer than 16 MiB"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"export"}).out, before);
}

TEST_F(CliTest, StdinEntryErrorsSayWhatIsMissing) {
  std::string before = Run({"export"}).out;
  Result r = Run({"add"}, "");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("stdin is empty"), std::string::npos) << r.err;
  r = Run({"add", "--type", "bug"}, "just some words\n");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("malformed JSON on stdin"), std::string::npos) << r.err;
  // One source for the content: --content - and a JSON entry both read stdin.
  r = Run({"add", "--stdin", "--content", "-"}, "{\"title\":\"t\",\"type\":\"bug\",\"content\":\"c\"}");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("one of them"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"export"}).out, before);
  std::string id = AddEntry("x");
  r = Run({"edit", id, "--stdin", "--content", "-"}, "{\"content\":\"c\"}");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("one of them"), std::string::npos) << r.err;
}

// Writes an entry whose title and content are not valid UTF-8, as another
// tool could, with Python's sqlite3.
void StoreInvalidUtf8(const std::string& db, const std::string& id) {
  std::string py = "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); "
                   "c.execute(\"update entries set title=CAST(X'626164FF21' AS TEXT), "
                   "content=CAST(X'C328' AS TEXT) where id=?\", (sys.argv[2],)); c.commit()";
  std::string cmd = "python3 -c " + Quote(py) + " " + Quote(db) + " " + Quote(id);
  ASSERT_EQ(std::system(cmd.c_str()), 0);
}

TEST_F(CliTest, InvalidUtf8NeverAbortsOutput) {
  std::string id = AddEntry("plain");
  StoreInvalidUtf8(db_, id);
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--json", "show", id}, {"--json", "list"}, {"export"}, {"show", id}, {"list"},
           {"export", "--format", "json"}, {"export", "--format", "md"}}) {
    Result r = Run(args);
    EXPECT_EQ(r.code, 0) << args.back() << ": " << r.err;
    EXPECT_NE(r.out.find("bad\xEF\xBF\xBD!"), std::string::npos) << args.back() << ": " << r.out;
    EXPECT_NE(r.err.find("U+FFFD"), std::string::npos) << args.back() << ": " << r.err;
  }
  // The archive's checksum is of what it holds (U+FFFD in place): it imports.
  Result z = Run({"export", dir_ + "/u.rekall.zip"});
  ASSERT_EQ(z.code, 0) << z.err;
  EXPECT_NE(z.err.find("U+FFFD"), std::string::npos) << z.err;
  z = Run({"--db", dir_ + "/u.db", "import", "--no-embed", dir_ + "/u.rekall.zip"}, "", false);
  ASSERT_EQ(z.code, 0) << z.err;
  z = Run({"--db", dir_ + "/u.db", "--json", "list"}, "", false);
  EXPECT_NE(z.out.find("bad\xEF\xBF\xBD!"), std::string::npos) << z.out;
  // Error paths that echo what the user typed.
  Result r = Run({"--json", "show", "01NOPE\xFF"});
  EXPECT_NE(r.code, 0);
  EXPECT_TRUE(json::accept(r.out)) << r.out;
  r = Run({"--json", "list", "--type", "bu\xFFg"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(json::accept(r.out)) << r.out;
  r = Run({"--json", "import", dir_ + "/absent\xFF.jsonl"});
  EXPECT_EQ(r.code, 2);
  EXPECT_TRUE(json::accept(r.out)) << r.out;
}

TEST_F(CliTest, MissingConfigIsInvalidInput) {
  Result r = Run({"--config", dir_ + "/nope.toml", "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
}

TEST_F(CliTest, BadValuesAreRefusedNotIgnored) {
  std::string id = AddEntry("timeout in the proxy");
  std::string before = Run({"export"}).out;
  struct Case {
    std::vector<std::string> args;
    std::string expect;
  } cases[] = {
      {{"list", "--status", "banana"}, "invalid status 'banana'"},
      {{"search", "--mode", "keyword", "--status", "banana", "timeout"}, "invalid status 'banana'"},
      {{"search", "--mode", "keyword", "--min-score", "nan", "timeout"}, "min_score must be a finite number"},
      {{"search", "--mode", "keyword", "  "}, "the query is empty"},
      {{"search", "--mode", "semantic", ""}, "the query is empty"},
      {{"search", "--mode", "keyword", "time\xFFout"}, "query is not valid UTF-8"},
      {{"edit", id, "--superseded-by", id}, "superseded by itself"},
      {{"--threads", "-5", "list"}, "threads must be between 0"},
      {{"--db", "", "list"}, "--db is empty"},
      {{"--config", "."}, "is a directory"},
  };
  for (const auto& c : cases) {
    std::vector<std::string> args = c.args;
    if (args == std::vector<std::string>{"--config", "."}) args.push_back("list");
    Result r = Run(args, "", args[0] != "--db");
    EXPECT_EQ(r.code, 2) << args[0] << " " << args[1] << ": " << r.err;
    EXPECT_NE(r.err.find(c.expect), std::string::npos) << r.err;
  }
  EXPECT_EQ(Run({"export"}).out, before);
}

TEST_F(CliTest, ConfigFileMistakesAreInvalidInput) {
  std::ofstream(dir_ + "/engine.toml") << "engine = 5\n";
  Result r = Run({"--config", dir_ + "/engine.toml", "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("'engine' must be a table"), std::string::npos) << r.err;
  // toml++ bounds nesting itself (TOML_MAX_NESTED_VALUES): a clear error.
  std::ofstream(dir_ + "/deep.toml") << "x = " << std::string(300000, '[') << std::string(300000, ']') << "\n";
  r = Run({"--config", dir_ + "/deep.toml", "list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("deep.toml line 1"), std::string::npos) << r.err;
  env_ = "REKALL_CONFIG=" + Quote(dir_ + "/absent.toml") + " ";
  r = Run({"list"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("REKALL_CONFIG"), std::string::npos) << r.err;
}

TEST_F(CliTest, TagsWithCommasCanBeNamed) {
  Result r = Run({"--json", "--quiet", "add", "--title", "t", "--type", "bug", "--tag", "a\\,b", "--tag", "c,d"});
  ASSERT_EQ(r.code, 0) << r.err;
  std::string id = json::parse(r.out)["id"];
  EXPECT_EQ(json::parse(r.out)["tags"], json({"a,b", "c", "d"}));
  r = Run({"--json", "list", "--tag", "a\\,b"});
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_EQ(json::parse(r.out).size(), 1u);
  r = Run({"--json", "--quiet", "edit", id, "--remove-tag", "a\\,b"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["tags"], json({"c", "d"}));
}

}  // namespace

// ---- Issue 10: files and stored data.

// An export holds the same knowledge as the database: 0600 under any umask,
// even over an existing, world-readable file.
TEST_F(CliTest, ExportFileIsPrivateUnderAnyUmask) {
  AddEntry("secret");
  std::ofstream(dir_ + "/old.jsonl") << "old\n";
  ASSERT_EQ(chmod((dir_ + "/old.jsonl").c_str(), 0644), 0);
  mode_t old = umask(0);
  Result a = Run({"export", dir_ + "/new.jsonl"});
  Result b = Run({"export", dir_ + "/old.jsonl"});
  umask(old);
  ASSERT_EQ(a.code, 0) << a.err;
  ASSERT_EQ(b.code, 0) << b.err;
  for (const char* f : {"/new.jsonl", "/old.jsonl"}) {
    struct stat sb;
    ASSERT_EQ(stat((dir_ + f).c_str(), &sb), 0);
    EXPECT_EQ(sb.st_mode & 0777, 0600u) << f;
    EXPECT_NE(Slurp(dir_ + f).find("secret"), std::string::npos) << f;
  }
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();
}

// Issue 11 #4: each format under its own name, private and written whole;
// a name that says another format than --format is refused, nothing written.
TEST_F(CliTest, ExportFormatsFollowTheNameAndRefuseAContradiction) {
  AddEntry("secret one");
  AddEntry("secret two", "pattern");
  mode_t old = umask(0);
  for (const char* f : {"/kb.rekall.zip", "/kb.json", "/kb.md", "/kb.jsonl"}) {
    Result r = Run({"export", dir_ + f});
    ASSERT_EQ(r.code, 0) << f << r.err;
    EXPECT_NE(r.err.find("exported 2 entries"), std::string::npos) << r.err;
  }
  Result forced = Run({"export", "--format", "zip", dir_ + "/kb.bin"});
  umask(old);
  ASSERT_EQ(forced.code, 0) << forced.err;
  for (const char* f : {"/kb.rekall.zip", "/kb.json", "/kb.md", "/kb.jsonl", "/kb.bin"}) {
    struct stat sb;
    ASSERT_EQ(stat((dir_ + f).c_str(), &sb), 0) << f;
    EXPECT_EQ(sb.st_mode & 0777, 0600u) << f;
  }
  EXPECT_EQ(Slurp(dir_ + "/kb.rekall.zip").substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_EQ(Slurp(dir_ + "/kb.bin").substr(0, 4), std::string("PK\x03\x04", 4));
  std::string j = Slurp(dir_ + "/kb.json");
  EXPECT_EQ(j.rfind("[\n  {\n    \"id\": ", 0), 0u) << j;
  EXPECT_EQ(json::parse(j).size(), 2u);
  EXPECT_EQ(Slurp(dir_ + "/kb.md").rfind("# Rekall Knowledge Export\n", 0), 0u);
  std::string l = Slurp(dir_ + "/kb.jsonl");
  EXPECT_EQ(std::count(l.begin(), l.end(), '\n'), 2);

  Result r = Run({"export", "--format", "jsonl", dir_ + "/wrong.rekall.zip"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("named as zip, not jsonl"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/wrong.rekall.zip"));
  r = Run({"export", "--format", "csv"});
  EXPECT_EQ(r.code, 2);
  r = Run({"export", "--format", "md"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("## Bugs (1)"), std::string::npos) << r.out;
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".tmp"), std::string::npos) << e.path();

  // Each export of Rekall's formats imports into another database.
  for (const char* f : {"/kb.rekall.zip", "/kb.json", "/kb.jsonl"}) {
    std::string db = dir_ + f + ".db";
    Result i = Run({"--db", db, "import", "--no-embed", dir_ + f}, "", false);
    ASSERT_EQ(i.code, 0) << f << i.err;
    EXPECT_EQ(i.out, "imported 2 entries\n") << f;
  }
  r = Run({"import", dir_ + "/kb.md"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("Markdown"), std::string::npos) << r.err;
  r = Run({"import", "--format", "json", dir_ + "/kb.rekall.zip"});
  EXPECT_EQ(r.code, 2);
  fs::copy_file(dir_ + "/kb.jsonl", dir_ + "/lines.json");
  r = Run({"import", dir_ + "/lines.json"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("use --format jsonl"), std::string::npos) << r.err;
  r = Run({"import", "--format", "jsonl", "--strategy", "skip", dir_ + "/lines.json"});
  EXPECT_EQ(r.code, 0) << r.err;  // a file read is read as asked
  EXPECT_EQ(r.out, "imported 0 entries, skipped 2\n");
}

// Rekall's own archive: imported whole; a dry run says what would happen
// and changes nothing; Rekall's strategies and our --on-conflict alias.
TEST_F(CliTest, ImportsRekallsArchiveWithItsStrategiesAndDryRun) {
  std::string fixture = std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/rekall-export.rekall.zip";
  if (!fs::exists(fixture)) GTEST_SKIP() << "fixture absent";
  Result r = Run({"import", "--dry-run", "--no-embed", fixture});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("archive: format 1.0, created 2026-11-29T10:25:25.609574, 120 entries"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("dry run: would add 120, replace 0, merge 0, skip 0; nothing was changed"),
            std::string::npos)
      << r.out;
  r = Run({"--json", "list"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out).size(), 0u);

  r = Run({"import", "--no-embed", fixture});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "imported 120 entries\n");
  r = Run({"import", "--no-embed", fixture});  // Rekall's default strategy: skip
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out, "imported 0 entries, skipped 120\n");
  r = Run({"--json", "import", "-n", "--strategy", "merge", fixture});
  ASSERT_EQ(r.code, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["dry_run"], true);
  EXPECT_EQ(j["skipped"], 120);
  EXPECT_EQ(j["entries"].size(), 120u);
  EXPECT_EQ(j["entries"][0]["action"], "skip");
  r = Run({"--json", "import", "--no-embed", "--on-conflict", "replace", fixture});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(json::parse(r.out)["replaced"], 120);
  r = Run({"import", "--strategy", "error", fixture});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("already exists"), std::string::npos) << r.err;
  r = Run({"import", "--strategy", "banana", fixture});
  EXPECT_EQ(r.code, 2);

  // A damaged archive: refused whole, with why.
  std::string bytes = Slurp(fixture);
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(dir_ + "/bad.rekall.zip", std::ios::binary) << bytes;
  r = Run({"--db", dir_ + "/fresh.db", "import", "--no-embed", dir_ + "/bad.rekall.zip"}, "", false);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nothing was imported"), std::string::npos) << r.err;
}

// `doctor` exits 1 while a warning is left unfixed (JSON still printed), 0
// once fixed; two --fix runs within a second keep two backups.
TEST_F(CliTest, DoctorExitCodeAndUniqueBackups) {
  AddEntry("x");
  auto damage = [&] {
    sqlite3* db;
    ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "INSERT INTO tags(entry_id, tag) VALUES('ghost', 'g')", nullptr, nullptr, nullptr),
              SQLITE_OK);
    sqlite3_close(db);
  };
  Result r = Run({"--json", "doctor"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  damage();
  r = Run({"--json", "doctor"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_FALSE(json::parse(r.out)["healthy"].get<bool>());
  std::set<std::string> backups;
  for (int i = 0; i < 2; ++i) {
    if (i) damage();
    r = Run({"--json", "doctor", "--fix"});
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    json j = json::parse(r.out);
    EXPECT_TRUE(j["healthy"].get<bool>());
    backups.insert(j["backup"].get<std::string>());
  }
  EXPECT_EQ(backups.size(), 2u);
  for (const auto& b : backups) EXPECT_TRUE(fs::exists(b)) << b;
}

// `doctor --quick` reports the integrity and drift checks alone, and its
// exit code follows them: an orphan tag (a full check) leaves it at 0.
TEST_F(CliTest, QuickDoctorReportsIntegrityAndDrift) {
  AddEntry("x");
  sqlite3* db;
  ASSERT_EQ(sqlite3_open(db_.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "INSERT INTO tags(entry_id, tag) VALUES('ghost', 'g')", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  Result r = Run({"--json", "doctor", "--quick"});
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  json j = json::parse(r.out);
  std::vector<std::string> checks;
  for (const auto& f : j["findings"]) checks.push_back(f["check"].get<std::string>());
  EXPECT_EQ(checks, (std::vector<std::string>{"integrity", "fts_drift", "index_drift"}));
  EXPECT_TRUE(j["healthy"].get<bool>());
  r = Run({"--json", "doctor"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
}

// `vacuum` after deletes: bytes before and after (--json and text), every
// entry kept with the same search results.
TEST_F(CliTest, VacuumReportsBytesAndKeepsEntries) {
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(AddEntry("proxy timeout " + std::to_string(i)));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(Run({"delete", ids[size_t(i)]}).code, 0);
  Result before = Run({"--json", "search", "proxy timeout"});
  ASSERT_EQ(before.code, 0) << before.err;
  Result r = Run({"--json", "vacuum"});
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["entries"], 3);
  EXPECT_GT(j["bytes_before"].get<uint64_t>(), 0u);
  EXPECT_LE(j["bytes_after"].get<uint64_t>(), j["bytes_before"].get<uint64_t>());
  EXPECT_EQ(j["bytes_reclaimed"].get<uint64_t>(),
            j["bytes_before"].get<uint64_t>() - j["bytes_after"].get<uint64_t>());
  EXPECT_EQ(j["database"], db_);
  Result after = Run({"--json", "search", "proxy timeout"});
  auto ids_of = [](const Result& x) {
    std::vector<std::string> out;
    json j = json::parse(x.out);
    for (const auto& e : j["results"]) out.push_back(e["id"].get<std::string>());
    return out;
  };
  EXPECT_EQ(ids_of(after), ids_of(before));
  EXPECT_EQ(ids_of(after).size(), 3u);
  r = Run({"vacuum"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("before:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("after:"), std::string::npos) << r.out;
}

// A damaged Rekall file is never written: not migrated, no backup, the same
// bytes; the error points at `rekall doctor`, which reports the damage.
TEST_F(CliTest, DamagedDatabaseIsNeverWritten) {
  std::string fixture = std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/rekall-v12.db";
  if (!fs::exists(fixture)) GTEST_SKIP() << "fixture absent";
  fs::copy_file(fixture, db_);
  fs::permissions(db_, fs::perms::owner_read | fs::perms::owner_write);
  {
    std::fstream f(db_, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(4096 * 2);
    std::string junk(64, '\xAB');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  std::string before = Slurp(db_);
  Result r = Run({"add", "--title", "t", "--type", "bug", "--content", "c"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("rekall doctor"), std::string::npos) << r.err;
  r = Run({"--json", "doctor", "--fix"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_EQ(Slurp(db_), before);
  r = Run({"vacuum"});
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("nothing was vacuumed"), std::string::npos) << r.err;
  EXPECT_EQ(Slurp(db_), before);
  for (const auto& e : fs::directory_iterator(dir_))
    EXPECT_EQ(e.path().filename().string().find(".backup-"), std::string::npos) << e.path();
}

// Values Rekall's reader cannot parse are refused on import (Rekall's own
// columns carried in `extra` included) and on add (JSON on stdin), naming
// the field; nothing is stored.
TEST_F(CliTest, ValuesRekallCannotReadAreRefused) {
  const char* lines[] = {
      R"({"title":"a","type":"bug","created_at":"not a date","updated_at":"2026-01-01T00:00:00"})",
      R"({"title":"a","type":"bug","extra":{"next_review":"2026-02-01T10:00:00"}})",
      R"({"title":"a","type":"bug","extra":{"ease_factor":"2.5"}})",
      R"({"title":"a","type":"bug","extra":{"memory_type":"procedural"}})",
  };
  for (const char* l : lines) {
    std::ofstream(dir_ + "/in.jsonl") << l << "\n";
    Result r = Run({"import", "--no-embed", dir_ + "/in.jsonl"});
    EXPECT_EQ(r.code, 2) << l << ": " << r.err;
    EXPECT_NE(r.err.find("line 1"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("invalid"), std::string::npos) << r.err;
  }
  Result r = Run({"--json", "list"});
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find("\"title\":\"a\""), std::string::npos) << r.out;
}

// A writable database in a folder its user cannot write: the reading
// commands work and create nothing; a write says exactly what is wrong.
// Root ignores folder permissions, so the commands run as `nobody`
// (setpriv); the test is skipped where that is impossible.
TEST_F(CliTest, ReadOnlyFolderReadsWithoutWritingAndWritesSayWhy) {
  struct passwd* nobody = getpwnam("nobody");
  if (geteuid() != 0 || nobody == nullptr || std::system("command -v setpriv >/dev/null") != 0)
    GTEST_SKIP() << "needs root, a `nobody` user and setpriv";
  std::string id = AddEntry("kept in a read-only folder");
  const std::string ro = dir_ + "/ro", db = ro + "/k.db";
  fs::create_directory(ro);
  fs::rename(db_, db);
  ASSERT_FALSE(fs::exists(db_ + "-wal"));
  ASSERT_EQ(chown(db.c_str(), nobody->pw_uid, nobody->pw_gid), 0);
  ASSERT_EQ(chmod(dir_.c_str(), 0755), 0);
  ASSERT_EQ(chmod(ro.c_str(), 0755), 0);  // root's: nobody may read, not write
  const std::string before = Slurp(db);
  auto as_nobody = [&](const std::vector<std::string>& args) {
    std::string cmd = "cd / && env -u REKALL_HOME -u REKALL_DB_PATH XDG_CONFIG_HOME=" + Quote(dir_ + "/cfg") +
                      " setpriv --reuid=" + std::to_string(nobody->pw_uid) + " --regid=" +
                      std::to_string(nobody->pw_gid) + " --clear-groups " + Quote(REKALL_BIN) + " --db " + Quote(db);
    for (const auto& a : args) cmd += " " + Quote(a);
    return RunShell(cmd);
  };
  for (std::vector<std::string> args : std::vector<std::vector<std::string>>{
           {"--json", "list"}, {"--json", "search", "--mode", "keyword", "kept"}, {"--json", "show", id},
           {"export"}, {"--json", "stats"}}) {
    Result r = as_nobody(args);
    EXPECT_EQ(r.code, 0) << args.back() << ": " << r.err;
    if (args.back() != "stats") {
      EXPECT_NE(r.out.find("kept in a read-only folder"), std::string::npos) << args.back();
    }
  }
  Result r = as_nobody({"add", "--title", "new", "--type", "bug", "--content", "c"});
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_NE(r.err.find("directory " + ro + " is not writable"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(db + "-wal"), std::string::npos) << r.err;
  EXPECT_EQ(Slurp(db), before);
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(ro)) files.push_back(e.path().filename().string());
  EXPECT_EQ(files, std::vector<std::string>{"k.db"});
}

namespace rekall {
namespace {

// Issue 10 (lows): a database path that cannot work says why, names where it
// came from, and is invalid input (2), never "File exists" or a 309-digit
// range.
TEST_F(CliTest, PathAndRangeMistakesSayWhatIsWrong) {
  std::filesystem::create_symlink(dir_ + "/gone/x.db", dir_ + "/dangling.db");
  Result r = Run({"--db", dir_ + "/dangling.db", "list"}, "", false);
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("symbolic link to a file that does not exist"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/gone"));

  std::ofstream(dir_ + "/afile") << "not a folder";
  env_ = "REKALL_HOME=" + Quote(dir_ + "/afile") + " ";
  r = Run({"list"}, "", false);
  env_.clear();
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find(dir_ + "/afile is a file, not a directory"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(the path comes from REKALL_HOME)"), std::string::npos) << r.err;
  EXPECT_EQ(Slurp(dir_ + "/afile"), "not a folder");

  r = Run({"list", "--limit", "-1"});
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("-1 not in range 0 to 2147483647"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace rekall

namespace rekall {
namespace {

// An export never replaces the database it reads (or its WAL), another
// SQLite file, or a folder: each is invalid input (2), the file untouched.
TEST_F(CliTest, ExportNeverOverwritesADatabaseOrAFolder) {
  AddEntry("keep me");
  std::string before = Run({"export"}).out;
  std::filesystem::create_directory(dir_ + "/folder");
  std::filesystem::copy_file(db_, dir_ + "/other.db");
  std::string other = Slurp(dir_ + "/other.db");
  for (const std::string& target : {db_, db_ + "-wal", dir_ + "/other.db", dir_ + "/folder",
                                    dir_ + "/missing/x.jsonl"}) {
    Result r = Run({"export", target});
    EXPECT_EQ(r.code, 2) << target << ": " << r.err;
    EXPECT_EQ(r.err.find("exported"), std::string::npos) << r.err;
  }
  EXPECT_EQ(Slurp(dir_ + "/other.db"), other);
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/folder"));
  EXPECT_EQ(Run({"export"}).out, before);
}

}  // namespace
}  // namespace rekall
