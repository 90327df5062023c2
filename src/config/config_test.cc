#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace rekall::config {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rekall_config_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    for (const char* v : {"REKALL_CACHE_MAX_SIZE", "REKALL_CACHE_TTL_SECONDS", "REKALL_MODEL_IDLE_TIMEOUT_MINUTES",
                          "REKALL_VECTOR_BACKEND", "REKALL_MODEL_PATH", "REKALL_SQLITE_VEC_PATH", "REKALL_THREADS",
                          "REKALL_HOME", "REKALL_DB_PATH", "REKALL_CONFIG", "XDG_DATA_HOME", "XDG_CONFIG_HOME"})
      unsetenv(v);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string Write(const std::string& text) {
    std::string p = dir_ + "/config.toml";
    std::ofstream(p) << text;
    return p;
  }
  std::string dir_;
};

TEST_F(ConfigTest, DefaultsWithoutFile) {
  Config c;
  std::vector<std::string> w;
  ASSERT_TRUE(Load(dir_ + "/absent.toml", &c, &w).ok());
  EXPECT_EQ(c.cache_max_size, 1000);
  EXPECT_EQ(c.cache_ttl_seconds, 600);
  EXPECT_EQ(c.model_idle_timeout_minutes, 10);
  EXPECT_EQ(c.vector_backend, "auto");
  EXPECT_TRUE(w.empty());
}

TEST_F(ConfigTest, ReadsOurSectionsAndLeavesRekallsOthersAlone) {
  std::string p = Write(R"(
editor = "vim"
data_dir = "/srv/kb"
[performance]
cache_max_size = 50
cache_ttl_seconds = 30
model_idle_timeout_minutes = 1
vector_backend = "brute"
typo_key = 1
[engine]
model_path = "/m"
threads = 2
[smart_embeddings]
enabled = true
)");
  Config c;
  std::vector<std::string> w;
  ASSERT_TRUE(Load(p, &c, &w).ok());
  EXPECT_EQ(c.cache_max_size, 50);
  EXPECT_EQ(c.cache_ttl_seconds, 30);
  EXPECT_EQ(c.model_idle_timeout_minutes, 1);
  EXPECT_EQ(c.vector_backend, "brute");
  EXPECT_EQ(c.model_path, "/m");
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.data_dir, "/srv/kb");
  ASSERT_EQ(w.size(), 1u);  // only our section's unknown key
  EXPECT_NE(w[0].find("typo_key"), std::string::npos);
}

TEST_F(ConfigTest, InvalidValuesAreClearErrors) {
  Config c;
  std::vector<std::string> w;
  Status s = Load(Write("[performance]\nvector_backend = \"faiss\"\n"), &c, &w);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("vector_backend"), std::string::npos) << s.ToString();
  c = Config();
  s = Load(Write("[performance]\ncache_max_size = \"big\"\n"), &c, &w);
  EXPECT_NE(s.message().find("cache_max_size must be an integer"), std::string::npos) << s.ToString();
  c = Config();
  s = Load(Write("[performance\n"), &c, &w);
  EXPECT_NE(s.message().find("line 1"), std::string::npos) << s.ToString();
  c = Config();
  s = Load(Write("[performance]\ncache_ttl_seconds = -5\n"), &c, &w);
  EXPECT_FALSE(s.ok());
}

TEST_F(ConfigTest, EnvironmentOverridesFile) {
  std::string p = Write("[performance]\ncache_max_size = 50\n");
  setenv("REKALL_CACHE_MAX_SIZE", "7", 1);
  setenv("REKALL_VECTOR_BACKEND", "sqlite-vec", 1);
  Config c;
  std::vector<std::string> w;
  ASSERT_TRUE(Load(p, &c, &w).ok());
  EXPECT_EQ(c.cache_max_size, 7);
  EXPECT_EQ(c.vector_backend, "sqlite-vec");
  setenv("REKALL_CACHE_MAX_SIZE", "lots", 1);
  c = Config();
  EXPECT_FALSE(Load(p, &c, &w).ok());
}

TEST_F(ConfigTest, DbPathPrecedenceFollowsRekall) {
  Config c;
  c.data_dir = "/from/config";
  setenv("HOME", dir_.c_str(), 1);
  EXPECT_EQ(ResolveDbPath("/cli.db", c).path, "/cli.db");
  setenv("REKALL_DB_PATH", "/env/db.db", 1);
  EXPECT_EQ(ResolveDbPath("", c).path, "/env/db.db");
  setenv("REKALL_HOME", "/home/kb", 1);
  EXPECT_EQ(ResolveDbPath("", c).path, "/home/kb/knowledge.db");
  unsetenv("REKALL_HOME");
  unsetenv("REKALL_DB_PATH");
  std::string cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir_);
  EXPECT_EQ(ResolveDbPath("", c).path, "/from/config/knowledge.db");
  std::filesystem::create_directory(dir_ + "/.rekall");
  EXPECT_EQ(ResolveDbPath("", c).path, ".rekall/knowledge.db");
  std::filesystem::current_path(cwd);
  c.data_dir.clear();
  setenv("XDG_DATA_HOME", "/xdg", 1);
  EXPECT_EQ(ResolveDbPath("", c).path, "/xdg/rekall/knowledge.db");
  unsetenv("XDG_DATA_HOME");
  auto loc = ResolveDbPath("", c);
  EXPECT_EQ(loc.path, dir_ + "/.local/share/rekall/knowledge.db");
  EXPECT_TRUE(loc.default_location);
}

}  // namespace
}  // namespace rekall::config
