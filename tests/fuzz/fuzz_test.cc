// Deterministic mutation fuzzing of every target, run in the test suite (and
// so under ASan+UBSan in CI): seeds, then random byte flips, insertions,
// deletions and splices of them. libFuzzer explores further (scripts/fuzz.sh).
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <random>

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

TEST(Fuzz, Tokenizer) {
  RunTarget(Tokenizer, {"", " ", "Hello, World!", "D\xC3\xA9ploiement \xE6\x97\xA5\xE6\x9C\xAC", "ab abc the\tthes",
                  std::string(300, 'a'), "\xF0\x9F\x9A\x80 emoji", "\x01\x02\x7F control", "caf\xC3\xA9 e\xCC\x81"},
      20000);
}

TEST(Fuzz, JsonRpc) {
  RunTarget(JsonRpc,
      {R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18"}})" "\n",
       R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":3}})" "\n",
       R"({"jsonrpc":"2.0","id":"x","method":"tools/call","params":{"name":"rekall_search","arguments":{"query":"q","limit":5}}})",
       R"({"query":"nginx","limit":10,"type":"bug","tags":["a"]})", "[1,2,3]\n", "{", ""},
      20000);
}

TEST(Fuzz, KeywordQuery) {
  RunTarget(KeywordQuery, {"proxy-read-timeout", "C++", "\"unbalanced", "NEAR(", "*", "a OR b", "title:x", "^x",
                     "D\xC3\xA9ploiement", "col:\"x\" NOT y", "(a AND", ""},
      3000);
}

TEST(Fuzz, ImportLine) {
  RunTarget(ImportLine,
      {R"({"title":"t","type":"bug","content":"c","tags":["a","b"],"confidence":3,"project":null})",
       R"({"id":"01M85ZBSH47EXPWE5RXEHR0JZA","title":"t","type":"pattern","status":"obsolete","created_at":"2025-06-01T09:00:00","updated_at":"2025-06-01T09:00:00","extra":{"access_count":1,"context_blob":{"base64":"eJw="}}})",
       R"({"title":"\u00e9\u65e5","type":"decision"})"},
      20000);
}

TEST(Fuzz, DatabaseFile) {
  // Seeds: Rekall's own v2 file when present, and a fresh database of ours.
  std::vector<std::string> seeds;
  std::ifstream f(std::string(REKALL_SOURCE_DIR) + "/../shared/fixtures/rekall/rekall-v2.db", std::ios::binary);
  std::string v2((std::istreambuf_iterator<char>(f)), {});
  if (!v2.empty()) seeds.push_back(v2);
  seeds.push_back(std::string("SQLite format 3\0", 16) + std::string(4080, '\0'));
  seeds.push_back("not a database at all");
#if defined(__SANITIZE_ADDRESS__)
  RunTarget(DatabaseFile, seeds, 120);
#else
  RunTarget(DatabaseFile, seeds, 300);
#endif
}

}  // namespace
}  // namespace rekall::fuzz
