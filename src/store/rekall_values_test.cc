#include "store/rekall_values.h"

#include <gtest/gtest.h>

#include "store/entry.h"

namespace rekall::store {
namespace {

// Issue 10 #8: what Python 3.10's datetime.fromisoformat reads, and nothing else.
TEST(RekallValues, DatetimeAsPython310Reads) {
  for (const char* ok : {"2026-01-31", "2026-01-31T09", "2026-01-31T09:30", "2026-01-31 09:30:00",
                         "2026-01-31T09:30:00.123", "2026-01-31T09:30:00.123456", "2024-02-29T00:00:00",
                         "2026-01-31T09:30:00+01:00", "2026-01-31T09:30-05:30:15.123456"})
    EXPECT_TRUE(IsPythonIsoDatetime(ok)) << ok;
  for (const char* bad : {"", "not a date", "2026-01-31T09:30:00Z", "20260131T093000", "2026-1-31",
                          "2026-02-30T00:00:00", "2025-02-29", "2026-13-01", "0000-01-01", "2026-01-31T",
                          "2026-01-31T24:00", "2026-01-31T09:60", "2026-01-31T09:30:00.12",
                          "2026-01-31T09:30:00.1234567", "2026-01-31x09:30", "2026-01-31T09:30:00+01",
                          "2026-01-31T09:30:00+0100", "2026-01-31T9:30", " 2026-01-31",
                          "2026-01-31T09:30:00.5000-05:30", "2026-01-31T09:30+05"})
    EXPECT_FALSE(IsPythonIsoDatetime(bad)) << bad;
}

TEST(RekallValues, DateIsYyyyMmDdOnly) {
  EXPECT_TRUE(IsPythonIsoDate("2026-12-31"));
  EXPECT_FALSE(IsPythonIsoDate("2026-12-31T00:00:00"));
  EXPECT_FALSE(IsPythonIsoDate("2026-11-31"));
  EXPECT_FALSE(IsPythonIsoDate("garbage"));
}

TEST(RekallValues, EveryParsedColumnIsChecked) {
  using J = nlohmann::json;
  const J good = {{"memory_type", "semantic"}, {"access_count", 3},        {"review_interval", 1},
                  {"ease_factor", 2.5},        {"consolidation_score", 0}, {"centrality_score", 0.25},
                  {"last_accessed", "2026-01-31T09:30:00.000001"},         {"next_review", "2026-02-01"}};
  EXPECT_TRUE(ValidateRekallColumns(good).ok());
  for (auto it = good.begin(); it != good.end(); ++it) {
    J nulled = good;
    nulled[it.key()] = nullptr;  // Rekall's default applies
    EXPECT_TRUE(ValidateRekallColumns(nulled).ok()) << it.key();
  }
  const std::pair<const char*, J> bad[] = {
      {"memory_type", "procedural"}, {"access_count", "3"},       {"access_count", 1.5},
      {"review_interval", "x"},      {"ease_factor", "high"},     {"consolidation_score", true},
      {"centrality_score", "0.1"},   {"last_accessed", "yesterday"}, {"last_accessed", 5},
      {"next_review", "2026-02-01T00:00:00"}, {"next_review", "soon"}};
  for (const auto& [col, v] : bad) {
    J j = good;
    j[col] = v;
    Status s = ValidateRekallColumns(j);
    EXPECT_TRUE(s.IsInvalidArgument()) << col << " " << v.dump();
    EXPECT_NE(s.message().find(col), std::string::npos) << s.message();
  }
}

TEST(RekallValues, ValidateEntryChecksTimestampsAndExtra) {
  Entry e;
  e.title = "t";
  e.type = "bug";
  EXPECT_TRUE(ValidateEntry(e).ok());  // timestamps not set yet
  e.created_at = "not a date";
  EXPECT_NE(ValidateEntry(e).message().find("created_at"), std::string::npos);
  e.created_at = "2026-01-31T09:30:00";
  e.updated_at = "2026-01-31T09:30:00Z";
  EXPECT_NE(ValidateEntry(e).message().find("updated_at"), std::string::npos);
  e.updated_at = e.created_at;
  e.extra = {{"next_review", "tomorrow"}};
  EXPECT_NE(ValidateEntry(e).message().find("next_review"), std::string::npos);
}

}  // namespace
}  // namespace rekall::store
