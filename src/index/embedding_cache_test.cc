#include "index/embedding_cache.h"

#include <gtest/gtest.h>

#include <thread>

#include "util/fake_env_for_test.h"

namespace rekall {
namespace {

using namespace std::chrono_literals;

EmbeddingCache::Options Opts(FakeEnv* clock, size_t cap = 3, std::chrono::milliseconds ttl = 10s) {
  EmbeddingCache::Options o;
  o.capacity = cap;
  o.ttl = ttl;
  o.env = clock;
  return o;
}

// A cache of 3 holding a, b, c (vectors {1}, {2}, {3}), put in that order.
class FullCache : public ::testing::Test {
 protected:
  void SetUp() override {
    c.Put("a", {1});
    c.Put("b", {2});
    c.Put("c", {3});
  }
  FakeEnv clk;
  EmbeddingCache c{Opts(&clk)};
};

TEST(EmbeddingCache, Defaults) {
  EmbeddingCache::Options o;
  EXPECT_EQ(o.capacity, 1000u);
  EXPECT_EQ(o.ttl, 600s);
}

TEST_F(FullCache, EvictsLeastRecentlyUsed) {
  ASSERT_TRUE(c.Get("a"));  // a is now the most recent; b the least
  c.Put("d", {4});
  EXPECT_FALSE(c.Get("b"));
  EXPECT_TRUE(c.Get("a"));
  EXPECT_TRUE(c.Get("c"));
  EXPECT_TRUE(c.Get("d"));
  c.Put("e", {5});  // order now a, c, d (a least recent) -> a goes
  EXPECT_FALSE(c.Get("a"));
  auto s = c.stats();
  EXPECT_EQ(s.evictions, 2u);
  EXPECT_EQ(s.size, 3u);
  EXPECT_EQ(s.hits, 4u);
  EXPECT_EQ(s.misses, 2u);
}

TEST_F(FullCache, ReplacingDoesNotEvict) {
  c.Put("a", {9});
  EXPECT_EQ(c.stats().evictions, 0u);
  auto v = c.Get("a");
  ASSERT_TRUE(v);
  EXPECT_EQ((*v)[0], 9);
}

TEST(EmbeddingCache, ExpiresAfterTtl) {
  FakeEnv clk;
  EmbeddingCache c(Opts(&clk, 10, 600s));
  c.Put("a", {1});
  clk.Advance(300s);
  c.Put("b", {2});
  clk.Advance(299s);
  EXPECT_TRUE(c.Get("a"));  // a hit does not extend the TTL
  clk.Advance(1s);
  EXPECT_FALSE(c.Get("a"));
  EXPECT_TRUE(c.Get("b"));
  clk.Advance(300s);
  EXPECT_FALSE(c.Get("b"));
  auto s = c.stats();
  EXPECT_EQ(s.expirations, 2u);
  EXPECT_EQ(s.size, 0u);
  c.Put("b", {3});  // a new Put restarts the clock
  clk.Advance(599s);
  EXPECT_TRUE(c.Get("b"));
}

TEST(EmbeddingCache, InvalidateAndClear) {
  FakeEnv clk;
  EmbeddingCache c(Opts(&clk));
  c.Put("a", {1});
  c.Put("b", {2});
  c.Invalidate("a");
  c.Invalidate("zzz");  // absent: fine
  EXPECT_FALSE(c.Get("a"));
  EXPECT_TRUE(c.Get("b"));
  c.Clear();
  EXPECT_FALSE(c.Get("b"));
  EXPECT_EQ(c.stats().size, 0u);
}

// A vector read from the database before an update must not land in the
// cache after the update invalidated the entry.
TEST(EmbeddingCache, StalePutAfterInvalidateIsDropped) {
  FakeEnv clk;
  EmbeddingCache c(Opts(&clk));
  uint64_t token = c.LoadToken();
  c.Invalidate("a");  // the entry was updated meanwhile
  EXPECT_FALSE(c.Put("a", {1}, token));
  EXPECT_FALSE(c.Get("a"));
  token = c.LoadToken();
  EXPECT_TRUE(c.Put("a", {2}, token));
  EXPECT_TRUE(c.Get("a"));
}

TEST(EmbeddingCache, BatchMatrix) {
  FakeEnv clk;
  EmbeddingCache c(Opts(&clk, 10));
  c.Put("a", {1, 2});
  c.Put("b", {3, 4});
  c.Put("odd", {1, 2, 3});
  std::vector<float> mat;
  std::vector<std::string> found, missing;
  c.BatchMatrix({"b", "x", "a", "odd"}, 2, &mat, &found, &missing);
  EXPECT_EQ(found, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(missing, (std::vector<std::string>{"x", "odd"}));
  EXPECT_EQ(mat, (std::vector<float>{3, 4, 1, 2}));
  auto s = c.stats();
  EXPECT_EQ(s.hits, 3u);
  EXPECT_EQ(s.misses, 1u);
}

TEST(EmbeddingCache, ZeroCapacityStoresNothing) {
  FakeEnv clk;
  EmbeddingCache c(Opts(&clk, 0));
  c.Put("a", {1});
  EXPECT_FALSE(c.Get("a"));
}

TEST(EmbeddingCache, ConcurrentUse) {
  EmbeddingCache::Options o;
  o.capacity = 64;
  EmbeddingCache c(o);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t) {
    ts.emplace_back([&c, t] {
      for (int i = 0; i < 20000; ++i) {
        std::string id = std::to_string((i * 7 + t) % 100);
        if (i % 3 == 0) {
          c.Put(id, std::vector<float>(4, float(i)));
        } else if (i % 17 == 0) {
          c.Invalidate(id);
        } else if (auto v = c.Get(id)) {
          ASSERT_EQ(v->size(), 4u);
        }
      }
    });
  }
  for (auto& t : ts) t.join();
  auto s = c.stats();
  EXPECT_LE(s.size, 64u);
  EXPECT_GT(s.hits + s.misses, 0u);
}

}  // namespace
}  // namespace rekall
