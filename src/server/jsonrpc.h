// JSON-RPC 2.0 pieces of the MCP stdio transport: line framing, message
// classification and response building. Internal to the server; exposed so
// the tests can reach each piece on its own.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/json.h"

namespace rekall::server::jsonrpc {

enum ErrorCode : int {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
  kInternalError = -32603,
};

// Splits a byte stream into '\n'-terminated lines (a trailing '\r' is
// dropped). A line longer than max_bytes is reported once through
// on_oversized as soon as the limit is passed, and the rest of it is skipped
// as it arrives, so a huge line never sits in memory.
class LineFramer {
 public:
  using LineFn = std::function<void(std::string_view line)>;
  // Gets the line's first max_bytes bytes (at most), to find its id in.
  using OversizedFn = std::function<void(std::string_view prefix)>;

  explicit LineFramer(size_t max_bytes) : max_bytes_(max_bytes) {}
  void Feed(std::string_view data, const LineFn& on_line, const OversizedFn& on_oversized);
  // End of input: an unterminated last line is still delivered.
  void Finish(const LineFn& on_line);

 private:
  size_t max_bytes_;
  std::string buffer_;
  bool skipping_ = false;  // inside an oversized line, until its '\n'
};

// The top-level "id" of a message of which only `prefix` is at hand (a line
// too long to keep): read as a stream, stopping where the prefix ends, so a
// request cut short still gets its error under its own id. Null when the
// prefix has no top-level id (or not a string or integer one) before it ends.
nlohmann::json IdOfPrefix(std::string_view prefix);

// One parsed line.
struct Message {
  enum class Kind { kRequest, kNotification, kResponse };
  Kind kind = Kind::kRequest;
  nlohmann::json id;       // requests and responses; null for notifications
  std::string method;      // requests and notifications
  nlohmann::json params;   // object, or null when absent
};

// Either a message or, when the line is not a valid message, the error
// response to send (absent when the line was an invalid notification, which
// JSON-RPC never answers).
struct ParseOutcome {
  std::optional<Message> message;
  std::optional<nlohmann::json> error;
  // Why the line was rejected, for the log; set whenever message is absent,
  // also for the invalid notification that gets no answer.
  std::string rejected;
};

// A line nested deeper than max_depth is rejected before it is built
// (util/json.h says why) with -32600 and data {"maxDepth": N}. Its top-level
// id and method are still read, without building anything nested, so a
// request gets its error under its own id and a notification (e.g.
// notifications/cancelled with a deep requestId) gets no answer.
ParseOutcome ParseLine(std::string_view line, int max_depth = kMaxJsonDepth);

nlohmann::json MakeResult(const nlohmann::json& id, nlohmann::json result);
nlohmann::json MakeError(const nlohmann::json& id, int code, std::string message,
                         nlohmann::json data = nullptr);

// One line of compact JSON with its '\n'. Invalid UTF-8 coming from a tool is
// replaced with U+FFFD rather than throwing; *replaced (when not null) says
// whether that happened.
std::string Serialize(const nlohmann::json& message, bool* replaced = nullptr);

}  // namespace rekall::server::jsonrpc
