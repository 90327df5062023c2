#include "server/fake_tool_handler.h"

#include <chrono>
#include <cstdio>
#include <iostream>
#include <stdexcept>

#include "server/rekall_tools.h"

namespace rekall::server {

using nlohmann::json;

std::vector<ToolSpec> FakeToolHandler::Tools() {
  std::vector<ToolSpec> tools = {
      {"echo", "Returns its text.",
       {{"type", "object"},
        {"properties", {{"text", {{"type", "string"}}}}},
        {"required", {"text"}}}},
      {"slow", "Blocks until cancelled or `ms` milliseconds passed.",
       {{"type", "object"},
        {"properties",
         {{"label", {{"type", "string"}}},
          {"ms", {{"type", "integer"}, {"minimum", 0}, {"default", 60000}}}}},
        {"required", {"label"}}}},
      {"fail", "Always fails.",
       {{"type", "object"}, {"properties", {{"message", {{"type", "string"}}}}}}},
      {"boom", "Throws.", {{"type", "object"}}},
      {"typed", "Checks argument types.",
       {{"type", "object"},
        {"properties",
         {{"n", {{"type", "integer"}, {"minimum", 0}, {"maximum", 10}}},
          {"ratio", {{"type", "number"}}},
          {"flag", {{"type", "boolean"}}},
          {"kind", {{"type", "string"}, {"enum", {"a", "b"}}}},
          {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}}}},
        {"required", {"n"}}}},
      {"stats", "Counters of the slow tool.", {{"type", "object"}}},
      {"print", "Writes to stdout.",
       {{"type", "object"},
        {"properties", {{"text", {{"type", "string"}}}}},
        {"required", {"text"}}}},
      {"bad_utf8", "Returns text that is not valid UTF-8.", {{"type", "object"}}},
  };
  if (rekall_tools_) {
    for (auto& t : RekallToolSpecs()) {
      t.output_schema = nullptr;  // the fake's results echo the call instead
      tools.push_back(std::move(t));
    }
  }
  return tools;
}

std::string FakeToolHandler::SupersedeGroup(const std::string& tool) {
  if (tool == "slow") return "slow";
  return RekallSupersedeGroup(tool);
}

ToolResult FakeToolHandler::Call(const std::string& name, const json& args,
                                 const CancelToken& cancel) {
  ToolResult r;
  if (name == "echo") {
    r.text = args.at("text").get<std::string>();
    r.structured = json{{"echo", r.text}};
  } else if (name == "slow") {
    ++slow_started;
    std::string label = args.at("label").get<std::string>();
    if (cancel.WaitFor(std::chrono::milliseconds(args.at("ms").get<long>()))) {
      ++slow_cancelled;
      return r;  // discarded by the server
    }
    ++slow_completed;
    r.text = "done " + label;
    r.structured = json{{"label", label}, {"done", true}};
  } else if (name == "fail") {
    r = ToolResult::Error(args.value("message", "failed"));
  } else if (name == "boom") {
    throw std::runtime_error("boom");
  } else if (name == "typed") {
    r.structured = args;
  } else if (name == "stats") {
    r.structured = json{{"started", slow_started.load()},
                        {"cancelled", slow_cancelled.load()},
                        {"completed", slow_completed.load()}};
  } else if (name == "print") {
    std::string text = args.at("text").get<std::string>();
    std::printf("%s (printf)\n", text.c_str());
    std::fflush(stdout);
    std::cout << text << " (cout)" << std::endl;
    r.text = "printed";
  } else if (name == "bad_utf8") {
    r.text = "bad \xFF byte";
    r.structured = json{{"text", "bad \xC3 tail"}, {"key \xFE", 1}};
  } else {
    r.structured = json{{"tool", name}, {"args", args}};
  }
  return r;
}

}  // namespace rekall::server
