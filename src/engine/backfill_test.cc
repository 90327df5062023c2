// Engine::StartBackgroundEmbedding: the server's build of missing summary
// embeddings.
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/fake_provider_for_test.h"
#include "util/temp_dir_for_test.h"

namespace rekall {
namespace {

class BackfillTest : public ::testing::Test {
 protected:
  std::unique_ptr<Engine> Open(FakeProvider** fp) {
    EngineOptions o;
    o.db_path = dir_.file("k.db");
    o.cfg.vector_backend = "brute";
    o.long_running = true;
    auto p = std::make_unique<FakeProvider>();
    *fp = p.get();
    o.provider = std::move(p);
    std::unique_ptr<Engine> e;
    Status s = Engine::Open(std::move(o), &e);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e;
  }

  // `n` entries stored while the model is missing: none has an embedding,
  // as in a Rekall file written with Rekall's default configuration.
  std::vector<store::Entry> AddWithoutEmbeddings(Engine* eng, FakeProvider* fp, int n) {
    fp->missing = true;
    std::vector<store::Entry> out;
    for (int i = 0; i < n; ++i) {
      store::Entry e;
      e.title = "entry " + std::to_string(i) + " word" + std::to_string(i);
      e.content = "content of entry " + std::to_string(i);
      e.type = "bug";
      std::string notice;
      EXPECT_TRUE(eng->Add(&e, &notice).ok());
      out.push_back(e);
    }
    fp->missing = false;
    return out;
  }

