#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "util/cpu.h"
#include "util/env.h"
#include "util/fake_env_for_test.h"
#include "util/mapped_array.h"
#include "util/our_embeddings.h"
#include "util/status.h"
#include "util/temp_dir_for_test.h"
#include "util/ulid.h"
#include "util/utf8.h"

namespace rekall {

TEST(Utf8, AcceptsWellFormed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("D\xC3\xA9ploiement \xE6\x97\xA5\xE6\x9C\xAC \xF0\x9F\x9A\x80"));
}

TEST(Utf8, RejectsMalformedAndReportsOffset) {
  EXPECT_FALSE(IsValidUtf8("\xFF"));
  EXPECT_EQ(FirstInvalidUtf8("ab\xC3"), 2u);            // truncated sequence
  EXPECT_EQ(FirstInvalidUtf8("a\xC0\xAF"), 1u);         // overlong '/'
  EXPECT_EQ(FirstInvalidUtf8("ok\xED\xA0\x80"), 2u);    // UTF-16 surrogate
}

TEST(Ulid, FormatAndUniqueness) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewUlid();
    EXPECT_TRUE(IsUlid(id)) << id;
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_FALSE(IsUlid("not-a-ulid"));
  EXPECT_FALSE(IsUlid("01M85ZBSH47EXPWE5RXEHR0JZI"));  // I is not Crockford
}

TEST(Ulid, NowIsoLocalLooksLikePythonIsoformat) {
  std::string t = NowIsoLocal();
  ASSERT_EQ(t.size(), 26u) << t;
  EXPECT_EQ(t[4], '-');
  EXPECT_EQ(t[10], 'T');
  EXPECT_EQ(t[19], '.');
}

TEST(StatusTest, CarriesCodeAndMessage) {
  Status s = Status::NotFound("no entry with id X");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.ToString(), "not found: no entry with id X");
  EXPECT_TRUE(Status::OK().ok());
}

TEST(OurEmbeddings, NamesAndTypes) {
  EXPECT_TRUE(IsOurModelName(kOurModelName));
  EXPECT_TRUE(IsOurModelName("all-MiniLM-L6-v2"));
  EXPECT_FALSE(IsOurModelName("all-MiniLM-L12-v2"));
  EXPECT_TRUE(IsOurEmbedding("all-MiniLM-L6-v2", 384));
  EXPECT_FALSE(IsOurEmbedding("all-MiniLM-L6-v2", 768));
  EXPECT_FALSE(IsOurEmbedding("other", 384));
  EXPECT_EQ(kOurVectorBytes, 1536);
  for (EmbeddingType t : {EmbeddingType::kSummary, EmbeddingType::kContext}) {
    EmbeddingType back = t == EmbeddingType::kSummary ? EmbeddingType::kContext : EmbeddingType::kSummary;
    ASSERT_TRUE(ParseEmbeddingType(EmbeddingTypeName(t), &back));
    EXPECT_EQ(back, t);
  }
  EXPECT_STREQ(EmbeddingTypeName(EmbeddingType::kSummary), "summary");
  EmbeddingType t;
  EXPECT_FALSE(ParseEmbeddingType("Summary", &t));
  // The vector index relies on the condition starting with the type test
  // (it disables that column's index by prefixing "+").
  EXPECT_EQ(OurModelSql("em", EmbeddingType::kSummary).rfind("em.embedding_type = 'summary' AND ", 0), 0u);
}

