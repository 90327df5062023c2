#include "server/jsonrpc.h"

#include <utility>

namespace rekall::server::jsonrpc {

using nlohmann::json;

void LineFramer::Feed(std::string_view data, const LineFn& on_line,
                      const OversizedFn& on_oversized) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    std::string_view chunk = data.substr(0, nl);  // whole rest if no '\n'
    if (skipping_) {
      // Drop the chunk: it belongs to a line already reported as too long.
    } else if (buffer_.size() + chunk.size() > max_bytes_) {
      buffer_.clear();
      buffer_.shrink_to_fit();
      skipping_ = true;
      on_oversized();
    } else {
      buffer_.append(chunk);
    }
    if (nl == std::string_view::npos) return;
    if (!skipping_) {
      std::string_view line = buffer_;
      if (line.ends_with('\r')) line.remove_suffix(1);
      on_line(line);
    }
    buffer_.clear();
    skipping_ = false;
    data.remove_prefix(nl + 1);
  }
}

void LineFramer::Finish(const LineFn& on_line) {
  if (!skipping_ && !buffer_.empty()) {
    std::string_view line = buffer_;
    if (line.ends_with('\r')) line.remove_suffix(1);
    on_line(line);
  }
  buffer_.clear();
  skipping_ = false;
}

json MakeResult(const json& id, json result) {
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}};
}

json MakeError(const json& id, int code, std::string message, json data) {
  json error{{"code", code}, {"message", std::move(message)}};
  if (!data.is_null()) error["data"] = std::move(data);
  return json{{"jsonrpc", "2.0"}, {"id", id}, {"error", std::move(error)}};
}

std::string Serialize(const json& message) {
  std::string out = message.dump(-1, ' ', false, json::error_handler_t::replace);
  out.push_back('\n');
  return out;
}

ParseOutcome ParseLine(std::string_view line) {
  json doc = json::parse(line.begin(), line.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    return {std::nullopt, MakeError(nullptr, kParseError, "Parse error: the line is not valid JSON")};
  }
  if (doc.is_array()) {
    // MCP removed JSON-RPC batches in 2025-06-18; one message per line.
    return {std::nullopt, MakeError(nullptr, kInvalidRequest, "Invalid Request: batches are not supported")};
  }
  if (!doc.is_object()) {
    return {std::nullopt, MakeError(nullptr, kInvalidRequest, "Invalid Request: a message must be a JSON object")};
  }

  // Work out the id first, so the error can name the request when possible.
  bool has_id = doc.contains("id");
  json id = has_id ? doc["id"] : json(nullptr);
  // MCP: ids are strings or integers, never null.
  bool id_ok = has_id && (id.is_string() || id.is_number_integer());
  json reply_id = id_ok ? id : json(nullptr);
  auto invalid = [&](std::string why) -> ParseOutcome {
    // A notification with a bad envelope is still never answered, but only
    // when it is unambiguously one (no id at all).
    if (!has_id && doc.contains("method")) return {std::nullopt, std::nullopt};
    return {std::nullopt, MakeError(reply_id, kInvalidRequest, "Invalid Request: " + why)};
  };

  auto version = doc.find("jsonrpc");
  if (version == doc.end() || !version->is_string() || *version != "2.0") {
    return invalid("\"jsonrpc\" must be \"2.0\"");
  }
  if (has_id && !id_ok) return invalid("\"id\" must be a string or an integer");

  auto method = doc.find("method");
  if (method == doc.end()) {
    if (has_id && (doc.contains("result") || doc.contains("error"))) {
      Message m;
      m.kind = Message::Kind::kResponse;
      m.id = id;
      return {std::move(m), std::nullopt};
    }
    return invalid("\"method\" is missing");
  }
  if (!method->is_string()) return invalid("\"method\" must be a string");

  Message m;
  m.kind = has_id ? Message::Kind::kRequest : Message::Kind::kNotification;
  m.id = id;
  m.method = method->get<std::string>();
  if (auto params = doc.find("params"); params != doc.end() && !params->is_null()) {
    if (!params->is_object() && !params->is_array()) {
      return invalid("\"params\" must be an object");
    }
    m.params = std::move(*params);  // an array is left for the method to reject (-32602)
  }
  return {std::move(m), std::nullopt};
}

}  // namespace rekall::server::jsonrpc
