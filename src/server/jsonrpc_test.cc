#include "server/jsonrpc.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace rekall::server::jsonrpc {
namespace {

using nlohmann::json;

struct Collected {
  std::vector<std::string> lines;
  int oversized = 0;
};

void FeedAll(LineFramer& f, Collected& c, std::string_view data) {
  f.Feed(
      data, [&](std::string_view l) { c.lines.emplace_back(l); }, [&](std::string_view) { ++c.oversized; });
}

TEST(LineFramer, SplitsLinesAcrossChunks) {
  LineFramer f(100);
  Collected c;
  FeedAll(f, c, "{\"a\":1}\n{\"b\"");
  FeedAll(f, c, ":2}\r\n\n{\"c\":3}");
  EXPECT_EQ(c.lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "", }));
  f.Finish([&](std::string_view l) { c.lines.emplace_back(l); });
  ASSERT_EQ(c.lines.size(), 4u);
  EXPECT_EQ(c.lines[3], "{\"c\":3}");
  EXPECT_EQ(c.oversized, 0);
}

TEST(LineFramer, LineAtTheLimitPasses) {
  LineFramer f(5);
  Collected c;
  FeedAll(f, c, "12345\n");
  EXPECT_EQ(c.lines, std::vector<std::string>{"12345"});
  EXPECT_EQ(c.oversized, 0);
}

TEST(LineFramer, OversizedLineReportedOnceAndSkippedAcrossChunks) {
  LineFramer f(8);
  Collected c;
  FeedAll(f, c, "ok\n0123456");
  FeedAll(f, c, "789abcdef");  // limit passed here, before the line ends
  EXPECT_EQ(c.oversized, 1);
  FeedAll(f, c, std::string(1000, 'x'));
  FeedAll(f, c, "yyy\nnext\n");
  EXPECT_EQ(c.oversized, 1);
  EXPECT_EQ(c.lines, (std::vector<std::string>{"ok", "next"}));
  // The skipped tail of an oversized line is not delivered at EOF either.
  FeedAll(f, c, std::string(50, 'z'));
  f.Finish([&](std::string_view l) { c.lines.emplace_back(l); });
  EXPECT_EQ(c.oversized, 2);
  EXPECT_EQ(c.lines.size(), 2u);
}

TEST(ParseLine, Request) {
  ParseOutcome p = ParseLine(R"({"jsonrpc":"2.0","id":7,"method":"ping","params":{"x":1}})");
  ASSERT_TRUE(p.message);
  EXPECT_FALSE(p.error);
  EXPECT_EQ(p.message->kind, Message::Kind::kRequest);
  EXPECT_EQ(p.message->id, 7);
  EXPECT_EQ(p.message->method, "ping");
  EXPECT_EQ(p.message->params, (json{{"x", 1}}));
}

TEST(ParseLine, NotificationAndResponse) {
  ParseOutcome n = ParseLine(R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  ASSERT_TRUE(n.message);
  EXPECT_EQ(n.message->kind, Message::Kind::kNotification);
  EXPECT_TRUE(n.message->params.is_null());
  ParseOutcome r = ParseLine(R"({"jsonrpc":"2.0","id":"a","result":{}})");
  ASSERT_TRUE(r.message);
  EXPECT_EQ(r.message->kind, Message::Kind::kResponse);
}

int ErrorCodeOf(const ParseOutcome& p) {
  if (!p.error) return 0;
  return (*p.error)["error"]["code"].get<int>();
}

TEST(ParseLine, ParseErrors) {
  for (const char* line : {"{", "not json", "{\"jsonrpc\":\"2.0\",}", "\xff\xfe"}) {
    ParseOutcome p = ParseLine(line);
    EXPECT_FALSE(p.message) << line;
    EXPECT_EQ(ErrorCodeOf(p), kParseError) << line;
    EXPECT_TRUE((*p.error)["id"].is_null());
  }
  // So is a number beyond double's range (nlohmann throws out_of_range).
  EXPECT_EQ(ErrorCodeOf(ParseLine(R"({"jsonrpc":"2.0","id":1e999,"method":"ping"})")), kParseError);
  // Invalid UTF-8 inside a string is a parse error too.
  EXPECT_EQ(ErrorCodeOf(ParseLine("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\xc3\x28\"}")), kParseError);
}

TEST(ParseLine, InvalidRequests) {
  for (const char* line : {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", "42", R"("ping")",
                           R"({"id":1,"method":"ping"})", R"({"jsonrpc":"1.0","id":1,"method":"ping"})",
                           R"({"jsonrpc":"2.0","id":1,"method":5})", R"({"jsonrpc":"2.0","id":1})",
                           R"({"jsonrpc":"2.0","id":null,"method":"ping"})",
                           R"({"jsonrpc":"2.0","id":1.5,"method":"ping"})",
                           R"({"jsonrpc":"2.0","id":1,"method":"ping","params":3})"}) {
    ParseOutcome p = ParseLine(line);
    EXPECT_FALSE(p.message) << line;
    EXPECT_EQ(ErrorCodeOf(p), kInvalidRequest) << line;
  }
  // The error names the request when its id is usable.
  ParseOutcome p = ParseLine(R"({"jsonrpc":"1.0","id":"x","method":"ping"})");
  EXPECT_EQ((*p.error)["id"], "x");
}

TEST(ParseLine, InvalidNotificationIsNeverAnswered) {
  ParseOutcome p = ParseLine(R"({"jsonrpc":"1.0","method":"notifications/whatever"})");
  EXPECT_FALSE(p.message);
  EXPECT_FALSE(p.error);
}

std::string Deep(size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(ParseLine, TooDeepRequestIsAnsweredUnderItsId) {
  for (std::string line :
       {R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"x","arguments":{"a":)" + Deep(300000) + "}}}",
        R"({"params":{"arguments":)" + Deep(300000) + R"(},"jsonrpc":"2.0","method":"tools/call","id":7})"}) {
    ParseOutcome p = ParseLine(line);
    EXPECT_FALSE(p.message);
    ASSERT_EQ(ErrorCodeOf(p), kInvalidRequest);
    EXPECT_EQ((*p.error)["id"], 7);
    EXPECT_EQ((*p.error)["error"]["data"]["maxDepth"], kMaxJsonDepth);
    EXPECT_EQ((*p.error)["error"]["message"], "Invalid Request: JSON nested deeper than 128 levels");
    EXPECT_EQ(p.rejected, "Invalid Request: JSON nested deeper than 128 levels");
  }
  // No usable id: the error goes out with a null id.
  for (std::string line : {R"({"jsonrpc":"2.0","id":)" + Deep(300000) + R"(,"method":"ping"})", Deep(300000),
                           std::string(300000, '{'), R"({"jsonrpc":"2.0","id":1.5,"params":)" + Deep(200) + "}",
                           R"({"jsonrpc":"2.0","id":"x","params":)" + Deep(200)}) {
    ParseOutcome p = ParseLine(line);
    EXPECT_FALSE(p.message);
    ASSERT_EQ(ErrorCodeOf(p), kInvalidRequest) << line.substr(0, 60);
    EXPECT_TRUE((*p.error)["id"].is_null()) << line.substr(0, 60);
  }
}

