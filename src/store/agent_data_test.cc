// Links, access bookkeeping and stale entries, in Rekall's tables.
#include <gtest/gtest.h>

#include <chrono>

#include "store/rekall_context.h"
#include "store/store.h"
#include "util/temp_dir_for_test.h"

namespace rekall::store {
namespace {

class AgentDataStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Status s = Store::Open(dir_.file("k.db"), OpenOptions(), &store_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::string Add(const std::string& title) {
    Entry e;
    e.title = title;
    e.type = "bug";
    Status s = store_->Add(&e);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e.id;
  }
  int64_t Column(const std::string& id, const std::string& col) {
    sqlite::Stmt st(store_->db(), "SELECT " + col + " FROM entries WHERE id = ?");
    st.Bind(1, id);
    EXPECT_EQ(st.Step(), SQLITE_ROW);
    return st.Int(0);
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(AgentDataStoreTest, LinksInRekallsTable) {
  std::string a = Add("a"), b = Add("b");
  Link l{"", a, b, "supersedes", "", std::string("b replaces a")};
  ASSERT_TRUE(store_->AddLink(&l).ok());
  EXPECT_EQ(l.id.size(), 26u);
  Link again{"", a, b, "supersedes", "", std::nullopt};
  EXPECT_TRUE(store_->AddLink(&again).IsInvalidArgument());  // UNIQUE(source, target, type)
  Link other{"", a, b, "related", "", std::nullopt};
  EXPECT_TRUE(store_->AddLink(&other).ok());
  Link self{"", a, a, "related", "", std::nullopt};
  EXPECT_TRUE(store_->AddLink(&self).IsInvalidArgument());
  Link bad{"", a, b, "cousin", "", std::nullopt};
  EXPECT_TRUE(store_->AddLink(&bad).IsInvalidArgument());
  Link missing{"", a, "01ZZZZZZZZZZZZZZZZZZZZZZZZ", "related", "", std::nullopt};
  EXPECT_TRUE(store_->AddLink(&missing).IsNotFound());

  std::vector<Link> links;
  ASSERT_TRUE(store_->LinksOf(b, &links).ok());
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links[0].reason, "b replaces a");
  size_t n = 0;
  ASSERT_TRUE(store_->CountLinks(&n).ok());
  EXPECT_EQ(n, 2u);

  int removed = 0;
  ASSERT_TRUE(store_->RemoveLinks(b, a, std::nullopt, &removed).ok());
  EXPECT_EQ(removed, 0);  // direction matters
  ASSERT_TRUE(store_->RemoveLinks(a, b, std::string("contradicts"), &removed).ok());
  EXPECT_EQ(removed, 0);  // of that type only
  ASSERT_TRUE(store_->RemoveLinks(a, b, std::string("related"), &removed).ok());
  EXPECT_EQ(removed, 1);
  ASSERT_TRUE(store_->LinksOf(a, &links).ok());
  ASSERT_EQ(links.size(), 1u);
  EXPECT_EQ(links[0].relation_type, "supersedes");
  ASSERT_TRUE(store_->AddLink(&other).ok());
  ASSERT_TRUE(store_->RemoveLinks(a, b, std::nullopt, &removed).ok());
  EXPECT_EQ(removed, 2);  // every type
  // Deleting an entry takes its links along.
  ASSERT_TRUE(store_->AddLink(&l).ok());
  ASSERT_TRUE(store_->Delete(a).ok());
  ASSERT_TRUE(store_->LinksOf(b, &links).ok());
  EXPECT_TRUE(links.empty());
}

TEST_F(AgentDataStoreTest, ReadsAreCountedAsRekallCountsThem) {
  std::string a = Add("a");
  Entry before;
  ASSERT_TRUE(store_->Get(a, &before).ok());
  ASSERT_TRUE(store_->RecordAccess({a, a}).ok());
  EXPECT_EQ(Column(a, "access_count"), 2);
  Entry after;
  ASSERT_TRUE(store_->Get(a, &after).ok());
  EXPECT_EQ(after.updated_at, before.updated_at);  // a read is not an edit
  sqlite::Stmt st(store_->db(), "SELECT consolidation_score, last_accessed FROM entries WHERE id = ?");
  st.Bind(1, a);
  ASSERT_EQ(st.Step(), SQLITE_ROW);
  // 0.6 * min(1, ln(3) / 5) + 0.4 * exp(0): read twice, just now.
  EXPECT_NEAR(st.Double(0), 0.6 * std::log(3.0) / 5.0 + 0.4, 1e-9);
  EXPECT_EQ(st.Text(1).size(), 26u);  // naive local ISO with microseconds
}

// A read's bookkeeping gives up at once when another process holds the
// write lock (it used to wait for the whole 5 s busy timeout); writes that
// matter still wait for the lock.
TEST_F(AgentDataStoreTest, ReadBookkeepingDoesNotWaitForAnotherWriter) {
  std::string id = Add("a");
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(dir_.file("k.db").c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto start = std::chrono::steady_clock::now();
  Status s = store_->RecordAccess({id});
  auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(s.code(), Code::kBusy) << s.ToString();
  // Far below the 5 s busy timeout of writes (not a timing target: a bound
  // that tells "did not wait for the timeout" from "waited").
  EXPECT_LT(waited, std::chrono::seconds(3));
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(other);
  EXPECT_EQ(Column(id, "access_count"), 0);
  ASSERT_TRUE(store_->RecordAccess({id}).ok());
  EXPECT_EQ(Column(id, "access_count"), 1);
}

TEST_F(AgentDataStoreTest, LinkReasonAndContextAreBounded) {
  std::string a = Add("a"), b = Add("b");
  Link l{"", a, b, "related", "", std::string(kMaxLinkReasonBytes + 1, 'r')};
  Status s = store_->AddLink(&l);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("link reason too long"), std::string::npos) << s.ToString();
  size_t n = 0;
  ASSERT_TRUE(store_->CountLinks(&n).ok());
  EXPECT_EQ(n, 0u);
  l.reason = std::string(kMaxLinkReasonBytes, 'r');
  EXPECT_TRUE(store_->AddLink(&l).ok());

  Entry e;
  e.title = "big context";
  e.type = "bug";
  e.extra["context_structured"] = R"({"situation": ")" + std::string(kMaxContextBytes, 'x') + R"(", "solution": "y"})";
  s = store_->Add(&e);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("context too large"), std::string::npos) << s.ToString();
}

TEST_F(AgentDataStoreTest, StaleEntriesAreTheActiveOnesNotReadLately) {
  std::string old = Add("old"), fresh = Add("fresh"), never = Add("never");
  ASSERT_TRUE(sqlite::Exec(store_->db(),
                           "UPDATE entries SET last_accessed = '2020-01-01T00:00:00' WHERE id = '" + old +
                               "'; UPDATE entries SET last_accessed = NULL WHERE id = '" + never + "'",
                           "test")
                  .ok());
  std::vector<Entry> out;
  ASSERT_TRUE(store_->StaleEntries(30, 10, &out).ok());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].id, never);  // never read comes first
  EXPECT_EQ(out[1].id, old);
  ASSERT_TRUE(store_->StaleEntries(30, 1, &out).ok());
  EXPECT_EQ(out.size(), 1u);
  // A cutoff before any date (800,000 days) leaves only the never-read one;
  // it listed every entry when the date arithmetic left the calendar.
  for (int days : {800000, 1 << 20}) {
    ASSERT_TRUE(store_->StaleEntries(days, 10, &out).ok());
    ASSERT_EQ(out.size(), 1u) << days;
    EXPECT_EQ(out[0].id, never);
  }
  (void)fresh;
}

}  // namespace
}  // namespace rekall::store

