// A small JSON Schema subset for tool arguments: enough to tell a model what
// it got wrong, not a full validator. Supported keywords: type (a name or a
// list of names), required, properties (recursively), items, enum, minimum,
// maximum, additionalProperties (false only), default (top level only, by
// NormalizeArguments). Unknown keywords are ignored; properties the schema
// does not list are too, unless it says additionalProperties: false.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace rekall::server {

// Problems found in `args` against `schema`, one human-readable line each
// ("limit: expected integer, got string"); empty when the arguments fit. At
// most kMaxProblems, then one line "and N more".
inline constexpr size_t kMaxProblems = 10;
std::vector<std::string> CheckArguments(const nlohmann::json& schema, const nlohmann::json& args);

// The arguments a handler sees: top-level properties set to null that the
// schema does not require are dropped (models often send null for "not
// given"), then missing top-level properties with a schema default get it.
nlohmann::json NormalizeArguments(const nlohmann::json& schema, nlohmann::json args);

}  // namespace rekall::server
