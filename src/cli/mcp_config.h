// `rekall mcp-config`: the snippet that registers `rekall serve` with an AI
// agent client. Agent clients start MCP servers from a command in their own
// config (a JSON file, or `claude mcp add`); the snippet names this binary by
// its absolute path and the database explicitly, so the server the client
// starts is the same rekall on the same knowledge base whatever the client's
// PATH and working folder are.
#pragma once

#include <string>
#include <vector>

#include "util/status.h"

namespace rekall::cli {

enum class McpClient { kClaudeCode, kClaudeDesktop, kCursor, kVsCode };

// "claude-code", "claude-desktop", "cursor", "vscode".
Status ParseMcpClient(const std::string& name, McpClient* out);

// The command a client runs: this binary, then `[--config C] --db D serve`.
struct ServeCommand {
  std::string command;
  std::vector<std::string> args;
};
// `db_path` and `config_path` (empty: none given) are made absolute.
ServeCommand MakeServeCommand(const std::string& db_path, const std::string& config_path);

// The snippet for one client, and where it goes (a shell, or which file).
struct McpSnippet {
  std::string text;
  std::string where;
};
McpSnippet McpConfigSnippet(McpClient client, const ServeCommand& cmd);

// `rekall mcp-config [client]`: one client's snippet alone in *out (where it
// goes in *where, for stderr), or, when `client` is empty, every client's
// with a heading each.
Status McpConfigText(const std::string& client, const ServeCommand& cmd, std::string* out, std::string* where);

}  // namespace rekall::cli
