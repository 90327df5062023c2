// The brute index's 1-bit codes stored in the file (stored_codes.h, issue 14
// #3): written from a load, read back by a fresh index, answering as the
// in-memory 1-bit path does, following another connection's writes, and
// never trusted when they are damaged or cannot be proven current.
#include <gtest/gtest.h>

#include <future>

#include "index/backend_base.h"
#include "index/brute_force_index.h"
#include "index/index_source.h"
#include "index/index_test_util.h"
#include "index/simd.h"
#include "index/stored_codes.h"

namespace rekall {
namespace {

using index_internal::StoredCodes;
using testing::ExecOrDie;
using testing::Id;
using testing::Meta;
using testing::RandomUnit;
using testing::TempDb;

constexpr int kDim = 64;  // one 64-bit word a code

// Filters from none to fine (1 entry in 30).
std::vector<Filter> Filters() {
  std::vector<Filter> f(6);
  f[1].status = "active";
  f[2].tags = {"even"};
  f[3].type = "pattern";
  f[4].project = "";
  f[5].type = "decision";
  f[5].project = "p1";
  f[5].status = "obsolete";
  return f;
}

class StoredCodesTest : public ::testing::Test {
 protected:
  // n entries with vectors around a few directions, so that the codes tell
  // near from far.
  void Fill(int n) {
    ExecOrDie(db_.db(), "PRAGMA journal_mode = WAL");
    ASSERT_TRUE(index_internal::CreateStoredCodesTable(db_.db()).ok());
    std::mt19937_64 rng(5);
    std::vector<std::vector<float>> centers;
    for (int c = 0; c < 20; ++c) centers.push_back(RandomUnit(rng, kDim));
    ExecOrDie(db_.db(), "BEGIN");
    for (int i = 0; i < n; ++i) {
      std::vector<float> v = RandomUnit(rng, kDim);
      for (int j = 0; j < kDim; ++j) v[j] = centers[i % 20][j] + 0.4f * v[j];
      testing::WriteEntryRows(db_.db(), Id(i), v, Meta(i));
    }
    ExecOrDie(db_.db(), "COMMIT");
    other_ = db_.Open();
  }
  void TearDown() override { sqlite3_close(other_); }

  IndexOptions Options(Quantization q = Quantization::kNone) const {
    IndexOptions o;
    o.backend = IndexBackend::kBrute;
    o.dim = kDim;
    o.quantization = q;
    o.bits_candidates = candidates_;
    o.codes_min_rows = 1;
    return o;
  }

  // The codes of a load through a second connection, as a server takes them.
  StoredCodes LoadCodes() {
    sqlite3* read_db = db_.Open();
    std::unique_ptr<VectorIndex> idx;
    StoredCodes c;
    EXPECT_TRUE(LoadBruteForceIndex(db_.db(), read_db, Options(), nullptr, &idx, &c).ok());
    sqlite3_close(read_db);
    return c;
  }
  void StoreCodes() {
    bool written = false;
    ASSERT_TRUE(index_internal::WriteStoredCodes(db_.db(), LoadCodes(), &written).ok());
    ASSERT_TRUE(written);
  }

  static std::vector<float> Padded(const std::vector<float>& q) {
    std::vector<float> p(index_internal::RoundUp(kDim, simd::kFloatLanes), 0.0f);
    std::copy(q.begin(), q.end(), p.begin());
    index_internal::Normalize(p.data(), kDim);
    return p;
  }

  // The stored codes' answer (*answered: whether they could give one).
  std::vector<Hit> CodesSearch(const std::vector<float>& q, int k, const Filter& f, bool* answered,
                               index_internal::CodesAnswer* why = nullptr) {
    StoredCodes c;
    EXPECT_TRUE(index_internal::ReadStoredCodes(db_.db(), kDim, &c));
    std::vector<Hit> out;
    const size_t candidates = std::max<size_t>(Options().bits_candidates, size_t(k) * 20);
    index_internal::CodesAnswer answer;
    Status s = index_internal::StoredCodesSearch(db_.db(), c, Padded(q), k, f, candidates, &out, &answer);
    EXPECT_TRUE(s.ok()) << s.ToString();
    *answered = answer == index_internal::CodesAnswer::kAnswered;
    if (why) *why = answer;
    return out;
  }

