#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "util/fake_env_for_test.h"
#include "util/temp_dir_for_test.h"

namespace rekall::config {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  // The fake sees none of the process's variables, and no ./.rekall.
  void SetUp() override { env_.SetDirectory(".rekall", false); }
  std::string Write(const std::string& text) {
    std::string p = tmp_.file("config.toml");
    std::ofstream(p) << text;
    return p;
  }
  TempDir tmp_;
  const std::string dir_ = tmp_.path();
  FakeEnv env_;
  Options opts_{&env_};
};

TEST_F(ConfigTest, DefaultsWithoutFile) {
  Config c;
  std::vector<std::string> w;
  ASSERT_TRUE(Load(dir_ + "/absent.toml", &c, &w, opts_).ok());
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
context_mode = "required"
)");
  Config c;
  std::vector<std::string> w;
  ASSERT_TRUE(Load(p, &c, &w, opts_).ok());
  EXPECT_EQ(c.cache_max_size, 50);
  EXPECT_EQ(c.cache_ttl_seconds, 30);
  EXPECT_EQ(c.model_idle_timeout_minutes, 1);
  EXPECT_EQ(c.vector_backend, "brute");
  EXPECT_EQ(c.model_path, "/m");
  EXPECT_EQ(c.threads, 2);
  EXPECT_EQ(c.data_dir, "/srv/kb");
  EXPECT_TRUE(c.smart_embeddings);  // Rekall's switch, read; its other keys are its own
  ASSERT_EQ(w.size(), 1u);  // only our section's unknown key
  EXPECT_NE(w[0].find("typo_key"), std::string::npos);
}

TEST_F(ConfigTest, InvalidValuesAreClearErrors) {
  Config c;
  std::vector<std::string> w;
  Status s = Load(Write("[performance]\nvector_backend = \"faiss\"\n"), &c, &w, opts_);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("vector_backend"), std::string::npos) << s.ToString();
  c = Config();
  s = Load(Write("[performance]\ncache_max_size = \"big\"\n"), &c, &w, opts_);
  EXPECT_NE(s.message().find("cache_max_size must be an integer"), std::string::npos) << s.ToString();
  c = Config();
  s = Load(Write("[performance\n"), &c, &w, opts_);
  EXPECT_NE(s.message().find("line 1"), std::string::npos) << s.ToString();
  c = Config();
  s = Load(Write("[smart_embeddings]\nenabled = \"yes\"\n"), &c, &w, opts_);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("enabled must be true or false"), std::string::npos) << s.ToString();
  s = Load(Write("smart_embeddings = 1\n"), &c, &w, opts_);
  EXPECT_TRUE(s.IsInvalidArgument());
  s = Load(Write("[performance]\ncache_ttl_seconds = -5\n"), &c, &w, opts_);
  EXPECT_FALSE(s.ok());
}

TEST_F(ConfigTest, EnvironmentOverridesFile) {
  std::string p = Write("[performance]\ncache_max_size = 50\n");
  env_.SetEnv("REKALL_CACHE_MAX_SIZE", "7");
  env_.SetEnv("REKALL_VECTOR_BACKEND", "sqlite-vec");
  Config c;
  std::vector<std::string> w;
  ASSERT_TRUE(Load(p, &c, &w, opts_).ok());
  EXPECT_EQ(c.cache_max_size, 7);
  EXPECT_EQ(c.vector_backend, "sqlite-vec");
  env_.SetEnv("REKALL_CACHE_MAX_SIZE", "lots");
  c = Config();
  EXPECT_FALSE(Load(p, &c, &w, opts_).ok());
}

