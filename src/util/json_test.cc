#include "util/json.h"

#include <gtest/gtest.h>

#include <string>

namespace rekall {
namespace {

using nlohmann::json;

std::string Nested(size_t depth, const std::string& open = "[", const std::string& close = "]",
                   const std::string& inner = "1") {
  std::string s;
  s.reserve(depth * (open.size() + close.size()) + inner.size());
  for (size_t i = 0; i < depth; ++i) s += open;
  s += inner;
  for (size_t i = 0; i < depth; ++i) s += close;
  return s;
}

TEST(ParseJson, AcceptsOrdinaryJson) {
  json j;
  ASSERT_TRUE(ParseJson(R"( {"a": [1, 2.5, "x", null, true], "b": {"c": {}}} )", kMaxJsonDepth, &j).ok());
  EXPECT_EQ(j["a"][2], "x");
  EXPECT_TRUE(j["b"]["c"].is_object());
  ASSERT_TRUE(ParseJson("42", 0, &j).ok());  // a scalar has no nesting at all
  EXPECT_EQ(j, 42);
}

TEST(ParseJson, DepthLimitIsInclusive) {
  json j;
  EXPECT_TRUE(ParseJson(Nested(kMaxJsonDepth), kMaxJsonDepth, &j).ok());
  Status s = ParseJson(Nested(kMaxJsonDepth + 1), kMaxJsonDepth, &j);
  ASSERT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("deeper than 128 levels"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("at byte 129"), std::string::npos) << s.message();
  EXPECT_TRUE(ParseJson(Nested(3, "{\"k\":", "}"), 3, &j).ok());
  EXPECT_FALSE(ParseJson(Nested(4, "{\"k\":", "}"), 3, &j).ok());
}

TEST(ParseJson, BracketsInsideStringsDoNotCount) {
  json j;
  // Escaped quotes and backslashes do not end the string early.
  std::string text = R"(["[[[{{{ \" [[[ \\", "\"{{{{"])";
  ASSERT_TRUE(ParseJson(text, 1, &j).ok()) << text;
  EXPECT_EQ(j[0], "[[[{{{ \" [[[ \\");
  // A string holding a 300,000-deep text is a flat value.
  std::string deep_in_string = "{\"s\":\"" + Nested(300000) + "\"}";
  ASSERT_TRUE(ParseJson(deep_in_string, 1, &j).ok());
  EXPECT_EQ(j["s"].get<std::string>().size(), 600001u);
}

// What the limit is for: copying, comparing or dumping a value this deep
// overflows the stack. Rejected before anything is built, whatever the shape.
TEST(ParseJson, RejectsAValue300000LevelsDeep) {
  json j = "untouched";
  for (auto [open, close] : {std::pair{"[", "]"}, {"{\"a\":", "}"}, {"[{\"a\":", "}]"}}) {
    std::string deep = Nested(300000, open, close);
    Status s = ParseJson(deep, kMaxJsonDepth, &j);
    EXPECT_TRUE(s.IsInvalidArgument()) << open;
    EXPECT_EQ(j, "untouched");
    // Deep inside an otherwise ordinary message, as MCP arguments.
    std::string message = R"({"jsonrpc":"2.0","id":1,"params":{"arguments":{"x":)" + deep + "}}}";
    EXPECT_TRUE(ParseJson(message, kMaxJsonDepth, &j).IsInvalidArgument()) << open;
    EXPECT_TRUE(JsonDeeperThan(message, kMaxJsonDepth));
  }
  // Unterminated: nothing closes, the limit still applies.
  EXPECT_TRUE(JsonDeeperThan(std::string(300000, '['), kMaxJsonDepth));
  EXPECT_FALSE(JsonDeeperThan(std::string(300000, ']'), kMaxJsonDepth));
}

// The deepest accepted value survives every recursive walk.
TEST(ParseJson, DeepestAcceptedValueCanBeCopiedComparedAndDumped) {
  std::string text = Nested(kMaxJsonDepth / 2, "[{\"a\":", "}]");
  json j;
  ASSERT_TRUE(ParseJson(text, kMaxJsonDepth, &j).ok());
  json copy = j;
  EXPECT_EQ(copy, j);
  EXPECT_EQ(j.dump(), text);
}

TEST(ParseJson, MalformedJsonNamesThePosition) {
  json j = "untouched";
  for (const char* bad : {"", "{", R"({"a": })", "[1,]", "nul", "{} {}", "\"\xFF\"", R"("\ud800")"}) {
    Status s = ParseJson(bad, kMaxJsonDepth, &j);
    ASSERT_TRUE(s.IsInvalidArgument()) << bad;
    EXPECT_TRUE(s.message().starts_with("malformed JSON: parse error at line 1, column ")) << s.message();
    EXPECT_EQ(s.message().find("json.exception"), std::string::npos) << s.message();
    EXPECT_EQ(j, "untouched");
  }
  // A number out of double's range is an error too (nlohmann throws
  // out_of_range for it, not parse_error).
  for (const char* bad : {"1e999", R"({"id": -1e400})", "[1E+99999]"}) {
    Status s = ParseJson(bad, kMaxJsonDepth, &j);
    ASSERT_TRUE(s.IsInvalidArgument()) << bad;
    EXPECT_TRUE(s.message().starts_with("malformed JSON: number overflow")) << s.message();
    EXPECT_EQ(s.message().find("json.exception"), std::string::npos) << s.message();
    EXPECT_EQ(j, "untouched");
  }
}

TEST(DumpJson, ValidTextIsDumpedAsIs) {
  json j{{"title", "D\xC3\xA9ploiement \xE6\x97\xA5"}, {"n", {1, 2}}};
  bool replaced = true;
  EXPECT_EQ(DumpJson(j, -1, &replaced), j.dump());
  EXPECT_FALSE(replaced);
  EXPECT_EQ(DumpJson(j, 2, &replaced), j.dump(2));
  EXPECT_FALSE(replaced);
}

TEST(DumpJson, InvalidUtf8IsReplacedAndReported) {
  const std::string bad = "ok \xFF\xC3 end";  // a stray byte and a truncated sequence
  for (const json& j : {json(bad), json{{"content", bad}}, json{{bad, 1}}, json::array({json::array({bad})})}) {
    bool replaced = false;
    std::string out = DumpJson(j, -1, &replaced);
    EXPECT_TRUE(replaced) << out;
    EXPECT_NE(out.find("ok \xEF\xBF\xBD"), std::string::npos) << out;  // U+FFFD
    json back;
    EXPECT_TRUE(ParseJson(out, kMaxJsonDepth, &back).ok()) << out;
  }
  EXPECT_NE(DumpJson(json(bad), -1, nullptr).find("\xEF\xBF\xBD"), std::string::npos);
}

}  // namespace
}  // namespace rekall
