#include "server/schema_check.h"

#include <gtest/gtest.h>

namespace rekall::server {
namespace {

using nlohmann::json;

const json kSchema = json::parse(R"({
  "type": "object",
  "properties": {
    "query": {"type": "string"},
    "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
    "ratio": {"type": "number"},
    "mode": {"type": "string", "enum": ["hybrid", "semantic"], "default": "hybrid"},
    "tags": {"type": "array", "items": {"type": "string"}},
    "context": {"type": ["object", "string"],
                "properties": {"situation": {"type": "string"}},
                "required": ["situation"]}
  },
  "required": ["query"]
})");

TEST(CheckArguments, AcceptsGoodArguments) {
  EXPECT_TRUE(CheckArguments(kSchema, {{"query", "q"}}).empty());
  EXPECT_TRUE(CheckArguments(kSchema, {{"query", "q"}, {"limit", 5}, {"ratio", 1}, {"mode", "semantic"},
                                       {"tags", {"a", "b"}}, {"context", "plain"}, {"extra", true}})
                  .empty());
  EXPECT_TRUE(CheckArguments(kSchema, {{"query", "q"}, {"limit", 5.0}}).empty());  // integral float
  EXPECT_TRUE(CheckArguments(kSchema, {{"query", "q"}, {"context", {{"situation", "s"}}}}).empty());
  // Null optional arguments count as absent.
  EXPECT_TRUE(CheckArguments(kSchema, {{"query", "q"}, {"limit", nullptr}}).empty());
}

TEST(CheckArguments, ReportsEachProblem) {
  auto p = CheckArguments(kSchema, json::object());
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "query: required");

  p = CheckArguments(kSchema, {{"query", 3}, {"limit", "10"}});
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], "limit: expected integer, got string");
  EXPECT_EQ(p[1], "query: expected string, got integer");

  p = CheckArguments(kSchema, {{"query", "q"}, {"limit", 2.5}, {"mode", "fuzzy"}, {"tags", {"a", 1}}});
  ASSERT_EQ(p.size(), 3u);
  EXPECT_EQ(p[0], "limit: expected integer, got number");
  EXPECT_EQ(p[1], "mode: must be one of [\"hybrid\",\"semantic\"], got \"fuzzy\"");
  EXPECT_EQ(p[2], "tags[1]: expected string, got integer");

  p = CheckArguments(kSchema, {{"query", "q"}, {"limit", 0}});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "limit: must be >= 1, got 0");
  p = CheckArguments(kSchema, {{"query", "q"}, {"limit", 51}});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "limit: must be <= 50, got 51");

  p = CheckArguments(kSchema, {{"query", "q"}, {"context", {{"solution", "x"}}}});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "context.situation: required");

  p = CheckArguments(kSchema, {{"query", "q"}, {"context", 3}});
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "context: expected object or string, got integer");

  p = CheckArguments(kSchema, {{"query", nullptr}});  // required: null is not absent
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "query: expected string, got null");

  p = CheckArguments(kSchema, json::array());
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], "arguments: expected object, got array");
}

TEST(NormalizeArguments, DropsNullOptionalsAndFillsDefaults) {
  json out = NormalizeArguments(kSchema, {{"query", "q"}, {"mode", nullptr}, {"tags", {"t"}}});
  EXPECT_EQ(out, (json{{"query", "q"}, {"limit", 10}, {"mode", "hybrid"}, {"tags", {"t"}}}));
  out = NormalizeArguments(kSchema, {{"query", "q"}, {"limit", 3}});
  EXPECT_EQ(out["limit"], 3);
}

}  // namespace
}  // namespace rekall::server