TEST(ParseLine, TooDeepNotificationIsNeverAnswered) {
  ParseOutcome p = ParseLine(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":)" +
                             Deep(300000) + "}}");
  EXPECT_FALSE(p.message);
  EXPECT_FALSE(p.error);
  EXPECT_NE(p.rejected.find("deeper than 128 levels"), std::string::npos);
}

TEST(ParseLine, DepthLimitCountsTheEnvelope) {
  // message, params, arguments: three levels before the value.
  std::string at = R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"arguments":)" + Deep(5) + "}}";
  EXPECT_TRUE(ParseLine(at, 7).message);
  EXPECT_EQ(ErrorCodeOf(ParseLine(at, 6)), kInvalidRequest);
  ParseOutcome p = ParseLine(R"({"jsonrpc":"2.0","id":1,"method":"m","params":{"a":)" + Deep(kMaxJsonDepth - 2) + "}}");
  ASSERT_TRUE(p.message);
  EXPECT_EQ(p.message->params["a"], json::parse(Deep(kMaxJsonDepth - 2)));
}

TEST(ParseLine, RejectedSaysWhy) {
  EXPECT_TRUE(ParseLine(R"({"jsonrpc":"2.0","id":1,"method":"ping"})").rejected.empty());
  ParseOutcome p = ParseLine("{\"a\": nul}");
  EXPECT_EQ((*p.error)["error"]["message"], "Parse error: the line is not valid JSON");
  EXPECT_NE(p.rejected.find("column"), std::string::npos) << p.rejected;
  p = ParseLine(R"({"jsonrpc":"1.0","method":"notifications/whatever"})");
  EXPECT_EQ(p.rejected, "Invalid Request: \"jsonrpc\" must be \"2.0\"");
}

TEST(Serialize, OneLineAndInvalidUtf8Replaced) {
  std::string s = Serialize(MakeResult(1, json{{"text", std::string("a\nb\xff")}}));
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.back(), '\n');
  EXPECT_EQ(s.find('\n'), s.size() - 1);
  json back = json::parse(s);
  EXPECT_EQ(back["result"]["text"], "a\nb\xEF\xBF\xBD");
  bool replaced = false;
  Serialize(MakeResult(1, json{{"text", std::string("a\xff")}}), &replaced);
  EXPECT_TRUE(replaced);
  Serialize(MakeResult(1, json{{"text", "fine"}}), &replaced);
  EXPECT_FALSE(replaced);
}

TEST(MakeError, Shape) {
  json e = MakeError(3, kMethodNotFound, "Method not found: x", json{{"k", 1}});
  EXPECT_EQ(e, (json{{"jsonrpc", "2.0"},
                     {"id", 3},
                     {"error", {{"code", -32601}, {"message", "Method not found: x"}, {"data", {{"k", 1}}}}}}));
  EXPECT_FALSE(MakeError(nullptr, kParseError, "m")["error"].contains("data"));
}

TEST(IdOfPrefix, FindsTheTopLevelIdOfACutLine) {
  EXPECT_EQ(IdOfPrefix(R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"a":"xxxx)"), 7);
  EXPECT_EQ(IdOfPrefix(R"({"id":"abc","params":[[[[)"), "abc");
  // Only the top level counts, and only a string or an integer.
  EXPECT_TRUE(IdOfPrefix(R"({"params":{"id":5},"method":"x)").is_null());
  EXPECT_TRUE(IdOfPrefix(R"({"id":1.5,"method":"x)").is_null());
  EXPECT_TRUE(IdOfPrefix(R"({"id":{"x":1},"method":"x)").is_null());
  // Cut before the id's value, or not JSON at all.
  EXPECT_TRUE(IdOfPrefix(R"({"method":"x","id":)").is_null());
  EXPECT_TRUE(IdOfPrefix("not json").is_null());
  EXPECT_TRUE(IdOfPrefix("").is_null());
  // Deep nesting before the id is walked without recursion.
  EXPECT_TRUE(IdOfPrefix("{\"params\":" + std::string(200000, '[')).is_null());
}

}  // namespace
}  // namespace rekall::server::jsonrpc
