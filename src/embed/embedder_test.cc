#include "embed/embedder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

namespace rekall::embed {
namespace {

const std::string kModelDir = REKALL_TEST_MODEL_DIR;

class EmbedderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists(kModelDir + "/model.safetensors"))
      GTEST_SKIP() << "model folder " << kModelDir << " absent: run scripts/setup.sh";
  }
  std::unique_ptr<Embedder> Make(EmbedderOptions opt = {}) {
    std::unique_ptr<Embedder> e;
    Status s = Embedder::Load(kModelDir, opt, &e);
    EXPECT_TRUE(s.ok()) << s.ToString();
    return e;
  }
};

double Cosine(const float* a, const float* b, int d) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < d; ++i) {
    ab += double(a[i]) * b[i];
    aa += double(a[i]) * a[i];
    bb += double(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

TEST_F(EmbedderTest, EmptyInputAndBadIds) {
  auto e = Make();
  std::vector<float> out(5, 1.0f);
  ASSERT_TRUE(e->Embed({}, &out).ok());
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(e->EmbedIds({{101, 999999, 102}}, &out).IsInvalidArgument());
  EXPECT_TRUE(e->EmbedIds({{101, -1, 102}}, &out).IsInvalidArgument());
  EXPECT_TRUE(e->EmbedIds({{}}, &out).IsInvalidArgument());
  EXPECT_TRUE(e->EmbedIds({std::vector<int32_t>(513, 101)}, &out).IsInvalidArgument());
}

// Packing several sequences into one batch must not let them see each
// other: a text embeds the same alone, in a batch, and in another order.
TEST_F(EmbedderTest, BatchingDoesNotChangeResults) {
  EmbedderOptions opt;
  opt.max_batch_tokens = 64;  // forces several batches
  opt.num_threads = 2;
  auto e = Make(opt);
  std::vector<std::string> texts = {"short", "a somewhat longer sentence about sqlite write locks",
                                    "", "中文 and English", std::string(300, 'x') + " tail"};
  std::vector<float> batch, single;
  ASSERT_TRUE(e->Embed(texts, &batch).ok());
  ASSERT_EQ(batch.size(), texts.size() * 384);
  for (size_t i = 0; i < texts.size(); ++i) {
    ASSERT_TRUE(e->Embed({texts[i]}, &single).ok());
    EXPECT_GT(Cosine(batch.data() + i * 384, single.data(), 384), 0.99999) << i;
  }
  // Different texts really differ (guards against returning one vector).
  EXPECT_LT(Cosine(batch.data(), batch.data() + 384, 384), 0.95);
}

TEST_F(EmbedderTest, MaxSeqLengthOption) {
  EXPECT_EQ(Make()->max_seq_length(), 256u);  // from sentence_bert_config.json
  EmbedderOptions opt;
  opt.max_seq_length = 8;
  auto e = Make(opt);
  EXPECT_EQ(e->max_seq_length(), 8u);
  std::string long_text = "one two three four five six seven eight nine ten eleven twelve";
  std::vector<float> a, b;
  ASSERT_TRUE(e->Embed({long_text}, &a).ok());
  ASSERT_TRUE(e->Embed({"one two three four five six"}, &b).ok());
  // Both are cut to [CLS] + 6 words + [SEP]: the same input.
  EXPECT_GT(Cosine(a.data(), b.data(), 384), 0.99999);
}

// bf16: a batch split over the threads (one batch of >= 192 tokens) gives
// what one thread gives, batching changes nothing, and the vectors stay
// close to fp32's. A precision that does not ship is refused at load.
TEST_F(EmbedderTest, Bf16SplitsItsProductsAndStaysNearFp32) {
  EmbedderOptions opt;
  opt.precision = Precision::kBf16;
  auto one = Make(opt);
  opt.num_threads = 2;
  auto two = Make(opt);
  auto fp32 = Make();
  std::string long_text;
  for (int i = 0; i < 60; ++i) long_text += "the proxy timed out while the backend wrote its log ";
  std::vector<float> a, b, f;
  ASSERT_TRUE(one->Embed({long_text, "short query"}, &a).ok());
  ASSERT_TRUE(two->Embed({long_text}, &b).ok());
  ASSERT_TRUE(fp32->Embed({long_text, "short query"}, &f).ok());
  EXPECT_GT(Cosine(a.data(), b.data(), 384), 0.99999);
  EXPECT_GT(Cosine(a.data(), f.data(), 384), 0.99);
  EXPECT_GT(Cosine(a.data() + 384, f.data() + 384, 384), 0.99);
  EXPECT_LT(Cosine(a.data(), f.data(), 384), 1.0 - 1e-9);  // really another arithmetic

  std::unique_ptr<Embedder> e;
  opt.precision = Precision::kInt8;
  Status s = Embedder::Load(kModelDir, opt, &e);
  EXPECT_TRUE(s.IsInvalidArgument()) << s.ToString();
  EXPECT_NE(s.message().find("int8"), std::string::npos) << s.ToString();
  EXPECT_EQ(e, nullptr);
}

}  // namespace
}  // namespace rekall::embed
