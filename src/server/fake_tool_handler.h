// A ToolHandler for tests: tools that echo, fail, throw, check argument types
// and one that blocks until cancelled, with counters to observe it. Used by
// the C++ tests and by rekall_mcp_fake_server, which the Python MCP SDK tests
// drive over real pipes.
#pragma once

#include <atomic>
#include <string>
#include <vector>

#include "server/mcp_server.h"

namespace rekall::server {

class FakeToolHandler : public ToolHandler {
 public:
  // With rekall_tools the Rekall tool specs are listed too; calling one
  // returns {"tool": name, "args": args} so tests can see what got through.
  explicit FakeToolHandler(bool rekall_tools = false) : rekall_tools_(rekall_tools) {}

  // echo {text}: returns text, structured {"echo": text}.
  // slow {label, ms = 60000}: waits until cancelled or ms passed, then returns
  //   "done <label>", structured {"label", "done": true}. Group "slow".
  // fail {message}: an isError result.   boom: throws.
  // typed {n: integer, ratio: number, flag: boolean, kind: a|b, tags: string[]}.
  // stats: the counters below.
  // print {text}: writes text to stdout with printf and std::cout, as a
  //   careless library would; returns "printed".
  // bad_utf8: text and structured content (a value and a key) that are not
  //   valid UTF-8, as a stored text written by another tool may be.
  std::vector<ToolSpec> Tools() override;
  ToolResult Call(const std::string& name, const nlohmann::json& args,
                  const CancelToken& cancel) override;
  std::string SupersedeGroup(const std::string& tool) override;

  std::atomic<int> slow_started{0};
  std::atomic<int> slow_cancelled{0};
  std::atomic<int> slow_completed{0};

 private:
  bool rekall_tools_;
};

}  // namespace rekall::server
