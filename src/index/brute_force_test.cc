// Brute-force specifics: the in-memory index against a reference under a
// random mix of operations, the threaded scan, and int8 recall.
#include "index/brute_force_index.h"

#include <gtest/gtest.h>

#include "index/index_test_util.h"

namespace rekall {
namespace {

using testing::RandomUnit;
using testing::RefEntry;
using testing::ExpectMatchesReference;
using testing::ReferenceSearch;

IndexOptions InMemory(int dim) {
  IndexOptions o;
  o.dim = dim;
  o.backend = IndexBackend::kBrute;
  return o;
}

// Without a database the vectors exist nowhere else: nothing is released.
TEST(BruteForceIndex, InMemoryIndexKeepsItsVectorsOnRelease) {
  auto idx = NewBruteForceIndex(nullptr, InMemory(8));
  std::map<std::string, RefEntry> ref;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 20; ++i) {
    auto v = RandomUnit(rng, 8);
    EntryMeta m{"bug", "", "active", {}};
    ASSERT_TRUE(idx->Upsert("e" + std::to_string(i), v.data(), 8, m).ok());
    ref["e" + std::to_string(i)] = RefEntry{v, m};
  }
  EXPECT_FALSE(idx->ReleaseMemory());
  size_t n = 0;
  ASSERT_TRUE(idx->Count(&n).ok());
  EXPECT_EQ(n, 20u);
  ExpectMatchesReference(idx.get(), ref, RandomUnit(rng, 8), 5);
}

// Odd dimensions exercise the zero padding of rows and queries.
TEST(BruteForceIndex, RandomOperationsMatchReference) {
  for (int dim : {3, 17, 384}) {
    auto idx = NewBruteForceIndex(nullptr, InMemory(dim));
    std::map<std::string, RefEntry> ref;
    std::mt19937_64 rng(dim);
    std::uniform_int_distribution<int> id_of(0, 299), op(0, 9);
    for (int step = 0; step < 3000; ++step) {
      std::string id = "e" + std::to_string(id_of(rng));
      if (op(rng) < 7) {
        EntryMeta m;
        m.type = op(rng) < 5 ? "bug" : "pattern";
        m.status = "active";
        if (op(rng) < 3) m.tags = {"x"};
        auto v = RandomUnit(rng, dim);
        ASSERT_TRUE(idx->Upsert(id, v.data(), dim, m).ok());
        ref[id] = RefEntry{v, m};
      } else {
        ASSERT_TRUE(idx->Remove(id).ok());
        ref.erase(id);
      }
      if (step % 300 == 0) {
        size_t n = 0;
        ASSERT_TRUE(idx->Count(&n).ok());
        ASSERT_EQ(n, ref.size());
        ExpectMatchesReference(idx.get(), ref, RandomUnit(rng, dim), 7);
        Filter f;
        f.type = "pattern";
        f.tags = {"x"};
        ExpectMatchesReference(idx.get(), ref, RandomUnit(rng, dim), 7, f);
      }
    }
  }
}

TEST(BruteForceIndex, ThreadedScanMatchesSingleThread) {
  const int dim = 64;
  IndexOptions o = InMemory(dim);
  o.threads = 4;
  o.parallel_threshold = 100;  // force the split on a small base
  auto idx = NewBruteForceIndex(nullptr, o);
  std::map<std::string, RefEntry> ref;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 5000; ++i) {
    EntryMeta m;
    m.type = i % 3 ? "bug" : "pattern";
    auto v = RandomUnit(rng, dim);
    ASSERT_TRUE(idx->Upsert("id" + std::to_string(i), v.data(), dim, m).ok());
    ref["id" + std::to_string(i)] = RefEntry{v, m};
  }
  for (int i = 0; i < 5; ++i) {
    ExpectMatchesReference(idx.get(), ref, RandomUnit(rng, dim), 25);
    Filter f;
    f.type = "pattern";
    ExpectMatchesReference(idx.get(), ref, RandomUnit(rng, dim), 25, f);
  }
}

