// McpServer end to end through pipes: Run on a thread, the test as client.
#include "server/mcp_server.h"

#include <poll.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "server/fake_tool_handler.h"

namespace rekall::server {
namespace {

using nlohmann::json;

// A client end of one server connection.
class Session {
 public:
  explicit Session(ServerOptions options = {}) : server_(&handler_, std::move(options)) {
    EXPECT_EQ(::pipe(in_), 0);
    EXPECT_EQ(::pipe(out_), 0);
    thread_ = std::thread([this] {
      rc_ = server_.Run(in_[0], out_[1]);
      ::close(out_[1]);  // the client sees EOF once the server is done
    });
  }
  ~Session() {
    if (thread_.joinable()) CloseInputAndWait();
    ::close(in_[0]);
    ::close(out_[0]);
  }

  void SendRaw(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::write(in_[1], data.data(), data.size());
      ASSERT_GT(n, 0);
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  void Send(const json& m) { SendRaw(m.dump() + "\n"); }
  void Request(const json& id, const std::string& method, json params = nullptr) {
    json m{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!params.is_null()) m["params"] = std::move(params);
    Send(m);
  }
  void Notify(const std::string& method, json params = nullptr) {
    json m{{"jsonrpc", "2.0"}, {"method", method}};
    if (!params.is_null()) m["params"] = std::move(params);
    Send(m);
  }
  void Call(const json& id, const std::string& tool, json args) {
    Request(id, "tools/call", json{{"name", tool}, {"arguments", std::move(args)}});
  }
  void Initialize(const std::string& version = kLatestProtocolVersion) {
    Request("init", "initialize",
            json{{"protocolVersion", version}, {"capabilities", json::object()},
                 {"clientInfo", {{"name", "test"}, {"version", "1"}}}});
    json r = Read();
    ASSERT_EQ(r["id"], "init");
    Notify("notifications/initialized");
  }

  // The next message, or nullopt at EOF. A 60 s bound turns a hang into a
  // failure; it is not a timing assertion.
  std::optional<json> ReadOrEof() {
    for (;;) {
      size_t nl = pending_.find('\n');
      if (nl != std::string::npos) {
        std::string line = pending_.substr(0, nl);
        pending_.erase(0, nl + 1);
        return json::parse(line);
      }
      pollfd p{out_[0], POLLIN, 0};
      if (::poll(&p, 1, 60000) <= 0) {
        ADD_FAILURE() << "no message from the server";
        return std::nullopt;
      }
      char buf[4096];
      ssize_t n = ::read(out_[0], buf, sizeof buf);
      if (n <= 0) {
        EXPECT_TRUE(pending_.empty()) << "unterminated output: " << pending_;
        return std::nullopt;
      }
      pending_.append(buf, static_cast<size_t>(n));
    }
  }
  json Read() {
    auto m = ReadOrEof();
    if (!m) {
      ADD_FAILURE() << "unexpected EOF";
      return json();
    }
    return *m;
  }

  int CloseInputAndWait() {
    ::close(in_[1]);
    thread_.join();
    return rc_;
  }

  FakeToolHandler handler_;

 private:
  McpServer server_;
  int in_[2] = {-1, -1};
  int out_[2] = {-1, -1};
  std::thread thread_;
  int rc_ = -1;
  std::string pending_;
};

int Code(const json& response) { return response.at("error").at("code").get<int>(); }

ServerOptions OneWorker() {
  ServerOptions o;
  o.worker_threads = 1;
  return o;
}

TEST(CancelToken, CopiesShareTheFlagAndCancelWakesWaiters) {
  CancelToken a;
  CancelToken b = a;
  EXPECT_FALSE(b.cancelled());
  EXPECT_EQ(a.flag(), b.flag());
  EXPECT_FALSE(b.flag()->load());
  std::thread t([&] { EXPECT_TRUE(b.WaitFor(std::chrono::minutes(5))); });
  a.Cancel();
  t.join();
  EXPECT_TRUE(b.cancelled());
  EXPECT_TRUE(b.flag()->load());
  EXPECT_FALSE(CancelToken().WaitFor(std::chrono::milliseconds(1)));
}

TEST(McpServer, InitializeNegotiatesTheProtocolVersion) {
  Session s;
  s.Request(1, "initialize", {{"protocolVersion", "2025-06-18"}, {"capabilities", json::object()}});
  json r = s.Read();
  EXPECT_EQ(r["jsonrpc"], "2.0");
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["result"]["protocolVersion"], "2025-06-18");
  EXPECT_EQ(r["result"]["capabilities"], (json{{"tools", {{"listChanged", false}}}}));
  EXPECT_EQ(r["result"]["serverInfo"]["name"], "rekall");
  EXPECT_EQ(r["result"]["serverInfo"]["version"], "0.1.0");

