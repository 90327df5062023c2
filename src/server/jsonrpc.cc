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
      buffer_.append(chunk.substr(0, max_bytes_ - buffer_.size()));
      on_oversized(buffer_);
      buffer_.clear();
      buffer_.shrink_to_fit();
      skipping_ = true;
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

namespace {

// SAX events of a message's prefix: remembers the scalar value that follows
// the key "id" at the top level; nested values are only counted.
class IdFinder : public nlohmann::json_sax<json> {
 public:
  json id;

  bool null() override { return Scalar(json()); }
  bool boolean(bool v) override { return Scalar(json(v)); }
  bool number_integer(number_integer_t v) override { return Scalar(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Scalar(json(v)); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(json()); }
  bool string(string_t& v) override { return Scalar(json(v)); }
  bool binary(binary_t&) override { return Scalar(json()); }
  bool start_object(std::size_t) override { return Open(); }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(); }
  bool end_array() override { return Close(); }
  bool key(string_t& k) override {
    next_is_id_ = depth_ == 1 && k == "id";
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool Scalar(json v) {
    if (next_is_id_ && depth_ == 1 && (v.is_string() || v.is_number_integer())) id = std::move(v);
    next_is_id_ = false;
    return true;
  }
  bool Open() {
    next_is_id_ = false;
    ++depth_;
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }
  int depth_ = 0;
  bool next_is_id_ = false;
};

}  // namespace

json IdOfPrefix(std::string_view prefix) {
  IdFinder f;
  json::sax_parse(prefix.begin(), prefix.end(), &f, json::input_format_t::json, /*strict=*/false);
  return f.id;
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

std::string Serialize(const json& message, bool* replaced) {
  std::string out = DumpJson(message, -1, replaced);
  out.push_back('\n');
  return out;
}

namespace {

ParseOutcome Rejected(std::optional<json> error, std::string why) {
  return {std::nullopt, std::move(error), std::move(why)};
}

// The top level of a message too deep to parse whole: its scalar members (id,
// method, jsonrpc) are kept and every nested array or object is dropped as it
// is read, so nothing deep is built. *has_id says whether an "id" key was
// there at all, even one whose (nested) value was dropped.
json ShallowEnvelope(std::string_view line, bool* has_id) {
  *has_id = false;
  auto keep = [has_id](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1 && parsed == "id") *has_id = true;
    bool opens = event == json::parse_event_t::object_start || event == json::parse_event_t::array_start;
    return depth == 0 || !opens;
  };
  return json::parse(line.begin(), line.end(), keep, /*allow_exceptions=*/false);
}

ParseOutcome TooDeep(std::string_view line, int max_depth) {
  std::string why = "Invalid Request: JSON nested deeper than " + std::to_string(max_depth) + " levels";
  bool has_id = false;
  json top = ShallowEnvelope(line, &has_id);
  bool is_object = top.is_object();
  if (is_object && !has_id && top.contains("method")) return Rejected(std::nullopt, why);  // a notification
  json id = is_object ? top.value("id", json()) : json();
  if (!id.is_string() && !id.is_number_integer()) id = nullptr;
  return Rejected(MakeError(id, kInvalidRequest, why, json{{"maxDepth", max_depth}}), why);
}

// A parsed line that is a JSON object: the envelope checks.
ParseOutcome FromObject(json& doc) {
  // Work out the id first, so the error can name the request when possible.
  bool has_id = doc.contains("id");
  json id = has_id ? doc["id"] : json(nullptr);
  // MCP: ids are strings or integers, never null.
  bool id_ok = has_id && (id.is_string() || id.is_number_integer());
  json reply_id = id_ok ? id : json(nullptr);
  auto invalid = [&](std::string why) -> ParseOutcome {
    why = "Invalid Request: " + why;
    // A notification with a bad envelope is still never answered, but only
    // when it is unambiguously one (no id at all).
    if (!has_id && doc.contains("method")) return Rejected(std::nullopt, why);
    return Rejected(MakeError(reply_id, kInvalidRequest, why), why);
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
      return {std::move(m), std::nullopt, ""};
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
  return {std::move(m), std::nullopt, ""};
}

}  // namespace

ParseOutcome ParseLine(std::string_view line, int max_depth) {
  json doc;
  Status parsed = ParseJson(line, max_depth, &doc);
  if (!parsed.ok()) {
    if (JsonDeeperThan(line, max_depth)) return TooDeep(line, max_depth);
    std::string why = "Parse error: the line is not valid JSON";
    return Rejected(MakeError(nullptr, kParseError, why), why + " (" + parsed.message() + ")");
  }
  if (doc.is_array()) {
    // MCP removed JSON-RPC batches in 2025-06-18; one message per line.
    std::string why = "Invalid Request: batches are not supported";
    return Rejected(MakeError(nullptr, kInvalidRequest, why), why);
  }
  if (!doc.is_object()) {
    std::string why = "Invalid Request: a message must be a JSON object";
    return Rejected(MakeError(nullptr, kInvalidRequest, why), why);
  }
  return FromObject(doc);
}

}  // namespace rekall::server::jsonrpc
