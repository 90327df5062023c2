// The brute index loaded in the background (IndexOptions::load_in_background,
// issue 14 #3): while it loads, answers come from exact scans of the source
// tables (index_internal::ExactSourceSearch); writes made during the load,
// on the index's own connection or another, are all found once the loaded
// index has taken over, and a deleted entry is never returned. Every answer
// is compared with a brute index loaded afresh, in place, on a third
// connection.
#include <gtest/gtest.h>

#include <cmath>
#include <future>

#include "index/backend_base.h"
#include "index/index_source.h"
#include "index/index_test_util.h"
#include "index/simd.h"

namespace rekall {
namespace {

using testing::ExecOrDie;
using testing::RandomUnit;
using testing::TempDb;

constexpr int kDim = 16;

using testing::Id;
using testing::Meta;

// Filters from none to fine: the last lets 1 entry in 30 through, fewer
// than the exact scan's candidates hold, so it takes the join.
std::vector<Filter> Filters() {
  std::vector<Filter> f(8);
  f[1].type = "pattern";
  f[2].project = "";
  f[3].status = "obsolete";
  f[4].tags = {"even"};
  f[5].tags = {"three", "even"};
  f[6].status = "active";
  f[7].type = "decision";
  f[7].project = "p1";
  f[7].status = "obsolete";
  return f;
}

class BackgroundLoadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Our store's journal mode: the load's read transaction holds up no writer.
    ExecOrDie(db_.db(), "PRAGMA journal_mode = WAL");
    std::mt19937_64 rng(3);
    ExecOrDie(db_.db(), "BEGIN");
    for (int i = 0; i < 300; ++i) testing::WriteEntryRows(db_.db(), Id(i), RandomUnit(rng, kDim), Meta(i));
    ExecOrDie(db_.db(), "COMMIT");
    other_ = db_.Open();
  }
  void TearDown() override {
    pause_.Release();  // a test that failed while the load was held
    idx_.reset();
    sqlite3_close(other_);
  }

  static IndexOptions Options(bool background) {
    IndexOptions o;
    o.backend = IndexBackend::kBrute;
    o.dim = kDim;
    o.quantization = Quantization::kNone;  // exact scores on every side
    o.load_in_background = background;
    return o;
  }

  // Opens the background index with its load held inside its snapshot.
  void OpenPaused() {
    idx_ = pause_.Open(db_.db(), Options(true));
    ASSERT_TRUE(idx_);
  }
  void Resume() { pause_.Resume(); }

  Status Exact(const std::vector<float>& q, int k, const Filter& f, std::vector<Hit>* out) {
    std::vector<float> padded(index_internal::RoundUp(kDim, simd::kFloatLanes), 0.0f);
    std::copy(q.begin(), q.end(), padded.begin());
    index_internal::Normalize(padded.data(), kDim);  // as every index does
    return index_internal::ExactSourceSearch(db_.db(), kDim, padded, k, f, out);
  }

  // Every filter's search by `search` equals the one of a brute index loaded
  // afresh on a third connection: same ids, bit-identical scores.
  template <class Search>
  void ExpectEqualsFresh(const Search& search, std::vector<int> ks = {1, 10, 1000}) {
    sqlite3* third = db_.Open();
    std::unique_ptr<VectorIndex> fresh;
    std::string notice;
    ASSERT_TRUE(OpenVectorIndex(third, Options(false), &fresh, &notice).ok());
    std::mt19937_64 rng(9);
    for (const Filter& f : Filters()) {
      for (int k : ks) {
        auto q = RandomUnit(rng, kDim);
        std::vector<Hit> got, want;
        ASSERT_TRUE(search(q, k, f, &got).ok());
        ASSERT_TRUE(fresh->Search(q.data(), kDim, k, f, &want).ok());
        ASSERT_EQ(got.size(), want.size()) << "k " << k;
        for (size_t i = 0; i < got.size(); ++i) {
          EXPECT_EQ(got[i].entry_id, want[i].entry_id) << "k " << k << " rank " << i;
          EXPECT_EQ(got[i].score, want[i].score) << "k " << k << " rank " << i;
        }
      }
    }
    fresh.reset();
    sqlite3_close(third);
  }
  void ExpectIndexEqualsFresh() {
    ExpectEqualsFresh([this](const std::vector<float>& q, int k, const Filter& f, std::vector<Hit>* out) {
      return idx_->Search(q.data(), kDim, k, f, out);
    });
    size_t n = 0, want = 0;
    ASSERT_TRUE(idx_->Count(&n).ok());
    ASSERT_TRUE(index_internal::CountSourceRows(db_.db(), kDim, &want).ok());
    EXPECT_EQ(n, want);
  }