namespace rekall::store {
namespace {

TEST_F(AgentDataStoreTest, AContextWithoutKeywordsGetsThemExtractedAsRekallsAddDoes) {
  Entry e;
  e.title = "Gunicorn worker timeout on uploads";
  e.content = "Large uploads exceed the 30 s worker timeout.";
  e.type = "bug";
  e.extra["context_structured"] = R"({"situation": "uploads fail with 502", "solution": "raise --timeout to 120"})";
  ASSERT_TRUE(store_->Add(&e).ok());
  Entry got;
  ASSERT_TRUE(store_->Get(e.id, &got).ok());
  auto ctx = nlohmann::json::parse(got.extra["context_structured"].get<std::string>());
  EXPECT_EQ(ctx["extraction_method"], "auto");
  std::vector<std::string> kws = ctx["trigger_keywords"];
  ASSERT_EQ(kws.size(), 5u);
  // "uploads" occurs most (title x3, content, situation), then the title's
  // other words.
  EXPECT_EQ(kws[0], "uploads");
  EXPECT_NE(std::find(kws.begin(), kws.end(), "gunicorn"), kws.end());
  sqlite::Stmt kw(store_->db(), "SELECT count(*) FROM context_keywords WHERE entry_id = ?");
  kw.Bind(1, e.id);
  ASSERT_EQ(kw.Step(), SQLITE_ROW);
  EXPECT_EQ(kw.Int(0), 5);
}

TEST_F(AgentDataStoreTest, StructuredContextIsWrittenAsRekallWritesIt) {
  Entry e;
  e.title = "nginx 504";
  e.type = "bug";
  e.extra["context_structured"] = R"({"situation": "gateway timeout after 60 s", "solution": "raise proxy_read_timeout",
      "trigger_keywords": [" Nginx ", "504"], "what_failed": "café"})";
  ASSERT_TRUE(store_->Add(&e).ok());
  sqlite::Stmt st(store_->db(), "SELECT context_structured, context_blob, context_compressed FROM entries WHERE id = ?");
  st.Bind(1, e.id);
  ASSERT_EQ(st.Step(), SQLITE_ROW);
  std::string text = st.Text(0);
  // Python's json.dumps: its key order, ", " and ": ", non-ASCII escaped.
  EXPECT_EQ(text.rfind(R"({"situation": "gateway timeout after 60 s", "solution": "raise proxy_read_timeout", )"
                       R"("trigger_keywords": ["nginx", "504"], "what_failed": "caf\u00e9", )"
                       R"("conversation_excerpt": null, "files_modified": null, "error_messages": null, )"
                       R"("time_of_day": ")", 0), 0u) << text;
  EXPECT_NE(text.find(R"("extraction_method": "manual"})"), std::string::npos) << text;
  std::string blob(static_cast<const char*>(st.Blob(1)), st.Bytes(1));
  EXPECT_EQ(blob, ZlibCompress(text));
  EXPECT_EQ(blob.substr(0, 2), "\x78\x9c");  // a zlib stream, as Python's zlib.compress
  std::string summary(static_cast<const char*>(st.Blob(2)), st.Bytes(2));
  EXPECT_EQ(summary, ZlibCompress("Situation: gateway timeout after 60 s\nSolution: raise proxy_read_timeout"));
  sqlite::Stmt kw(store_->db(), "SELECT keyword FROM context_keywords WHERE entry_id = ? ORDER BY keyword");
  kw.Bind(1, e.id);
  std::vector<std::string> keywords;
  while (kw.Step() == SQLITE_ROW) keywords.push_back(kw.Text(0));
  EXPECT_EQ(keywords, (std::vector<std::string>{"504", "nginx"}));

  // Written again (an edit), the same text: nothing drifts.
  Entry again;
  ASSERT_TRUE(store_->Get(e.id, &again).ok());
  ASSERT_TRUE(store_->Update(&again).ok());
  EXPECT_EQ(again.extra["context_structured"], text);
}

TEST_F(AgentDataStoreTest, AContextRekallCouldNotReadIsKeptAsGiven) {
  Entry e;
  e.title = "t";
  e.type = "bug";
  e.extra["context_structured"] = R"({"situation":"short"})";
  ASSERT_TRUE(store_->Add(&e).ok());
  Entry got;
  ASSERT_TRUE(store_->Get(e.id, &got).ok());
  EXPECT_EQ(got.extra["context_structured"], R"({"situation":"short"})");
  EXPECT_TRUE(got.extra["context_blob"].is_null());
}

}  // namespace
}  // namespace rekall::store
