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

}  // namespace
}  // namespace rekall