  // A brute index loaded afresh on a third connection.
  std::vector<Hit> FreshSearch(Quantization quant, const std::vector<float>& q, int k, const Filter& f) {
    sqlite3* third = db_.Open();
    std::unique_ptr<VectorIndex> idx;
    std::string notice;
    std::vector<Hit> out;
    EXPECT_TRUE(OpenVectorIndex(third, Options(quant), &idx, &notice).ok());
    EXPECT_TRUE(idx->Search(q.data(), kDim, k, f, &out).ok());
    idx.reset();
    sqlite3_close(third);
    return out;
  }

  static void ExpectSame(const std::vector<Hit>& got, const std::vector<Hit>& want, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].entry_id, want[i].entry_id) << what << " rank " << i;
      EXPECT_EQ(got[i].score, want[i].score) << what << " rank " << i;
    }
  }

  // Every filter's codes answer equals an exact fresh index's (few rows:
  // every one is rescored).
  void ExpectCodesExact() {
    std::mt19937_64 rng(9);
    for (const Filter& f : Filters()) {
      for (int k : {1, 10, 1000}) {
        auto q = RandomUnit(rng, kDim);
        bool answered = false;
        std::vector<Hit> got = CodesSearch(q, k, f, &answered);
        EXPECT_TRUE(answered) << "k " << k;
        ExpectSame(got, FreshSearch(Quantization::kNone, q, k, f), "k " + std::to_string(k));
      }
    }
  }

  std::vector<float> Vec(uint64_t seed) {
    std::mt19937_64 rng(seed);
    return RandomUnit(rng, kDim);
  }

  TempDb db_;
  sqlite3* other_ = nullptr;
  // Rows rescored by the 1-bit paths (IndexOptions::bits_candidates): past
  // the 300 rows of the small tests, with twice as many read by code.
  size_t candidates_ = 1000;
};

TEST_F(StoredCodesTest, WrittenCodesReadBack) {
  Fill(300);
  StoredCodes c = LoadCodes();
  ASSERT_EQ(c.rowids.size(), 300u);
  bool written = false;
  ASSERT_TRUE(index_internal::WriteStoredCodes(db_.db(), c, &written).ok());
  EXPECT_TRUE(written);
  StoredCodes back;
  ASSERT_TRUE(index_internal::ReadStoredCodes(db_.db(), kDim, &back));
  EXPECT_EQ(back.marks, c.marks);
  EXPECT_EQ(back.mean, c.mean);
  EXPECT_EQ(back.rowids, c.rowids);
  EXPECT_EQ(back.codes, c.codes);
  // Few rows, all within the candidates: the recall check keeps them all.
  EXPECT_EQ(c.candidates, candidates_);
  EXPECT_EQ(back.candidates, c.candidates);
  // Current already: not written again.
  ASSERT_TRUE(index_internal::WriteStoredCodes(db_.db(), c, &written).ok());
  EXPECT_FALSE(written);
  // Another dimension is no codes.
  EXPECT_FALSE(index_internal::ReadStoredCodes(db_.db(), kDim * 2, &back));
}

// Few rows: all are rescored, so the codes answer exactly, before and
// after another connection adds, edits (vector, metadata, tags) and deletes.
TEST_F(StoredCodesTest, FollowsAnotherConnectionsWrites) {
  Fill(300);
  StoreCodes();
  ExpectCodesExact();
  testing::WriteEntryRows(other_, "added", Vec(1), Meta(1), "2026-03-01");
  testing::WriteEntryRows(other_, Id(7), Vec(2), Meta(8), "2026-03-02");  // new vector, new metadata
  ExecOrDie(other_, "UPDATE entries SET status = 'obsolete', updated_at = '2026-03-03' WHERE id = '" + Id(12) + "'");
  testing::DeleteEntryRows(other_, Id(10));
  ExecOrDie(other_, "DELETE FROM entries WHERE id = '" + Id(11) + "'");  // its embedding left behind
  ExpectCodesExact();
  bool answered = false;
  std::vector<Hit> hits = CodesSearch(Vec(1), 1, Filter{}, &answered);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entry_id, "added");
}

