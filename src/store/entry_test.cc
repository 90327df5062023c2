#include "store/entry.h"

#include <gtest/gtest.h>

namespace rekall::store {
namespace {

TEST(Entry, SummaryTextJoinsTitleContentTagsAndCutsAt8000CodePoints) {
  Entry e;
  e.title = "T";
  e.content = "C";
  e.tags = {"a", "b"};
  EXPECT_EQ(SummaryText(e), "T C a b");
  e.content = std::string(9000, 'x');
  EXPECT_EQ(SummaryText(e).size(), 8000u);
  // Multi-byte characters count once each.
  std::string eacute = "\xC3\xA9";
  e.title = "";
  e.content = "";
  e.tags = {};
  for (int i = 0; i < 9000; ++i) e.title += eacute;
  EXPECT_EQ(SummaryText(e).size(), 16000u);
}

TEST(Entry, JsonRoundTrip) {
  Entry e;
  e.id = "01M85ZBSH47EXPWE5RXEHR0JZA";
  e.title = "t";
  e.content = "c";
  e.type = "bug";
  e.project = std::nullopt;
  e.confidence = 4;
  e.created_at = "2025-06-01T09:00:00";
  e.updated_at = "2025-06-01T10:00:00";
  e.tags = {"x"};
  e.extra = {{"memory_type", "episodic"}, {"access_count", 3}, {"ease_factor", 2.5}};
  Entry back;
  ASSERT_TRUE(EntryFromJson(EntryToJson(e), &back).ok());
  EXPECT_EQ(EntryToJson(back).dump(), EntryToJson(e).dump());
}

TEST(Entry, JsonErrorsNameTheField) {
  Entry e;
  auto st = EntryFromJson(nlohmann::json{{"titel", "typo"}}, &e);
  EXPECT_NE(st.message().find("unknown field 'titel'"), std::string::npos);
  st = EntryFromJson(nlohmann::json{{"confidence", "high"}}, &e);
  EXPECT_NE(st.message().find("confidence"), std::string::npos);
  st = EntryFromJson(nlohmann::json{{"tags", "a,b"}}, &e);
  EXPECT_NE(st.message().find("tags"), std::string::npos);
  st = EntryFromJson(nlohmann::json::array(), &e);
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace rekall::store

namespace rekall::store {
namespace {

// An imported file may name any id: it is bounded like the superseded_by
// that points at one (a 100,000-character id was stored).
TEST(Entry, IdsAreBounded) {
  Entry e;
  e.title = "t";
  e.type = "bug";
  e.created_at = e.updated_at = "2026-01-01T00:00:00";
  e.id = std::string(64, 'A');
  EXPECT_TRUE(ValidateEntry(e).ok()) << ValidateEntry(e).ToString();
  e.id = std::string(100000, 'A');
  Status s = ValidateEntry(e);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("id is 100000 bytes; the limit is 64 bytes"), std::string::npos) << s.ToString();
}

}  // namespace
}  // namespace rekall::store
