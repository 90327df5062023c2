#include "server/mcp_server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <utility>

#include "server/jsonrpc.h"
#include "server/schema_check.h"
#include "util/json.h"

namespace rekall::server {

using nlohmann::json;

// ---------------------------------------------------------------- CancelToken

struct CancelToken::State {
  std::atomic<bool> flag{false};
  std::mutex mu;
  std::condition_variable cv;
};

CancelToken::CancelToken() : state_(std::make_shared<State>()) {}

bool CancelToken::cancelled() const { return state_->flag.load(std::memory_order_relaxed); }

void CancelToken::Cancel() const {
  {
    // Set under the mutex so a WaitFor between its check and its sleep
    // cannot miss the wake-up.
    std::lock_guard<std::mutex> lock(state_->mu);
    state_->flag.store(true, std::memory_order_relaxed);
  }
  state_->cv.notify_all();
}

const std::atomic<bool>* CancelToken::flag() const { return &state_->flag; }

bool CancelToken::WaitFor(std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(state_->mu);
  state_->cv.wait_for(lock, timeout, [&] { return state_->flag.load(std::memory_order_relaxed); });
  return cancelled();
}

// ------------------------------------------------------- ToolResult, handler

ToolResult ToolResult::Error(std::string message) {
  ToolResult r;
  r.is_error = true;
  r.text = std::move(message);
  return r;
}

ToolResult ToolResult::FromStatus(const Status& status) {
  ToolResult r = Error(status.ToString());
  r.structured = json{{"error", CodeName(status.code())}, {"message", status.message()}};
  return r;
}

ToolHandler::~ToolHandler() = default;

std::string ToolHandler::SupersedeGroup(const std::string&) { return ""; }

const std::vector<std::string>& SupportedProtocolVersions() {
  static const std::vector<std::string> kVersions = {"2024-11-05", "2025-03-26", "2025-06-18",
                                                     kLatestProtocolVersion};
  return kVersions;
}

// ------------------------------------------------------------------- helpers

namespace {

void Log(const std::string& line) {
  // One fprintf per line: stdio locks the stream, so lines from several
  // threads do not interleave. Never stdout: it carries the protocol.
  std::fprintf(stderr, "rekall-mcp: %s\n", line.c_str());
}

// Whether the negotiated revision is `min` or newer. Before initialize (or
// for a version we never agreed to) behave as the latest revision.
bool AtLeast(const std::string& negotiated, const char* min) {
  const auto& v = SupportedProtocolVersions();
  auto have = std::find(v.begin(), v.end(), negotiated);
  if (have == v.end()) return true;
  return have - v.begin() >= std::find(v.begin(), v.end(), std::string(min)) - v.begin();
}

enum class CancelReason { kNone, kClient, kSuperseded, kShutdown };

struct Call {
  json id;
  std::string key;  // id.dump(): 7 and "7" are different requests
  std::string tool;
  json args;
  std::string group;
  CancelToken token;
  // Guarded by Impl::mu.
  CancelReason reason = CancelReason::kNone;
  json superseded_by;
};

json TextContent(std::string text) {
  return json::array({json{{"type", "text"}, {"text", std::move(text)}}});
}

}  // namespace

// ---------------------------------------------------------------------- Impl

struct McpServer::Impl {
  Impl(ToolHandler* h, ServerOptions o) : handler(h), opt(std::move(o)) {}

  ToolHandler* handler;
  ServerOptions opt;

  // Fixed for one Run.
  std::vector<ToolSpec> tools;
  std::unordered_map<std::string, size_t> tool_index;
  std::unordered_map<std::string, std::string> groups;
  json tools_list;  // the tools/list result, built once
  int out_fd = -1;

  std::mutex write_mu;  // one message at a time on out_fd
  bool out_broken = false;

  std::mutex mu;  // everything below
  std::condition_variable queue_cv;
  std::condition_variable idle_cv;
  std::deque<std::shared_ptr<Call>> queue;
  std::unordered_map<std::string, std::shared_ptr<Call>> inflight;  // queued or running
  bool workers_exit = false;
  std::string protocol_version;  // "" until initialize