// More rows than the candidates: the codes pick the same candidates as the
// in-memory 1-bit path (same codes, same count, same order of ties), so
// they give its answers, for every filter that lets enough rows through;
// a fine filter is left to the exact scan.
TEST_F(StoredCodesTest, AnswersAsTheInMemoryBitsPath) {
  candidates_ = 50;
  Fill(3000);
  StoreCodes();
  std::mt19937_64 rng(11);
  int answered_fine = 0;
  for (const Filter& f : Filters()) {
    for (int k : {1, 10}) {
      auto q = RandomUnit(rng, kDim);
      bool answered = false;
      index_internal::CodesAnswer why;
      std::vector<Hit> got = CodesSearch(q, k, f, &answered, &why);
      if (!answered) {
        EXPECT_EQ(why, index_internal::CodesAnswer::kTooFine);
        EXPECT_TRUE(got.empty());
        continue;
      }
      if (f.type) ++answered_fine;
      ExpectSame(got, FreshSearch(Quantization::kBits, q, k, f), "k " + std::to_string(k));
    }
  }
  EXPECT_EQ(answered_fine, 0);  // a type filter lets 1 row in 3 through: too few
  bool answered = false;
  CodesSearch(Vec(3), 10, Filter{}, &answered);
  EXPECT_TRUE(answered);
  CodesSearch(Vec(3), 10, Filters()[1], &answered);
  EXPECT_TRUE(answered);  // status = active: 4 rows in 5
}

// Many rows: a row added or edited since is scored exactly, a deleted one
// never returned.
TEST_F(StoredCodesTest, ChangedRowsAmongManyAreScoredExactly) {
  candidates_ = 50;
  Fill(3000);
  StoreCodes();
  std::vector<Hit> before = FreshSearch(Quantization::kNone, Vec(20), 1, Filter{});
  ASSERT_EQ(before.size(), 1u);
  testing::WriteEntryRows(other_, "added", Vec(21), Meta(1), "2026-03-01");
  testing::WriteEntryRows(other_, Id(40), Vec(22), Meta(40), "2026-03-02");
  testing::DeleteEntryRows(other_, before[0].entry_id);
  bool answered = false;
  std::vector<Hit> hits = CodesSearch(Vec(21), 1, Filter{}, &answered);
  ASSERT_TRUE(answered);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entry_id, "added");
  hits = CodesSearch(Vec(22), 1, Filter{}, &answered);
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entry_id, Id(40));
  hits = CodesSearch(Vec(20), 3000, Filter{}, &answered);
  ASSERT_TRUE(answered);
  EXPECT_EQ(hits.size(), 3000u);  // 3000 + 1 added - 1 deleted
  for (const Hit& h : hits) EXPECT_NE(h.entry_id, before[0].entry_id);
}

// A schema change or VACUUM: the marks prove nothing, the codes do not answer.
TEST_F(StoredCodesTest, NotTrustedAfterVacuumOrSchemaChange) {
  Fill(300);
  StoreCodes();
  bool answered = false;
  CodesSearch(Vec(1), 10, Filter{}, &answered);
  EXPECT_TRUE(answered);
  index_internal::CodesAnswer why;
  ExecOrDie(other_, "CREATE TABLE unrelated(x)");
  CodesSearch(Vec(1), 10, Filter{}, &answered, &why);
  EXPECT_EQ(why, index_internal::CodesAnswer::kStale);
  StoreCodes();
  CodesSearch(Vec(1), 10, Filter{}, &answered);
  EXPECT_TRUE(answered);
  ExecOrDie(other_, "VACUUM");
  CodesSearch(Vec(1), 10, Filter{}, &answered, &why);
  EXPECT_EQ(why, index_internal::CodesAnswer::kStale);
}