  // A version we do not speak: we offer our latest.
  s.Request(2, "initialize", {{"protocolVersion", "2099-01-01"}});
  EXPECT_EQ(s.Read()["result"]["protocolVersion"], kLatestProtocolVersion);

  s.Request(3, "initialize", {{"capabilities", json::object()}});
  EXPECT_EQ(Code(s.Read()), -32602);
  EXPECT_EQ(s.CloseInputAndWait(), 0);
}

TEST(McpServer, PingAndToolsList) {
  Session s;
  s.Initialize();
  s.Request("p", "ping");
  json r = s.Read();
  EXPECT_EQ(r["id"], "p");
  EXPECT_EQ(r["result"], json::object());

  s.Request(2, "tools/list", {{"cursor", "ignored"}});
  r = s.Read();
  const json& tools = r["result"]["tools"];
  ASSERT_TRUE(tools.is_array());
  ASSERT_EQ(tools.size(), s.handler_.Tools().size());
  EXPECT_EQ(tools[0]["name"], "echo");
  EXPECT_EQ(tools[0]["inputSchema"]["required"], json::array({"text"}));
  EXPECT_FALSE(tools[0]["description"].get<std::string>().empty());
}

TEST(McpServer, ProtocolErrorsAreAnsweredAndServingGoesOn) {
  Session s;
  s.SendRaw("{not json\n");
  json r = s.Read();
  EXPECT_EQ(Code(r), -32700);
  EXPECT_TRUE(r["id"].is_null());

  s.SendRaw("[{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}]\n");
  EXPECT_EQ(Code(s.Read()), -32600);
  s.SendRaw("{\"id\":5,\"method\":\"ping\"}\n");
  r = s.Read();
  EXPECT_EQ(Code(r), -32600);
  EXPECT_EQ(r["id"], 5);

  s.Request(6, "resources/list");
  r = s.Read();
  EXPECT_EQ(Code(r), -32601);
  EXPECT_EQ(r["id"], 6);
  s.Request(7, "server/discover");  // the stateless era: clients fall back on -32601
  EXPECT_EQ(Code(s.Read()), -32601);

  s.Send(json{{"jsonrpc", "2.0"}, {"id", 8}, {"method", "ping"}, {"params", {1, 2}}});
  EXPECT_EQ(Code(s.Read()), -32602);

  // Blank lines, notifications (known, unknown or malformed) and responses
  // from the client get no answer: the next message is the ping's.
  s.SendRaw("\n   \r\n");
  s.Notify("notifications/initialized");
  s.Notify("notifications/unknown", {{"x", 1}});
  s.SendRaw("{\"jsonrpc\":\"1.0\",\"method\":\"notifications/x\"}\n");
  s.Notify("notifications/cancelled", {{"requestId", 12345}});
  s.Send(json{{"jsonrpc", "2.0"}, {"id", 99}, {"result", json::object()}});
  s.SendRaw("{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"ping\"}\r\n");  // CRLF is fine
  r = s.Read();
  EXPECT_EQ(r["id"], 9);
  EXPECT_EQ(r["result"], json::object());
  EXPECT_EQ(s.CloseInputAndWait(), 0);
  EXPECT_FALSE(s.ReadOrEof());
}

TEST(McpServer, OversizedMessageIsRejectedAndSkipped) {
  ServerOptions o;
  o.max_message_bytes = 64;
  Session s(o);
  std::string big = R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":")" +
                    std::string(100000, 'x') + "\"}}}\n";
  s.SendRaw(big.substr(0, 50000));
  json r = s.Read();  // answered before the line even ends
  EXPECT_EQ(Code(r), -32600);
  EXPECT_EQ(r["id"], 1);  // read from the start of the line: the client's call ends
  EXPECT_EQ(r["error"]["data"]["maxBytes"], 64);
  s.SendRaw(big.substr(50000));
  s.Request(2, "ping");
  r = s.Read();
  EXPECT_EQ(r["id"], 2);
  EXPECT_TRUE(r.contains("result"));
}

// 300,000 levels fit in well under max_message_bytes and used to overflow
// the stack once the value was copied (arguments) or dumped (requestId).
std::string Deep(size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(McpServer, DeeplyNestedMessagesAreRejectedAndServingGoesOn) {
  Session s;
  s.Initialize();
  s.SendRaw(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"text":"x","deep":)" +
            Deep(300000) + "}}}\n");
  json r = s.Read();
  EXPECT_EQ(r["id"], 1);  // answered under its own id, so the client is not left waiting
  EXPECT_EQ(Code(r), -32600);
  EXPECT_EQ(r["error"]["data"]["maxDepth"], kMaxJsonDepth);
  // A notification is never answered, a deep one neither: the next message
  // is the ping's.
  s.SendRaw(R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":)" + Deep(300000) + "}}\n");
  s.Request(3, "ping");
  r = s.Read();
  EXPECT_EQ(r["id"], 3);
  EXPECT_TRUE(r.contains("result"));
  // Nesting up to the limit is served.
  std::string at_limit = std::string(kMaxJsonDepth - 3, '[') + std::string(kMaxJsonDepth - 3, ']');
  s.SendRaw(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"typed","arguments":{"n":1,"x":)" +
            at_limit + "}}}\n");
  r = s.Read();
  EXPECT_EQ(r["id"], 4);
  EXPECT_EQ(r["result"]["isError"], false);
  EXPECT_EQ(s.CloseInputAndWait(), 0);
}

TEST(McpServer, InvalidUtf8FromAToolIsReplacedNotFatal) {
  for (const char* version : {kLatestProtocolVersion, "2024-11-05"}) {
    Session s;
    s.Initialize(version);
    s.Call(1, "bad_utf8", json::object());
    json r = s.Read();  // Read parses the line: it is valid JSON, so valid UTF-8
    ASSERT_EQ(r["id"], 1) << version;
    EXPECT_EQ(r["result"]["content"][0]["text"], "bad \xEF\xBF\xBD byte");
    if (r["result"].contains("structuredContent")) {
      EXPECT_EQ(r["result"]["structuredContent"]["text"], "bad \xEF\xBF\xBD tail");
      EXPECT_TRUE(r["result"]["structuredContent"].contains("key \xEF\xBF\xBD"));
    }
    s.Request(2, "ping");
    EXPECT_EQ(s.Read()["id"], 2);
  }
}

TEST(McpServer, ToolsCallResultShape) {
  Session s;
  s.Initialize();
  s.Call(1, "echo", {{"text", "hello"}});
  json r = s.Read();
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["result"], (json{{"content", {{{"type", "text"}, {"text", "hello"}}}},
                               {"structuredContent", {{"echo", "hello"}}},
                               {"isError", false}}));

