#include <gtest/gtest.h>

#include <set>

#include "util/our_embeddings.h"
#include "util/status.h"
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

}  // namespace rekall
