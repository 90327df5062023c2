#include "embed/safetensors.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "embed/bert.h"
#include "embed/embedder.h"

namespace rekall::embed {
namespace {

namespace fs = std::filesystem;

class SafeTensorsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("rekall_st_" + std::to_string(::getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Writes [u64 header length][header][data] and returns the path.
  std::string Write(const std::string& name, const std::string& header, const std::string& data,
                    int64_t declared_len = -1) {
    std::string path = (dir_ / name).string();
    std::ofstream f(path, std::ios::binary);
    uint64_t n = declared_len >= 0 ? static_cast<uint64_t>(declared_len) : header.size();
    for (int i = 0; i < 8; ++i) f.put(static_cast<char>((n >> (8 * i)) & 0xff));
    f << header << data;
    return path;
  }
  static std::string Floats(std::initializer_list<float> v) {
    std::string s(v.size() * 4, '\0');
    std::memcpy(s.data(), std::data(v), s.size());
    return s;
  }
  fs::path dir_;
};

// The bf16 model lets the pages of the float32 weights go after packing
// them: reading them afterwards still gives the file's values (they come
// back from the file), and a tensor held in a heap copy (unaligned in the
// file) is never dropped, which would zero it.
TEST_F(SafeTensorsTest, DroppedPagesReadBackAndHeapCopiesAreLeftAlone) {
  std::vector<float> v(16384);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i) * 0.5f;
  const std::string data(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
  for (int pad : {0, 1}) {  // header padded to 8 bytes (mapped tensor), or off by one (heap copy)
    std::string h = R"({"w":{"dtype":"F32","shape":[16384],"data_offsets":[0,65536]}})";
    while ((h.size() + 8) % 8) h += ' ';
    h += std::string(pad, ' ');
    std::unique_ptr<SafeTensors> st;
    ASSERT_TRUE(SafeTensors::Open(Write("drop" + std::to_string(pad) + ".safetensors", h, data), &st).ok());
    const float* p = nullptr;
    ASSERT_TRUE(st->GetF32("w", {16384}, &p).ok());
    ASSERT_EQ(p[16383], v[16383]);
    st->DropPages(p, v.size() * sizeof(float));
    for (size_t i = 0; i < v.size(); ++i) ASSERT_EQ(p[i], v[i]) << "pad " << pad << " i " << i;
  }
}

TEST_F(SafeTensorsTest, ReadsValidFile) {
  // Header padded to 8 bytes like HF's writer does.
  std::string h = R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}})";
  while ((h.size() + 8) % 8) h += ' ';
  std::string path = Write("ok.safetensors", h, Floats({1, 2, 3, 4}));
  std::unique_ptr<SafeTensors> st;
  ASSERT_TRUE(SafeTensors::Open(path, &st).ok());
  const float* p = nullptr;
  ASSERT_TRUE(st->GetF32("a", {2, 2}, &p).ok());
  EXPECT_EQ(p[0], 1.0f);
  EXPECT_EQ(p[3], 4.0f);
  Status s = st->GetF32("a", {4}, &p);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("expected [4]"), std::string::npos) << s.ToString();
  s = st->GetF32("b", {1}, &p);
  EXPECT_NE(s.message().find("missing tensor 'b'"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find(path), std::string::npos);
}

TEST_F(SafeTensorsTest, MisalignedTensorIsCopied) {
  std::string h = R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}})";
  while ((h.size() + 8) % 8) h += ' ';
  std::string path = Write("mis.safetensors", h, std::string(1, '\0') + Floats({7.5f}));
  std::unique_ptr<SafeTensors> st;
  ASSERT_TRUE(SafeTensors::Open(path, &st).ok());
  const float* p = nullptr;
  ASSERT_TRUE(st->GetF32("x", {1}, &p).ok());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % alignof(float), 0u);
  EXPECT_EQ(*p, 7.5f);
}

TEST_F(SafeTensorsTest, WrongDtype) {
  std::string path = Write("i64.safetensors", R"({"x":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})",
                           std::string(8, '\0'));
  std::unique_ptr<SafeTensors> st;
  ASSERT_TRUE(SafeTensors::Open(path, &st).ok());
  const float* p;
  Status s = st->GetF32("x", {1}, &p);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("dtype I64"), std::string::npos) << s.ToString();
}

