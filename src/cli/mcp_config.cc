#include "cli/mcp_config.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

namespace rekall::cli {

namespace {

struct ClientInfo {
  McpClient client;
  const char* name;
  const char* where;
};

constexpr ClientInfo kClients[] = {
    {McpClient::kClaudeCode, "claude-code", "run it in a shell (add --scope user for every project)"},
    {McpClient::kClaudeDesktop, "claude-desktop",
     "merge it into claude_desktop_config.json (Settings > Developer > Edit Config)"},
    {McpClient::kCursor, "cursor", "merge it into ~/.cursor/mcp.json, or .cursor/mcp.json of a project"},
    {McpClient::kVsCode, "vscode", "merge it into .vscode/mcp.json of the workspace"},
};

std::string Absolute(const std::string& p) {
  if (p.empty() || p[0] == '/') return p;
  char cwd[PATH_MAX];
  return ::getcwd(cwd, sizeof cwd) ? std::string(cwd) + "/" + p : p;
}

std::string ShellQuote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+:=@,") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

}  // namespace

Status ParseMcpClient(const std::string& name, McpClient* out) {
  for (const auto& c : kClients) {
    if (name == c.name) {
      *out = c.client;
      return Status::OK();
    }
  }
  return Status::InvalidArgument("unknown client '" + name + "' (claude-code, claude-desktop, cursor or vscode)");
}

ServeCommand MakeServeCommand(const std::string& db_path, const std::string& config_path) {
  ServeCommand c;
  char exe[PATH_MAX];
  c.command = ::realpath("/proc/self/exe", exe) ? std::string(exe) : std::string("rekall");
  if (!config_path.empty()) c.args = {"--config", Absolute(config_path)};
  c.args.push_back("--db");
  c.args.push_back(Absolute(db_path));
  c.args.push_back("serve");
  return c;
}

McpSnippet McpConfigSnippet(McpClient client, const ServeCommand& cmd) {
  const ClientInfo* info = &kClients[0];
  for (const auto& c : kClients)
    if (c.client == client) info = &c;
  nlohmann::ordered_json server = {{"command", cmd.command}, {"args", cmd.args}};
  switch (client) {
    case McpClient::kClaudeCode: {
      std::string line = "claude mcp add rekall -- " + ShellQuote(cmd.command);
      for (const auto& a : cmd.args) line += " " + ShellQuote(a);
      return {line + "\n", info->where};
    }
    case McpClient::kVsCode:
      server["type"] = "stdio";
      return {nlohmann::ordered_json{{"servers", {{"rekall", server}}}}.dump(2) + "\n", info->where};
    case McpClient::kClaudeDesktop:
    case McpClient::kCursor:
      break;
  }
  return {nlohmann::ordered_json{{"mcpServers", {{"rekall", server}}}}.dump(2) + "\n", info->where};
}

Status McpConfigText(const std::string& client, const ServeCommand& cmd, std::string* out, std::string* where) {
  out->clear();
  where->clear();
  if (!client.empty()) {
    McpClient c;
    Status s = ParseMcpClient(client, &c);
    if (!s.ok()) return s;
    McpSnippet snip = McpConfigSnippet(c, cmd);
    *out = snip.text;
    *where = snip.where;
    return Status::OK();
  }
  for (const auto& c : kClients) {
    McpSnippet snip = McpConfigSnippet(c.client, cmd);
    *out += std::string(out->empty() ? "" : "\n") + "# " + c.name + ": " + snip.where + "\n" + snip.text;
  }
  return Status::OK();
}

}  // namespace rekall::cli