// int8 pre-scan + float rescoring: recall@10 against the exact top 10 on a
// base with uneven per-dimension ranges (as real embeddings have).
TEST(BruteForceIndex, QuantizedRecall) {
  const int dim = 384, n = 30000, queries = 50, k = 10;
  IndexOptions o = InMemory(dim);
  o.quantization = Quantization::kInt8;
  auto q8 = NewBruteForceIndex(nullptr, o);
  o.quantization = Quantization::kNone;
  auto exact = NewBruteForceIndex(nullptr, o);
  std::mt19937_64 rng(7);
  std::normal_distribution<float> nd;
  std::vector<float> bias(dim);
  for (float& b : bias) b = nd(rng) * 0.3f;
  auto sample = [&] {
    auto v = RandomUnit(rng, dim);
    for (int j = 0; j < dim; ++j) v[j] = v[j] * (j % 16 == 0 ? 4.0f : 1.0f) + bias[j] * 0.05f;
    return v;
  };
  for (int i = 0; i < n; ++i) {
    auto v = sample();
    EntryMeta m;
    m.type = i % 2 ? "bug" : "pattern";
    ASSERT_TRUE(q8->Upsert("id" + std::to_string(i), v.data(), dim, m).ok());
    ASSERT_TRUE(exact->Upsert("id" + std::to_string(i), v.data(), dim, m).ok());
  }
  size_t found = 0;
  for (int t = 0; t < queries; ++t) {
    auto q = sample();
    std::vector<Hit> a, b;
    Filter f;
    if (t % 2) f.type = "bug";
    ASSERT_TRUE(q8->Search(q.data(), dim, k, f, &a).ok());
    ASSERT_TRUE(exact->Search(q.data(), dim, k, f, &b).ok());
    ASSERT_EQ(a.size(), size_t(k));
    for (const Hit& h : a) {
      for (const Hit& g : b) found += h.entry_id == g.entry_id;
    }
    // Returned scores are exact float32 scores, whatever the pre-scan said.
    for (size_t i = 0; i + 1 < a.size(); ++i) EXPECT_GE(a[i].score, a[i + 1].score);
  }
  const double recall = double(found) / (queries * k);
  EXPECT_GE(recall, 0.95);
  std::printf("int8 recall@10 = %.4f\n", recall);

  // Updates after the quantized matrix exists keep it consistent.
  std::map<std::string, RefEntry> ref;
  for (int i = 0; i < 200; ++i) {
    auto v = sample();
    ASSERT_TRUE(q8->Upsert("id" + std::to_string(i), v.data(), dim, EntryMeta{}).ok());
    ASSERT_TRUE(q8->Remove("id" + std::to_string(n - 1 - i)).ok());
  }
  size_t count = 0;
  ASSERT_TRUE(q8->Count(&count).ok());
  EXPECT_EQ(count, size_t(n - 200));
  auto v = sample();
  ASSERT_TRUE(q8->Upsert("id5", v.data(), dim, EntryMeta{}).ok());
  std::vector<Hit> hits;
  ASSERT_TRUE(q8->Search(v.data(), dim, 1, {}, &hits).ok());
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].entry_id, "id5");
}

// Clustered and far from centred, like sentence embeddings: a common
// direction every vector shares, 50 topics, and noise.
class ClusteredUnits {
 public:
  ClusteredUnits(int dim, float noise, uint64_t seed)
      : dim_(dim), noise_(noise), rng_(seed), common_(RandomUnit(rng_, dim)) {
    for (int c = 0; c < 50; ++c) centres_.push_back(RandomUnit(rng_, dim));
  }
  std::vector<float> Next() {
    const auto& c = centres_[rng_() % centres_.size()];
    auto v = RandomUnit(rng_, dim_);
    for (int j = 0; j < dim_; ++j) v[j] = 0.6f * common_[j] + 0.4f * c[j] + noise_ * v[j];
    return v;
  }
  std::mt19937_64& rng() { return rng_; }

 private:
  int dim_;
  float noise_;
  std::mt19937_64 rng_;
  std::vector<float> common_;
  std::vector<std::vector<float>> centres_;
};

