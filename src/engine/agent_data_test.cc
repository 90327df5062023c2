// What Rekall's agents rely on in the data (issue 11 #3): obsolete entries
// hidden unless asked for, links, access tracking.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "engine/engine.h"
#include "engine/fake_provider_for_test.h"

namespace fs = std::filesystem;

namespace rekall {
namespace {

class AgentDataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rekall_agent_data_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    EngineOptions o;
    o.db_path = dir_ + "/k.db";
    o.cfg.vector_backend = "brute";
    o.cfg.sqlite_vec_path = REKALL_TEST_SQLITE_VEC;
    o.provider = std::make_unique<FakeProvider>();
    Status s = Engine::Open(std::move(o), &eng_);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override {
    eng_.reset();
    fs::remove_all(dir_);
  }
  std::string Add(const std::string& title, const std::string& content, const std::string& status = "active") {
    store::Entry e;
    e.title = title;
    e.content = content;
    e.type = "bug";
    e.status = status;
    std::string notice;
    Status s = eng_->Add(&e, &notice);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e.id;
  }
  std::vector<std::string> SearchIds(SearchMode mode, bool include_obsolete) {
    SearchRequest req;
    req.query = "nginx timeout";
    req.mode = mode;
    req.filter.include_obsolete = include_obsolete;
    SearchResponse resp;
    Status s = eng_->Search(req, &resp);
    EXPECT_TRUE(s.ok()) << s.ToString();
    std::vector<std::string> ids;
    for (const auto& r : resp.results) ids.push_back(r.entry.id);
    return ids;
  }
  static bool Has(const std::vector<std::string>& v, const std::string& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
  }

  std::string dir_;
  std::unique_ptr<Engine> eng_;
};

TEST_F(AgentDataTest, ObsoleteEntriesAreHiddenUnlessAskedFor) {
  std::string live = Add("nginx timeout", "proxy read timeout");
  std::string old = Add("nginx timeout old", "proxy read timeout, the old way", "obsolete");
  for (SearchMode mode : {SearchMode::kSemantic, SearchMode::kKeyword, SearchMode::kHybrid}) {
    SCOPED_TRACE(SearchModeName(mode));
    auto hidden = SearchIds(mode, false);
    EXPECT_TRUE(Has(hidden, live));
    EXPECT_FALSE(Has(hidden, old));
    EXPECT_TRUE(Has(SearchIds(mode, true), old));
  }
  // A status filter asks for that status.
  SearchRequest req;
  req.query = "nginx timeout";
  req.filter.status = "obsolete";
  SearchResponse resp;
  ASSERT_TRUE(eng_->Search(req, &resp).ok());
  ASSERT_EQ(resp.results.size(), 1u);
  EXPECT_EQ(resp.results[0].entry.id, old);

  std::vector<SearchResult> similar;
  std::string notice;
  ASSERT_TRUE(eng_->Similar(live, 5, {}, &similar, &notice).ok());
  EXPECT_TRUE(similar.empty());
  store::ListFilter all;
  all.include_obsolete = true;
  ASSERT_TRUE(eng_->Similar(live, 5, all, &similar, &notice).ok());
  ASSERT_EQ(similar.size(), 1u);
  EXPECT_EQ(similar[0].entry.id, old);

  std::vector<store::Entry> listed;
  ASSERT_TRUE(eng_->List({}, &listed).ok());
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].id, live);
  ASSERT_TRUE(eng_->List(all, &listed).ok());
  EXPECT_EQ(listed.size(), 2u);
  // Shown by id all the same.
  store::Entry e;
  EXPECT_TRUE(eng_->Get(old, &e).ok());
}

TEST_F(AgentDataTest, MemoryTypeFiltersEveryKindOfSearchAndTheList) {
  // Many episodic entries nearer the query than the one semantic entry: the
  // filter must still find it (the index is asked for more).
  for (int i = 0; i < 30; ++i) Add("nginx timeout " + std::to_string(i), "nginx timeout");
  store::Entry s;
  s.title = "nginx timeout rule";
  s.content = "pin the proxy timeouts";
  s.type = "pattern";
  s.extra["memory_type"] = "semantic";
  std::string notice;
  ASSERT_TRUE(eng_->Add(&s, &notice).ok());
  for (SearchMode mode : {SearchMode::kSemantic, SearchMode::kKeyword, SearchMode::kHybrid}) {
    SCOPED_TRACE(SearchModeName(mode));
    SearchRequest req;
    req.query = "nginx timeout";
    req.mode = mode;
    req.limit = 3;
    req.filter.memory_type = "semantic";
    SearchResponse resp;
    ASSERT_TRUE(eng_->Search(req, &resp).ok());
    ASSERT_EQ(resp.results.size(), 1u);
    EXPECT_EQ(resp.results[0].entry.id, s.id);
    req.filter.memory_type = "episodic";  // NULL or episodic
    ASSERT_TRUE(eng_->Search(req, &resp).ok());
    EXPECT_EQ(resp.results.size(), 3u);
    for (const auto& r : resp.results) EXPECT_NE(r.entry.id, s.id);
  }
  store::ListFilter f;
  f.memory_type = "semantic";
  std::vector<store::Entry> listed;
  ASSERT_TRUE(eng_->List(f, &listed).ok());
  ASSERT_EQ(listed.size(), 1u);
  f.memory_type = "procedural";
  EXPECT_TRUE(eng_->List(f, &listed).IsInvalidArgument());
}

}  // namespace
}  // namespace rekall
