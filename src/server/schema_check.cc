#include "server/schema_check.h"

#include <cmath>
#include <string_view>

namespace rekall::server {

using nlohmann::json;

namespace {

const char* TypeName(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "boolean";
    case json::value_t::number_integer:
    case json::value_t::number_unsigned: return "integer";
    case json::value_t::number_float: return "number";
    case json::value_t::string: return "string";
    case json::value_t::array: return "array";
    case json::value_t::object: return "object";
    default: return "unsupported";
  }
}

bool HasType(const json& v, std::string_view type) {
  if (type == "string") return v.is_string();
  if (type == "integer") {
    // JSON Schema: 5.0 is an integer too.
    return v.is_number_integer() || (v.is_number_float() && std::isfinite(v.get<double>()) &&
                                     std::floor(v.get<double>()) == v.get<double>());
  }
  if (type == "number") return v.is_number();
  if (type == "boolean") return v.is_boolean();
  if (type == "object") return v.is_object();
  if (type == "array") return v.is_array();
  if (type == "null") return v.is_null();
  return true;  // a type we do not know: do not reject on it
}

std::string Where(const std::string& path) { return path.empty() ? "arguments" : path; }

// additionalProperties: false: a name the schema does not list is a mistake
// (a misspelt or unsupported argument would otherwise do nothing, silently).
void CheckNoOtherProperties(const json& props, const json& value, const std::string& path,
                            std::vector<std::string>& problems) {
  for (const auto& [name, v] : value.items()) {
    if (props.contains(name)) continue;
    std::string known;
    for (const auto& [k, sub] : props.items()) known += (known.empty() ? "" : ", ") + k;
    problems.push_back((path.empty() ? name : path + "." + name) + ": unknown argument (known: " +
                       (known.empty() ? "none" : known) + ")");
  }
}

void Check(const json& schema, const json& value, const std::string& path,
           std::vector<std::string>& problems) {
  if (!schema.is_object()) return;

  if (auto t = schema.find("type"); t != schema.end()) {
    bool ok = false;
    std::string expected;
    if (t->is_string()) {
      ok = HasType(value, t->get<std::string>());
      expected = t->get<std::string>();
    } else if (t->is_array()) {
      for (const auto& alt : *t) {
        if (!alt.is_string()) continue;
        ok = ok || HasType(value, alt.get<std::string>());
        expected += (expected.empty() ? "" : " or ") + alt.get<std::string>();
      }
    } else {
      ok = true;
    }
    if (!ok) {
      problems.push_back(Where(path) + ": expected " + expected + ", got " + TypeName(value));
      return;  // the keywords below assume the right type
    }
  }

  if (auto e = schema.find("enum"); e != schema.end() && e->is_array()) {
    bool found = false;
    for (const auto& option : *e) found = found || option == value;
    if (!found) {
      problems.push_back(Where(path) + ": must be one of " + e->dump() + ", got " + value.dump());
    }
  }

  if (value.is_number()) {
    double x = value.get<double>();
    if (auto m = schema.find("minimum"); m != schema.end() && m->is_number() && x < m->get<double>()) {
      problems.push_back(Where(path) + ": must be >= " + m->dump() + ", got " + value.dump());
    }
    if (auto m = schema.find("maximum"); m != schema.end() && m->is_number() && x > m->get<double>()) {
      problems.push_back(Where(path) + ": must be <= " + m->dump() + ", got " + value.dump());
    }
  }

  if (value.is_object()) {
    if (auto req = schema.find("required"); req != schema.end() && req->is_array()) {
      for (const auto& name : *req) {
        if (name.is_string() && !value.contains(name.get<std::string>())) {
          std::string n = name.get<std::string>();
          problems.push_back((path.empty() ? n : path + "." + n) + ": required");
        }
      }
    }
    auto props = schema.find("properties");
    if (props != schema.end() && props->is_object()) {
      for (const auto& [name, sub] : props->items()) {
        auto it = value.find(name);
        if (it == value.end()) continue;
        Check(sub, *it, path.empty() ? name : path + "." + name, problems);
      }
    }
    if (auto extra = schema.find("additionalProperties"); extra != schema.end() && *extra == false)
      CheckNoOtherProperties(props != schema.end() ? *props : json::object(), value, path, problems);
  }

  if (value.is_array()) {
    if (auto items = schema.find("items"); items != schema.end() && items->is_object()) {
      for (size_t i = 0; i < value.size(); ++i) {
        Check(*items, value[i], Where(path) + "[" + std::to_string(i) + "]", problems);
      }
    }
  }
}

bool IsRequired(const json& schema, const std::string& name) {
  auto req = schema.find("required");
  if (req == schema.end() || !req->is_array()) return false;
  for (const auto& r : *req) {
    if (r == name) return true;
  }
  return false;
}

}  // namespace

std::vector<std::string> CheckArguments(const json& schema, const json& args) {
  std::vector<std::string> problems;
  if (!args.is_object()) {
    problems.push_back(std::string("arguments: expected object, got ") + TypeName(args));
    return problems;
  }
  json effective = NormalizeArguments(schema, args);
  Check(schema, effective, "", problems);
  // A call with thousands of wrong arguments gets the first few, not an
  // answer larger than the call.
  if (problems.size() > kMaxProblems) {
    size_t more = problems.size() - kMaxProblems;
    problems.resize(kMaxProblems);
    problems.push_back("and " + std::to_string(more) + " more");
  }
  return problems;
}

json NormalizeArguments(const json& schema, json args) {
  if (!args.is_object() || !schema.is_object()) return args;
  for (auto it = args.begin(); it != args.end();) {
    if (it->is_null() && !IsRequired(schema, it.key())) {
      it = args.erase(it);
    } else {
      ++it;
    }
  }
  if (auto props = schema.find("properties"); props != schema.end() && props->is_object()) {
    for (const auto& [name, sub] : props->items()) {
      if (!args.contains(name) && sub.is_object() && sub.contains("default")) {
        args[name] = sub["default"];
      }
    }
  }
  return args;
}

}  // namespace rekall::server