// Damaged codes are no codes: never read, never a crash.
TEST_F(StoredCodesTest, DamagedCodesAreNotRead) {
  Fill(5000);  // two chunks
  StoredCodes c;
  EXPECT_FALSE(index_internal::ReadStoredCodes(db_.db(), kDim, &c));  // empty table
  const std::vector<std::string> damage = {
      "UPDATE rekall_index_codes SET data = substr(data, 1, 100) WHERE chunk = 2",
      "UPDATE rekall_index_codes SET keys = substr(keys, 1, 16) WHERE chunk = 1",
      "UPDATE rekall_index_codes SET data = zeroblob(4) WHERE chunk = 0",
      "UPDATE rekall_index_codes SET keys = CAST('marks1 1 2' AS BLOB) WHERE chunk = 0",
      "UPDATE rekall_index_codes SET keys = CAST(replace(CAST(keys AS TEXT), 'bits2', 'bits9') AS BLOB)"
      " WHERE chunk = 0",
      "UPDATE rekall_index_codes SET keys = CAST(replace(CAST(keys AS TEXT), ' 5000 ', ' 999999999999 ') AS BLOB)"
      " WHERE chunk = 0",
      "UPDATE rekall_index_codes SET keys = x'' WHERE chunk = 0",
      "UPDATE rekall_index_codes SET data = x'' WHERE chunk = 1",
      "DELETE FROM rekall_index_codes WHERE chunk = 2",
      "INSERT INTO rekall_index_codes VALUES (3, x'00', x'00')",
      "DELETE FROM rekall_index_codes WHERE chunk = 0",
      // Damage that keeps every size (hostile test of bits1): only the
      // checksum tells.
      "UPDATE rekall_index_codes SET data = zeroblob(length(data)) WHERE chunk = 1",
      "UPDATE rekall_index_codes SET keys = zeroblob(length(keys)) WHERE chunk = 2",
      "UPDATE rekall_index_codes SET data = (SELECT data FROM rekall_index_codes WHERE chunk = 1) WHERE chunk = 2",
      "UPDATE rekall_index_codes SET data = zeroblob(length(data)) WHERE chunk = 0",
      "UPDATE rekall_index_codes SET data = substr(data, 1, length(data) - 1) || x'ff' WHERE chunk = 2",
      // A layout-1 table (before the checksum): no codes, rewritten later.
      "UPDATE rekall_index_codes SET keys = CAST(replace(replace(CAST(keys AS TEXT), 'bits2', 'bits1'),"
      " ' ' || substr(CAST(keys AS TEXT), length(rtrim(CAST(keys AS TEXT), '0123456789')) + 1), '') AS BLOB)"
      " WHERE chunk = 0",
  };
  for (const std::string& sql : damage) {
    StoreCodes();
    ASSERT_TRUE(index_internal::ReadStoredCodes(db_.db(), kDim, &c)) << sql;
    ExecOrDie(db_.db(), sql);
    EXPECT_FALSE(index_internal::ReadStoredCodes(db_.db(), kDim, &c)) << sql;
    ExecOrDie(db_.db(), "DELETE FROM rekall_index_codes");
  }
  ExecOrDie(db_.db(), "DROP TABLE rekall_index_codes");
  EXPECT_FALSE(index_internal::ReadStoredCodes(db_.db(), kDim, &c));
}