  s.Call(2, "fail", {{"message", "nope"}});
  r = s.Read();
  EXPECT_EQ(r["result"]["isError"], true);
  EXPECT_EQ(r["result"]["content"][0]["text"], "nope");

  s.Call(3, "boom", json::object());
  r = s.Read();
  EXPECT_EQ(r["result"]["isError"], true);
  EXPECT_EQ(r["result"]["content"][0]["text"], "internal error: boom");

  // No text: the structured result is the text too.
  s.Request(4, "tools/call", {{"name", "stats"}});  // arguments may be omitted
  r = s.Read();
  EXPECT_EQ(json::parse(r["result"]["content"][0]["text"].get<std::string>()), r["result"]["structuredContent"]);
}

TEST(McpServer, NoStructuredContentBefore20250618) {
  Session s;
  s.Initialize("2025-03-26");
  s.Call(1, "echo", {{"text", "hi"}});
  json r = s.Read();
  EXPECT_EQ(r["result"]["content"][0]["text"], "hi");
  EXPECT_FALSE(r["result"].contains("structuredContent"));
}

TEST(McpServer, ToolsCallProtocolErrors) {
  Session s;
  s.Initialize();
  s.Call(1, "nosuchtool", json::object());
  json r = s.Read();
  EXPECT_EQ(Code(r), -32602);
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["error"]["message"], "Unknown tool: nosuchtool");
  s.Request(2, "tools/call", {{"arguments", json::object()}});
  EXPECT_EQ(Code(s.Read()), -32602);
  s.Request(3, "tools/call", {{"name", "echo"}, {"arguments", {"text"}}});
  EXPECT_EQ(Code(s.Read()), -32602);
  s.Request(4, "tools/call");
  EXPECT_EQ(Code(s.Read()), -32602);
}

