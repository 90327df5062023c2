#include "embed/model_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "util/env.h"
#include "util/fake_env_for_test.h"

namespace rekall::embed {
namespace {

using namespace std::chrono_literals;
using State = ModelManager::State;

const std::string kModelDir = REKALL_TEST_MODEL_DIR;

bool ModelPresent() { return std::filesystem::exists(kModelDir + "/model.safetensors"); }

#define REQUIRE_MODEL() \
  if (!ModelPresent()) GTEST_SKIP() << "model folder " << kModelDir << " absent: run scripts/setup.sh"

// Polls `pred` for up to 10 s (generous: the bound only stops a broken build
// from hanging).
template <typename Pred>
bool Eventually(Pred pred) {
  for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

ModelManagerOptions Opts(std::chrono::milliseconds idle) {
  ModelManagerOptions o;
  o.model_dir = kModelDir;
  o.idle_timeout = idle;
  return o;
}

TEST(ModelManager, StateNames) {
  EXPECT_STREQ(ModelManager::StateName(State::kUnloaded), "unloaded");
  EXPECT_STREQ(ModelManager::StateName(State::kLoading), "loading");
  EXPECT_STREQ(ModelManager::StateName(State::kLoaded), "loaded");
}

size_t CurrentRssBytes() { return Env::Default()->CurrentRssBytes(); }

TEST(ModelManager, LazyLoadEmbedUnloadAndRssFalls) {
  REQUIRE_MODEL();
  ModelManager m(Opts(0ms));  // no idle unload here: this test unloads by hand
  EXPECT_EQ(m.state(), State::kUnloaded);
  EXPECT_EQ(m.load_count(), 0u);
  const size_t rss_before = CurrentRssBytes();
  std::vector<std::string> texts;
  for (int i = 0; i < 16; ++i) texts.push_back("note number " + std::to_string(i) + " about sqlite locking and rust");
  std::vector<float> out;
  Status s = m.Embed(texts, &out, 30s);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out.size(), texts.size() * 384);
  EXPECT_EQ(m.state(), State::kLoaded);
  EXPECT_EQ(m.load_count(), 1u);
  const size_t rss_loaded = CurrentRssBytes();
  EXPECT_GT(rss_loaded, rss_before + 30u * 1024 * 1024) << "the weights in use should be resident";
  m.Unload();
  EXPECT_EQ(m.state(), State::kUnloaded);
  const size_t rss_after = CurrentRssBytes();
  EXPECT_LT(rss_after + 30u * 1024 * 1024, rss_loaded)
      << "RSS loaded " << rss_loaded / 1024 << " kB, after unload " << rss_after / 1024 << " kB";
  // The next call loads again.
  ASSERT_TRUE(m.Embed({"again"}, &out, 30s).ok());
  EXPECT_EQ(m.load_count(), 2u);
}

TEST(ModelManager, UnloadsAfterIdleTimeout) {
  REQUIRE_MODEL();
  FakeEnv clock;  // idle time passes only when the test says so
  ModelManagerOptions o = Opts(10min);
  o.env = &clock;
  ModelManager m(o);
  std::vector<float> out;
  ASSERT_TRUE(m.Embed({"warm"}, &out, 30s).ok());
  const size_t rss_loaded = CurrentRssBytes();
  clock.Advance(10min - 1ms);
  m.UnloadIfIdle();
  EXPECT_EQ(m.state(), State::kLoaded);
  ASSERT_TRUE(m.Embed({"used again"}, &out, 30s).ok());  // restarts the idle time
  clock.Advance(10min - 1ms);
  m.UnloadIfIdle();
  EXPECT_EQ(m.state(), State::kLoaded);
  clock.Advance(1ms);
  m.UnloadIfIdle();
  EXPECT_EQ(m.state(), State::kUnloaded);
  // The pages were handed back before UnloadIfIdle returned, but other
  // threads' allocations can move RSS meanwhile: poll for it.
  EXPECT_TRUE(Eventually([&] { return CurrentRssBytes() + 30u * 1024 * 1024 < rss_loaded; }))
      << "RSS loaded " << rss_loaded / 1024 << " kB, now " << CurrentRssBytes() / 1024 << " kB";
  EXPECT_EQ(m.load_count(), 1u);
}

TEST(ModelManager, BackgroundWarmUp) {
  REQUIRE_MODEL();
  ModelManager m(Opts(0ms));
  m.TryStartBackgroundLoad();
  EXPECT_NE(m.state(), State::kUnloaded);
  m.TryStartBackgroundLoad();  // already loading or loaded: no second load
  ASSERT_TRUE(m.EnsureLoaded(30s).ok());
  EXPECT_EQ(m.state(), State::kLoaded);
  EXPECT_EQ(m.load_count(), 1u);
}

// A loader that counts loads and holds each one until released.
struct GatedLoader {
  std::atomic<int> loads{0};
  std::atomic<int> active{0};      // loads running now
  std::atomic<int> max_active{0};  // most loads ever running at once
  std::atomic<bool> open{false};
  Status result = Status::OK();
  Status operator()(std::unique_ptr<Embedder>* out) {
    ++loads;
    int now = ++active;
    for (int m = max_active.load(); now > m && !max_active.compare_exchange_weak(m, now);) {
    }
    while (!open) std::this_thread::sleep_for(1ms);
    --active;
    if (!result.ok()) return result;
    return Embedder::Load(kModelDir, EmbedderOptions(), out);
  }
};

TEST(ModelManager, ConcurrentCallersShareOneLoad) {
  REQUIRE_MODEL();
  auto gate = std::make_shared<GatedLoader>();
  ModelManagerOptions o = Opts(0ms);
  o.loader = [gate](std::unique_ptr<Embedder>* out) { return (*gate)(out); };
  ModelManager m(o);
  constexpr int kThreads = 6;
  std::vector<Status> results(kThreads);
  std::vector<std::vector<float>> outs(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] { results[i] = m.Embed({"thread " + std::to_string(i)}, &outs[i], 60s); });
  }
  ASSERT_TRUE(Eventually([&] { return gate->loads.load() == 1; }));
  EXPECT_EQ(m.state(), State::kLoading);
  // A caller that cannot wait is told the model is loading, and starts nothing.
  std::vector<float> out;
  Status s = m.Embed({"impatient"}, &out, 0ms);
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  EXPECT_NE(s.message().find("model loading"), std::string::npos);
  s = m.EnsureLoaded(20ms);
  EXPECT_TRUE(s.IsUnavailable()) << s.ToString();
  gate->open = true;
  for (auto& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    EXPECT_TRUE(results[i].ok()) << results[i].ToString();
    EXPECT_EQ(outs[i].size(), 384u);
  }
  EXPECT_EQ(gate->loads.load(), 1);
  EXPECT_EQ(m.load_count(), 1u);
  EXPECT_EQ(m.state(), State::kLoaded);
}

