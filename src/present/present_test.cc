#include "present/present.h"

#include <gtest/gtest.h>

namespace rekall::present {
namespace {

using nlohmann::json;

store::Entry SampleEntry() {
  store::Entry e;
  e.id = "01JD0000000000000000000000";
  e.title = "Nginx 504 after 60 s";
  e.content = "proxy_read_timeout defaults to 60s";
  e.type = "bug";
  e.project = "billing";
  e.confidence = 4;
  e.tags = {"nginx", "timeout"};
  e.created_at = "2026-11-01T10:00:00";
  e.updated_at = "2026-11-02T10:00:00";
  return e;
}

SearchResult Hybrid() {
  SearchResult r;
  r.entry = SampleEntry();
  r.score = 0.0325;
  r.vector_rank = 1;
  r.cosine = 0.48412;
  r.keyword_rank = 2;
  r.bm25 = -3.0104;
  return r;
}

TEST(Present, EntryTypeChoicesFollowTheStoresList) {
  EXPECT_EQ(EntryTypeChoices(), "bug, pattern, decision, pitfall, config or reference");
}

TEST(Present, WhyTextNamesRanksAndScores) {
  SearchResult r = Hybrid();
  EXPECT_EQ(WhyText(r), "vector #1 (cosine 0.484), keyword #2 (bm25 -3.010)");
  r.vector_rank = 0;
  EXPECT_EQ(WhyText(r), "keyword #2 (bm25 -3.010)");
  r.keyword_rank = 0;
  EXPECT_EQ(WhyText(r), "");
  EXPECT_EQ(WhyJson(r), (json{{"cosine", 0.48412}, {"bm25", -3.0104}}));  // scores without ranks: as given
}

TEST(Present, ResultJsonCarriesTheFieldsAsked) {
  json full = ResultJson(Hybrid(), ResultFields::kFullEntry);
  EXPECT_EQ(full["content"], "proxy_read_timeout defaults to 60s");
  EXPECT_EQ(full["created_at"], "2026-11-01T10:00:00");
  EXPECT_FALSE(full.contains("extra"));
  EXPECT_EQ(full["why"], (json{{"vector_rank", 1}, {"keyword_rank", 2}, {"cosine", 0.48412}, {"bm25", -3.0104}}));

  json summary = ResultJson(Hybrid(), ResultFields::kSummary);
  EXPECT_FALSE(summary.contains("content"));
  EXPECT_FALSE(summary.contains("created_at"));
  EXPECT_EQ(summary["project"], "billing");
  EXPECT_EQ(summary["tags"], json({"nginx", "timeout"}));
  EXPECT_EQ(summary["score"], 0.0325);
  EXPECT_EQ(summary["why"], full["why"]);
}

TEST(Present, ResultsTextForEachAudience) {
  std::vector<SearchResult> rs = {Hybrid()};
  EXPECT_EQ(ResultsText(rs, Audience::kTerminal),
            "1. 0.0325  01JD0000000000000000000000  [bug] Nginx 504 after 60 s  (billing, confidence 4)\n"
            "     why: vector #1 (cosine 0.484), keyword #2 (bm25 -3.010)\n");
  rs[0].entry.status = "obsolete";
  rs[0].entry.content = std::string(158, 'a') + "\xC3\xA9\xC3\xA9";  // cut inside the second é
  EXPECT_EQ(ResultsText(rs, Audience::kAgent),
            "1. [bug] Nginx 504 after 60 s\n"
            "   id: 01JD0000000000000000000000  project: billing  score: 0.0325  status: obsolete\n"
            "   why: vector #1 (cosine 0.484), keyword #2 (bm25 -3.010)\n"
            "   " + std::string(158, 'a') + "\xC3\xA9...\n");
  EXPECT_EQ(ResultsText({}, Audience::kAgent), "");
}

TEST(Present, EntryTextForEachAudience) {
  store::Entry e = SampleEntry();
  e.superseded_by = "01JE0000000000000000000000";
  e.extra[kContextColumn] = R"({"situation": "504 under load", "solution": null})";
  EXPECT_EQ(EntryText(e, Audience::kTerminal),
            "Nginx 504 after 60 s\n"
            "  id:         01JD0000000000000000000000\n"
            "  type:       bug\n"
            "  project:    billing\n"
            "  confidence: 4\n"
            "  status:     active\n"
            "  superseded by: 01JE0000000000000000000000\n"
            "  tags:       nginx, timeout\n"
            "  created:    2026-11-01T10:00:00\n"
            "  updated:    2026-11-02T10:00:00\n"
            "\n"
            "proxy_read_timeout defaults to 60s\n");
  e.superseded_by.reset();
  e.project.reset();
  EXPECT_EQ(EntryText(e, Audience::kAgent),
            "Nginx 504 after 60 s\n"
            "id: 01JD0000000000000000000000\ntype: bug\nproject: -\nconfidence: 4\nstatus: active\n"
            "tags: nginx, timeout\ncreated: 2026-11-01T10:00:00\nupdated: 2026-11-02T10:00:00\n"
            "situation: 504 under load\n"
            "\n"
            "proxy_read_timeout defaults to 60s");
}

TEST(Present, EntryJsonParsesTheContextAndHidesBookkeeping) {
  store::Entry e = SampleEntry();
  e.extra["access_count"] = 3;
  EXPECT_FALSE(EntryJson(e).contains("context"));
  EXPECT_FALSE(EntryJson(e).contains("extra"));
  e.extra[kContextColumn] = R"({"situation": "s"})";
  EXPECT_EQ(EntryJson(e)["context"], (json{{"situation", "s"}}));
  e.extra[kContextColumn] = "not json";
  EXPECT_EQ(EntryJson(e)["context"], "not json");
  EXPECT_NE(EntryText(e, Audience::kAgent).find("context: not json\n"), std::string::npos);
}

TEST(Present, PatchSetsOnlyTheFieldsGiven) {
  store::Entry e = SampleEntry();
  EntryPatch p;
  p.title = "new title";
  p.project = "";  // clears
  p.tags = std::vector<std::string>{"a", "b"};
  p.add_tags = {"c"};
  p.remove_tags = {"a"};
  p.ApplyTo(&e);
  EXPECT_EQ(e.title, "new title");
  EXPECT_EQ(e.content, "proxy_read_timeout defaults to 60s");
  EXPECT_FALSE(e.project.has_value());
  EXPECT_EQ(e.confidence, 4);
  EXPECT_EQ(e.tags, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(p.FieldNames(), (std::vector<std::string>{"title", "project", "tags"}));
  EXPECT_FALSE(e.extra.contains(kContextColumn));
}

TEST(Present, PatchFromToolArgs) {
  json args = {{"id", "01JD"}, {"confidence", 5}, {"title", "t"}, {"context", "legacy string"}};
  EntryPatch p = EntryPatch::FromToolArgs(args);
  EXPECT_EQ(p.FieldNames(), (std::vector<std::string>{"title", "confidence", "context"}));
  store::Entry e = SampleEntry();
  p.ApplyTo(&e);
  EXPECT_EQ(e.title, "t");
  EXPECT_EQ(e.confidence, 5);
  EXPECT_EQ(json::parse(e.extra[kContextColumn].get<std::string>()), (json{{"situation", "legacy string"}}));
  EXPECT_EQ(EntryContext(e), (json{{"situation", "legacy string"}}));

  EntryPatch q = EntryPatch::FromToolArgs({{"context", {{"solution", "x"}}}, {"project", "api"}});
  q.ApplyTo(&e);
  EXPECT_EQ(e.project, "api");
  EXPECT_EQ(EntryContext(e), (json{{"solution", "x"}}));
  EXPECT_THROW(EntryPatch::FromToolArgs({{"confidence", "high"}}), json::type_error);
}

}  // namespace
}  // namespace rekall::present

namespace rekall::present {
namespace {

// A context another tool stored nested too deep to copy safely is shown as
// the text it is, not parsed.
TEST(Present, DeepStoredContextStaysText) {
  store::Entry e = SampleEntry();
  std::string deep = std::string(300000, '[') + std::string(300000, ']');
  e.extra[kContextColumn] = deep;
  json c = EntryContext(e);
  ASSERT_TRUE(c.is_string());
  EXPECT_EQ(c.get<std::string>().size(), deep.size());
}

}  // namespace
}  // namespace rekall::present

namespace rekall::present {
namespace {

// `show`: the fields, Rekall's memory type and reads, the context, the
// content, then the links with the other entry's title.
TEST(Present, EntryDetailTextShowsContextReadsAndLinks) {
  store::Entry e = SampleEntry();
  e.extra["memory_type"] = "semantic";
  e.extra["access_count"] = 3;
  e.extra["last_accessed"] = "2026-11-03T10:00:00";
  e.extra[kContextColumn] = R"({"situation": "504 under load", "what_failed": null})";
  std::vector<LinkedEntry> links = {{true, "related", "01JE0000000000000000000000", "Proxy buffers"},
                                    {false, "supersedes", "01JF0000000000000000000000", ""}};
  EXPECT_EQ(EntryDetailText(e, links),
            "Nginx 504 after 60 s\n"
            "  id:         01JD0000000000000000000000\n"
            "  type:       bug\n"
            "  project:    billing\n"
            "  confidence: 4\n"
            "  status:     active\n"
            "  tags:       nginx, timeout\n"
            "  created:    2026-11-01T10:00:00\n"
            "  updated:    2026-11-02T10:00:00\n"
            "  memory:     semantic\n"
            "  accessed:   3 times, last 2026-11-03T10:00:00\n"
            "  situation:  504 under load\n"
            "\n"
            "proxy_read_timeout defaults to 60s\n"
            "\nlinks:\n"
            "  -> [related] 01JE0000000000000000000000  Proxy buffers\n"
            "  <- [supersedes] 01JF0000000000000000000000  \n");
  json j = LinkedEntriesJson(links);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0], json({{"direction", "outgoing"}, {"relation_type", "related"},
                        {"entry_id", "01JE0000000000000000000000"}, {"title", "Proxy buffers"}}));
  EXPECT_EQ(j[1]["direction"], "incoming");
}

// One rule for rekall_add and `rekall add` on an older Rekall schema.
TEST(Present, FitToColumnsDropsTheContextAndRefusesTheMemoryType) {
  auto none = [](const std::string&) { return false; };
  auto all = [](const std::string&) { return true; };
  EntryPatch p;
  p.context = json{{"situation", "s"}};
  std::string notice;
  ASSERT_TRUE(p.FitToColumns(all, &notice).ok());
  EXPECT_TRUE(p.context.has_value());
  EXPECT_EQ(notice, "");
  ASSERT_TRUE(p.FitToColumns(none, &notice).ok());
  EXPECT_FALSE(p.context.has_value());
  EXPECT_EQ(notice, "this database cannot hold the context");
  p.memory_type = "semantic";
  EXPECT_TRUE(p.FitToColumns(none, &notice).IsInvalidArgument());
  store::Entry e;
  ASSERT_TRUE(p.FitToColumns(all, &notice).ok());
  p.ApplyTo(&e);
  EXPECT_EQ(e.extra["memory_type"], "semantic");
}

}  // namespace
}  // namespace rekall::present