// End to end: a server's background load stores the codes; the next one
// answers from them while it loads (held in its snapshot here), through
// another connection's writes, as an exact fresh index does.
TEST_F(StoredCodesTest, BackgroundLoadStoresCodesForTheNext) {
  Fill(300);
  ExecOrDie(db_.db(), "DROP TABLE rekall_index_codes");  // created by the load
  {
    IndexOptions o = Options();
    o.load_in_background = true;
    std::promise<void> done;
    o.background_load_hook = [&](bool loaded) {
      if (loaded) done.set_value();
    };
    std::unique_ptr<VectorIndex> idx;
    std::string notice;
    ASSERT_TRUE(OpenVectorIndex(db_.db(), o, &idx, &notice).ok());
    done.get_future().wait();
  }
  StoredCodes c;
  ASSERT_TRUE(index_internal::ReadStoredCodes(db_.db(), kDim, &c));
  EXPECT_EQ(c.rowids.size(), 300u);
  index_internal::SourceMarks now;
  ASSERT_TRUE(index_internal::ReadSourceMarks(db_.db(), &now).ok());
  EXPECT_EQ(c.marks, now);

  testing::PausedLoad pause;
  std::unique_ptr<VectorIndex> idx = pause.Open(db_.db(), Options());
  ASSERT_TRUE(idx);
  testing::WriteEntryRows(other_, "added", Vec(1), Meta(1), "2026-03-01");
  testing::DeleteEntryRows(other_, Id(10));
  std::mt19937_64 rng(13);
  for (const Filter& f : Filters()) {
    auto q = RandomUnit(rng, kDim);
    std::vector<Hit> got;
    ASSERT_TRUE(idx->Search(q.data(), kDim, 10, f, &got).ok());
    ExpectSame(got, FreshSearch(Quantization::kNone, q, 10, f), "loading");
  }
  pause.Release();
  idx.reset();
}

// Rows the 1-bit codes cannot tell apart (random vectors) with no room to
// widen the candidates: the recall check run on the exported codes finds
// no count enough, the codes say so (0 candidates) in the file, and a
// fresh server's searches during its load scan exactly instead.
TEST_F(StoredCodesTest, CodesTheRecallCheckRejectsAnswerNothing) {
  ExecOrDie(db_.db(), "PRAGMA journal_mode = WAL");
  std::mt19937_64 rng(31);
  ExecOrDie(db_.db(), "BEGIN");
  for (int i = 0; i < 3000; ++i) testing::WriteEntryRows(db_.db(), Id(i), RandomUnit(rng, kDim), Meta(i));
  ExecOrDie(db_.db(), "COMMIT");
  other_ = db_.Open();
  IndexOptions o = Options(Quantization::kAuto);
  o.bits_candidates = o.bits_max_candidates = 12;
  sqlite3* read_db = db_.Open();
  std::unique_ptr<VectorIndex> idx;
  StoredCodes c;
  ASSERT_TRUE(LoadBruteForceIndex(db_.db(), read_db, o, nullptr, &idx, &c).ok());
  sqlite3_close(read_db);
  ASSERT_EQ(c.rowids.size(), 3000u);
  EXPECT_EQ(c.candidates, 0u);
  bool written = false;
  ASSERT_TRUE(index_internal::CreateStoredCodesTable(db_.db()).ok());
  ASSERT_TRUE(index_internal::WriteStoredCodes(db_.db(), c, &written).ok());
  ASSERT_TRUE(written);
  StoredCodes back;
  ASSERT_TRUE(index_internal::ReadStoredCodes(db_.db(), kDim, &back));
  EXPECT_EQ(back.candidates, 0u);

  // A server loading with these codes in the file answers exactly meanwhile.
  testing::PausedLoad pause;
  std::unique_ptr<VectorIndex> server = pause.Open(db_.db(), o);
  ASSERT_TRUE(server);
  for (int t = 0; t < 5; ++t) {
    auto q = RandomUnit(rng, kDim);
    std::vector<Hit> got;
    ASSERT_TRUE(server->Search(q.data(), kDim, 10, Filter{}, &got).ok());
    ExpectSame(got, FreshSearch(Quantization::kNone, q, 10, Filter{}), "loading");
  }
  pause.Release();
  server.reset();
}

}  // namespace
}  // namespace rekall