// Fraction of the exact top k (over the same base) that `idx` returns, over
// `queries` searches, with filters of 1/2 (a masked full scan) and 1/8 (the
// gathered rows) on every third query each.
double RecallVsExact(VectorIndex* idx, VectorIndex* exact, ClusteredUnits* gen, int queries, int k) {
  size_t found = 0;
  for (int t = 0; t < queries; ++t) {
    auto q = gen->Next();
    Filter f;
    if (t % 3 == 1) f.type = "t0";
    if (t % 3 == 2) f.project = "p0";
    std::vector<Hit> a, b;
    EXPECT_TRUE(idx->Search(q.data(), int(q.size()), k, f, &a).ok());
    EXPECT_TRUE(exact->Search(q.data(), int(q.size()), k, f, &b).ok());
    EXPECT_EQ(a.size(), size_t(k));
    for (const Hit& h : a) {
      for (const Hit& g : b) found += h.entry_id == g.entry_id;
    }
    // Returned scores are exact float32 scores, whatever the pre-scan said.
    for (size_t i = 0; i + 1 < a.size(); ++i) EXPECT_GE(a[i].score, a[i + 1].score);
  }
  return double(found) / (queries * k);
}

EntryMeta MetaOf(int i) { return EntryMeta{"t" + std::to_string(i % 2), "p" + std::to_string(i % 8), "active", {}}; }

