// Parity with sentence-transformers: token ids and embeddings of the fixture
// written by tests/embed_parity/make_reference.py from the same model folder.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "embed/bert.h"
#include "embed/embedder.h"

namespace rekall::embed {
namespace {

const std::string kModelDir = REKALL_TEST_MODEL_DIR;
const std::string kFixture = std::string(REKALL_SOURCE_DIR) + "/tests/embed_parity/reference.json";

struct Item {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<float> embedding;
};

std::vector<Item> LoadFixture() {
  std::ifstream in(kFixture);
  EXPECT_TRUE(in.good()) << "missing fixture " << kFixture;
  nlohmann::json j = nlohmann::json::parse(in);
  std::vector<Item> items;
  for (const auto& it : j["items"]) {
    items.push_back({it["text"].get<std::string>(), it["ids"].get<std::vector<int32_t>>(),
                     it["embedding"].get<std::vector<float>>()});
  }
  return items;
}

bool ModelPresent() { return std::filesystem::exists(kModelDir + "/model.safetensors"); }

TEST(Parity, FixtureIsVaried) {
  auto items = LoadFixture();
  ASSERT_GE(items.size(), 200u);
  size_t truncated = 0, empty = 0;
  for (const auto& it : items) {
    truncated += it.ids.size() == 256;
    empty += it.ids.size() == 2;
  }
  EXPECT_GE(truncated, 3u);
  EXPECT_GE(empty, 3u);
}

TEST(Parity, TokenIdsEqualHuggingFace) {
  if (!ModelPresent()) GTEST_SKIP() << "model folder " << kModelDir << " absent: run scripts/setup.sh";
  std::unique_ptr<Tokenizer> tok;
  Status s = Tokenizer::Load(kModelDir + "/vocab.txt", &tok);
  ASSERT_TRUE(s.ok()) << s.ToString();
  for (const auto& it : LoadFixture()) {
    EXPECT_EQ(tok->Encode(it.text, 256), it.ids) << "text: " << it.text;
  }
}

double Cosine(const float* a, const std::vector<float>& b) {
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return ab / std::sqrt(aa * bb);
}

// The lowest cosine to sentence-transformers' float32 vectors allowed for
// each precision on the fixture's 240 texts. Measured 2026-11-30: fp32
// 1 - 2e-12; bf16 worst 1 - 6.1e-5, mean 1 - 1.4e-5 (the bound leaves 3x).
double MinCosine(Precision p) { return p == Precision::kFp32 ? 0.9999 : 0.9998; }

void CheckEmbeddings(int threads, Precision precision = Precision::kFp32) {
  std::unique_ptr<Embedder> e;
  EmbedderOptions opt;
  opt.num_threads = threads;
  opt.precision = precision;
  opt.max_batch_tokens = 1024;  // several batches: exercises the thread pool
  Status s = Embedder::Load(kModelDir, opt, &e);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(e->dim(), 384);
  auto items = LoadFixture();
  std::vector<std::string> texts;
  for (const auto& it : items) texts.push_back(it.text);
  std::vector<float> out;
  s = e->Embed(texts, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(out.size(), items.size() * 384);
  double worst = 1, sum = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    double c = Cosine(out.data() + i * 384, items[i].embedding);
    worst = std::min(worst, c);
    sum += c;
    EXPECT_GE(c, MinCosine(precision)) << "text #" << i << ": " << items[i].text;
    double norm = 0;
    for (int k = 0; k < 384; ++k) norm += out[i * 384 + k] * out[i * 384 + k];
    EXPECT_NEAR(norm, 1.0, 1e-4);
  }
  std::cout << std::setprecision(9) << PrecisionName(precision) << ": worst cosine over " << items.size()
            << " texts: 1 - " << (1 - worst) << ", mean 1 - " << (1 - sum / items.size()) << "\n";
}

TEST(Parity, EmbeddingsEqualSentenceTransformers) {
  if (!ModelPresent()) GTEST_SKIP() << "model folder " << kModelDir << " absent: run scripts/setup.sh";
  CheckEmbeddings(1);
}

TEST(Parity, EmbeddingsEqualWithTwoThreads) {
  if (!ModelPresent()) GTEST_SKIP() << "model folder " << kModelDir << " absent: run scripts/setup.sh";
  CheckEmbeddings(2);
}

TEST(Parity, Bf16StaysCloseToSentenceTransformers) {
  if (!ModelPresent()) GTEST_SKIP() << "model folder " << kModelDir << " absent: run scripts/setup.sh";
  CheckEmbeddings(2, Precision::kBf16);
}

// Splitting one call's work across threads (BertModel's own split: fp32
// products by columns, bf16 by rows, attention by heads) changes no vector
// beyond float rounding, whatever the lengths: shorter and longer than the
// small-product kernel's limit, more threads than heads' share, a packed
// batch of several sequences.
void CheckSplitMatchesOneThread(Precision precision) {
  std::unique_ptr<BertModel> m;
  Status s = BertModel::Load(kModelDir, precision, &m);
  ASSERT_TRUE(s.ok()) << s.ToString();
  auto seq = [](int n, int salt) {
    std::vector<int32_t> ids(n, 0);
    ids.front() = 101;
    for (int i = 1; i + 1 < n; ++i) ids[i] = 1000 + (i * 7919 + salt * 104729) % 28000;
    ids.back() = 102;
    return ids;
  };
  const std::vector<std::vector<std::vector<int32_t>>> cases = {
      {seq(3, 1)}, {seq(11, 2)}, {seq(49, 3)}, {seq(65, 4)}, {seq(130, 5)}, {seq(256, 6)},
      {seq(11, 7), seq(65, 8), seq(130, 9)}};
  const int d = m->dim();
  for (const auto& c : cases) {
    std::vector<const std::vector<int32_t>*> seqs;
    for (const auto& ids : c) seqs.push_back(&ids);
    std::vector<float> one(c.size() * d), split(c.size() * d);
    m->MeanPooled(seqs, one.data(), 1);
    for (int threads : {2, 3}) {
      m->MeanPooled(seqs, split.data(), threads);
      for (size_t i = 0; i < one.size(); ++i)
        ASSERT_NEAR(split[i], one[i], 1e-4 * (1 + std::fabs(one[i])))
            << PrecisionName(precision) << ", " << c.size() << " sequences, first of " << c[0].size()
            << " tokens, " << threads << " threads, value " << i;
    }
  }
}

TEST(Parity, SplittingAPassAcrossThreadsKeepsTheVectors) {
  if (!ModelPresent()) GTEST_SKIP() << "model folder " << kModelDir << " absent: run scripts/setup.sh";
  CheckSplitMatchesOneThread(Precision::kFp32);
  CheckSplitMatchesOneThread(Precision::kBf16);
}

}  // namespace
}  // namespace rekall::embed