TEST_F(ConfigTest, PrecisionIsFp32UnlessAskedAndBadOrUnshippedValuesAreErrors) {
  Config c;
  std::vector<std::string> w;
  ASSERT_TRUE(Load(Write("[engine]\nthreads = 1\n"), &c, &w, opts_).ok());
  EXPECT_EQ(c.precision, Precision::kFp32);
  ASSERT_TRUE(Load(Write("[engine]\nprecision = \"bf16\"\n"), &c, &w, opts_).ok());
  EXPECT_EQ(c.precision, Precision::kBf16);
  EXPECT_TRUE(w.empty());
  env_.SetEnv("REKALL_PRECISION", "fp32");  // the environment overrides the file
  c = Config();
  ASSERT_TRUE(Load(Write("[engine]\nprecision = \"bf16\"\n"), &c, &w, opts_).ok());
  EXPECT_EQ(c.precision, Precision::kFp32);
  env_.UnsetEnv("REKALL_PRECISION");

  const std::string bad = Write("[engine]\nprecision = \"fp16\"\n");
  c = Config();
  Status s = Load(bad, &c, &w, opts_);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find(bad + " [engine]: precision must be fp32 or bf16, not 'fp16'"), std::string::npos)
      << s.ToString();
  c = Config();
  s = Load(Write("[engine]\nprecision = 16\n"), &c, &w, opts_);
  EXPECT_NE(s.message().find("precision must be a string"), std::string::npos) << s.ToString();
  // A known precision that does not ship is refused with the reason, not run as fp32.
  const std::string int8 = Write("[engine]\nprecision = \"int8\"\n");
  c = Config();
  s = Load(int8, &c, &w, opts_);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("config file " + int8), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("precision = \"int8\" is refused"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("nDCG@10"), std::string::npos) << s.ToString();
  env_.SetEnv("REKALL_PRECISION", "BF16");
  c = Config();
  s = Load("", &c, &w, opts_);
  EXPECT_NE(s.message().find("REKALL_PRECISION must be fp32 or bf16, not 'BF16'"), std::string::npos)
      << s.ToString();
  env_.SetEnv("REKALL_PRECISION", "int8");
  c = Config();
  s = Load("", &c, &w, opts_);
  EXPECT_NE(s.message().find("environment: precision = \"int8\" is refused"), std::string::npos) << s.ToString();
}

TEST_F(ConfigTest, DbPathPrecedenceFollowsRekall) {
  Config c;
  c.data_dir = "/from/config";
  env_.SetEnv("HOME", dir_);
  EXPECT_EQ(ResolveDbPath("/cli.db", c, opts_).path, "/cli.db");
  env_.SetEnv("REKALL_DB_PATH", "/env/db.db");
  EXPECT_EQ(ResolveDbPath("", c, opts_).path, "/env/db.db");
  env_.SetEnv("REKALL_HOME", "/home/kb");
  EXPECT_EQ(ResolveDbPath("", c, opts_).path, "/home/kb/knowledge.db");
  env_.UnsetEnv("REKALL_HOME");
  env_.UnsetEnv("REKALL_DB_PATH");
  EXPECT_EQ(ResolveDbPath("", c, opts_).path, "/from/config/knowledge.db");
  env_.SetDirectory(".rekall", true);  // run from a folder holding .rekall/
  EXPECT_EQ(ResolveDbPath("", c, opts_).path, ".rekall/knowledge.db");
  env_.SetDirectory(".rekall", false);
  c.data_dir.clear();
  env_.SetEnv("XDG_DATA_HOME", "/xdg");
  EXPECT_EQ(ResolveDbPath("", c, opts_).path, "/xdg/rekall/knowledge.db");
  env_.UnsetEnv("XDG_DATA_HOME");
  auto loc = ResolveDbPath("", c, opts_);
  EXPECT_EQ(loc.path, dir_ + "/.local/share/rekall/knowledge.db");
  EXPECT_TRUE(loc.default_location);
}

TEST_F(ConfigTest, ConfigFileLocationAndHome) {
  env_.SetEnv("HOME", "/home/me");
  EXPECT_EQ(DefaultConfigPath(opts_), "/home/me/.config/rekall/config.toml");
  env_.SetEnv("XDG_CONFIG_HOME", "/xdg");
  EXPECT_EQ(DefaultConfigPath(opts_), "/xdg/rekall/config.toml");
  env_.SetEnv("REKALL_HOME", "~/kb");
  EXPECT_EQ(DefaultConfigPath(opts_), "/home/me/kb/config.toml");
  env_.SetEnv("REKALL_CONFIG", "/etc/rekall.toml");
  EXPECT_EQ(DefaultConfigPath(opts_), "/etc/rekall.toml");
  EXPECT_EQ(ExpandHome("~", opts_), "/home/me");
  EXPECT_EQ(ExpandHome("~x/y", opts_), "~x/y");
  env_.SetEnv("REKALL_MODEL_PATH", "~/models/m");
  Config c;
  std::vector<std::string> w;
  ASSERT_TRUE(Load("", &c, &w, opts_).ok());
  EXPECT_EQ(c.model_path, "/home/me/models/m");
}

}  // namespace
}  // namespace rekall::config