// 1-bit pre-scan + float rescoring: recall@10 against the exact top 10 on a
// clustered, non-centred base, unfiltered and filtered.
TEST(BruteForceIndex, BitsRecallOnClusteredVectors) {
  const int dim = 384, n = 40000, k = 10;
  IndexOptions o = InMemory(dim);
  o.quantization = Quantization::kBits;
  o.bits_candidates = 1000;
  o.threads = 3;
  o.parallel_threshold = 1000;  // split the scan at row counts that end inside a code block
  auto bits = NewBruteForceIndex(nullptr, o);
  o.quantization = Quantization::kNone;
  auto exact = NewBruteForceIndex(nullptr, o);
  ClusteredUnits gen(dim, 0.7f, 11);
  for (int i = 0; i < n; ++i) {
    auto v = gen.Next();
    ASSERT_TRUE(bits->Upsert("id" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
    ASSERT_TRUE(exact->Upsert("id" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
  }
  const double recall = RecallVsExact(bits.get(), exact.get(), &gen, 60, k);
  EXPECT_GE(recall, 0.95);
  std::printf("1-bit recall@10 = %.4f\n", recall);
}

// Upserts, swap-removes and overwrites after the codes exist keep them
// consistent: the edited index answers as one built afresh from the final
// contents, and every entry is its own nearest neighbour.
TEST(BruteForceIndex, BitsAfterEditsEqualFreshIndex) {
  const int dim = 384, n = 6000, k = 10;
  IndexOptions o = InMemory(dim);
  o.quantization = Quantization::kBits;
  o.bits_candidates = 600;
  auto edited = NewBruteForceIndex(nullptr, o);
  ClusteredUnits gen(dim, 0.5f, 12);
  std::map<std::string, std::vector<float>> final_rows;
  auto put = [&](const std::string& id, int i) {
    auto v = gen.Next();
    ASSERT_TRUE(edited->Upsert(id, v.data(), dim, MetaOf(i)).ok());
    final_rows[id] = v;
  };
  for (int i = 0; i < n; ++i) put("id" + std::to_string(i), i);
  std::vector<Hit> hits;
  auto q0 = gen.Next();
  ASSERT_TRUE(edited->Search(q0.data(), dim, k, {}, &hits).ok());  // builds the codes
  std::uniform_int_distribution<int> pick(0, n - 1);
  for (int step = 0; step < 3000; ++step) {
    const int i = pick(gen.rng());
    const std::string id = "id" + std::to_string(i);
    if (step % 3 == 0) {
      ASSERT_TRUE(edited->Remove(id).ok());
      final_rows.erase(id);
    } else {
      put(step % 3 == 1 ? id : "new" + std::to_string(step), i);
    }
  }
  auto fresh = NewBruteForceIndex(nullptr, o);
  int i = 0;
  for (const auto& [id, v] : final_rows) ASSERT_TRUE(fresh->Upsert(id, v.data(), dim, MetaOf(i++)).ok());
  for (int t = 0; t < 20; ++t) {
    auto q = gen.Next();
    std::vector<Hit> a, b;
    ASSERT_TRUE(edited->Search(q.data(), dim, k, {}, &a).ok());
    ASSERT_TRUE(fresh->Search(q.data(), dim, k, {}, &b).ok());
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) EXPECT_EQ(a[j].entry_id, b[j].entry_id);
  }
  int checked = 0;
  for (const auto& [id, v] : final_rows) {
    if (checked++ % 40) continue;
    ASSERT_TRUE(edited->Search(v.data(), dim, 1, {}, &hits).ok());
    ASSERT_EQ(hits.size(), 1u);
    EXPECT_EQ(hits[0].entry_id, id);
  }
}

// Over a database: the codes are dropped with the rest by ReleaseMemory and
// by a rebuild after another connection's write, and rebuilt from the
// reloaded rows; answers stay those of a fresh index.
TEST(BruteForceIndex, BitsSurviveReleaseAndRebuild) {
  const int dim = 384, n = 3000, k = 10;
  testing::TempDb db;
  ClusteredUnits gen(dim, 0.5f, 13);
  testing::ExecOrDie(db.db(), "BEGIN");
  for (int i = 0; i < n; ++i) testing::WriteEntryRows(db.db(), "id" + std::to_string(i), gen.Next(), MetaOf(i));
  testing::ExecOrDie(db.db(), "COMMIT");
  IndexOptions o = InMemory(dim);
  o.quantization = Quantization::kBits;
  o.bits_candidates = 300;
  auto idx = NewBruteForceIndex(db.db(), o);
  std::vector<std::vector<float>> qs;
  std::vector<std::vector<Hit>> before(10);
  for (int t = 0; t < 10; ++t) {
    qs.push_back(gen.Next());
    ASSERT_TRUE(idx->Search(qs[t].data(), dim, k, {}, &before[t]).ok());
    ASSERT_EQ(before[t].size(), size_t(k));
  }
  auto same_as_before = [&](VectorIndex* x) {
    for (int t = 0; t < 10; ++t) {
      std::vector<Hit> h;
      ASSERT_TRUE(x->Search(qs[t].data(), dim, k, {}, &h).ok());
      ASSERT_EQ(h.size(), before[t].size());
      for (size_t j = 0; j < h.size(); ++j) EXPECT_EQ(h[j].entry_id, before[t][j].entry_id);
    }
  };
  EXPECT_TRUE(idx->ReleaseMemory());
  same_as_before(idx.get());
  // Another connection moves an entry onto the first query: a rebuild.
  sqlite3* other = db.Open();
  testing::WriteEntryRows(other, "id0", qs[0], MetaOf(0));
  sqlite3_close_v2(other);
  std::vector<Hit> h;
  ASSERT_TRUE(idx->Search(qs[0].data(), dim, 1, {}, &h).ok());
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].entry_id, "id0");
  auto fresh = NewBruteForceIndex(db.db(), o);
  for (int t = 0; t < 10; ++t) {
    std::vector<Hit> a, b;
    ASSERT_TRUE(idx->Search(qs[t].data(), dim, k, {}, &a).ok());
    ASSERT_TRUE(fresh->Search(qs[t].data(), dim, k, {}, &b).ok());
    ASSERT_EQ(a.size(), b.size());
    for (size_t j = 0; j < a.size(); ++j) EXPECT_EQ(a[j].entry_id, b[j].entry_id);
  }
}

}  // namespace
}  // namespace rekall