  // The ids of every entry the index returns.
  std::vector<std::string> AllIds() {
    std::vector<Hit> hits;
    std::vector<float> q(kDim, 0.0f);
    q[0] = 1;
    EXPECT_TRUE(idx_->Search(q.data(), kDim, 100000, Filter{}, &hits).ok());
    std::vector<std::string> ids;
    for (const Hit& h : hits) ids.push_back(h.entry_id);
    std::sort(ids.begin(), ids.end());
    return ids;
  }
  static bool Has(const std::vector<std::string>& ids, const std::string& id) {
    return std::binary_search(ids.begin(), ids.end(), id);
  }

  std::vector<float> Vec(uint64_t seed) {
    std::mt19937_64 rng(seed);
    return RandomUnit(rng, kDim);
  }

  TempDb db_;
  sqlite3* other_ = nullptr;
  testing::PausedLoad pause_;
  std::unique_ptr<VectorIndex> idx_;
};

// The exact scan equals the loaded index, whichever way it goes (the best
// candidates checked, or the join for a fine filter), with an orphan
// embedding, a vector holding NaN and one of another size in the table.
TEST_F(BackgroundLoadTest, ExactSourceSearchEqualsTheLoadedIndex) {
  ExecOrDie(db_.db(), "DELETE FROM entries WHERE id = '" + Id(4) + "'");
  std::vector<float> nan = Vec(5);
  nan[3] = std::nanf("");
  testing::WriteEntryRows(db_.db(), "nan", nan, Meta(1));
  testing::WriteEntryRows(db_.db(), "short", std::vector<float>(kDim / 2, 0.25f), Meta(1));
  ExpectEqualsFresh([this](const std::vector<float>& q, int k, const Filter& f, std::vector<Hit>* out) {
    return Exact(q, k, f, out);
  });
}

TEST_F(BackgroundLoadTest, WritesDuringTheLoadAreFoundAfterTheSwap) {
  OpenPaused();
  // The engine's add: rows and index in one transaction.
  ExecOrDie(db_.db(), "BEGIN");
  testing::WriteEntryRows(db_.db(), "added-here", Vec(1), Meta(1), "2026-03-01");
  ASSERT_TRUE(idx_->Upsert("added-here", Vec(1).data(), kDim, Meta(1)).ok());
  ExecOrDie(db_.db(), "COMMIT");
  // The engine's delete, and another process's add, delete and edit.
  ExecOrDie(db_.db(), "BEGIN");
  testing::DeleteEntryRows(db_.db(), Id(10));
  ASSERT_TRUE(idx_->Remove(Id(10)).ok());
  ExecOrDie(db_.db(), "COMMIT");
  testing::WriteEntryRows(other_, "added-there", Vec(2), Meta(2), "2026-03-01");
  testing::DeleteEntryRows(other_, Id(11));
  ExecOrDie(other_, "UPDATE entries SET type = 'pattern', updated_at = '2026-03-02' WHERE id = '" + Id(12) + "'");
  // Still loading: the exact scans answer, current.
  ExpectIndexEqualsFresh();
  Resume();
  std::vector<std::string> ids = AllIds();
  EXPECT_TRUE(Has(ids, "added-here"));
  EXPECT_TRUE(Has(ids, "added-there"));
  EXPECT_FALSE(Has(ids, Id(10)));
  EXPECT_FALSE(Has(ids, Id(11)));
  EXPECT_EQ(ids.size(), 300u);
  ExpectIndexEqualsFresh();
  // The loaded index keeps following writes.
  ExecOrDie(db_.db(), "BEGIN");
  testing::WriteEntryRows(db_.db(), "later", Vec(3), Meta(3), "2026-03-03");
  ASSERT_TRUE(idx_->Upsert("later", Vec(3).data(), kDim, Meta(3)).ok());
  ExecOrDie(db_.db(), "COMMIT");
  testing::DeleteEntryRows(other_, Id(13));
  ExpectIndexEqualsFresh();
}

