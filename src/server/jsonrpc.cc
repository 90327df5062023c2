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

// The top level of a message read as a stream of SAX events, nested values
// only counted, never built: the envelope of a line too deep to parse whole,
// or of the start of a line too long to keep.
struct Envelope {
  bool complete = false;   // the text was one whole JSON value
  bool is_object = false;  // ... whose top level is an object
  bool has_id = false;     // with an "id" key (whatever its value)
  bool has_method = false; // and a "method" key with a scalar value
  json id;                 // the "id" when it is a string or an integer; else null
};

class EnvelopeReader : public nlohmann::json_sax<json> {
 public:
  Envelope env;

  bool null() override { return Scalar(json()); }
  bool boolean(bool v) override { return Scalar(json(v)); }
  bool number_integer(number_integer_t v) override { return Scalar(json(v)); }
  bool number_unsigned(number_unsigned_t v) override { return Scalar(json(v)); }
  bool number_float(number_float_t, const string_t&) override { return Scalar(json()); }
  bool string(string_t& v) override { return Scalar(json(v)); }
  bool binary(binary_t&) override { return Scalar(json()); }
  bool start_object(std::size_t) override {
    if (depth_ == 0) env.is_object = true;
    return Open();
  }
  bool end_object() override { return Close(); }
  bool start_array(std::size_t) override { return Open(); }
  bool end_array() override { return Close(); }
  bool key(string_t& k) override {
    key_ = depth_ == 1 ? k : std::string();
    if (key_ == "id") env.has_id = true;
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override { return false; }

 private:
  bool Scalar(json v) {
    if (depth_ == 1 && key_ == "id" && (v.is_string() || v.is_number_integer())) env.id = std::move(v);
    if (depth_ == 1 && key_ == "method") env.has_method = true;
    key_.clear();
    return true;
  }
  bool Open() {
    key_.clear();
    ++depth_;
    return true;
  }
  bool Close() {
    --depth_;
    return true;
  }
  int depth_ = 0;
  std::string key_;  // the top-level key whose value comes next
};

Envelope ReadEnvelope(std::string_view text) {
  EnvelopeReader r;
  r.env.complete = json::sax_parse(text.begin(), text.end(), &r, json::input_format_t::json, /*strict=*/true);
  return r.env;
}

}  // namespace

json IdOfPrefix(std::string_view prefix) { return ReadEnvelope(prefix).id; }

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

ParseOutcome TooDeep(std::string_view line, int max_depth) {
  std::string why = "Invalid Request: JSON nested deeper than " + std::to_string(max_depth) + " levels";
  Envelope env = ReadEnvelope(line);
  bool is_object = env.complete && env.is_object;
  if (is_object && !env.has_id && env.has_method) return Rejected(std::nullopt, why);  // a notification
  json id = is_object ? env.id : json();
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
