// McpServer: the Model Context Protocol over stdio, independent of the
// knowledge store and of Rekall's tools (rekall_tools.h): those plug in
// through ToolHandler.
//
// Wire format: one JSON-RPC 2.0 message per line (UTF-8, '\n'-terminated),
// no batches. The server speaks the handshake-era protocol revisions
// 2024-11-05, 2025-03-26, 2025-06-18 and 2025-11-25 (latest). `initialize`
// answers with the client's version when it is one of those, else with the
// latest; the stateless 2026-07-28 era (`server/discover`) is not spoken, so
// a probing client gets -32601 and falls back to `initialize`.
//
// Requests that come before initialize are served anyway (the spec only says
// clients SHOULD NOT send them), which keeps scripted clients simple.
//
// Threads: one reader thread (the caller of Run) parses every line and answers
// initialize, ping, tools/list and every protocol error itself, so none of them
// waits behind a tool call. tools/call runs on a small worker pool.
//
// Cancellation:
//  - notifications/cancelled {requestId}: the call's CancelToken flips and, as
//    the spec asks, the call gets no response at all (the client has stopped
//    waiting for it; MCP SDK servers do the same).
//  - Supersede: a tools/call whose tool has a non-empty SupersedeGroup cancels
//    every running or queued call of that group (one stdio connection = one
//    client). The client is still waiting for the superseded call, so it IS
//    answered: a tool result with isError=true, text "cancelled: superseded by
//    ..." and structuredContent {"cancelled": true, "reason": "superseded",
//    "supersededBy": <id>}. The newer call returns normally.
//  - EOF on the input: no new calls; running calls get `eof_grace` to finish
//    and are then cancelled (answered as cancelled, reason "shutdown"); Run
//    returns 0 once every worker is done.
//
// Argument errors: tools/call arguments are checked against the tool's input
// schema (required, type, enum, minimum/maximum, items, nested properties).
// For clients that negotiated 2025-11-25 or later the failure is a tool
// execution error (isError=true), as SEP-1303 asks, so the model can read it
// and retry; for older revisions it is JSON-RPC -32602. An unknown tool, a
// missing name or non-object arguments are -32602 in every revision.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/json.h"
#include "util/status.h"
#include "util/version.h"

namespace rekall::server {

// A cancellation flag shared by the server and one tool call. Copies share the
// flag. cancelled() is one relaxed atomic load: poll it in long loops.
class CancelToken {
 public:
  CancelToken();
  bool cancelled() const;
  // Flips the flag (idempotent) and wakes WaitFor.
  void Cancel() const;
  // Sleeps until cancelled or `timeout` passed; returns cancelled(). For
  // handlers that wait on something else and want to stay cancellable.
  bool WaitFor(std::chrono::milliseconds timeout) const;
  // The flag itself, for code that polls a `const std::atomic<bool>*` (the
  // engine's SearchRequest::cancelled). Valid while any copy of the token
  // lives, so for the whole of ToolHandler::Call.
  const std::atomic<bool>* flag() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

struct ToolSpec {
  ToolSpec() = default;
  ToolSpec(std::string n, std::string d, nlohmann::json schema)
      : name(std::move(n)), description(std::move(d)), input_schema(std::move(schema)) {}

  std::string name;
  std::string description;
  nlohmann::json input_schema;  // JSON Schema, {"type": "object", ...}
  // MCP tool annotations ({"readOnlyHint": true, ...}); null: none sent.
  nlohmann::json annotations;
  // JSON Schema of a successful result's structured content; null: none.
  // Clients check results against it, so every successful result of the
  // tool must carry structured content that matches.
  nlohmann::json output_schema;
};

struct ToolResult {
  bool is_error = false;
  std::string text;           // shown to the model; if empty, structured.dump()
  nlohmann::json structured;  // sent as structuredContent when not null
                              // (a non-object is wrapped as {"result": ...})

  static ToolResult Error(std::string message);
  // An error result carrying the status text ("not found: ...").
  static ToolResult FromStatus(const Status& status);
};

// Implemented by the engine. Tools() and SupersedeGroup() are called once per
// Run (the list is cached: we announce listChanged=false). Call() may run on
// several worker threads at once (ServerOptions::worker_threads).
class ToolHandler {
 public:
  virtual ~ToolHandler();
  virtual std::vector<ToolSpec> Tools() = 0;
  // `args` has passed the schema check, null optional arguments are removed
  // and top-level schema defaults are filled in. Return quickly once
  // cancel.cancelled(): whatever is returned then is discarded. Exceptions are
  // caught and reported as an isError result.
  virtual ToolResult Call(const std::string& name, const nlohmann::json& args,
                          const CancelToken& cancel) = 0;
  // Calls of the same non-empty group supersede each other
  // (e.g. "rekall_search" -> "search"); "" never supersedes.
  virtual std::string SupersedeGroup(const std::string& tool);
};

struct ServerOptions {
  // Longest accepted line (without its '\n'); longer ones get -32600 and are
  // skipped without being buffered.
  size_t max_message_bytes = 4 << 20;
  // Deepest accepted nesting of arrays and objects in a message; deeper ones
  // get -32600 (util/json.h: a deep value would overflow the stack later).
  int max_json_depth = kMaxJsonDepth;
  std::string name = "rekall";
  std::string version = kVersion;
  std::string instructions;  // optional initialize "instructions"
  // Threads running tools/call. 1 serialises every call on the handler.
  int worker_threads = 2;
  // After EOF, how long running calls may go on before they are cancelled.
  std::chrono::milliseconds eof_grace{5000};
};

// Moves the protocol off file descriptor 1: returns a new descriptor (close
// on exec) for the original stdout and points fd 1 at stderr, so a stray
// printf or std::cout anywhere in the process lands in the log instead of
// corrupting the JSON-RPC stream. Call it once, before any thread starts, and
// pass the result to Run as out_fd. -1 on failure (errno set).
int ReserveStdoutForProtocol();

// Protocol revisions we answer initialize with, oldest first.
const std::vector<std::string>& SupportedProtocolVersions();
inline constexpr const char* kLatestProtocolVersion = "2025-11-25";

class McpServer {
 public:
  McpServer(ToolHandler* handler, ServerOptions options = {});
  ~McpServer();
  McpServer(const McpServer&) = delete;
  McpServer& operator=(const McpServer&) = delete;

  // Serves one connection: reads from in_fd until EOF, writes to out_fd (one
  // message per line, flushed each). Never writes to stdout by itself; logs go
  // to stderr. Ignores SIGPIPE process-wide if it is at its default, since a
  // vanished client must not kill the process. Returns 0 after EOF, 1 if
  // reading failed. One Run at a time per McpServer.
  int Run(int in_fd, int out_fd);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rekall::server