// Only the index's own connection writes during the load (a server alone
// on its file): that connection sees no change of PRAGMA data_version, and
// the writes are still found once the loaded index takes over.
TEST_F(BackgroundLoadTest, OwnWritesAloneDuringTheLoadAreFound) {
  OpenPaused();
  ExecOrDie(db_.db(), "BEGIN");
  testing::WriteEntryRows(db_.db(), "added-here", Vec(1), Meta(1), "2026-03-01");
  ASSERT_TRUE(idx_->Upsert("added-here", Vec(1).data(), kDim, Meta(1)).ok());
  testing::DeleteEntryRows(db_.db(), Id(10));
  ASSERT_TRUE(idx_->Remove(Id(10)).ok());
  ExecOrDie(db_.db(), "COMMIT");
  Resume();
  std::vector<std::string> ids = AllIds();
  EXPECT_TRUE(Has(ids, "added-here"));
  EXPECT_FALSE(Has(ids, Id(10)));
  ExpectIndexEqualsFresh();
}

// A transaction that wrote through the index during the load rolls back:
// nothing of it is ever returned.
TEST_F(BackgroundLoadTest, WriteRolledBackDuringTheLoadIsNotFound) {
  OpenPaused();
  ExecOrDie(db_.db(), "BEGIN");
  testing::WriteEntryRows(db_.db(), "rolled-back", Vec(1), Meta(1), "2026-03-01");
  ASSERT_TRUE(idx_->Upsert("rolled-back", Vec(1).data(), kDim, Meta(1)).ok());
  ExecOrDie(db_.db(), "ROLLBACK");
  idx_->MarkStale();
  Resume();
  EXPECT_FALSE(Has(AllIds(), "rolled-back"));
  ExpectIndexEqualsFresh();
}

TEST_F(BackgroundLoadTest, ReleasedThenUsedLoadsAgain) {
  OpenPaused();
  Resume();
  ExpectIndexEqualsFresh();
  EXPECT_TRUE(idx_->ReleaseMemory());
  testing::DeleteEntryRows(other_, Id(20));
  ExpectIndexEqualsFresh();
}

// Destroyed mid-load (a server stopping at once): the load stops, nothing leaks.
TEST_F(BackgroundLoadTest, DestroyedWhileLoading) {
  std::string notice;
  ASSERT_TRUE(OpenVectorIndex(db_.db(), Options(true), &idx_, &notice).ok());
  idx_.reset();
}

// No file to read again: the index loads in place, as without the option.
TEST_F(BackgroundLoadTest, InMemoryDatabaseLoadsInPlace) {
  sqlite3* mem = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &mem), SQLITE_OK);
  ExecOrDie(mem, testing::kSchema);
  testing::WriteEntryRows(mem, "only", Vec(1), Meta(1));
  std::unique_ptr<VectorIndex> idx;
  std::string notice;
  ASSERT_TRUE(OpenVectorIndex(mem, Options(true), &idx, &notice).ok());
  std::vector<Hit> hits;
  ASSERT_TRUE(idx->Search(Vec(1).data(), kDim, 5, Filter{}, &hits).ok());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entry_id, "only");
  idx.reset();
  sqlite3_close(mem);
}

// The 1-bit recall self-check runs on the loading thread: the index handed
// over reports its verdict before any search has run on it. Meanwhile the
// report says the searches are exact scans of the tables.
TEST_F(BackgroundLoadTest, BitsCheckRunsOnTheLoadingThread) {
  IndexOptions o = Options(true);
  o.quantization = Quantization::kAuto;
  o.bits_threshold = o.quantize_threshold = 100;  // the 300 rows take the 1-bit path
  std::promise<void> handed_over;
  o.background_load_hook = [&](bool loaded) {
    if (loaded) handed_over.set_value();
  };
  std::string notice;
  ASSERT_TRUE(OpenVectorIndex(db_.db(), o, &idx_, &notice).ok());
  handed_over.get_future().wait();
  ScanReport r;
  ASSERT_TRUE(idx_->Describe(&r));
  EXPECT_FALSE(r.loading);
  EXPECT_TRUE(r.checked);
  EXPECT_EQ(r.check_queries, o.bits_check_queries);
  EXPECT_GT(r.bits_recall, 0.0);
}

TEST_F(BackgroundLoadTest, ReportsLoadingWhileTheMatrixLoads) {
  OpenPaused();
  ScanReport r;
  ASSERT_TRUE(idx_->Describe(&r));
  EXPECT_TRUE(r.loading);
  EXPECT_FALSE(r.checked);
  Resume();
  ASSERT_TRUE(idx_->Describe(&r));
  EXPECT_FALSE(r.loading);
  EXPECT_EQ(r.scan, Quantization::kNone);  // Options(): exact scores
}

}  // namespace
}  // namespace rekall