namespace rekall {
namespace {

// kAuto's recall self-check, at a size made small by its thresholds: the
// 1-bit codes are built at 10,000 rows instead of 100,000.
IndexOptions AutoFrom10K(int dim) {
  IndexOptions o = InMemory(dim);
  o.quantization = Quantization::kAuto;
  o.bits_threshold = o.quantize_threshold = 10000;
  o.threads = 2;
  return o;
}

// recall@10 of `idx` against an exact index over the same rows, on random
// unit queries (the real queries of a base of random vectors).
double RecallOnRandomQueries(VectorIndex* idx, VectorIndex* exact, int dim, int queries, uint64_t seed) {
  std::mt19937_64 rng(seed);
  size_t found = 0, total = 0;
  for (int t = 0; t < queries; ++t) {
    auto q = RandomUnit(rng, dim);
    std::vector<Hit> a, b;
    EXPECT_TRUE(idx->Search(q.data(), dim, 10, {}, &a).ok());
    EXPECT_TRUE(exact->Search(q.data(), dim, 10, {}, &b).ok());
    total += b.size();
    for (const Hit& h : b) {
      for (const Hit& g : a) found += h.entry_id == g.entry_id;
    }
  }
  return total ? double(found) / double(total) : 1.0;
}

// Random unit vectors, the 1-bit pre-scan's worst case: alone it misses
// much of the exact top 10; kAuto's check notices, widens the candidates or
// takes the int8 scan, and the searches find the exact top 10 again.
TEST(BruteForceIndex, AutoCheckKeepsRecallOnRandomVectors) {
  const int dim = 384, n = 20000;
  IndexOptions unchecked = AutoFrom10K(dim);
  unchecked.bits_check_queries = 0;
  IndexOptions exact_opts = InMemory(dim);
  exact_opts.quantization = Quantization::kNone;
  auto plain = NewBruteForceIndex(nullptr, unchecked);
  auto checked = NewBruteForceIndex(nullptr, AutoFrom10K(dim));
  auto exact = NewBruteForceIndex(nullptr, exact_opts);
  std::mt19937_64 rng(21);
  for (int i = 0; i < n; ++i) {
    auto v = RandomUnit(rng, dim);
    for (VectorIndex* x : {plain.get(), checked.get(), exact.get()})
      ASSERT_TRUE(x->Upsert("id" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
  }
  const double before = RecallOnRandomQueries(plain.get(), exact.get(), dim, 60, 5);
  const double after = RecallOnRandomQueries(checked.get(), exact.get(), dim, 60, 5);
  std::printf("recall@10 on random vectors: unchecked 1-bit %.4f, self-checked %.4f\n", before, after);
  EXPECT_LT(before, 0.95);  // the data is hostile to the plain 1-bit path
  EXPECT_GE(after, 0.95);
  ScanReport r;
  ASSERT_TRUE(checked->Describe(&r));
  EXPECT_TRUE(r.checked);
  EXPECT_EQ(r.check_queries, 64);
  EXPECT_TRUE(r.scan == Quantization::kInt8 || (r.scan == Quantization::kBits && r.candidates > 1000));
  ASSERT_TRUE(plain->Describe(&r));
  EXPECT_FALSE(r.checked);
  EXPECT_EQ(r.scan, Quantization::kBits);
  EXPECT_EQ(r.candidates, 1000u);
}

// With no room to widen the candidates, a check that falls short hands the
// index to the int8 scan, and says what the 1-bit path would have done.
TEST(BruteForceIndex, AutoCheckFallsBackToInt8) {
  const int dim = 384, n = 12000;
  IndexOptions o = AutoFrom10K(dim);
  o.bits_candidates = o.bits_max_candidates = 300;
  auto idx = NewBruteForceIndex(nullptr, o);
  IndexOptions eo = InMemory(dim);
  eo.quantization = Quantization::kNone;
  auto exact = NewBruteForceIndex(nullptr, eo);
  std::mt19937_64 rng(22);
  for (int i = 0; i < n; ++i) {
    auto v = RandomUnit(rng, dim);
    ASSERT_TRUE(idx->Upsert("id" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
    ASSERT_TRUE(exact->Upsert("id" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
  }
  EXPECT_GE(RecallOnRandomQueries(idx.get(), exact.get(), dim, 40, 6), 0.95);
  ScanReport r;
  ASSERT_TRUE(idx->Describe(&r));
  EXPECT_EQ(r.scan, Quantization::kInt8);
  EXPECT_EQ(r.candidates, 200u);  // rescore_factor 20 * k 10
  EXPECT_TRUE(r.checked);
  EXPECT_LT(r.bits_recall, 0.95);
  EXPECT_EQ(r.bits_candidates, 300u);
}

// Clustered, real-like vectors: the check passes at the configured
// candidates and the fast 1-bit path stays. (With the noisier generator,
// 0.7, the check estimated 0.9875 at 2000 where 1000 gave 0.998 to real
// queries: its sample queries are harder than real ones by ~0.01, and it
// widens rather than lose recall.)
TEST(BruteForceIndex, AutoCheckKeepsBitsOnClusteredVectors) {
  const int dim = 384, n = 20000;
  auto idx = NewBruteForceIndex(nullptr, AutoFrom10K(dim));
  IndexOptions eo = InMemory(dim);
  eo.quantization = Quantization::kNone;
  auto exact = NewBruteForceIndex(nullptr, eo);
  ClusteredUnits gen(dim, 0.5f, 23);
  for (int i = 0; i < n; ++i) {
    auto v = gen.Next();
    ASSERT_TRUE(idx->Upsert("id" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
    ASSERT_TRUE(exact->Upsert("id" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
  }
  const double recall = RecallVsExact(idx.get(), exact.get(), &gen, 60, 10);
  EXPECT_GE(recall, 0.95);
  ScanReport r;
  ASSERT_TRUE(idx->Describe(&r));
  std::printf("clustered: recall@10 %.4f; check %.4f (low %.4f) at %zu\n", recall, r.bits_recall, r.bits_recall_low,
              r.bits_candidates);
  EXPECT_EQ(r.scan, Quantization::kBits);
  EXPECT_EQ(r.candidates, 1000u);
  EXPECT_TRUE(r.checked);
  EXPECT_GE(r.bits_recall, 0.95);
  EXPECT_EQ(r.bits_candidates, 1000u);
}

// The same rows give the same verdict (a fixed seed).
TEST(BruteForceIndex, AutoCheckIsStable) {
  const int dim = 384, n = 15000;
  auto a = NewBruteForceIndex(nullptr, AutoFrom10K(dim));
  auto b = NewBruteForceIndex(nullptr, AutoFrom10K(dim));
  std::mt19937_64 rng(24);
  for (int i = 0; i < n; ++i) {
    auto v = RandomUnit(rng, dim);
    ASSERT_TRUE(a->Upsert("id" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
    ASSERT_TRUE(b->Upsert("id" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
  }
  std::vector<Hit> h;
  auto q = RandomUnit(rng, dim);
  ASSERT_TRUE(a->Search(q.data(), dim, 10, {}, &h).ok());
  ASSERT_TRUE(b->Search(q.data(), dim, 10, {}, &h).ok());
  ScanReport ra, rb;
  ASSERT_TRUE(a->Describe(&ra));
  ASSERT_TRUE(b->Describe(&rb));
  ASSERT_TRUE(ra.checked);
  EXPECT_EQ(ra.scan, rb.scan);
  EXPECT_EQ(ra.candidates, rb.candidates);
  EXPECT_EQ(ra.bits_recall, rb.bits_recall);
  EXPECT_EQ(ra.bits_candidates, rb.bits_candidates);
}

// The check runs again when the codes are fitted again: clustered rows
// pass it, then twice as many random rows added make the next search refit
// the codes, and the check moves the index to the int8 scan.
TEST(BruteForceIndex, AutoCheckRerunsWhenTheBaseDoubles) {
  const int dim = 384, n = 12000;
  IndexOptions o = AutoFrom10K(dim);
  o.bits_max_candidates = o.bits_candidates;  // no widening: pass or int8
  auto idx = NewBruteForceIndex(nullptr, o);
  ClusteredUnits gen(dim, 0.7f, 25);
  for (int i = 0; i < n; ++i) {
    auto v = gen.Next();
    ASSERT_TRUE(idx->Upsert("c" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
  }
  std::vector<Hit> h;
  auto q = gen.Next();
  ASSERT_TRUE(idx->Search(q.data(), dim, 10, {}, &h).ok());
  ScanReport r;
  ASSERT_TRUE(idx->Describe(&r));
  EXPECT_TRUE(r.checked);
  EXPECT_EQ(r.scan, Quantization::kBits);
  for (int i = 0; i < 2 * n + 2000; ++i) {
    auto v = RandomUnit(gen.rng(), dim);
    ASSERT_TRUE(idx->Upsert("r" + std::to_string(i), v.data(), dim, MetaOf(i)).ok());
  }
  ASSERT_TRUE(idx->Search(q.data(), dim, 10, {}, &h).ok());
  ASSERT_TRUE(idx->Describe(&r));
  EXPECT_TRUE(r.checked);
  EXPECT_EQ(r.scan, Quantization::kInt8);
  EXPECT_LT(r.bits_recall, 0.95);
}

}  // namespace
}  // namespace rekall
