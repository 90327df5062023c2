// UTF-8 checks applied to every text a user gives us, before it is stored.
#pragma once

#include <string>
#include <string_view>

namespace rekall {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates).
bool IsValidUtf8(std::string_view s);

// Byte offset of the first malformed sequence, or npos.
size_t FirstInvalidUtf8(std::string_view s);

// `s` with each byte that starts no well-formed sequence replaced by U+FFFD,
// for output that must not fail on text another tool stored. *replaced (when
// not null) counts the replacements.
std::string ReplaceInvalidUtf8(std::string_view s, size_t* replaced);

}  // namespace rekall
