#include <gtest/gtest.h>

#include <set>

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

}  // namespace rekall
