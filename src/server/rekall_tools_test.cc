#include "server/rekall_tools.h"

#include <map>

#include <gtest/gtest.h>

#include "engine/search_mode.h"
#include "server/schema_check.h"

namespace rekall::server {
namespace {

using nlohmann::json;

const std::map<std::string, ToolSpec>& ByName() {
  static const std::map<std::string, ToolSpec> m = [] {
    std::map<std::string, ToolSpec> m;
    for (auto& t : RekallToolSpecs()) m[t.name] = t;
    return m;
  }();
  return m;
}

TEST(RekallTools, NamesAndRequiredArguments) {
  auto tools = ByName();  // a copy: operator[] below
  std::map<std::string, json> required = {
      {"rekall_search", {"query"}},  {"rekall_show", {"id"}},      {"rekall_add", {"type", "title"}},
      {"rekall_similar", {"entry_id"}}, {"rekall_update", {"id"}}, {"rekall_delete", {"id", "confirm"}},
      {"rekall_link", {"source_id", "target_id", "reason"}}, {"rekall_unlink", {"source_id", "target_id"}},
      {"rekall_related", {"entry_id"}}, {"rekall_deprecate", {"id"}},
      {"rekall_get_context", {"entry_ids"}}, {"rekall_generalize", {"entry_ids"}},
      {"rekall_sources_suggest", {"entry_id"}},
  };
  ASSERT_EQ(tools.size(), 18u);
  for (const auto& [name, req] : required) {
    ASSERT_TRUE(tools.count(name)) << name;
    EXPECT_EQ(tools[name].input_schema["required"], req) << name;
    EXPECT_EQ(tools[name].input_schema["type"], "object") << name;
    EXPECT_FALSE(tools[name].description.empty()) << name;
  }
  ASSERT_TRUE(tools.count("rekall_info"));
  EXPECT_TRUE(tools["rekall_info"].input_schema["properties"].empty());
}

TEST(RekallTools, SearchArgumentsAndDefaults) {
  const json& s = ByName().at("rekall_search").input_schema;
  for (const char* p : {"query", "context", "type", "project", "limit", "mode", "tags"}) {
    EXPECT_TRUE(s["properties"].contains(p)) << p;
  }
  json args = NormalizeArguments(s, {{"query", "cors"}, {"project", nullptr}});
  EXPECT_EQ(args, (json{{"query", "cors"}, {"limit", 10}, {"mode", SearchModeName(kDefaultSearchMode)}}));
  EXPECT_EQ(s["properties"]["mode"]["default"], "hybrid");
  EXPECT_TRUE(CheckArguments(s, {{"query", "q"}, {"tags", {"a"}}, {"limit", 200}}).empty());
  EXPECT_FALSE(CheckArguments(s, {{"query", "q"}, {"limit", 0}}).empty());
  EXPECT_FALSE(CheckArguments(s, {{"query", "q"}, {"mode", "fuzzy"}}).empty());
}

TEST(RekallTools, AddAcceptsRekallShapedCalls) {
  const json& s = ByName().at("rekall_add").input_schema;
  // A call as Rekall's own help text shows it.
  json call = json::parse(R"({"type": "bug", "title": "Fix 504 nginx", "content": "## Problem",
      "context": {"situation": "timeouts", "solution": "proxy_read_timeout",
                  "trigger_keywords": ["504", "nginx"]},
      "tags": ["nginx"], "project": "api", "confidence": 4})");
  EXPECT_TRUE(CheckArguments(s, call).empty());
  EXPECT_TRUE(CheckArguments(s, {{"type", "pattern"}, {"title", "t"}, {"context", "legacy string"}}).empty());
  EXPECT_EQ(NormalizeArguments(s, {{"type", "bug"}, {"title", "t"}})["confidence"], 2);
  EXPECT_FALSE(CheckArguments(s, {{"type", "bugs"}, {"title", "t"}}).empty());
  EXPECT_FALSE(CheckArguments(s, {{"type", "bug"}, {"title", "t"}, {"confidence", 6}}).empty());
  EXPECT_FALSE(CheckArguments(s, {{"type", "bug"}, {"title", "t"}, {"tags", "a,b"}}).empty());
}

TEST(RekallTools, UnknownArgumentsAreRefusedByEveryTool) {
  for (const auto& [name, t] : ByName()) {
    EXPECT_EQ(t.input_schema["additionalProperties"], false) << name;
    json args = NormalizeArguments(t.input_schema, json::object());
    for (const auto& r : t.input_schema.value("required", json::array())) args[r.get<std::string>()] = "x";
    args["no_such_argument"] = 1;
    auto p = CheckArguments(t.input_schema, args);
    ASSERT_FALSE(p.empty()) << name;
    EXPECT_EQ(p.back().rfind("no_such_argument: unknown argument (known: ", 0), 0u) << name << ": " << p.back();
  }
  json many = {{"query", "q"}};
  for (int i = 0; i < 1000; ++i) many["unknown_" + std::to_string(i)] = i;
  auto capped = CheckArguments(ByName().at("rekall_search").input_schema, many);
  ASSERT_EQ(capped.size(), kMaxProblems + 1);
  EXPECT_EQ(capped.back(), "and 990 more");
  // rekall_update takes no status (rekall_deprecate does): it used to
  // succeed without changing anything.
  auto p = CheckArguments(ByName().at("rekall_update").input_schema, {{"id", "01H"}, {"status", "obsolete"}});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0].rfind("status: unknown argument", 0), 0u) << p[0];
  // Keys inside a context object stay open: Rekall keeps unknown ones.
  EXPECT_TRUE(CheckArguments(ByName().at("rekall_add").input_schema,
                             {{"type", "bug"}, {"title", "t"},
                              {"context", {{"situation", "s"}, {"solution", "t"}, {"mood", "tired"}}}})
                  .empty());
  // Rekall's transcript-capture arguments are known names.
  EXPECT_TRUE(CheckArguments(ByName().at("rekall_add").input_schema,
                             {{"type", "bug"}, {"title", "t"}, {"auto_capture_conversation", false},
                              {"_session_id", "s"}, {"conversation_excerpt_indices", {0, 1}}})
                  .empty());
}

