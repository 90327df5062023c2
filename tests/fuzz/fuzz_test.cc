// Deterministic mutation fuzzing of every target, run in the test suite (and
// so under ASan+UBSan in CI): seeds, then random byte flips, insertions,
// deletions and splices of them. libFuzzer explores further (scripts/fuzz.sh).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz_targets.h"

namespace rekall::fuzz {
namespace {

using Target = std::function<void(const uint8_t*, size_t)>;

std::string Mutate(std::string s, const std::vector<std::string>& seeds, std::mt19937& rng) {
  int edits = 1 + static_cast<int>(rng() % 4);
  for (int i = 0; i < edits; ++i) {
    switch (rng() % 6) {
      case 0:
        if (!s.empty()) s[rng() % s.size()] = static_cast<char>(rng());
        break;
      case 1:
        s.insert(s.begin() + static_cast<long>(s.empty() ? 0 : rng() % s.size()), static_cast<char>(rng()));
        break;
      case 2:
        if (!s.empty()) s.erase(rng() % s.size(), 1 + rng() % 8);
        break;
      case 3: {
        const std::string& o = seeds[rng() % seeds.size()];
        if (!o.empty()) s += o.substr(rng() % o.size());
        break;
      }
      case 4: {
        static const char* tokens[] = {"\"", "{", "}", "[", "]", ":", ",", "\\u0000", "\xC3", "\xFF", "NEAR(",
                                       "*", "AND", "\n", "\r\n", "null", "1e999", "##", "\xE6\x97\xA5"};
        s.insert(s.empty() ? 0 : rng() % s.size(), tokens[rng() % (sizeof tokens / sizeof *tokens)]);
        break;
      }
      default:
        if (s.size() > 1) s.resize(rng() % s.size());
    }
  }
  return s;
}

void RunTarget(const Target& t, const std::vector<std::string>& seeds, int iterations) {
#if defined(__SANITIZE_ADDRESS__)
  iterations /= 4;  // the same paths, at a quarter of the count, under ASan
#endif
  std::mt19937 rng(20261125);
  for (const auto& s : seeds) t(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  for (int i = 0; i < iterations; ++i) {
    std::string in = Mutate(seeds[rng() % seeds.size()], seeds, rng);
    t(reinterpret_cast<const uint8_t*>(in.data()), in.size());
  }
}

// The seed corpus kept in the tree, the same files libFuzzer starts from
// (scripts/fuzz.sh), in name order.
std::vector<std::string> Seeds(const std::string& target) {
  std::vector<std::filesystem::path> files;
  for (const auto& f : std::filesystem::directory_iterator(std::string(REKALL_SOURCE_DIR) + "/tests/fuzz/corpus/" + target))
    files.push_back(f.path());
  std::sort(files.begin(), files.end());
  std::vector<std::string> seeds;
  for (const auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    seeds.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_FALSE(seeds.empty()) << "no seeds for " << target;
  if (seeds.empty()) seeds.push_back("");
  return seeds;
}

TEST(Fuzz, Tokenizer) { RunTarget(Tokenizer, Seeds("Tokenizer"), 20000); }

TEST(Fuzz, JsonRpc) { RunTarget(JsonRpc, Seeds("JsonRpc"), 20000); }

TEST(Fuzz, KeywordQuery) { RunTarget(KeywordQuery, Seeds("KeywordQuery"), 3000); }

TEST(Fuzz, ImportLine) { RunTarget(ImportLine, Seeds("ImportLine"), 20000); }

TEST(Fuzz, RekallArchive) { RunTarget(RekallArchive, Seeds("RekallArchive"), 5000); }

TEST(Fuzz, DatabaseFile) {
  // Rekall's own v2 file too, when the shared fixtures are there (too big
  // for the corpus in the tree).
  std::vector<std::string> seeds = Seeds("DatabaseFile");
  std::ifstream f(std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/rekall-v2.db", std::ios::binary);
  std::string v2((std::istreambuf_iterator<char>(f)), {});
  if (!v2.empty()) seeds.push_back(v2);
#if defined(__SANITIZE_ADDRESS__)
  RunTarget(DatabaseFile, seeds, 120);
#else
  RunTarget(DatabaseFile, seeds, 300);
#endif
}

TEST(Fuzz, McpServer) { RunTarget(McpServer, Seeds("McpServer"), 2000); }

}  // namespace
}  // namespace rekall::fuzz
