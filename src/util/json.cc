#include "util/json.h"

#include <cmath>
#include <limits>
#include <string>

namespace rekall {

using nlohmann::json;

namespace {

// Offset of the bracket that opens level max_depth + 1, or npos.
size_t FirstTooDeep(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return i;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return std::string_view::npos;
}

}  // namespace

bool JsonDeeperThan(std::string_view text, int max_depth) {
  return FirstTooDeep(text, max_depth) != std::string_view::npos;
}

Status ParseJson(std::string_view text, int max_depth, json* out) {
  size_t deep = FirstTooDeep(text, max_depth);
  if (deep != std::string_view::npos) {
    return Status::InvalidArgument("JSON nested deeper than " + std::to_string(max_depth) +
                                   " levels (at byte " + std::to_string(deep + 1) + ")");
  }
  try {
    *out = json::parse(text.begin(), text.end());
  } catch (const json::exception& e) {
    // parse_error, or out_of_range for a number like 1e999. e.what() is
    // "[json.exception.parse_error.101] parse error at line 1, column 2:
    // ..."; the bracketed id means nothing to a user.
    std::string what = e.what();
    if (size_t p = what.find("] "); what.starts_with("[json.exception.") && p != std::string::npos) {
      what.erase(0, p + 2);
    }
    return Status::InvalidArgument("malformed JSON: " + what);
  }
  return Status::OK();
}

std::string DumpJson(const json& value, int indent, bool* replaced) {
  if (replaced) *replaced = false;
  try {
    return value.dump(indent, ' ', false, json::error_handler_t::strict);
  } catch (const json::type_error&) {
    // 316: invalid UTF-8. Rare, so the first attempt is not wasted often.
  }
  if (replaced) *replaced = true;
  return value.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string DumpJson(const nlohmann::ordered_json& value, int indent, bool ensure_ascii, bool* replaced) {
  if (replaced) *replaced = false;
  try {
    return value.dump(indent, ' ', ensure_ascii, json::error_handler_t::strict);
  } catch (const json::type_error&) {
  }
  if (replaced) *replaced = true;
  return value.dump(indent, ' ', ensure_ascii, json::error_handler_t::replace);
}

long JsonToLongSaturated(const json& v) {
  constexpr long kMax = std::numeric_limits<long>::max(), kMin = std::numeric_limits<long>::min();
  if (v.is_number_unsigned()) return v.get<unsigned long>() > static_cast<unsigned long>(kMax) ? kMax : v.get<long>();
  if (v.is_number_integer()) return v.get<long>();
  if (!v.is_number_float()) return v.get<long>();  // throws json::type_error
  double d = v.get<double>();
  if (std::isnan(d)) return 0;
  if (d >= 9.2e18) return kMax;
  if (d <= -9.2e18) return kMin;
  return static_cast<long>(d);
}

}  // namespace rekall