TEST(ModelManager, FailedLoadReachesEveryWaiterThenRetries) {
  auto gate = std::make_shared<GatedLoader>();
  gate->result = Status::Corruption("model.safetensors: broken on purpose");
  ModelManagerOptions o = Opts(0ms);
  o.loader = [gate](std::unique_ptr<Embedder>* out) { return (*gate)(out); };
  ModelManager m(o);
  constexpr int kThreads = 4;
  std::vector<Status> results(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) threads.emplace_back([&, i] { results[i] = m.EnsureLoaded(60s); });
  ASSERT_TRUE(Eventually([&] { return gate->loads.load() == 1; }));
  gate->open = true;
  for (auto& t : threads) t.join();
  for (const Status& r : results) {
    EXPECT_EQ(r.code(), Code::kCorruption) << r.ToString();
    EXPECT_NE(r.message().find("broken on purpose"), std::string::npos);
  }
  // Never two loads at once. A thread that only reached EnsureLoaded after
  // the failed load ended rightly tries again (slow thread starts under
  // ASan), so the count of loads is not always 1.
  EXPECT_EQ(gate->max_active.load(), 1);
  int loads = gate->loads.load();
  EXPECT_GE(loads, 1);
  EXPECT_LE(loads, kThreads);
  EXPECT_EQ(m.state(), State::kUnloaded);
  // The next call tries again.
  EXPECT_EQ(m.EnsureLoaded(60s).code(), Code::kCorruption);
  EXPECT_EQ(gate->loads.load(), loads + 1);
}

TEST(ModelManager, MissingModelFolder) {
  ModelManagerOptions o;
  o.model_dir = "/nonexistent/model";
  ModelManager m(o);
  std::vector<float> out;
  Status s = m.Embed({"x"}, &out, 30s);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("/nonexistent/model"), std::string::npos);
  EXPECT_EQ(m.state(), State::kUnloaded);
}

}  // namespace
}  // namespace rekall::embed