TEST_F(SafeTensorsTest, BrokenFilesGiveErrorsNamingTheFile) {
  struct Case {
    const char* name;
    std::string header, data;
    int64_t declared;
    const char* expect;
  };
  const std::string good = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const Case cases[] = {
      {"huge_len", good, Floats({1, 2}), int64_t{1} << 40, "header length"},
      {"len_past_end", good, Floats({1, 2}), 4096, "header length"},
      {"zero_len", good, Floats({1, 2}), 0, "header length"},
      {"not_json", "{\"a\": [1, 2", "", -1, "not a JSON object"},
      {"json_array", "[1,2,3]", "", -1, "not a JSON object"},
      {"truncated_data", good, Floats({1}), -1, "outside"},
      {"size_mismatch", R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", Floats({1, 2}), -1,
       "does not match"},
      {"reversed_offsets", R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", Floats({1, 2}), -1,
       "outside"},
      {"bad_dtype", R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", Floats({1, 2}), -1,
       "unknown dtype"},
      {"bad_shape", R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", Floats({1, 2}), -1, "bad shape"},
      {"no_offsets", R"({"a":{"dtype":"F32","shape":[2]}})", Floats({1, 2}), -1, "malformed"},
  };
  for (const Case& c : cases) {
    std::string path = Write(std::string(c.name) + ".safetensors", c.header, c.data, c.declared);
    std::unique_ptr<SafeTensors> st;
    Status s = SafeTensors::Open(path, &st);
    EXPECT_EQ(s.code(), Code::kCorruption) << c.name << ": " << s.ToString();
    EXPECT_NE(s.message().find(path), std::string::npos) << c.name << ": " << s.ToString();
    EXPECT_NE(s.message().find(c.expect), std::string::npos) << c.name << ": " << s.ToString();
    EXPECT_EQ(st, nullptr);
  }
}

TEST_F(SafeTensorsTest, ShortAndMissingFiles) {
  std::string path = (dir_ / "short.safetensors").string();
  std::ofstream(path) << "abc";
  std::unique_ptr<SafeTensors> st;
  Status s = SafeTensors::Open(path, &st);
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("truncated"), std::string::npos);
  s = SafeTensors::Open((dir_ / "nope.safetensors").string(), &st);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("nope.safetensors"), std::string::npos);
}

// A model folder whose weights file is a prefix of the real one (a broken
// download) or has the wrong shapes for config.json must fail to load.
TEST_F(SafeTensorsTest, TruncatedRealModel) {
  const fs::path real = REKALL_TEST_MODEL_DIR;
  if (!fs::exists(real / "model.safetensors")) GTEST_SKIP() << "model folder absent: run scripts/setup.sh";
  for (const char* f : {"config.json", "vocab.txt"}) fs::copy_file(real / f, dir_ / f);
  {
    std::ifstream in(real / "model.safetensors", std::ios::binary);
    std::string prefix(1 << 20, '\0');
    in.read(prefix.data(), static_cast<std::streamsize>(prefix.size()));
    std::ofstream(dir_ / "model.safetensors", std::ios::binary) << prefix;
  }
  std::unique_ptr<Embedder> e;
  Status s = Embedder::Load(dir_.string(), EmbedderOptions(), &e);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("model.safetensors"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("truncated"), std::string::npos) << s.ToString();

  // Full weights but a config that disagrees with them: a shape error.
  fs::remove(dir_ / "model.safetensors");
  fs::create_symlink(real / "model.safetensors", dir_ / "model.safetensors");
  std::string cfg;
  {
    std::ifstream in(real / "config.json");
    cfg.assign(std::istreambuf_iterator<char>(in), {});
  }
  auto pos = cfg.find("\"intermediate_size\": 1536");
  ASSERT_NE(pos, std::string::npos);
  cfg.replace(pos, 25, "\"intermediate_size\": 1024");
  std::ofstream(dir_ / "config.json", std::ios::trunc) << cfg;
  s = Embedder::Load(dir_.string(), EmbedderOptions(), &e);
  EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
  EXPECT_NE(s.message().find("intermediate.dense.weight"), std::string::npos) << s.ToString();

  // No weights at all.
  fs::remove(dir_ / "model.safetensors");
  s = Embedder::Load(dir_.string(), EmbedderOptions(), &e);
  EXPECT_TRUE(s.IsNotFound()) << s.ToString();
  EXPECT_NE(s.message().find("model.safetensors"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace rekall::embed