TEST(RekallTools, UpdateHasNoDefaultsThatWouldOverwrite) {
  const json& s = ByName().at("rekall_update").input_schema;
  EXPECT_EQ(NormalizeArguments(s, {{"id", "01H"}}), (json{{"id", "01H"}}));
  EXPECT_EQ(NormalizeArguments(ByName().at("rekall_similar").input_schema, {{"entry_id", "x"}})["limit"], 5);
}

TEST(RekallTools, RekallsDefaultsAndEnums) {
  const auto& tools = ByName();
  EXPECT_EQ(NormalizeArguments(tools.at("rekall_link").input_schema,
                               {{"source_id", "a"}, {"target_id", "b"}, {"reason", "r"}})["relation_type"],
            "related");
  EXPECT_FALSE(CheckArguments(tools.at("rekall_link").input_schema,
                              {{"source_id", "a"}, {"target_id", "b"}, {"reason", "r"}, {"relation_type", "foo"}})
                   .empty());
  EXPECT_EQ(NormalizeArguments(tools.at("rekall_related").input_schema, {{"entry_id", "a"}})["depth"], 1);
  for (int depth : {0, -1})  // refused; past 3 is clamped by the handler
    EXPECT_FALSE(CheckArguments(tools.at("rekall_related").input_schema, {{"entry_id", "a"}, {"depth", depth}}).empty());
  EXPECT_EQ(NormalizeArguments(tools.at("rekall_stale").input_schema, json::object()),
            (json{{"days", 90}, {"limit", 20}}));
  EXPECT_FALSE(CheckArguments(tools.at("rekall_delete").input_schema, {{"id", "a"}}).empty());
  EXPECT_FALSE(CheckArguments(tools.at("rekall_help").input_schema, {{"topic", "everything"}}).empty());
}

TEST(RekallTools, EveryToolSaysWhatItChangesAndWhatItReturns) {
  for (const auto& [name, t] : ByName()) {
    ASSERT_TRUE(t.annotations.is_object()) << name;
    EXPECT_TRUE(t.annotations["readOnlyHint"].is_boolean()) << name;
    EXPECT_TRUE(t.annotations["destructiveHint"].is_boolean()) << name;
    ASSERT_TRUE(t.output_schema.is_object()) << name;
    EXPECT_EQ(t.output_schema["type"], "object") << name;
    EXPECT_FALSE(t.output_schema["required"].empty()) << name;
  }
  const auto& tools = ByName();
  EXPECT_TRUE(tools.at("rekall_search").annotations["readOnlyHint"]);
  EXPECT_FALSE(tools.at("rekall_search").annotations["destructiveHint"]);
  EXPECT_FALSE(tools.at("rekall_delete").annotations["readOnlyHint"]);
  EXPECT_TRUE(tools.at("rekall_delete").annotations["destructiveHint"]);
  EXPECT_FALSE(tools.at("rekall_add").annotations["destructiveHint"]);
}

TEST(RekallTools, SupersedeGroups) {
  EXPECT_EQ(RekallSupersedeGroup("rekall_search"), "search");
  EXPECT_EQ(RekallSupersedeGroup("rekall_similar"), "similar");
  EXPECT_EQ(RekallSupersedeGroup("rekall_add"), "");
}

}  // namespace
}  // namespace rekall::server
