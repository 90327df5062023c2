// RekallToolHandler: the Rekall MCP tools (rekall_tools.h) over an Engine,
// for `rekall serve`.
//
// Search honours the server's latency contract: a semantic or hybrid search
// waits at most cfg.model_load_wait_seconds for a model that is loading (the
// wait is cancellable), then answers with keyword results marked as such
// (structured mode "keyword", model_loading true, and the text says so).
// Every result carries a readable text for the model and structured content
// (ids, titles, types, scores and why each result is there).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "server/mcp_server.h"

namespace rekall::server {

class RekallToolHandler : public ToolHandler {
 public:
  // `engine` must outlive the handler; it is used from several workers.
  explicit RekallToolHandler(Engine* engine);

  std::vector<ToolSpec> Tools() override;
  ToolResult Call(const std::string& name, const nlohmann::json& args, const CancelToken& cancel) override;
  std::string SupersedeGroup(const std::string& tool) override;

  // The longest page a search or similar returns (larger limits are clamped).
  static constexpr int kMaxLimit = 200;

 private:
  ToolResult Search(const nlohmann::json& args, const CancelToken& cancel);
  ToolResult Show(const nlohmann::json& args);
  ToolResult Add(const nlohmann::json& args);
  ToolResult Update(const nlohmann::json& args);
  ToolResult Delete(const nlohmann::json& args);
  ToolResult Similar(const nlohmann::json& args, const CancelToken& cancel);
  ToolResult Info();
  // rekall_agent_handler.cc: links, deprecation, stale entries, the guide.
  ToolResult Help(const nlohmann::json& args);
  ToolResult Link(const nlohmann::json& args);
  ToolResult Unlink(const nlohmann::json& args);
  ToolResult Related(const nlohmann::json& args);
  ToolResult Deprecate(const nlohmann::json& args);
  ToolResult Stale(const nlohmann::json& args);
  // rekall_discovery_handler.cc: suggestions, contexts, generalization, sources.
  ToolResult Suggest(const nlohmann::json& args);
  ToolResult GetContext(const nlohmann::json& args);
  ToolResult Generalize(const nlohmann::json& args);
  ToolResult SourcesSuggest(const nlohmann::json& args);
  ToolResult SourcesVerify(const nlohmann::json& args);
  // An id argument (full or a unique prefix) as a full id.
  Status ArgId(const nlohmann::json& args, const char* key, std::string* id);

  Engine* engine_;
};

}  // namespace rekall::server
