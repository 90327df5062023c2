// The `rekall` commands over links, review and maintenance (link, unlink,
// related, graph, stale, generalize, review, backup, restore), driven as a
// user or a script would: arguments, stdin, stdout, stderr, exit code.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <filesystem>
#include <set>

#include <nlohmann/json.hpp>

#include "cli_fixture.h"

namespace {

// The CLI fixture, with a home folder of its own (Rekall's ~/.rekall/backups)
// and without the model (entries stored unembedded: these commands never
// need it); stdin from `input`, never a terminal.
class CliMaintenanceTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    fs::create_directories(dir_ + "/home");
    env_ = "HOME=" + Quote(dir_ + "/home") + " REKALL_MODEL_PATH=" + Quote(dir_ + "/no-model") + " ";
  }
  json RunJson(const std::vector<std::string>& args, const std::string& input = "") {
    std::vector<std::string> a{"--json", "--quiet"};
    a.insert(a.end(), args.begin(), args.end());
    Result r = Run(a, input);
    EXPECT_EQ(r.code, 0) << r.err;
    return json::parse(r.out, nullptr, false);
  }
  std::string AddEntry(const std::string& title, const std::string& tags = "t1,t2") {
    return RunJson({"add", "--title", title, "--type", "bug", "--content", "body of " + title, "--tag", tags,
                    "--project", "p"})["id"];
  }
  // One SQL statement on the database, as another tool would write it.
  std::string Sql(const std::string& sql, const std::string& path = "") {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open((path.empty() ? db_ : path).c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
      out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
    return out;
  }
  size_t Count(const std::string& path = "") { return std::stoul(Sql("SELECT count(*) FROM entries", path)); }
};

TEST_F(CliMaintenanceTest, EveryCommandHasHelpWithExamples) {
  for (const char* cmd : {"link", "unlink", "related", "graph", "stale", "generalize", "review", "backup", "restore"}) {
    Result r = Run({cmd, "--help"});
    EXPECT_EQ(r.code, 0) << cmd;
    EXPECT_NE(r.out.find("Examples:\n  rekall " + std::string(cmd)), std::string::npos) << r.out;
  }
  Result r = Run({"--help"});
  for (const char* cmd : {"link", "graph", "review", "restore"}) EXPECT_NE(r.out.find(cmd), std::string::npos);
}