TEST(Env, FilesAndFolders) {
  Env* env = Env::Default();
  TempDir tmp;
  const std::string dir = tmp.path();
  const std::string nested = dir + "/a/b/c";
  ASSERT_TRUE(env->CreateDirs(nested, 0700).ok());
  ASSERT_TRUE(env->CreateDirs(nested, 0700).ok());  // already there: fine
  EXPECT_TRUE(env->IsDirectory(dir + "/a/b"));
  struct stat sb;
  ASSERT_EQ(::stat((dir + "/a").c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0700u);

  const std::string file = nested + "/f";
  EXPECT_FALSE(env->FileExists(file));
  ASSERT_TRUE(env->CreateNewFile(file, 0600).ok());
  EXPECT_TRUE(env->FileExists(file));
  EXPECT_TRUE(env->IsRegularFile(file));
  EXPECT_FALSE(env->IsDirectory(file));
  EXPECT_TRUE(env->CanRead(file));
  EXPECT_TRUE(env->CanWrite(file));
  ASSERT_EQ(::stat(file.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0600u);
  Status s = env->CreateNewFile(file, 0600);  // never over an existing file
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message().rfind(file + ": ", 0), 0u) << s.message();
  EXPECT_TRUE(env->SyncFile(file).ok());
  EXPECT_FALSE(env->CreateDirs(file + "/sub", 0700).ok());  // a file is in the way
  ASSERT_TRUE(env->RemoveFile(file).ok());
  EXPECT_FALSE(env->FileExists(file));
  EXPECT_FALSE(env->RemoveFile(file).ok());
  EXPECT_FALSE(env->SyncFile(file).ok());
}

TEST(Env, VariablesClocksAndMemory) {
  Env* env = Env::Default();
  EXPECT_FALSE(env->GetEnv("PATH").empty());
  EXPECT_EQ(env->GetEnv("REKALL_TEST_SURELY_UNSET_VARIABLE"), "");
  const auto a = env->NowSteady();
  EXPECT_LE(a, env->NowSteady());
  EXPECT_GT(env->NowSystem().time_since_epoch(), std::chrono::hours(24 * 365 * 50));  // after 2020
  const size_t rss = env->CurrentRssBytes();
  EXPECT_GT(rss, 0u);
  EXPECT_GE(env->PeakRssBytes(), rss);
}

TEST(FakeEnv, OwnVariablesFoldersAndClock) {
  FakeEnv env;
  EXPECT_EQ(env.GetEnv("PATH"), "");  // the process's own are invisible
  env.SetEnv("REKALL_HOME", "/kb");
  EXPECT_EQ(env.GetEnv("REKALL_HOME"), "/kb");
  env.UnsetEnv("REKALL_HOME");
  EXPECT_EQ(env.GetEnv("REKALL_HOME"), "");
  EXPECT_TRUE(env.IsDirectory("/"));  // real unless told
  env.SetDirectory("/", false);
  EXPECT_FALSE(env.IsDirectory("/"));
  const auto t0 = env.NowSteady();
  const auto w0 = env.NowSystem();
  EXPECT_EQ(env.NowSteady(), t0);  // frozen
  env.Advance(std::chrono::minutes(5));
  EXPECT_EQ(env.NowSteady() - t0, std::chrono::minutes(5));
  EXPECT_EQ(env.NowSystem() - w0, std::chrono::minutes(5));
}

TEST(Cpu, SimdLevelCapsEveryFeatureAboveIt) {
  CpuFeatures all;
  all.sse2 = all.popcnt = all.avx2 = all.avx512 = true;
  all.avx512_vnni = all.avx512_vpopcntdq = all.avx512_bf16 = all.amx_bf16 = true;
  auto on = [](const CpuFeatures& f) {
    return std::vector<bool>{f.sse2,        f.popcnt,           f.avx2,        f.avx512,
                             f.avx512_vnni, f.avx512_vpopcntdq, f.avx512_bf16, f.amx_bf16};
  };
  using V = std::vector<bool>;
  EXPECT_EQ(on(CappedFeatures(all, "")), V(8, true));
  EXPECT_EQ(on(CappedFeatures(all, "turbo")), V(8, true));  // unknown: no cap, but refused at the door:
  EXPECT_TRUE(CheckSimdLevel("turbo").IsInvalidArgument());
  EXPECT_TRUE(CheckSimdLevel("AVX2").IsInvalidArgument());
  for (const char* ok : {"", "scalar", "sse2", "avx2", "avx512"}) EXPECT_TRUE(CheckSimdLevel(ok).ok()) << ok;
  EXPECT_EQ(on(CappedFeatures(all, "avx512")), (V{true, true, true, true, false, false, false, false}));
  EXPECT_EQ(on(CappedFeatures(all, "avx2")), (V{true, true, true, false, false, false, false, false}));
  EXPECT_EQ(on(CappedFeatures(all, "sse2")), (V{true, true, false, false, false, false, false, false}));
  EXPECT_EQ(on(CappedFeatures(all, "scalar")), V(8, false));
  // A cap never adds what the CPU lacks.
  CpuFeatures avx2_only;
  avx2_only.sse2 = avx2_only.popcnt = avx2_only.avx2 = true;
  EXPECT_EQ(on(CappedFeatures(avx2_only, "avx512")), (V{true, true, true, false, false, false, false, false}));
}

// Grows past many pages (remapped, not copied by us) with every value kept,
// zero-fills what resize adds, counts the pages written, and gives them all
// back on reset and when moved from.
TEST(MappedArray, GrowsKeepsValuesAndGivesPagesBack) {
  MappedArray<uint32_t> a;
  EXPECT_TRUE(a.empty());
  EXPECT_EQ(a.MemoryBytes(), 0u);
  for (uint32_t i = 0; i < 300000; ++i) a.push_back(i * 7);
  ASSERT_EQ(a.size(), 300000u);
  for (uint32_t i = 0; i < 300000; ++i) ASSERT_EQ(a[i], i * 7);
  const size_t page = size_t(sysconf(_SC_PAGESIZE));
  EXPECT_EQ(a.MemoryBytes(), (300000 * 4 + page - 1) / page * page);
  a.resize(10);
  a.resize(20);
  for (size_t i = 10; i < 20; ++i) EXPECT_EQ(a[i], 0u);
  EXPECT_EQ(a[9], 63u);
  const uint32_t more[3] = {1, 2, 3};
  a.append(more, 3);
  EXPECT_EQ(a.back(), 3u);
  a.pop_back();
  EXPECT_EQ(a.size(), 22u);
  MappedArray<uint32_t> b = std::move(a);
  EXPECT_EQ(a.size(), 0u);
  EXPECT_EQ(a.data(), nullptr);
  EXPECT_EQ(b[21], 2u);
  b.reset();
  EXPECT_EQ(b.size(), 0u);
  EXPECT_EQ(b.MemoryBytes(), 0u);
  b.push_back(5);
  EXPECT_EQ(b[0], 5u);
}

}  // namespace rekall