  void Prepare(int out);
  void Send(const json& message);
  void HandleLine(std::string_view line);
  void HandleRequest(jsonrpc::Message& m);
  void HandleNotification(const jsonrpc::Message& m);
  void HandleToolsCall(jsonrpc::Message& m);
  void WorkerLoop();
  void Finish(const std::shared_ptr<Call>& call, ToolResult result);
  std::string Version() {
    std::lock_guard<std::mutex> lock(mu);
    return protocol_version;
  }
  json FormatResult(const ToolResult& r, const std::string& version) const;
  void Shutdown();
};

void McpServer::Impl::Prepare(int out) {
  out_fd = out;
  out_broken = false;
  tools = handler->Tools();
  tool_index.clear();
  groups.clear();
  json list = json::array();
  for (size_t i = 0; i < tools.size(); ++i) {
    const ToolSpec& t = tools[i];
    tool_index[t.name] = i;
    groups[t.name] = handler->SupersedeGroup(t.name);
    json schema = t.input_schema.is_object() ? t.input_schema : json{{"type", "object"}};
    json tool{{"name", t.name}, {"description", t.description}, {"inputSchema", schema}};
    if (t.annotations.is_object()) tool["annotations"] = t.annotations;
    if (t.output_schema.is_object()) tool["outputSchema"] = t.output_schema;
    list.push_back(std::move(tool));
  }
  tools_list = json{{"tools", std::move(list)}};
  std::lock_guard<std::mutex> lock(mu);
  queue.clear();
  inflight.clear();
  workers_exit = false;
  protocol_version.clear();
}

void McpServer::Impl::Send(const json& message) {
  bool replaced = false;
  std::string line = jsonrpc::Serialize(message, &replaced);
  if (replaced) {
    // The id came from a parsed line, so it is valid UTF-8: the text was not.
    Log("the response to request " + message.value("id", json()).dump() +
        " held invalid UTF-8; sent with U+FFFD in its place");
  }
  std::lock_guard<std::mutex> lock(write_mu);
  if (out_broken) return;
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(out_fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      // The client is gone; keep reading until EOF but stop writing.
      out_broken = true;
      Log(std::string("cannot write a response: ") + std::strerror(errno));
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

void McpServer::Impl::HandleLine(std::string_view line) {
  if (line.find_first_not_of(" \t\r") == std::string_view::npos) return;  // blank line
  jsonrpc::ParseOutcome parsed = jsonrpc::ParseLine(line, opt.max_json_depth);
  if (!parsed.message) {
    Log(std::string(parsed.error ? "rejected a message: " : "ignored an invalid notification: ") +
        parsed.rejected);
    if (parsed.error) Send(*parsed.error);  // an invalid notification is never answered
    return;
  }
  jsonrpc::Message& m = *parsed.message;
  switch (m.kind) {
    case jsonrpc::Message::Kind::kRequest: HandleRequest(m); break;
    case jsonrpc::Message::Kind::kNotification: HandleNotification(m); break;
    case jsonrpc::Message::Kind::kResponse:
      // We send no requests, so nothing is waiting for this.
      Log("ignored a response with id " + m.id.dump());
      break;
  }
}

void McpServer::Impl::HandleRequest(jsonrpc::Message& m) {
  using jsonrpc::MakeError;
  using jsonrpc::MakeResult;
  const bool known = m.method == "initialize" || m.method == "ping" || m.method == "tools/list" ||
                     m.method == "tools/call";
  if (!known) {
    Send(MakeError(m.id, jsonrpc::kMethodNotFound, "Method not found: " + m.method));
    return;
  }
  if (m.params.is_array()) {
    Send(MakeError(m.id, jsonrpc::kInvalidParams, "Invalid params: params must be an object"));
    return;
  }

  if (m.method == "initialize") {
    auto requested = m.params.is_object() ? m.params.find("protocolVersion") : m.params.end();
    if (!m.params.is_object() || requested == m.params.end() || !requested->is_string()) {
      Send(MakeError(m.id, jsonrpc::kInvalidParams,
                     "Invalid params: initialize needs params.protocolVersion (a string)"));
      return;
    }
    // Spec: answer with the client's version if we speak it, else with ours
    // (the latest); the client then decides whether it can go on.
    std::string version = requested->get<std::string>();
    const auto& supported = SupportedProtocolVersions();
    if (std::find(supported.begin(), supported.end(), version) == supported.end()) {
      Log("client asked for protocol " + version + "; offering " + kLatestProtocolVersion);
      version = kLatestProtocolVersion;
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      protocol_version = version;
    }
    json result{{"protocolVersion", version},
                {"capabilities", {{"tools", {{"listChanged", false}}}}},
                {"serverInfo", {{"name", opt.name}, {"version", opt.version}}}};
    if (!opt.instructions.empty()) result["instructions"] = opt.instructions;
    Send(MakeResult(m.id, std::move(result)));
  } else if (m.method == "ping") {
    Send(MakeResult(m.id, json::object()));
  } else if (m.method == "tools/list") {
    // One page holds every tool; a cursor from the client is ignored.
    Send(MakeResult(m.id, tools_list));
  } else {
    HandleToolsCall(m);
  }
}

void McpServer::Impl::HandleToolsCall(jsonrpc::Message& m) {
  using jsonrpc::MakeError;
  if (!m.params.is_object()) {
    Send(MakeError(m.id, jsonrpc::kInvalidParams, "Invalid params: tools/call needs params.name"));
    return;
  }
  auto name_it = m.params.find("name");
  if (name_it == m.params.end() || !name_it->is_string()) {
    Send(MakeError(m.id, jsonrpc::kInvalidParams, "Invalid params: params.name must be a string"));
    return;
  }
  std::string name = name_it->get<std::string>();
  auto tool = tool_index.find(name);
  if (tool == tool_index.end()) {
    Send(MakeError(m.id, jsonrpc::kInvalidParams, "Unknown tool: " + name));
    return;
  }
  json args = json::object();
  if (auto a = m.params.find("arguments"); a != m.params.end() && !a->is_null()) {
    if (!a->is_object()) {
      Send(MakeError(m.id, jsonrpc::kInvalidParams,
                     "Invalid params: params.arguments must be an object"));
      return;
    }
    args = std::move(*a);
  }

  const json& schema = tools[tool->second].input_schema;
  std::vector<std::string> problems = CheckArguments(schema, args);
  if (!problems.empty()) {
    std::string text = "Invalid arguments for tool " + name + ": ";
    for (size_t i = 0; i < problems.size(); ++i) text += (i ? "; " : "") + problems[i];
    if (AtLeast(Version(), "2025-11-25")) {
      // SEP-1303: a tool execution error, so the model sees it and retries.
      json result{{"content", TextContent(text)}, {"isError", true}};
      Send(jsonrpc::MakeResult(m.id, std::move(result)));
    } else {
      Send(MakeError(m.id, jsonrpc::kInvalidParams, text, json{{"problems", problems}}));
    }
    return;
  }

  auto call = std::make_shared<Call>();
  call->id = m.id;
  call->key = m.id.dump();
  call->tool = name;
  call->args = NormalizeArguments(schema, std::move(args));
  call->group = groups[name];

  std::lock_guard<std::mutex> lock(mu);
  if (inflight.count(call->key)) {
    Send(MakeError(m.id, jsonrpc::kInvalidRequest,
                   "Invalid Request: id " + call->key + " is already in use by a running call"));
    return;
  }
  if (!call->group.empty()) {
    for (auto& [key, other] : inflight) {
      if (other->group != call->group || other->reason != CancelReason::kNone) continue;
      other->reason = CancelReason::kSuperseded;
      other->superseded_by = call->id;
      other->token.Cancel();
      Log("call " + key + " (" + other->tool + ") superseded by " + call->key);
    }
  }
  inflight[call->key] = call;
  queue.push_back(call);
  queue_cv.notify_one();
}

void McpServer::Impl::HandleNotification(const jsonrpc::Message& m) {
  if (m.method == "notifications/cancelled") {
    if (!m.params.is_object()) return;
    auto rid = m.params.find("requestId");
    if (rid == m.params.end()) return;
    std::lock_guard<std::mutex> lock(mu);
    auto it = inflight.find(rid->dump());
    if (it == inflight.end()) {
      // Already finished, never a tools/call, or unknown: the spec says
      // to ignore it (the notification may cross our response).
      return;
    }
    Call& call = *it->second;
    call.reason = CancelReason::kClient;  // even if superseded: nobody waits now
    call.token.Cancel();
    std::string why;
    if (auto r = m.params.find("reason"); r != m.params.end() && r->is_string()) {
      why = ": " + r->get<std::string>();
    }
    Log("call " + call.key + " (" + call.tool + ") cancelled by the client" + why);
  }
  // notifications/initialized and anything else need no action.
}

json McpServer::Impl::FormatResult(const ToolResult& r, const std::string& version) const {
  std::string text = r.text;
  if (text.empty() && !r.structured.is_null()) {
    bool replaced = false;
    text = DumpJson(r.structured, -1, &replaced);
    if (replaced) Log("a tool result held invalid UTF-8; its text has U+FFFD in its place");
  }
  json result{{"content", TextContent(std::move(text))}, {"isError", r.is_error}};
  // structuredContent exists since 2025-06-18 and must be an object.
  if (!r.structured.is_null() && AtLeast(version, "2025-06-18")) {
    result["structuredContent"] = r.structured.is_object() ? r.structured : json{{"result", r.structured}};
  }
  return result;
}

void McpServer::Impl::WorkerLoop() {
  for (;;) {
    std::shared_ptr<Call> call;
    {
      std::unique_lock<std::mutex> lock(mu);
      queue_cv.wait(lock, [&] { return !queue.empty() || workers_exit; });
      if (queue.empty()) return;
      call = std::move(queue.front());
      queue.pop_front();
    }
    ToolResult result;
    if (!call->token.cancelled()) {  // cancelled while queued: skip the work
      try {
        result = handler->Call(call->tool, call->args, call->token);
      } catch (const std::exception& e) {
        Log("tool " + call->tool + " threw: " + e.what());
        result = ToolResult::Error(std::string("internal error: ") + e.what());
      } catch (...) {
        Log("tool " + call->tool + " threw a non-exception");
        result = ToolResult::Error("internal error");
      }
    }
    Finish(call, std::move(result));
  }
}

void McpServer::Impl::Finish(const std::shared_ptr<Call>& call, ToolResult result) {
  CancelReason reason;
  json superseded_by;
  std::string version;
  {
    std::lock_guard<std::mutex> lock(mu);
    // Once out of the map, a late notifications/cancelled finds nothing.
    inflight.erase(call->key);
    reason = call->reason;
    superseded_by = call->superseded_by;
    version = protocol_version;
    if (inflight.empty()) idle_cv.notify_all();
  }
  switch (reason) {
    case CancelReason::kClient:
      return;  // spec: no response to a request the client cancelled
    case CancelReason::kSuperseded:
    case CancelReason::kShutdown: {
      bool superseded = reason == CancelReason::kSuperseded;
      ToolResult cancelled;
      cancelled.is_error = true;
      cancelled.text = superseded ? "cancelled: superseded by a newer " + call->tool +
                                        " call (request " + superseded_by.dump() + ")"
                                  : "cancelled: the server is shutting down";
      cancelled.structured = json{{"cancelled", true}, {"reason", superseded ? "superseded" : "shutdown"}};
      if (superseded) cancelled.structured["supersededBy"] = superseded_by;
      Send(jsonrpc::MakeResult(call->id, FormatResult(cancelled, version)));
      return;
    }
    case CancelReason::kNone:
      Send(jsonrpc::MakeResult(call->id, FormatResult(result, version)));
      return;
  }
}

void McpServer::Impl::Shutdown() {
  std::unique_lock<std::mutex> lock(mu);
  if (!inflight.empty()) {
    Log("input closed; waiting for " + std::to_string(inflight.size()) + " running call(s)");
    idle_cv.wait_for(lock, opt.eof_grace, [&] { return inflight.empty(); });
  }
  for (auto& [key, call] : inflight) {
    if (call->reason == CancelReason::kNone) call->reason = CancelReason::kShutdown;
    call->token.Cancel();
  }
  workers_exit = true;
  queue_cv.notify_all();
}

// ----------------------------------------------------------------- McpServer

int ReserveStdoutForProtocol() {
  std::fflush(stdout);
  int fd = ::fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return -1;
  if (::dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
    int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

McpServer::McpServer(ToolHandler* handler, ServerOptions options)
    : impl_(std::make_unique<Impl>(handler, std::move(options))) {}

McpServer::~McpServer() = default;

int McpServer::Run(int in_fd, int out_fd) {
  struct sigaction current {};
  if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
    ::signal(SIGPIPE, SIG_IGN);
  }
  Impl& s = *impl_;
  s.Prepare(out_fd);

  std::vector<std::thread> workers;
  for (int i = 0; i < std::max(1, s.opt.worker_threads); ++i) {
    workers.emplace_back([&s] { s.WorkerLoop(); });
  }

  jsonrpc::LineFramer framer(s.opt.max_message_bytes);
  auto on_line = [&s](std::string_view line) { s.HandleLine(line); };
  auto on_oversized = [&s](std::string_view prefix) {
    Log("rejected a message longer than " + std::to_string(s.opt.max_message_bytes) + " bytes");
    // Under its own id when its start names one, so the client's call ends.
    s.Send(jsonrpc::MakeError(jsonrpc::IdOfPrefix(prefix), jsonrpc::kInvalidRequest,
                              "Invalid Request: message longer than " +
                                  std::to_string(s.opt.max_message_bytes) + " bytes",
                              json{{"maxBytes", s.opt.max_message_bytes}}));
  };

  int rc = 0;
  std::vector<char> buf(64 * 1024);
  for (;;) {
    ssize_t n = ::read(in_fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      Log(std::string("cannot read the input: ") + std::strerror(errno));
      rc = 1;
      break;
    }
    if (n == 0) {
      framer.Finish(on_line);
      break;
    }
    framer.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), on_line, on_oversized);
  }

  s.Shutdown();
  for (auto& w : workers) w.join();
  return rc;
}

}  // namespace rekall::server