TEST(McpServer, BadArgumentsAreInvalidParamsBefore20251125) {
  Session s;
  s.Initialize("2025-06-18");
  s.Call(1, "typed", {{"n", "three"}, {"kind", "c"}, {"tags", {"a", 2}}});
  json r = s.Read();
  EXPECT_EQ(Code(r), -32602);
  EXPECT_EQ(r["id"], 1);
  EXPECT_EQ(r["error"]["data"]["problems"],
            (json{"kind: must be one of [\"a\",\"b\"], got \"c\"", "n: expected integer, got string",
                  "tags[1]: expected string, got integer"}));
  s.Call(2, "echo", json::object());
  r = s.Read();
  EXPECT_EQ(Code(r), -32602);
  EXPECT_NE(r["error"]["message"].get<std::string>().find("text: required"), std::string::npos);
}

TEST(McpServer, BadArgumentsAreToolErrorsFrom20251125) {
  Session s;
  s.Initialize("2025-11-25");
  s.Call(1, "typed", {{"n", 11}});
  json r = s.Read();
  ASSERT_TRUE(r.contains("result")) << r;
  EXPECT_EQ(r["result"]["isError"], true);
  EXPECT_EQ(r["result"]["content"][0]["text"], "Invalid arguments for tool typed: n: must be <= 10, got 11");
}

TEST(McpServer, HandlerSeesNormalizedArguments) {
  Session s;
  s.Initialize();
  s.Call(1, "typed", {{"n", 2}, {"kind", nullptr}, {"flag", true}});
  EXPECT_EQ(s.Read()["result"]["structuredContent"], (json{{"n", 2}, {"flag", true}}));
}

TEST(McpServer, ReaderAnswersWhileACallRuns) {
  Session s(OneWorker());
  s.Initialize();
  s.Call("slow-1", "slow", {{"label", "a"}});  // blocks the only worker
  s.Request(2, "ping");
  EXPECT_EQ(s.Read()["id"], 2);
  s.Request(3, "tools/list");
  EXPECT_EQ(s.Read()["id"], 3);
  s.Request(4, "initialize", {{"protocolVersion", "2025-11-25"}});
  EXPECT_EQ(s.Read()["id"], 4);
  s.Notify("notifications/cancelled", {{"requestId", "slow-1"}, {"reason", "test"}});
  s.Call(5, "echo", {{"text", "after"}});
  // One worker: the slow call is over before echo starts, and the client
  // cancelled it, so it is never answered.
  json r = s.Read();
  EXPECT_EQ(r["id"], 5);
  EXPECT_EQ(s.CloseInputAndWait(), 0);
  EXPECT_FALSE(s.ReadOrEof());
  EXPECT_EQ(s.handler_.slow_completed.load(), 0);
}