TEST_F(CliMaintenanceTest, LinkUnlinkAndRelatedByIdOrPrefix) {
  std::string a = AddEntry("a"), b = AddEntry("b"), c = AddEntry("c");
  json l = RunJson({"link", a.substr(0, 24), b, "-t", "supersedes", "-r", "b is newer"});
  EXPECT_EQ(l["source_id"], a);  // the prefix resolved
  EXPECT_EQ(l["relation_type"], "supersedes");
  EXPECT_EQ(l["reason"], "b is newer");
  ASSERT_EQ(Run({"link", b, c}).code, 0);
  EXPECT_EQ(Sql("SELECT relation_type FROM links WHERE source_id = '" + b + "'"), "related");  // the default

  json rel = RunJson({"related", a});
  ASSERT_EQ(rel["count"], 1);
  EXPECT_EQ(rel["related"][0]["id"], b);
  EXPECT_EQ(rel["related"][0]["direction"], "outgoing");
  rel = RunJson({"related", a, "--depth", "2"});
  ASSERT_EQ(rel["count"], 2);
  EXPECT_EQ(rel["related"][1]["id"], c);
  EXPECT_EQ(rel["related"][1]["depth"], 2);
  rel = RunJson({"related", a, "-d", "2", "-t", "supersedes"});  // only through links of that type
  EXPECT_EQ(rel["count"], 1);
  Result r = Run({"related", c});
  ASSERT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("← [related] " + b + " \"b\""), std::string::npos) << r.out;

  EXPECT_EQ(RunJson({"unlink", a, b, "-t", "related"})["removed"], 0);  // of that type only
  EXPECT_EQ(RunJson({"unlink", b, a})["removed"], 0);                   // direction matters
  r = Run({"unlink", a, b});
  ASSERT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("Deleted 1 link(s)"), std::string::npos) << r.out;
  EXPECT_EQ(Sql("SELECT count(*) FROM links"), "1");

  EXPECT_EQ(Run({"link", a, b, "-t", "cousin"}).code, 2);
  EXPECT_EQ(Run({"related", a, "--depth", "4"}).code, 2);
  EXPECT_EQ(Run({"link", a, a}).code, 2);  // not to itself
  r = Run({"link", a, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"});
  EXPECT_EQ(r.code, 3);
  EXPECT_NE(r.err.find("no entry"), std::string::npos) << r.err;
  EXPECT_EQ(Sql("SELECT count(*) FROM links"), "1");
}

TEST_F(CliMaintenanceTest, GraphDrawsATreeAndEndsOnCycles) {
  std::string a = AddEntry("alpha"), b = AddEntry("beta"), c = AddEntry("gamma");
  ASSERT_EQ(Run({"link", a, b, "-r", "why"}).code, 0);
  ASSERT_EQ(Run({"link", b, c}).code, 0);
  ASSERT_EQ(Run({"link", c, a, "-t", "contradicts"}).code, 0);
  Result r = Run({"graph", a, "--depth", "4"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("alpha (" + a + ")\n", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("├─→ [related] beta (" + b + ") → why"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("╰─← [contradicts] gamma (" + c + ")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(already in the graph)"), std::string::npos) << r.out;

  json g = RunJson({"graph", a, "-o", "-d", "4"});  // outgoing only: a → b → c → a, drawn once
  json n = g["root"];
  std::vector<std::string> path;
  while (!n["links"].empty()) {
    ASSERT_EQ(n["links"].size(), 1u);
    n = n["links"][0];
    EXPECT_EQ(n["direction"], "outgoing");
    path.push_back(n["id"]);
  }
  EXPECT_EQ(path, (std::vector<std::string>{b, c, a}));
  EXPECT_TRUE(n["repeated"].get<bool>());
  g = RunJson({"graph", a, "-i", "-d", "1"});
  ASSERT_EQ(g["root"]["links"].size(), 1u);
  EXPECT_EQ(g["root"]["links"][0]["id"], c);
  EXPECT_EQ(Run({"graph", a, "--depth", "5"}).code, 2);
  std::string lone = AddEntry("lone");
  r = Run({"graph", lone});
  EXPECT_NE(r.out.find("(no links)"), std::string::npos) << r.out;
}

TEST_F(CliMaintenanceTest, StaleListsEntriesNobodyReadLately) {
  std::string read = AddEntry("read lately"), unread = AddEntry("never read");
  Sql("UPDATE entries SET last_accessed = NULL WHERE id = '" + unread + "'");
  ASSERT_EQ(Run({"show", read}).code, 0);
  json j = RunJson({"stale"});  // 30 days
  ASSERT_EQ(j["count"], 1);
  EXPECT_EQ(j["entries"][0]["id"], unread);
  EXPECT_EQ(j["entries"][0]["status"], "never read");
  Sql("UPDATE entries SET last_accessed = '2020-01-01T10:00:00' WHERE id = '" + read + "'");
  j = RunJson({"stale", "--days", "90", "-l", "5"});
  ASSERT_EQ(j["count"], 2);
  EXPECT_EQ(j["entries"][1]["id"], read);  // never read first, as Rekall orders them
  EXPECT_EQ(j["entries"][1]["status"], "fragile");
  EXPECT_GT(j["entries"][1]["days"].get<long>(), 60);
  EXPECT_EQ(RunJson({"stale", "-l", "1"})["count"], 1);
  EXPECT_EQ(Run({"stale", "--days", "-1"}).code, 2);
}

TEST_F(CliMaintenanceTest, GeneralizeDryRunThenCreatesWithoutAPrompt) {
  std::string a = AddEntry("nginx timeout one", "nginx,prod"), b = AddEntry("nginx timeout two", "nginx,dev");
  Result r = Run({"generalize", a, b, "--dry-run", "-t", "Proxy timeouts"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Title:   Proxy timeouts"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Tags:    nginx"), std::string::npos) << r.out;  // in both sources
  EXPECT_EQ(Count(), 2u);  // nothing written
  // stdin is not a terminal and no -y: created, Rekall's default answer.
  json j = RunJson({"generalize", a.substr(0, 24), b, "--title", "Proxy timeouts"});
  EXPECT_FALSE(j["dry_run"].get<bool>());
  const std::string id = j["entry"]["id"];
  EXPECT_EQ(j["entry"]["type"], "pattern");
  EXPECT_EQ(j["sources"], (json{a, b}));
  EXPECT_EQ(Count(), 3u);
  EXPECT_EQ(Sql("SELECT count(*) FROM links WHERE source_id = '" + id + "' AND relation_type = 'derived_from'"), "2");
  EXPECT_EQ(Run({"generalize", a}).code, 2);  // two ids at least
  EXPECT_EQ(Run({"generalize", a, a}).code, 2);
  EXPECT_EQ(Run({"generalize", a, "01ZZZZZZZZZZZZZZZZZZZZZZZZ"}).code, 3);
  EXPECT_EQ(Count(), 3u);
  // An id given twice is one source, linked once, and said so.
  j = RunJson({"generalize", a, b, a});
  EXPECT_EQ(j["sources"], (json{a, b}));
  const std::string again = j["entry"]["id"];
  EXPECT_EQ(Sql("SELECT count(*) FROM links WHERE source_id = '" + again + "'"), "2");
}

TEST_F(CliMaintenanceTest, BackupToABareFileNameAndRestoreOfAFolderSaySo) {
  AddEntry("kept");
  json b = RunJson({"backup", "-o", "bare.db"});  // in the working folder
  EXPECT_EQ(Count(dir_ + "/bare.db"), 1u) << b.dump();
  fs::create_directories(dir_ + "/folder");
  Result r = Run({"restore", "folder", "--yes"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not a regular file"), std::string::npos) << r.err;
  EXPECT_EQ(Count(), 1u);
}

// Rekall's review: its due entries, and its SM-2 arithmetic on its columns,
// with ratings read one a line from stdin.
TEST_F(CliMaintenanceTest, ReviewRatesTheDueEntriesFromStdin) {
  std::string late = AddEntry("late"), later = AddEntry("less late"), fresh = AddEntry("not due");
  const std::string set = "UPDATE entries SET ease_factor = 2.5, ";
  Sql(set + "next_review = '2000-01-01', review_interval = 10 WHERE id = '" + late + "'");
  Sql(set + "next_review = '2000-01-05', review_interval = 4 WHERE id = '" + later + "'");
  Sql("UPDATE entries SET next_review = '2999-01-01' WHERE id = '" + fresh + "'");
  json due = RunJson({"review"});  // --json: what is due, nothing reviewed
  ASSERT_EQ(due["count"], 2);
  EXPECT_EQ(due["due"][0]["id"], late);  // most overdue first
  EXPECT_EQ(due["due"][1]["id"], later);

  Result r = Run({"review"}, "5\n9\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Review session: 2 entries due"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Invalid rating, using 3"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Reviewed: 2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Average recall: 4.0/5"), std::string::npos) << r.out;
  // As Rekall computes it: int(10 * 2.7) days, ease 2.5 + 0.1; then int(4 * 2.5), ease 2.36.
  const std::string q = " FROM entries WHERE id = '";
  EXPECT_EQ(Sql("SELECT review_interval" + q + late + "'"), "27");
  EXPECT_DOUBLE_EQ(std::stod(Sql("SELECT ease_factor" + q + late + "'")), 2.5 + 0.1);
  EXPECT_EQ(Sql("SELECT next_review = date('now', 'localtime', '+27 days')" + q + late + "'"), "1");
  EXPECT_EQ(Sql("SELECT review_interval" + q + later + "'"), "10");
  EXPECT_DOUBLE_EQ(std::stod(Sql("SELECT ease_factor" + q + later + "'")), 2.5 + 0.1 - 2 * (0.08 + 2 * 0.02));
  EXPECT_EQ(RunJson({"review"})["count"], 0);
  r = Run({"review"});
  EXPECT_NE(r.out.find("No entries due for review!"), std::string::npos) << r.out;

  // q stops the session; the entries not rated keep their schedule.
  Sql("UPDATE entries SET next_review = '2000-01-01' WHERE id IN ('" + late + "', '" + later + "')");
  r = Run({"review", "--project", "p", "-l", "5"}, "q\n");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Reviewed: 0"), std::string::npos) << r.out;
  EXPECT_EQ(Sql("SELECT next_review" + q + late + "'"), "2000-01-01");
  EXPECT_EQ(RunJson({"review", "--project", "other"})["count"], 0);
}

TEST_F(CliMaintenanceTest, BackupListAndRestoreRoundTrip) {
  AddEntry("kept");
  json b = RunJson({"backup"});
  const std::string copy = b["path"];
  EXPECT_EQ(copy.rfind(dir_ + "/home/.rekall/backups/knowledge_", 0), 0u) << copy;  // Rekall's folder
  EXPECT_GT(b["bytes"].get<uint64_t>(), 0u);
  EXPECT_EQ(Count(copy), 1u);
  AddEntry("added after the backup");
  ASSERT_EQ(Count(), 2u);

  // Without a terminal a restore needs --yes; nothing changes meanwhile.
  Result r = Run({"restore", copy});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--yes"), std::string::npos) << r.err;
  EXPECT_EQ(Count(), 2u);
  json j = RunJson({"restore", copy, "-y"});
  EXPECT_EQ(j["entries"], 1);
  EXPECT_EQ(Count(), 1u);
  const std::string safety = j["safety_backup"];
  EXPECT_NE(safety.find("_pre-restore"), std::string::npos) << safety;
  EXPECT_EQ(Count(safety), 2u);  // the database as it was before

  json list = RunJson({"backup", "--list"});
  ASSERT_EQ(list.size(), 2u);
  std::set<std::string> kinds;
  for (const auto& e : list) {
    kinds.insert(e["kind"].get<std::string>());
    EXPECT_GT(e["bytes"].get<uint64_t>(), 0u);
    EXPECT_FALSE(e["modified"].get<std::string>().empty());
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"backup", "pre-restore"}));
  r = Run({"backup", "--list"});
  EXPECT_NE(r.out.find(copy), std::string::npos) << r.out;

  // --output: there, and never over an existing file.
  r = Run({"backup", "-o", dir_ + "/mine.db"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("Backup created: " + dir_ + "/mine.db"), std::string::npos) << r.out;
  EXPECT_EQ(Run({"backup", "-o", dir_ + "/mine.db"}).code, 2);
  j = RunJson({"restore", dir_ + "/mine.db", "--yes", "--no-safety"});
  EXPECT_TRUE(j["safety_backup"].is_null());
  EXPECT_EQ(RunJson({"backup", "--list"}).size(), 2u);
}

TEST_F(CliMaintenanceTest, RestoreRefusesAFileThatIsNoKnowledgeBase) {
  AddEntry("precious");
  std::ofstream(dir_ + "/notes.db") << "just some text, not a database at all; long enough to be read as one";
  Result r = Run({"restore", dir_ + "/notes.db", "-y"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("nothing was restored"), std::string::npos) << r.err;
  Sql("CREATE TABLE unrelated(x)", dir_ + "/other.db");
  r = Run({"restore", dir_ + "/other.db", "-y"});
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("not a Rekall knowledge base"), std::string::npos) << r.err;
  EXPECT_EQ(Run({"restore", dir_ + "/missing.db", "-y"}).code, 2);
  EXPECT_EQ(Run({"restore", db_, "-y"}).code, 2);  // the database itself
  EXPECT_EQ(Count(), 1u);
  EXPECT_FALSE(fs::exists(dir_ + "/home/.rekall/backups")) << "no safety copy for a refused restore";
  EXPECT_EQ(Run({"backup", "--list", "-o", dir_ + "/x.db"}).code, 2);
}

// Issue 14 #6: the backup made before a migration says where and how big,
// and only the newest three are kept.
TEST_F(CliMaintenanceTest, MigrationBackupsAreAnnouncedAndPruned) {
  AddEntry("x");
  for (int i = 0; i < 5; ++i) {
    // What a Rekall file lacks: our bookkeeping table. Each open migrates it.
    Sql("DROP TABLE rekall_engine_meta");
    Result r = Run({"list"});
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("backup at " + db_ + ".backup-"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(" KB; the last 3 are kept)"), std::string::npos) << r.err;
  }
  size_t backups = 0;
  for (const auto& e : fs::directory_iterator(dir_))
    backups += e.path().filename().string().rfind("k.db.backup-", 0) == 0;
  EXPECT_EQ(backups, 3u);
  EXPECT_EQ(RunJson({"backup", "--list"}).size(), 3u);
}

}  // namespace
