#include "store/keywords.h"

#include <gtest/gtest.h>

namespace rekall::store {
namespace {

using Words = std::vector<std::string>;

TEST(KeywordsTest, TitleWordsDigitsAndIdentifiersRankFirst) {
  // "proxy_read_timeout": count 2, x1.5 (underscore); "nginx" and "504":
  // in the title (x3 counts, x2), 504 also x2 for its digits.
  Words k = ExtractKeywords("Nginx 504 at the balancer",
                            "raise proxy_read_timeout; proxy_read_timeout defaults to 60s");
  ASSERT_EQ(k.size(), 5u);
  EXPECT_EQ(k[0], "504");  // 3 x2 x2 = 12
  EXPECT_EQ(k[1], "nginx");  // 3 x2 = 6, tied with balancer, first seen
  EXPECT_EQ(k[2], "balancer");
  EXPECT_EQ(k[3], "proxy_read_timeout");  // 2 x1.5 = 3
  EXPECT_EQ(k[4], "60s");                 // 1 x2 = 2
}

TEST(KeywordsTest, SplitsCamelCasePunctuationAndDotsButKeepsVersions) {
  Words k = ExtractKeywords("useEffect cleanup", "react.hooks in version 18.2.0 (see docs/hooks)", 10);
  EXPECT_NE(std::find(k.begin(), k.end(), "effect"), k.end());
  EXPECT_NE(std::find(k.begin(), k.end(), "cleanup"), k.end());
  EXPECT_NE(std::find(k.begin(), k.end(), "react"), k.end());
  EXPECT_NE(std::find(k.begin(), k.end(), "hooks"), k.end());
  EXPECT_NE(std::find(k.begin(), k.end(), "18.2.0"), k.end());
  EXPECT_NE(std::find(k.begin(), k.end(), "docs"), k.end());
  EXPECT_EQ(std::find(k.begin(), k.end(), "use"), k.end());  // a stop word
  for (const auto& w : k) EXPECT_EQ(w.find_first_of("()/."), w == "18.2.0" ? 2u : std::string::npos) << w;
}

TEST(KeywordsTest, StopWordsAndShortWordsAreDropped) {
  EXPECT_EQ(ExtractKeywords("the and of", "it is a to"), Words{});
  EXPECT_EQ(ExtractKeywords("Le problème est dans la base", ""), (Words{"problème", "base"}));
  EXPECT_TRUE(ExtractKeywords("", "").empty());
}

TEST(KeywordsTest, AtMostMaxKeywords) {
  EXPECT_EQ(ExtractKeywords("alpha bravo charlie delta echo foxtrot golf", "").size(), kAutoKeywords);
  EXPECT_EQ(ExtractKeywords("alpha bravo charlie", "", 2).size(), 2u);
}

}  // namespace
}  // namespace rekall::store