TEST(McpServer, CancelledWhileQueuedNeverRuns) {
  Session s(OneWorker());
  s.Initialize();
  s.Call(1, "slow", {{"label", "blocker"}});
  s.Call(2, "echo", {{"text", "queued"}});  // behind the blocker
  s.Notify("notifications/cancelled", {{"requestId", 2}});
  s.Notify("notifications/cancelled", {{"requestId", 1}});
  s.Call(3, "echo", {{"text", "last"}});
  EXPECT_EQ(s.Read()["id"], 3);
  EXPECT_EQ(s.CloseInputAndWait(), 0);
  EXPECT_FALSE(s.ReadOrEof());
}

TEST(McpServer, NewerCallOfTheSameGroupSupersedes) {
  Session s;
  s.Initialize();
  s.Call(1, "slow", {{"label", "first"}});
  s.Call(2, "slow", {{"label", "second"}, {"ms", 0}});
  json first, second;
  for (int i = 0; i < 2; ++i) {
    json r = s.Read();
    (r["id"] == 1 ? first : second) = r;
  }
  ASSERT_EQ(first["id"], 1);
  ASSERT_EQ(second["id"], 2);
  EXPECT_EQ(first["result"]["isError"], true);
  EXPECT_EQ(first["result"]["structuredContent"],
            (json{{"cancelled", true}, {"reason", "superseded"}, {"supersededBy", 2}}));
  EXPECT_EQ(first["result"]["content"][0]["text"], "cancelled: superseded by a newer slow call (request 2)");
  EXPECT_EQ(second["result"]["isError"], false);
  EXPECT_EQ(second["result"]["structuredContent"], (json{{"label", "second"}, {"done", true}}));
  EXPECT_EQ(s.CloseInputAndWait(), 0);
  EXPECT_EQ(s.handler_.slow_completed.load(), 1);
}

TEST(McpServer, OtherToolsDoNotSupersede) {
  Session s;
  s.Initialize();
  s.Call(1, "slow", {{"label", "a"}, {"ms", 1}});
  s.Call(2, "echo", {{"text", "x"}});
  json a = s.Read(), b = s.Read();
  if (a["id"] == 2) std::swap(a, b);
  EXPECT_EQ(a["result"]["content"][0]["text"], "done a");
  EXPECT_EQ(b["result"]["content"][0]["text"], "x");
}

TEST(McpServer, DuplicateIdOfARunningCallIsRejected) {
  Session s;
  s.Initialize();
  s.Call(1, "slow", {{"label", "a"}});
  s.Call(1, "echo", {{"text", "x"}});
  json r = s.Read();
  EXPECT_EQ(Code(r), -32600);
  EXPECT_EQ(r["id"], 1);
  s.Notify("notifications/cancelled", {{"requestId", 1}});
}

TEST(McpServer, EofLetsRunningCallsFinish) {
  ServerOptions o;
  o.eof_grace = std::chrono::minutes(5);
  Session s(o);
  s.Initialize();
  s.Call(1, "slow", {{"label", "a"}, {"ms", 20}});
  EXPECT_EQ(s.CloseInputAndWait(), 0);
  auto r = s.ReadOrEof();
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["result"]["content"][0]["text"], "done a");
  EXPECT_FALSE(s.ReadOrEof());
}

TEST(McpServer, EofCancelsCallsAfterTheGrace) {
  ServerOptions o;
  o.eof_grace = std::chrono::milliseconds(0);
  Session s(o);
  s.Initialize();
  s.Call(1, "slow", {{"label", "a"}});
  s.Call(2, "slow", {{"label", "b"}});  // supersedes 1
  EXPECT_EQ(s.CloseInputAndWait(), 0);
  json reasons;
  while (auto r = s.ReadOrEof()) reasons[(*r)["id"].dump()] = (*r)["result"]["structuredContent"]["reason"];
  EXPECT_EQ(reasons, (json{{"1", "superseded"}, {"2", "shutdown"}}));
}

}  // namespace
}  // namespace rekall::server
