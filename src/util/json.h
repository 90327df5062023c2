// JSON in and out at the edges of the process, safe against hostile input.
//
// In: nlohmann's parser is iterative, so parsing a value nested 300,000
// levels deep succeeds, but copying, comparing or dumping that value recurses
// once per level and overflows the stack (measured: exit 139 on an 8 MiB
// stack). So every JSON text that comes from outside (MCP messages, entries on
// stdin, import lines) goes through ParseJson, which refuses nesting deeper
// than a limit before anything is built.
//
// Out: nlohmann's dump() throws on a string that is not valid UTF-8, and an
// uncaught throw aborts the process. Stored texts may not be valid UTF-8
// (Rekall or another tool may have written them), so output goes through
// DumpJson, which replaces bad bytes with U+FFFD and says that it did.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "util/status.h"

namespace rekall {

// The default nesting limit. Our own documents nest at most 5 levels (an MCP
// message around tools/call arguments around an entry's context object), so
// 128 leaves ample room for anything a user stores in `extra`; it is also
// serde_json's default. Measured: copying, comparing and dumping a value 128
// levels deep needs less than 256 KiB of stack even under ASan at -O0 (about
// 2 KiB a level), a thirtieth of a default 8 MiB thread stack.
inline constexpr int kMaxJsonDepth = 128;

// True when `text` nests arrays and objects more than max_depth levels deep
// (a top-level [] or {} is level 1; brackets inside strings do not count).
// A linear scan that builds nothing; on text that is not JSON it still
// answers, and ParseJson then reports the syntax error.
bool JsonDeeperThan(std::string_view text, int max_depth);

// Parses `text` (one JSON value, surrounding whitespace allowed) into *out.
// InvalidArgument, with *out untouched, when the text is malformed JSON
// (the message names the position) or nests deeper than max_depth (the
// message names the limit). Invalid UTF-8 inside strings is malformed JSON.
Status ParseJson(std::string_view text, int max_depth, nlohmann::json* out);

// `value` as JSON text, like value.dump(indent), but never throws: bytes of a
// string or key that are not valid UTF-8 become U+FFFD. *replaced (when not
// null) is set to whether that happened, so the caller can say so.
std::string DumpJson(const nlohmann::json& value, int indent, bool* replaced);
// The same for a value whose keys keep their insertion order (a format whose
// key order is fixed, as Rekall's archive); `ensure_ascii` escapes every
// non-ASCII character as \uXXXX.
std::string DumpJson(const nlohmann::ordered_json& value, int indent, bool ensure_ascii, bool* replaced);

// An integer argument (an integer, or a float with an integral value, as
// JSON Schema's "integer" admits) as a long, saturating at the ends of the
// range: nlohmann's get<long>() wraps 2^64-1 to -1 and makes 1e300
// undefined. NaN gives 0; a value that is no number throws json::type_error,
// as get<long>() does.
long JsonToLongSaturated(const nlohmann::json& v);

}  // namespace rekall