  // Polls Stats until the background embedding is no longer running (a
  // bounded wait, not a timing assertion).
  BackfillStatus WaitForBackfill(Engine* eng) {
    EngineStats st;
    for (int i = 0; i < 6000; ++i) {
      EXPECT_TRUE(eng->Stats(&st).ok());
      if (st.backfill.state != BackfillState::kRunning) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return st.backfill;
  }

  TempDir dir_;
};

TEST_F(BackfillTest, EmbedsEveryEntryWithoutOneAndSemanticSearchFindsThem) {
  FakeProvider* fp = nullptr;
  auto eng = Open(&fp);
  auto entries = AddWithoutEmbeddings(eng.get(), fp, 21);  // more than two steps
  IndexStatus is;
  ASSERT_TRUE(eng->GetIndexStatus(&is).ok());
  ASSERT_EQ(is.missing, 21u);

  eng->StartBackgroundEmbedding();
  BackfillStatus b = WaitForBackfill(eng.get());
  EXPECT_EQ(b.state, BackfillState::kDone) << b.error;
  EXPECT_EQ(b.done, 21u);
  EXPECT_EQ(b.remaining, 0u);
  ASSERT_TRUE(eng->GetIndexStatus(&is).ok());
  EXPECT_EQ(is.missing, 0u);
  EXPECT_EQ(is.indexed, 21u);

  SearchRequest req;
  req.query = "word7";
  req.mode = SearchMode::kSemantic;
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_FALSE(resp.results.empty());
  EXPECT_EQ(resp.mode_used, SearchMode::kSemantic);
  EXPECT_EQ(resp.results[0].entry.id, entries[7].id);
  EXPECT_EQ(resp.results[0].vector_rank, 1);

  EngineStats st;
  ASSERT_TRUE(eng->Stats(&st).ok());
  nlohmann::json j = EngineStatsToJson(st);
  EXPECT_EQ(j["background_embedding"]["state"], "done");
  EXPECT_EQ(j["background_embedding"]["done"], 21);
}

// Another process adds entries without vectors (an import with --no-embed,
// a restore) after the server's background embedding finished: the server
// notices the write and embeds them too.
TEST_F(BackfillTest, EntriesWrittenByAnotherProcessWithoutVectorsAreEmbeddedToo) {
  FakeProvider* fp = nullptr;
  auto eng = Open(&fp);
  AddWithoutEmbeddings(eng.get(), fp, 3);
  eng->StartBackgroundEmbedding();
  ASSERT_EQ(WaitForBackfill(eng.get()).state, BackfillState::kDone);
  {
    FakeProvider* other_fp = nullptr;
    auto other = Open(&other_fp);  // another connection to the same file
    AddWithoutEmbeddings(other.get(), other_fp, 5);
  }
  SearchRequest req;  // a search by meaning notices the other writer
  req.query = "entry";
  req.mode = SearchMode::kHybrid;
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  BackfillStatus b = WaitForBackfill(eng.get());
  EXPECT_EQ(b.state, BackfillState::kDone) << b.error;
  IndexStatus is;
  ASSERT_TRUE(eng->GetIndexStatus(&is).ok());
  EXPECT_EQ(is.entries, 8u);
  EXPECT_EQ(is.missing, 0u);
  EXPECT_EQ(is.indexed, 8u);
}

TEST_F(BackfillTest, NothingToDoLeavesItOff) {
  FakeProvider* fp = nullptr;
  auto eng = Open(&fp);
  store::Entry e;
  e.title = "embedded";
  e.content = "x";
  e.type = "bug";
  std::string notice;
  ASSERT_TRUE(eng->Add(&e, &notice).ok());
  eng->StartBackgroundEmbedding();
  EngineStats st;
  ASSERT_TRUE(eng->Stats(&st).ok());
  EXPECT_EQ(st.backfill.state, BackfillState::kOff);
  EXPECT_FALSE(EngineStatsToJson(st).contains("background_embedding"));
}

TEST_F(BackfillTest, WithoutTheModelItDoesNotStart) {
  FakeProvider* fp = nullptr;
  auto eng = Open(&fp);
  AddWithoutEmbeddings(eng.get(), fp, 3);
  fp->missing = true;
  eng->StartBackgroundEmbedding();
  EngineStats st;
  ASSERT_TRUE(eng->Stats(&st).ok());
  EXPECT_EQ(st.backfill.state, BackfillState::kOff);
}

// While a step embeds, the engine is free: an update goes through, and its
// new vector is not overwritten by the step's vector of the old text.
TEST_F(BackfillTest, EmbeddingHoldsNoLockAndAnEntryChangedMeanwhileKeepsItsNewVector) {
  FakeProvider* fp = nullptr;
  auto eng = Open(&fp);
  auto entries = AddWithoutEmbeddings(eng.get(), fp, 3);
  std::mutex m;
  std::condition_variable cv;
  bool in_embed = false, release = false;
  const std::thread::id test_thread = std::this_thread::get_id();
  // The background step is the first to embed off the test's thread; a
  // search embeds its query on a thread of its own too, and must not block.
  std::optional<std::thread::id> step_thread;
  fp->on_embed = [&](const std::vector<std::string>&) {
    if (std::this_thread::get_id() == test_thread) return;
    std::unique_lock<std::mutex> l(m);
    if (!step_thread) step_thread = std::this_thread::get_id();
    if (std::this_thread::get_id() != *step_thread) return;
    in_embed = true;
    cv.notify_all();
    cv.wait(l, [&] { return release; });
  };
  eng->StartBackgroundEmbedding();
  {
    std::unique_lock<std::mutex> l(m);
    cv.wait(l, [&] { return in_embed; });
  }
  // The background step is inside Embed: these calls must not wait for it.
  store::Entry changed = entries[1];
  changed.content = "completely different zebra text";
  std::string notice;
  ASSERT_TRUE(eng->Update(&changed, &notice).ok());
  SearchRequest req;
  req.query = "zebra";
  req.mode = SearchMode::kKeyword;
  SearchResponse resp;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_EQ(resp.results.size(), 1u);
  // A semantic search meanwhile says that some entries are not embedded yet.
  req.mode = SearchMode::kSemantic;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  EXPECT_NE(resp.notice.find("being embedded in the background"), std::string::npos) << resp.notice;
  {
    std::lock_guard<std::mutex> l(m);
    release = true;
  }
  cv.notify_all();
  BackfillStatus b = WaitForBackfill(eng.get());
  EXPECT_EQ(b.state, BackfillState::kDone) << b.error;
  EXPECT_EQ(b.done, 2u);  // the changed entry was embedded by its update

  req.query = "completely different zebra text";
  req.mode = SearchMode::kSemantic;
  ASSERT_TRUE(eng->Search(req, &resp).ok());
  ASSERT_FALSE(resp.results.empty());
  EXPECT_EQ(resp.results[0].entry.id, changed.id);
  ASSERT_TRUE(resp.results[0].cosine.has_value());
  // The old text shares no word with the query: its vector would score ~0.
  EXPECT_GT(*resp.results[0].cosine, 0.5);
}

}  // namespace
}  // namespace rekall
